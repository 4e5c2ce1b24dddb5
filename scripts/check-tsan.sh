#!/usr/bin/env bash
# ThreadSanitizer: build with clang -fsanitize=thread and run the threaded
# tests: it_upload's eight concurrent sessions and cross-thread cancel, and
# it_load's 50 threads with their own sessions (plus its fleet and serial
# parts, which exercise the same code single-threaded). Any reported race
# fails the run.
#
#   scripts/check-tsan.sh
#   BUILD_DIR=/tmp/bt scripts/check-tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${BUILD_DIR:-build-tsan}
jobs=${JOBS:-$(nproc)}

command -v clang >/dev/null || { echo "clang not installed (scripts/deps.sh)"; exit 2; }

echo "== configure and build ($build, Debug, clang, -fsanitize=thread)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DESPOTA_SANITIZE=thread -DESPOTA_BINDINGS=OFF -DESPOTA_BUILD_BENCH=OFF \
  -DESPOTA_BUILD_EXAMPLES=OFF -DESPOTA_FUZZ=OFF \
  -DCMAKE_C_STANDARD_LIBRARIES="-Wl,-z,undefs" >/dev/null
# clang links the TSan runtime into executables only: libespota.so keeps
# its __tsan_* references undefined and the test executable provides them.
# The library's -Wl,--no-undefined would refuse that, so `-z undefs` (placed
# last on the link line through CMAKE_C_STANDARD_LIBRARIES) lifts it for this
# build only.
cmake --build "$build" -j"$jobs" --target espota-sim it_upload it_load >/dev/null

sim=$(find "$build" -type f -name espota-sim -perm -u+x | head -n1)
[ -n "$sim" ] || { echo "espota-sim was not built"; exit 2; }
case $sim in /*) ;; *) sim=$PWD/$sim ;; esac
export ESPOTA_SIM=$sim
# halt_on_error: the first race fails the test; exitcode 66 tells it apart.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

runs=(
  "it_upload test_eight_threads"
  "it_upload test_cancel"
  "it_upload test_fleet"
  "it_load test_50_threads"
  "it_load test_fleet_50_at_once"
)
failed=0
start=$SECONDS
for r in "${runs[@]}"; do
  read -r bin name <<<"$r"
  t0=$SECONDS
  log=$build/tsan-$bin-$name.log
  if timeout -k 10 600 "$build/tests/$bin" "$name" >"$log" 2>&1; then
    printf '   ok   %-12s %-26s %4ds\n' "$bin" "$name" $((SECONDS - t0))
  else
    rc=$?
    printf '   FAIL %-12s %-26s %4ds (exit %d%s)\n' "$bin" "$name" $((SECONDS - t0)) "$rc" \
      "$([ "$rc" -eq 66 ] && echo ': data race' || true)"
    grep -v '^espota-sim: ' "$log" | tail -n 80
    failed=1
  fi
done
echo "== tsan done in $((SECONDS - start)) s"
if [ "$failed" -ne 0 ]; then
  echo "== tsan: FAILED"
  exit 1
fi
echo "== tsan: clean"
