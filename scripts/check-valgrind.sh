#!/usr/bin/env bash
# Run the C unit tests, the C integration tests (it_*) and the sim harness
# test under valgrind memcheck: no invalid access, no use of uninitialised
# memory, no definite or indirect leak. The library under test is what
# matters: espota-sim child processes run natively (--trace-children=no).
#
#   scripts/check-valgrind.sh            # build in build-valgrind, run all
#   BUILD_DIR=/tmp/bv scripts/check-valgrind.sh
#   scripts/check-valgrind.sh it_faults  # only binaries matching a regex
#
# Exits non-zero when any binary fails or valgrind reports an error; the
# valgrind log of every failing binary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${BUILD_DIR:-build-valgrind}
filter=${1:-.}
jobs=${JOBS:-$(nproc)}
# Valgrind slows the library 20-50x; the tests' own time bounds scale with
# this (it_faults), the per-binary kill switch is generous.
export ESPOTA_TEST_TIME_SCALE=${ESPOTA_TEST_TIME_SCALE:-4}
per_test_timeout=${VALGRIND_TEST_TIMEOUT:-900}
# it_load: valgrind's own memory makes the resident-set bound meaningless.
export ESPOTA_TEST_UNDER_VALGRIND=1

command -v valgrind >/dev/null || { echo "valgrind not installed (scripts/deps.sh)"; exit 2; }

echo "== configure and build ($build, Debug, gcc, no sanitizers)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="${CC:-gcc}" \
  -DESPOTA_SANITIZE= -DESPOTA_BINDINGS=OFF -DESPOTA_BUILD_BENCH=OFF \
  -DESPOTA_BUILD_EXAMPLES=OFF -DESPOTA_FUZZ=OFF >/dev/null
# Only what runs here (the CLI, bindings and examples are not needed).
targets=(espota-sim test_sim)
for f in tests/unit/test_*.c; do targets+=("unit_$(basename "$f" .c)"); done
for f in tests/integration/it_*.c; do targets+=("$(basename "$f" .c)"); done
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >/dev/null

sim=$(find "$build" -type f -name espota-sim -perm -u+x | head -n1)
[ -n "$sim" ] || { echo "espota-sim was not built"; exit 2; }
case $sim in /*) ;; *) sim=$PWD/$sim ;; esac
export ESPOTA_SIM=$sim

mapfile -t bins < <(find "$build/tests" -maxdepth 1 -type f -perm -u+x \
  \( -name 'unit_test_*' -o -name 'it_*' -o -name 'test_sim' \) | sort | grep -E -- "$filter")
[ ${#bins[@]} -gt 0 ] || { echo "no test binaries match '$filter'"; exit 2; }

logdir=$build/valgrind-logs
rm -rf "$logdir"
mkdir -p "$logdir"
export logdir per_test_timeout

run_one() {
  local bin=$1 name
  name=$(basename "$bin")
  local start=$SECONDS rc=0
  timeout -k 10 "$per_test_timeout" valgrind -q --tool=memcheck --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --error-exitcode=99 --trace-children=no --num-callers=30 \
    --log-file="$logdir/$name.valgrind.log" "$bin" >"$logdir/$name.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '   ok   %-28s %4ds\n' "$name" $((SECONDS - start))
  else
    printf '   FAIL %-28s %4ds (exit %d%s)\n' "$name" $((SECONDS - start)) "$rc" \
      "$([ "$rc" -eq 99 ] && echo ': valgrind errors' || true)"
    touch "$logdir/$name.failed"
  fi
}
export -f run_one

echo "== valgrind: ${#bins[@]} binaries, $jobs at a time"
start=$SECONDS
printf '%s\n' "${bins[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
echo "== valgrind done in $((SECONDS - start)) s"

failed=0
for f in "$logdir"/*.failed; do
  [ -e "$f" ] || continue
  failed=1
  name=$(basename "$f" .failed)
  echo "---- $name: test output (tail)"
  tail -n 40 "$logdir/$name.out"
  echo "---- $name: valgrind log"
  cat "$logdir/$name.valgrind.log"
done
if [ "$failed" -ne 0 ]; then
  echo "== valgrind: FAILED"
  exit 1
fi
echo "== valgrind: clean"
