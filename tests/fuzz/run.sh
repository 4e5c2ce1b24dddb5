#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and run each
# for a bounded time on a copy of its seed corpus. Fails on any crash, leak,
# sanitizer report, timeout or out-of-memory.
#
#   tests/fuzz/run.sh [--seconds N] [--jobs J] [target ...]
#
# The committed corpus under tests/fuzz/corpus/ is never modified; new inputs
# go to build-fuzz/work/<target>/corpus, crashes to build-fuzz/work/<target>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=20
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 4 ] && jobs=4
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(fuzz_image fuzz_partitions fuzz_engine_udp fuzz_engine_tcp fuzz_device_error fuzz_acks fuzz_cli_args fuzz_hosts fuzz_mdns)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

build="$root/build-fuzz"
echo "== configuring and building the fuzzers in $build"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DESPOTA_FUZZ=ON -DESPOTA_WERROR=OFF -DESPOTA_BUILD_TOOLS=OFF -DESPOTA_BUILD_TESTS=OFF \
  -DBUILD_TESTING=OFF -DESPOTA_BUILD_EXAMPLES=OFF -DESPOTA_BUILD_BENCH=OFF \
  -DESPOTA_BINDINGS=OFF -DESPOTA_SANITIZE= >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target fuzz -j"$(nproc 2>/dev/null || echo 2)" >"$build/build.log" 2>&1 ||
  { tail -n 60 "$build/build.log"; exit 1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# run_one TARGET: copy the seeds, fuzz, keep the log.
run_one() {
  local t=$1 work="$build/work/$1" seeds="$root/tests/fuzz/corpus/$1" dict="$root/tests/fuzz/dict/$1.dict"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
    -print_final_stats=1 -artifact_prefix="$work/")
  rm -rf "$work"
  mkdir -p "$work/corpus"
  if [ -d "$seeds" ]; then cp -R "$seeds/." "$work/corpus/"; fi
  [ -f "$dict" ] && args+=(-dict="$dict")
  "$build/tests/fuzz/$t" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
}

echo "== fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
declare -A pids=()
failed=()
wait_one() {
  local t pid
  for t in "${!pids[@]}"; do
    pid=${pids[$t]}
    if ! kill -0 "$pid" 2>/dev/null; then
      if wait "$pid"; then
        stats=$(grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec)' "$build/work/$t/log" |
          awk '{printf "%s ", $NF}')
        set -- $stats
        printf '  %-20s ok   %10s execs %8s/s\n' "$t" "${1:-?}" "${2:-?}"
      else
        printf '  %-20s FAILED (log: %s)\n' "$t" "$build/work/$t/log"
        grep -E 'ERROR:|invariant failed|SUMMARY|runtime error' "$build/work/$t/log" | head -n 20 | sed 's/^/    /'
        failed+=("$t")
      fi
      unset "pids[$t]"
      return 0
    fi
  done
  sleep 0.2
  return 1
}
for t in "${targets[@]}"; do
  while [ ${#pids[@]} -ge "$jobs" ]; do wait_one || true; done
  run_one "$t" &
  pids[$t]=$!
done
while [ ${#pids[@]} -gt 0 ]; do wait_one || true; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== fuzzing FAILED: ${failed[*]} (reproduce: build-fuzz/tests/fuzz/<target> <crash file>)"
  exit 1
fi
echo "== fuzzing passed"
