#!/usr/bin/env bash
# The whole test suite: install what is missing, then build and run every
# test twice, once plainly (clang, -Werror) and once under ASan+UBSan (gcc,
# -Werror), after a gcc -O2 build that only has to compile cleanly; the C
# tests once more under valgrind and the threaded ones under TSan; then
# every fuzzer for a bounded time. Exits non-zero when anything
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1

echo "== build and test (clang, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --timeout 600

echo "== ABI against the baseline (abidiff)"
scripts/abi-check.sh build

echo "== build with gcc -O2 (-Werror): what scripts/demo.sh and a distribution build"
# -O2 turns on gcc's flow-based warnings (format truncation and the like)
# that neither the clang build nor the -O0 ASan build sees.
cmake -S . -B build-gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DESPOTA_BUILD_BENCH=OFF >/dev/null
cmake --build build-gcc -j"$jobs" >/dev/null

echo "== build and test under ASan+UBSan (gcc, -Werror)"
# gcc links the sanitizer runtimes as shared libraries, so libespota.so
# carries its own dependency on them; the Python and Lua tests preload
# them into the (uninstrumented) interpreters (see bindings/CMakeLists.txt).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
  -DESPOTA_SANITIZE=address,undefined -DESPOTA_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan -j"$jobs" --timeout 600

echo "== C tests under valgrind (memcheck, no leaks)"
scripts/check-valgrind.sh

echo "== threaded tests under ThreadSanitizer (clang)"
scripts/check-tsan.sh

if [ -x tests/fuzz/run.sh ]; then
  echo "== fuzzers (bounded)"
  tests/fuzz/run.sh --seconds "${ESPOTA_FUZZ_SECONDS:-20}"
fi
if [ "$(id -u)" -eq 0 ] && [ "${CI:-}" = true ]; then
  # Changes /usr (then purges what it installed): only as root on CI.
  echo "== Debian packages: build, apt-get install, installed smoke test, purge"
  scripts/build-debs.sh build/debs
  tests/debs/run.sh build/debs .
fi
echo "== all tests passed"
