#!/usr/bin/env bash
# Installed-tree smoke test (issue 15): `cmake --install` the build tree into
# a fresh prefix, then from there, in a clean environment (env -i, no
# LD_LIBRARY_PATH, PYTHONPATH or LUA_CPATH), run the installed espota,
# upload an image to the installed espota-sim on loopback, and load the
# installed Python and Lua modules. Everything resolves libespota.so through
# the $ORIGIN-relative RUNPATH alone.
#
# usage: run.sh BUILD_DIR WORK_DIR PY_DIR LUA_DIR PYTHON LUA SRC_DIR [SANITIZER_PRELOAD]
#   PY_DIR, LUA_DIR: the install dirs relative to the prefix ("" = not built).
#   SANITIZER_PRELOAD: sanitizer runtimes that the uninstrumented interpreters
#   must load first in a sanitizer build (LD_PRELOAD, not a search path).
set -euo pipefail
bin=$1 work=$2 pydir=$3 luadir=$4 python=$5 lua=$6 src=$7 preload=${8:-}

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
sim_pid=
cleanup() { if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

step() { echo "== $*"; }
# The clean environment: only PATH (and, under sanitizers, their options).
clean=(env -i PATH=/usr/bin:/bin)
# Instrumented executables keep leak checking; the interpreters leak by
# design at exit, so it is off for them (as in bindings/sanitize.cmake).
san_env=()
interp_env=()
if [ -n "$preload" ]; then
  san_env=("ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" "UBSAN_OPTIONS=halt_on_error=1")
  interp_env=("ASAN_OPTIONS=detect_leaks=0:abort_on_error=1" "UBSAN_OPTIONS=halt_on_error=1"
              "LD_PRELOAD=$preload")
fi

step "cmake --install $bin --prefix $prefix"
timeout 120 cmake --install "$bin" --prefix "$prefix" >"$work/install.log"

for f in "$prefix"/bin/espota "$prefix"/bin/espota-sim \
         ${pydir:+"$prefix/$pydir"/espota/_espota_c*.so} ${luadir:+"$prefix/$luadir"/espota.so}; do
  rp=$(readelf -d "$f" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\1 \2/p')
  echo "   ${f#"$prefix"/}: ${rp:-no RUNPATH}"
  case $rp in *"\$ORIGIN"*) ;; *) echo "FAIL: $f has no \$ORIGIN RUNPATH" >&2; exit 1 ;; esac
  case $rp in *"$bin"*) echo "FAIL: $f still points into the build tree" >&2; exit 1 ;; esac
done

step "espota --version"
(cd / && timeout 10 "${clean[@]}" "${san_env[@]}" "$prefix/bin/espota" --version)

if [ "${ESPOTA_TEST_MAN:-0}" = 1 ]; then
  step "man espota, espota-sim, libespota from $prefix/share/man"
  for page in 1:espota 1:espota-sim 3:libespota; do
    sect=${page%%:*} page=${page#*:}
    out=$(cd / && timeout 20 "${clean[@]}" MANPATH="$prefix/share/man" MANWIDTH=80 man -P cat "$sect" "$page" 2>&1) ||
      { echo "FAIL: man $sect $page: $out" >&2; exit 1; }
    if ! grep -q "^NAME" <<<"$out" || ! grep -q "$page - " <<<"$out"; then
      echo "FAIL: man $sect $page shows no NAME section for $page" >&2; exit 1
    fi
    echo "   man $sect $page: $(grep -c . <<<"$out") lines"
  done
fi

step "bash completion from $prefix/share/bash-completion/completions"
# shellcheck disable=SC2016  # the script is expanded by the inner bash
got=$(cd / && timeout 20 "${clean[@]}" PATH="$prefix/bin:/usr/bin:/bin" bash --norc --noprofile -c '
  source "$1/share/bash-completion/completions/espota"
  COMP_WORDS=(espota check --lay); COMP_CWORD=2; _espota; echo "${COMPREPLY[*]}"
  source "$1/share/bash-completion/completions/espota-sim"
  COMP_WORDS=(espota-sim --platform esp32-); COMP_CWORD=2; _espota_sim; echo "${COMPREPLY[*]}"' _ "$prefix")
[ "$got" = $'--layout\nesp32-legacy' ] || { echo "FAIL: installed completion gave '$got'" >&2; exit 1; }
echo "   espota check --lay -> --layout; espota-sim --platform esp32- -> esp32-legacy"

step "upload to the installed espota-sim on 127.0.0.1"
timeout 30 "$python" "$src/tools/scripts/make-image.py" "$work/firmware.bin" --size 200000 --flash-size 1M >/dev/null
mkdir -p "$work/device"
timeout 60 "${clean[@]}" "${san_env[@]}" "$prefix/bin/espota-sim" --layout 1M64 --chip-size 1M \
  --port 0 --ready-file "$work/ready" --out-dir "$work/device" --log "$work/device.jsonl" \
  --max-uploads 1 --lifetime 50 --fast &
sim_pid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "FAIL: espota-sim did not become ready" >&2; exit 1; }
port=$(awk '{print $3; exit}' "$work/ready")
timeout 40 "${clean[@]}" "${san_env[@]}" "$prefix/bin/espota" -i 127.0.0.1 -p "$port" \
  -f "$work/firmware.bin" --layout 1M64 --chip-size 1M
cmp "$work/firmware.bin" "$work/device/app.bin"
timeout 20 tail --pid="$sim_pid" -f /dev/null || true
sim_pid=
echo "   $(stat -c %s "$work/device/app.bin") bytes received intact"

if [ -n "$pydir" ]; then
  step "$python -c 'import espota' in $prefix/$pydir"
  (cd "$prefix/$pydir" && timeout 30 "${clean[@]}" "${interp_env[@]}" PYTHONDONTWRITEBYTECODE=1 "$python" -c \
    'import espota, sys; print("   espota from", espota.__file__); sys.exit(0 if espota.__file__.startswith(sys.argv[1]) else 1)' \
    "$prefix/")
fi
if [ -n "$luadir" ]; then
  step "$lua -e 'require \"espota\"' in $prefix/$luadir"
  (cd "$prefix/$luadir" && timeout 30 "${clean[@]}" "${interp_env[@]}" "$lua" -e \
    'local e = require "espota"; print("   espota from " .. package.searchpath("espota", package.cpath))')
fi
echo "== installed tree OK"
