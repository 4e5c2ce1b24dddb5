#!/usr/bin/env bash
# Run every fuzzer longer (default 300 s each) and print a table of
# executions, executions per second, coverage (libFuzzer's cov: edges and
# ft: features) and corpus size per target.
#
#   tests/fuzz/long.sh [--seconds N] [--jobs J] [target ...]
#
# Same build and work directories as run.sh (build-fuzz/); the committed
# seed corpus is never modified. To keep what a long run found, minimise it
# into the seeds by hand:
#   build-fuzz/tests/fuzz/T -merge=1 tests/fuzz/corpus/T build-fuzz/work/T/corpus
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=300
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

"$here/run.sh" --seconds "$seconds" "${args[@]}"
rc=$?

work="$root/build-fuzz/work"
printf '\n%-20s %12s %10s %8s %8s %8s %10s  %s\n' target execs execs/s cov ft corpus seeds status
for log in "$work"/*/log; do
  [ -f "$log" ] || continue
  t=$(basename "$(dirname "$log")")
  execs=$(awk '/^stat::number_of_executed_units/ {print $NF}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec/ {print $NF}' "$log")
  # The last status line: "#N  pulse|NEW|REDUCE|DONE  cov: C ft: F corp: U/S ..."
  line=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  cov=$(sed -E 's/.*cov: ([0-9]+).*/\1/' <<<"$line")
  ft=$(sed -E 's/.*ft: ([0-9]+).*/\1/' <<<"$line")
  corp=$(sed -E 's/.*corp: ([0-9]+)\/.*/\1/' <<<"$line")
  seeds=$(find "$root/tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
  status=ok
  ls "$work/$t"/crash-* "$work/$t"/leak-* "$work/$t"/timeout-* "$work/$t"/oom-* >/dev/null 2>&1 && status=CRASH
  printf '%-20s %12s %10s %8s %8s %8s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$seeds" "$status"
done
exit $rc
