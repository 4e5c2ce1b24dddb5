#!/bin/bash
# One pacing-grid cell, the modes side by side, each against its own
# espota-sim --count N (bench/RESULTS.md, "Learning at lwIP's default window").
#
#   BUILD=/tmp/bb [OLD=/tmp/bo] bench/cell.sh IMAGE RTT MSS WINDOW N [MODES]
#
# MODES (default "pipe stream paced", plus "old" when OLD is set): pipe is the
# adaptive default, stream --stream, paced --paced, old the adaptive default of
# the build in OLD (another commit, for a before/after in the same run).
# Prints one line: the sorted times of each mode, in seconds.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,11p "$0" >&2; exit 2; }
: "${BUILD:?set BUILD to a build tree with espota-bench and espota-sim}"
IMG=$1 R=$2 M=$3 W=$4 N=$5
shift 5
DEF="pipe stream paced"
[ -n "${OLD:-}" ] && DEF="pipe old stream paced"
MODES=${*:-$DEF}
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
for mode in $MODES; do
	(
		b=$BUILD x=()
		[ "$mode" = old ] && b=$OLD
		[ "$mode" = stream ] && x=(--stream)
		[ "$mode" = paced ] && x=(--paced)
		"$b/tools/espota-sim/espota-sim" --port 0 --listen 127.0.0.1 --ready-file "$O/$mode.ready" \
			--platform esp8266 --rtt "$R" --mss "$M" --window "$W" --count "$N" >/dev/null 2>"$O/$mode.err" &
		sp=$!
		for _ in $(seq 200); do [ -f "$O/$mode.ready" ] && break; sleep 0.05; done
		timeout 900 "$b/bench/espota-bench" upload --ready "$O/$mode.ready" --image "$IMG" \
			--platform esp8266 "${x[@]}" >"$O/$mode.txt" 2>&1 || true
		kill "$sp" 2>/dev/null || true
	) &
done
wait
line="rtt $R mss $M window $W"
for mode in $MODES; do
	t=$(grep -o 'time=[0-9.]*' "$O/$mode.txt" | cut -d= -f2 | sort -n | tr '\n' ' ')
	[ "$(grep -c 'ok=1' "$O/$mode.txt" || true)" = "$N" ] || t="$t(failed: $(grep -m1 -o 'error=.*' "$O/$mode.txt" || echo none))"
	line="$line | $mode $t"
done
echo "$line"
