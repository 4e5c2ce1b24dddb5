#!/usr/bin/env bash
# bash completion (tools/completion/espota.bash): source it, complete a few
# command lines against the built espota/espota-sim and check COMPREPLY.
# usage: run.sh COMPLETION_FILE ESPOTA ESPOTA_SIM WORK_DIR
set -euo pipefail
comp=$1 espota=$2 sim=$3 work=$4
rm -rf "$work"; mkdir -p "$work/bin" "$work/files"
ln -s "$espota" "$work/bin/espota"
ln -s "$sim" "$work/bin/espota-sim"
export PATH="$work/bin:$PATH"
# shellcheck source=/dev/null
source "$comp"

fails=0
# complete FUNC WORDS... : COMP_WORDS = WORDS, the cursor on the last one
complete_line() {
  local fn=$1; shift
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
  "$fn"
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect "WANT" FUNC WORDS...: the sorted replies are exactly WANT
expect() {
  local want=$1 got; shift
  got=$(complete_line "$@")
  if [ "$got" = "$want" ]; then echo "ok   ${*:2} -> $got"
  else echo "FAIL ${*:2}: want '$want', got '$got'"; fails=$((fails + 1)); fi
}
# has "WORD" FUNC WORDS...: WORD is among the replies
has() {
  local want=$1 got; shift
  got=" $(complete_line "$@") "
  case $got in *" $want "*) echo "ok   ${*:2} has $want" ;;
    *) echo "FAIL ${*:2}: no '$want' in '$got'"; fails=$((fails + 1)) ;; esac
}

cd "$work/files"
: > firmware.bin; : > fs.bin; mkdir -p out

expect "check" _espota espota ch
expect "--host_ip --host_port --hosts" _espota espota --host
expect "--layout --list-boards" _espota espota --l
# after the subcommand, only its own options
expect "--layout" _espota espota check --la
expect "" _espota espota check --host
has "--running-size" _espota espota check firmware.bin --r
has "d1_mini" _espota espota --board d1
expect "d1_mini_pro d1_mini_pro@ide" _espota espota --board d1_mini_p
has "esp8285@ide" _espota espota -i 10.0.0.1 --board esp
expect "1M256" _espota espota --layout 1M2
expect "esp32 esp8266" _espota espota --platform esp
expect "firmware.bin fs.bin" _espota espota -i 10.0.0.1 -f f
expect "firmware.bin" _espota espota check fir
has "min_spiffs" _espota espota --scheme m
expect "" _espota espota -p 82
expect "esp32 esp32-legacy" _espota_sim espota-sim --platform esp32
expect "no-connect no-final-ok no-invite-reply" _espota_sim espota-sim --fault no-
expect "--out-dir" _espota_sim espota-sim --ou
expect "out" _espota_sim espota-sim --out-dir o
expect "4M 4M1M 4M2M 4M3M" _espota_sim espota-sim --layout 4M

# board names from `espota boards --names` when the tool has it
cat > "$work/bin/espota-boards" <<'STUB'
#!/bin/sh
[ "$1 $2" = "boards --names" ] && { echo zz_board_one; echo zz_board_two; exit 0; }
exit 2
STUB
chmod +x "$work/bin/espota-boards"
expect "zz_board_one zz_board_two" _espota espota-boards --board zz
# and silently nothing when the tool answers neither
printf '#!/bin/sh\nexit 2\n' > "$work/bin/espota-none"; chmod +x "$work/bin/espota-none"
expect "" _espota espota-none --board x

# again for files, with bash-completion's _filedir loaded (as in an interactive shell)
if [ -r /usr/share/bash-completion/bash_completion ]; then
  set +eu
  # shellcheck source=/dev/null
  source /usr/share/bash-completion/bash_completion
  set -eu
  declare -F _filedir >/dev/null && echo "(with bash-completion's _filedir)"
  expect "firmware.bin fs.bin" _espota espota -i 10.0.0.1 -f f
  expect "out" _espota_sim espota-sim --out-dir o
fi

[ "$fails" -eq 0 ] || { echo "$fails completion case(s) failed"; exit 1; }
echo "completion OK"
