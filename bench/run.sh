#!/usr/bin/env bash
# One command for the whole benchmark (issue 8): builds what it needs
# (Release, in $BUILD), runs every measurement and prints the tables.
#
#   bench/run.sh                 # everything (about 8 min on 2 cores)
#   REPS=5 bench/run.sh          # more repetitions per single-upload cell
#   PARTS="single" bench/run.sh  # only some parts: grid, single, windows, gzip, fleet, air, back, cpu
#
# Environment: BUILD (default /tmp/build-bench), OUT (results dir, default
# $BUILD/bench-results), REPS (3), FLEET_REPS (2), CPU_MB (1024), GRID_REPS (1),
# GRID_JOBS (uploads at once in the grid, 12), AIRTIME (shared air, bytes/s, 1000000),
# LOSS (segment loss per device, 0.005),
# PYTHON (/usr/bin/python3).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-/tmp/build-bench}
OUT=${OUT:-$BUILD/bench-results}
REPS=${REPS:-3}
FLEET_REPS=${FLEET_REPS:-2}
CPU_MB=${CPU_MB:-1024}
PYTHON=${PYTHON:-/usr/bin/python3}
PARTS=${PARTS:-"grid single windows gzip fleet air back cpu"}
AIRTIME=${AIRTIME:-1000000}
LOSS=${LOSS:-0.005}
GRID_REPS=${GRID_REPS:-1}
GRID_JOBS=${GRID_JOBS:-12}

echo "== build (Release) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DESPOTA_BUILD_BENCH=ON \
	-DESPOTA_BUILD_TESTS=OFF -DESPOTA_BUILD_EXAMPLES=OFF -DESPOTA_BINDINGS=OFF \
	>/dev/null
cmake --build "$BUILD" -j2 --target espota-bench espota-closed espota-sim espota-cli >/dev/null
SIM=$BUILD/tools/espota-sim/espota-sim
BENCH=$BUILD/bench/espota-bench
CLOSED=$BUILD/bench/espota-closed
CLI=$BUILD/tools/espota/espota

rm -rf "$OUT"
mkdir -p "$OUT"
IMG=$OUT/img1m.bin
"$PYTHON" "$SRC/tools/scripts/make-image.py" "$IMG" --size 1048576 --flash-size 4M >/dev/null
# ESP32 devices verify the app image at the end (esp_image_verify), so they get a real one
IMG32=$OUT/img1m-esp32.bin
"$PYTHON" "$SRC/tools/scripts/make-image.py" "$IMG32" --chip esp32 --size 1048576 >/dev/null
img_for() { if [ "$1" = esp32 ]; then echo "$IMG32"; else echo "$IMG"; fi; }

PIDS=()
PIN=(env)   # part 3 runs the sim and the uploader on one core (taskset) as well
cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

# start_sim NAME ARGS... : starts espota-sim with a ready file, sets SIMPID
start_sim() {
	local name=$1
	shift
	rm -f "$OUT/$name.ready"
	"${PIN[@]}" "$SIM" --port 0 --listen 127.0.0.1 --ready-file "$OUT/$name.ready" "$@" >/dev/null 2>"$OUT/$name.simerr" &
	SIMPID=$!
	PIDS+=("$SIMPID")
	for _ in $(seq 200); do
		[ -f "$OUT/$name.ready" ] && return 0
		sleep 0.05
	done
	echo "espota-sim $name did not start: $(cat "$OUT/$name.simerr")" >&2
	exit 1
}

# CPU seconds (user+sys) of a process so far
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# single PLATFORM RTT MSS MODE [bench options...]: REPS uploads, one fresh device each
single() {
	local plat=$1 rtt=$2 mss=$3 mode=$4
	shift 4
	local name="single_${plat}_r${rtt}_m${mss}_${mode}"
	local simargs=(--platform "$plat" --rtt "$rtt" --count "$REPS")
	[ "$mss" != "def" ] && simargs+=(--mss "$mss")
	start_sim "$name" "${simargs[@]}"
	local sp=$SIMPID
	"$BENCH" upload --ready "$OUT/$name.ready" --image "$(img_for "$plat")" --platform "$plat" "$@" >"$OUT/$name.txt" 2>&1 || true
	kill "$sp" 2>/dev/null || true
}

limits() {
	for plat in esp8266 esp32; do
		for rtt in 5 20 50; do
			for mss in 536 1460 def; do
				[ "$plat" = esp8266 ] && [ "$mss" = def ] && continue
				[ "$plat" = esp32 ] && [ "$mss" != def ] && continue
				local m=() f="$OUT/limit_${plat}_r${rtt}_m${mss}.txt"
				[ "$mss" != def ] && m=(--mss "$mss")
				: >"$f"
				for seg in 1 mss; do
					local s=()
					[ $seg = 1 ] && s=(--seg 1)
					[ $seg = mss ] && s=(--seg 1000000)
					echo "seg=$seg $("$BENCH" limit --platform "$plat" --rtt "$rtt" "${m[@]}" "${s[@]}" --image "$(img_for "$plat")")" >>"$f"
				done
			done
		done
	done
}

T0=$(date +%s)
limits

# grid_cell PLATFORM RTT MSS WINDOW MODE [bench options...]: one 256 KiB upload
grid_cell() {
	local plat=$1 rtt=$2 mss=$3 win=$4 mode=$5
	shift 5
	local name="grid_${plat}_r${rtt}_m${mss}_w${win}_${mode}"
	start_sim "$name" --platform "$plat" --rtt "$rtt" --mss "$mss" --window "$win" --count "$GRID_REPS"
	local sp=$SIMPID
	"$BENCH" upload --ready "$OUT/$name.ready" --image "$(grid_img "$plat")" --platform "$plat" "$@" >"$OUT/$name.txt" 2>&1 || true
	kill "$sp" 2>/dev/null || true
}
grid_img() { if [ "$1" = esp32 ]; then echo "$GIMG32"; else echo "$GIMG"; fi; }
GIMG=$OUT/img256k.bin
GIMG32=$OUT/img256k-esp32.bin
"$PYTHON" "$SRC/tools/scripts/make-image.py" "$GIMG" --size 262144 --flash-size 4M >/dev/null
"$PYTHON" "$SRC/tools/scripts/make-image.py" "$GIMG32" --chip esp32 --size 262144 >/dev/null

if [[ " $PARTS " == *" grid "* ]]; then
	echo "== part 0: pacing grid, 256 KiB, windows 1..8 x MSS, RTT 1/20/100 ms, $GRID_REPS run(s) per cell, $GRID_JOBS at a time"
	cells=()
	for rtt in 100 20 1; do # the slowest first, so the tail is short
		for mss in 536 1460; do
			for k in 1 2 3 4 5 6 7 8; do
				cells+=("esp8266 $rtt $mss $((k * mss))")
			done
		done
		for win in 2880 5760 11520; do
			cells+=("esp32 $rtt 1440 $win")
		done
	done
	for c in "${cells[@]}"; do
		read -r plat rtt mss win <<<"$c"
		for mode in pipe stream paced; do
			extra=()
			[ $mode = stream ] && extra=(--stream)
			[ $mode = paced ] && extra=(--paced)
			while [ "$(jobs -rp | wc -l)" -ge "$GRID_JOBS" ]; do wait -n || true; done
			grid_cell "$plat" "$rtt" "$mss" "$win" "$mode" "${extra[@]}" &
		done
		m=()
		[ "$plat" = esp8266 ] && m=(--mss "$mss")
		for seg in 1 1000000; do
			echo "seg=$seg $("$BENCH" limit --platform "$plat" --rtt "$rtt" --mss "$mss" --window "$win" --seg "$seg" --image "$(grid_img "$plat")")"
		done >"$OUT/glimit_${plat}_r${rtt}_m${mss}_w${win}.txt"
		echo "$("$CLOSED" --platform "$plat" --rtt "$rtt" --mss "$mss" --window "$win" --image "$(grid_img "$plat")")" \
			>"$OUT/gclosed_${plat}_r${rtt}_m${mss}_w${win}.txt"
	done
	wait
	echo "   grid took $(( $(date +%s) - T0 )) s"
fi

if [[ " $PARTS " == *" single "* || " $PARTS " == *" windows "* ]]; then
	echo "== part 1: 1 MB uploads, $REPS repetitions per cell, all cells concurrently"
	JOBS=()
	if [[ " $PARTS " == *" single "* ]]; then
		for rtt in 5 20 50; do
			for mss in 536 1460; do
				single esp8266 $rtt $mss saw --saw --chunk 1460 & JOBS+=($!)
				single esp8266 $rtt $mss pipe & JOBS+=($!)
				single esp8266 $rtt $mss stream --stream & JOBS+=($!)
				single esp8266 $rtt $mss gzip --compress & JOBS+=($!)
			done
			single esp32 $rtt def saw --saw --chunk 1024 & JOBS+=($!)
			single esp32 $rtt def pipe & JOBS+=($!)
		done
	fi
	if [[ " $PARTS " == *" windows "* ]]; then
		# the public knobs behind the pipelined default (window 65536, chunk 1460)
		for rtt in 5 20 50; do
			for mss in 536 1460; do
				single esp8266 $rtt $mss w8192 --window 8192 & JOBS+=($!)
				single esp8266 $rtt $mss w16384 --window 16384 & JOBS+=($!)
			done
		done
		single esp8266 20 536 c536 --chunk 536 & JOBS+=($!)
		single esp8266 20 1460 c4096 --chunk 4096 & JOBS+=($!)
	fi
	wait "${JOBS[@]}"
	echo "   part 1 took $(( $(date +%s) - T0 )) s"
fi

if [[ " $PARTS " == *" fleet "* ]]; then
	echo "== part 2: fleets (default timing model), $FLEET_REPS repetitions"
	for rep in $(seq "$FLEET_REPS"); do
		for n in 1 10 50 200; do
			for mc in all default; do
				[ $mc = default ] && [ $n != 50 ] && continue  # the default (all at once) once
				name="fleet_n${n}_${mc}_rep${rep}"
				start_sim "$name" --count "$n"
				sp=$SIMPID
				c0=$(proc_cpu "$sp")
				mcarg=()
				[ $mc = all ] && mcarg=(--max-concurrent "$n")
				"$BENCH" fleet --ready "$OUT/$name.ready" --image "$IMG" "${mcarg[@]}" >"$OUT/$name.txt" 2>&1 || true
				echo "simcpu=$(awk -v a="$(proc_cpu "$sp")" -v b="$c0" 'BEGIN{printf "%.3f", a-b}')" >>"$OUT/$name.txt"
				kill "$sp" 2>/dev/null || true
				wait "$sp" 2>/dev/null || true
			done
		done
	done
fi

if [[ " $PARTS " == *" gzip "* ]]; then
	echo "== part 1c: gzip on real Xtensa code (bench/xtensa/xtensa-code.bin) beside the synthetic image, RTT 20, MSS 536"
	# the synthetic image cut to the same size, so the fixed delays weigh the same
	head -c "$(stat -c %s "$HERE/xtensa/xtensa-code.bin")" "$GIMG" >"$OUT/synthetic-same-size.bin"
	JOBS=()
	for img in real synth; do
		f="$HERE/xtensa/xtensa-code.bin"
		[ $img = synth ] && f="$OUT/synthetic-same-size.bin"
		for mode in pipe gzip; do
			(
				name="gz_${img}_${mode}"
				start_sim "$name" --rtt 20 --mss 536 --count "$REPS"
				extra=()
				[ $mode = gzip ] && extra=(--compress)
				"$BENCH" upload --ready "$OUT/$name.ready" --image "$f" "${extra[@]}" >"$OUT/$name.txt" 2>&1 || true
				kill "$SIMPID" 2>/dev/null || true
			) &
			JOBS+=($!)
		done
	done
	wait "${JOBS[@]}"
fi

if [[ " $PARTS " == *" air "* ]]; then
	echo "== part 2b: one access point: --airtime $AIRTIME shared, --loss $LOSS per device, 256 KiB each"
	for plat in esp8266 esp32; do
		for n in 1 10 25 50 100 200; do
			for mc in all policy; do
				[ "$n" = 1 ] && [ $mc = policy ] && continue
				name="air_${plat}_n${n}_${mc}"
				start_sim "$name" --platform "$plat" --count "$n" --airtime "$AIRTIME" --loss "$LOSS"
				sp=$SIMPID
				mcarg=()
				[ $mc = all ] && mcarg=(--max-concurrent "$n")
				"$BENCH" fleet --platform "$plat" --ready "$OUT/$name.ready" --image "$(grid_img "$plat")" \
					"${mcarg[@]}" >"$OUT/$name.txt" 2>&1 || true
				kill "$sp" 2>/dev/null || true
				wait "$sp" 2>/dev/null || true
			done
		done
	done
fi

if [[ " $PARTS " == *" back "* ]]; then
	echo "== part 4: time to the device being back (espota --wait-back), 1 MB, RTT 20"
	for plat in esp8266 esp32; do
		name="back_$plat"
		start_sim "$name" --platform "$plat" --rtt 20
		"$CLI" -i 127.0.0.1 -p "$(awk '{print $3}' "$OUT/$name.ready")" -f "$(img_for "$plat")" \
			--wait-back 60 --json >"$OUT/$name.json" 2>"$OUT/$name.err" || true
		kill "$SIMPID" 2>/dev/null || true
		wait "$SIMPID" 2>/dev/null || true
	done
fi

if [[ " $PARTS " == *" cpu "* ]]; then
	echo "== part 3: engine CPU on loopback, --fast, ${CPU_MB} MB as 8 MiB filesystem uploads"
	FSIMG=$OUT/fs8m.bin
	head -c 8388608 /dev/urandom >"$FSIMG"
	# Loopback charges the receiver's TCP work and the cross-core wake-ups
	# of the sim to the sender; on this 2-core VM the latter vary several
	# fold from run to run, so every mode runs with both processes on one
	# core (the engine's own cost) and unpinned (what a user sees here).
	for place in onecore twocores; do
		PIN=(env)
		[ $place = onecore ] && PIN=(taskset -c 0)
		for mode in pipe saw; do
			name="cpu_${mode}_$place"
			n=$(( CPU_MB / 8 ))
			extra=()
			[ $mode = saw ] && extra=(--saw) && n=$(( n / 4 ))
			start_sim "$name" --fast --layout 16M15M --chip-size 16M
			sp=$SIMPID
			c0=$(proc_cpu "$sp")
			"${PIN[@]}" "$BENCH" cpu --ready "$OUT/$name.ready" --image "$FSIMG" --fs --repeat "$n" "${extra[@]}" >"$OUT/$name.txt" 2>&1 || true
			echo "simcpu=$(awk -v a="$(proc_cpu "$sp")" -v b="$c0" 'BEGIN{printf "%.3f", a-b}')" >>"$OUT/$name.txt"
			kill "$sp" 2>/dev/null || true
			wait "$sp" 2>/dev/null || true
		done
	done
	PIN=(env)
fi

echo "== total $(( $(date +%s) - T0 )) s; raw results in $OUT"
ESPOTA_BENCH=$BENCH "$PYTHON" "$HERE/report.py" "$OUT"
