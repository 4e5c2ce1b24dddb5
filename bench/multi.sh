#!/usr/bin/env bash
# Fleets through the multi interface, side by side in one run (issue 17):
# 1, 50, 200 and 1000 simulated devices, all at once on one thread of one
# process (espota_fleet_upload is a loop over espota_multi_*), each device
# getting the same image. Prints wall time, its ratio to one device, the
# slowest device, CPU and peak RSS of the uploading process.
#
#   bench/multi.sh                  # SIZES="1 50 200 1000", 256 KiB image
#   SIZES="1 50" KB=1024 bench/multi.sh
#
# Environment: BUILD (default /tmp/build-bench-multi), OUT ($BUILD/multi-results),
# SIZES, KB (image size in KiB), PYTHON (/usr/bin/python3).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-/tmp/build-bench-multi}
OUT=${OUT:-$BUILD/multi-results}
SIZES=${SIZES:-"1 50 200 1000"}
KB=${KB:-256}
PYTHON=${PYTHON:-/usr/bin/python3}

echo "== build (Release) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DESPOTA_BUILD_BENCH=ON \
	-DESPOTA_BUILD_TESTS=OFF -DESPOTA_BUILD_EXAMPLES=OFF -DESPOTA_BINDINGS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target espota-bench espota-sim >/dev/null
SIM=$BUILD/tools/espota-sim/espota-sim
BENCH=$BUILD/bench/espota-bench
rm -rf "$OUT"
mkdir -p "$OUT"
IMG=$OUT/img.bin
"$PYTHON" "$SRC/tools/scripts/make-image.py" "$IMG" --size $((KB * 1024)) --flash-size 4M >/dev/null

SIMPID=
trap '[ -n "$SIMPID" ] && kill "$SIMPID" 2>/dev/null || true' EXIT
# Every device needs three descriptors here and two in the simulator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

printf "%-6s %-6s %-9s %-9s %-9s %-8s %-10s %-10s\n" devices ok wall_s ratio slowest cpu_s maxrss_MB kB/device
base=
for n in $SIZES; do
	rm -f "$OUT/n$n.ready"
	"$SIM" --port 0 --listen 127.0.0.1 --count "$n" --ready-file "$OUT/n$n.ready" >/dev/null 2>"$OUT/n$n.simerr" &
	SIMPID=$!
	for _ in $(seq 400); do [ -f "$OUT/n$n.ready" ] && break; sleep 0.05; done
	[ -f "$OUT/n$n.ready" ] || { echo "espota-sim --count $n did not start: $(cat "$OUT/n$n.simerr")" >&2; exit 1; }
	"$BENCH" fleet --ready "$OUT/n$n.ready" --image "$IMG" --max-concurrent "$n" >"$OUT/n$n.txt" 2>&1 || true
	kill "$SIMPID" 2>/dev/null || true
	wait "$SIMPID" 2>/dev/null || true
	SIMPID=
	line=$(grep '^fleet ' "$OUT/n$n.txt" || true)
	[ -n "$line" ] || { echo "n=$n: no result ($(tail -3 "$OUT/n$n.txt"))" >&2; continue; }
	get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
	wall=$(get wall); [ -n "$base" ] || base=$wall
	awk -v n="$n" -v ok="$(get ok)" -v w="$wall" -v b="$base" -v s="$(get slowest)" -v c="$(get cpu)" \
		-v r="$(get maxrss_kb)" -v r0="$(get rss_before_kb)" 'BEGIN {
		printf "%-6d %-6d %-9.2f %-9.2f %-9.2f %-8.2f %-10.1f %-10.1f\n", n, ok, w, w / b, s, c, r / 1024,
			(r - r0) / n }'
done
echo "(image $KB KiB, default timing model, one process, one thread, max_concurrent = devices)"
