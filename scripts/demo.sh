#!/usr/bin/env bash
# The main job, end to end: install what is missing, build, then check and
# upload a firmware image, with progress, to the bundled virtual device
# (espota-sim, modelling a 1 MB ESP8285 on Wi-Fi).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --minimal
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESPOTA_BINDINGS=OFF -DESPOTA_BUILD_TESTS=OFF -DESPOTA_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target espota-cli espota-sim >/dev/null

work=$(mktemp -d)
sim_pid=
# the sim may have exited already (--max-uploads 1): a failed kill is no error
cleanup() { if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

/usr/bin/python3 tools/scripts/make-image.py "$work/firmware.bin" --size 329008 --flash-size 1M
mkdir -p "$work/device"
# A SONOFF-like device: 1 MB chip, the Arduino IDE's 1M64 layout, running a
# 300,000-byte sketch, realistic Wi-Fi and flash timing.
build-demo/tools/espota-sim/espota-sim --layout 1M64 --chip-size 1M --sketch-size 300000 \
  --port 0 --ready-file "$work/ready" --out-dir "$work/device" --log "$work/device.jsonl" \
  --max-uploads 1 --lifetime 120 &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
port=$(awk '{print $3}' "$work/ready")

echo "== fit check"
build-demo/tools/espota/espota check "$work/firmware.bin" --layout 1M64 --chip-size 1M --running-size 300000
echo "== upload to the virtual device at 127.0.0.1:$port"
build-demo/tools/espota/espota -i 127.0.0.1 -p "$port" -f "$work/firmware.bin" \
  --layout 1M64 --chip-size 1M --running-size 300000
cmp "$work/firmware.bin" "$work/device/app.bin"
echo "== the device received all $(stat -c %s "$work/device/app.bin") bytes intact"
