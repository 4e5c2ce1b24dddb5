"""End to end, the acknowledgement rule against espota-sim (issue 14): many
uploads of random sizes through the Python binding, both platforms, told
or unknown, MSS 536/1460, device windows 1x..8x MSS, paced (pipelined) and
--stream transfers. Every one must succeed and arrive byte-exact; none may
be refused by the rule (0 false failures). ESPOTA_E2E_STREAMS sets the
count (default 240 in the test suite, 80 under a sanitizer; docs/protocol.md
gives a 10,000 run).
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time

import pytest

espota = pytest.importorskip("espota")

SIM = os.environ.get("ESPOTA_SIM", "espota-sim")
# a sanitizer build (its runtime preloaded) runs a third of them
N = int(os.environ.get("ESPOTA_E2E_STREAMS",
                       "80" if "san" in os.environ.get("LD_PRELOAD", "") else "240"))


def start_sim(platform, mss, window, outdir):
    ready = os.path.join(outdir, "ready")
    argv = [SIM, "--platform", platform, "--port", "0", "--mss", str(mss), "--window", str(window),
            "--rtt", "1", "--loop-latency", "0", "--erase-ms", "0", "--program-us", "0",
            "--block-erase-ms", "0", "--boot-ms", "0", "--bandwidth", "100000000", "--no-firmware-delays", "--pbkdf2-ms", "0",
            "--out-dir", outdir, "--ready-file", ready, "--lifetime", "600"]
    if platform == "esp8266":
        argv += ["--layout", "4M2M"]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            with open(ready) as f:
                _, addr, port = f.read().split()[:3]
            return p, int(port)
        if p.poll() is not None:
            raise RuntimeError(p.stderr.read().decode())
        time.sleep(0.02)
    p.kill()
    raise RuntimeError("espota-sim did not start")


def test_random_streams_end_to_end():
    rng = random.Random(14)
    configs = []
    for platform in ("esp8266", "esp32"):
        for mss in (536, 1460):
            for mult in (1, 2, 4, 8):
                win = mss * mult
                if platform == "esp32":
                    win = max(2880, min(11520, win))
                configs.append((platform, mss, win))
    per = max(1, N // len(configs))
    done = failures = 0
    worst = []
    t0 = time.monotonic()
    with espota.Session() as s:
        for platform, mss, win in configs:
            with tempfile.TemporaryDirectory() as out:
                sim, port = start_sim(platform, mss, win, out)
                try:
                    for k in range(per):
                        size = rng.randint(1, 40000)
                        data = bytes([0x5A]) + rng.randbytes(size - 1)
                        transfer = "stream" if k % 2 else "pipelined"
                        told = platform if rng.random() < 0.5 else None
                        try:
                            r = s.upload(data, "127.0.0.1", port, target="fs", transfer=transfer,
                                         platform=told, timeouts={"stall": 5, "result": 5,
                                                                    "min_rate": 0 if k % 3 == 0 else 1000})
                            ok = r.acked == size
                        except espota.Error as e:
                            ok = False
                            worst.append((platform, mss, win, size, transfer, told, str(e)))
                        if ok:
                            with open(os.path.join(out, "fs.bin"), "rb") as f:
                                ok = f.read() == data
                        done += 1
                        failures += not ok
                finally:
                    sim.terminate()
                    sim.wait(timeout=10)
    dt = time.monotonic() - t0
    print(f"\nend to end: {done} uploads over {len(configs)} device configurations, "
          f"{failures} failures, {dt:.1f} s")
    assert failures == 0, worst[:5]
    assert done >= N - len(configs)
