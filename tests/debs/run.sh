#!/usr/bin/env bash
# The Debian packages, installed (issue 15): apt-get install ./*.deb from
# DEBS_DIR into this machine, run the installed smoke test from a clean
# environment (espota --version, an upload to espota-sim on 127.0.0.1,
# `import espota`, `require "espota"`, man pages, completion, pkg-config),
# check `dpkg -L espota`, then purge the packages again (also on failure).
# Needs root. It changes /usr, so it runs only when asked:
# ESPOTA_TEST_DEBS=1 (CTest debs_install) or scripts/test.sh as root with CI=true.
#   usage: run.sh DEBS_DIR SRC_DIR
set -euo pipefail
debs=$(cd "$1" && pwd) src=$2
[ "$(id -u)" -eq 0 ] || { echo "debs test: needs root (it installs into /usr)" >&2; exit 1; }
mapfile -t files < <(find "$debs" -maxdepth 1 -name '*.deb' ! -name '*-dbgsym_*' | sort)
[ ${#files[@]} -ge 5 ] || { echo "debs test: expected 5 packages in $debs, found ${#files[@]}" >&2; exit 1; }
pkgs=()
for f in "${files[@]}"; do pkgs+=("$(dpkg-deb -f "$f" Package)"); done
work=$(mktemp -d)
sim_pid=
export DEBIAN_FRONTEND=noninteractive
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  echo "== apt-get purge ${pkgs[*]}"
  apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1 || true
  for p in "${pkgs[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      echo "FAIL: $p is still installed" >&2; exit 1
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== $*"; }
clean=(env -i PATH=/usr/bin:/bin)

step "apt-get install ${files[*]##*/}"
(cd "$debs" && timeout 300 apt-get install -y -qq --no-install-recommends "${files[@]/#$debs/.}" >"$work/apt.log" 2>&1) ||
  { cat "$work/apt.log" >&2; echo "FAIL: apt-get install" >&2; exit 1; }
ver=$(dpkg-query -W -f='${Version}' espota)

step "espota --version"
out=$(cd / && timeout 10 "${clean[@]}" espota --version)
echo "   $out"
case $out in "espota $ver "*) ;; *) echo "FAIL: not version $ver" >&2; exit 1 ;; esac
[ "$(command -v espota)" = /usr/bin/espota ] || { echo "FAIL: espota is not /usr/bin/espota" >&2; exit 1; }

step "upload to the installed espota-sim on 127.0.0.1"
timeout 30 /usr/bin/python3 "$src/tools/scripts/make-image.py" "$work/firmware.bin" --size 200000 --flash-size 1M >/dev/null
mkdir -p "$work/device"
(cd / && exec timeout 60 "${clean[@]}" espota-sim --layout 1M64 --chip-size 1M --port 0 --ready-file "$work/ready" \
  --out-dir "$work/device" --max-uploads 1 --lifetime 50 --fast) &
sim_pid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "FAIL: espota-sim did not become ready" >&2; exit 1; }
port=$(awk '{print $3; exit}' "$work/ready")
(cd / && timeout 40 "${clean[@]}" espota -i 127.0.0.1 -p "$port" -f "$work/firmware.bin" --layout 1M64 --chip-size 1M)
cmp "$work/firmware.bin" "$work/device/app.bin"
timeout 20 tail --pid="$sim_pid" -f /dev/null || true
sim_pid=
echo "   $(stat -c %s "$work/device/app.bin") bytes received intact"

step "/usr/bin/python3 -c 'import espota'"
(cd / && timeout 30 "${clean[@]}" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c '
import espota, sys
print("   espota", espota.__version__ if hasattr(espota, "__version__") else "", "from", espota.__file__)
sys.exit(0 if espota.__file__.startswith("/usr/lib/python3/dist-packages/") else 1)')

step "lua5.4 -e 'require \"espota\"'"
(cd / && timeout 30 "${clean[@]}" lua5.4 -e '
local e = require "espota"
local p = package.searchpath("espota", package.cpath)
print("   espota from " .. p)
assert(p:match("^/usr/lib/"), p)')

step "dpkg -L espota: man pages and completion"
list=$(dpkg -L espota)
for f in /usr/share/man/man1/espota.1.gz /usr/share/man/man1/espota-sim.1.gz \
         /usr/share/man/man1/espota-discovery.1.gz \
         /usr/share/bash-completion/completions/espota /usr/share/bash-completion/completions/espota-sim; do
  grep -qx "$f" <<<"$list" || { echo "FAIL: dpkg -L espota has no $f" >&2; exit 1; }
  echo "   $f"
done
grep -qx /usr/share/man/man3/libespota.3.gz <<<"$(dpkg -L libespota-dev)" ||
  { echo "FAIL: libespota-dev has no libespota(3)" >&2; exit 1; }

step "man espota; man 3 libespota"
for page in "1 espota" "1 espota-sim" "3 libespota"; do
  # shellcheck disable=SC2086  # section and name
  out=$(cd / && timeout 20 "${clean[@]}" MANWIDTH=80 man -P cat $page 2>&1) || { echo "FAIL: man $page: $out" >&2; exit 1; }
  grep -q "^NAME" <<<"$out" || { echo "FAIL: man $page has no NAME" >&2; exit 1; }
done
echo "   all three pages render"

step "bash completion through bash-completion's loader"
# shellcheck disable=SC2016  # expanded by the inner bash
got=$(cd / && timeout 20 "${clean[@]}" bash --norc --noprofile -c '
  source /usr/share/bash-completion/bash_completion
  _completion_loader espota
  COMP_WORDS=(espota check --lay); COMP_CWORD=2; _espota; echo "${COMPREPLY[*]}"')
[ "$got" = "--layout" ] || { echo "FAIL: completion gave '$got'" >&2; exit 1; }
echo "   espota check --lay -> --layout"

step "pkg-config libespota"
pcv=$(timeout 10 "${clean[@]}" pkg-config --modversion libespota)
[ "$pcv" = "$ver" ] || { echo "FAIL: pkg-config says $pcv, package $ver" >&2; exit 1; }
echo "   $pcv: $(timeout 10 "${clean[@]}" pkg-config --libs libespota)"
echo "== installed packages OK"
