"""espota-sim --airtime and --loss against the CLI: the instances of one sim share one medium.

Two fresh devices at 40 000 bytes/s of shared air, 64 KiB each, uploaded at the same
time: each data phase takes at least the air time of both images; one device
alone takes about half that. Flash timing is off (--erase-ms 0 --program-us 0)
so that the air decides. Bounded: every run has a timeout.
"""
from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from images import esp8266_arduino  # noqa: E402
from test_cli import CLI, OK, jsonl, sim  # noqa: E402,F401 (sim: the fixture)

AIR = 40000
SIZE = 65536
TIMING = ["--port", "0", "--rtt", "2", "--erase-ms", "0", "--program-us", "0",
          "--bandwidth", "0", "--airtime", str(AIR), "--lifetime", "60"]


def transfer_s(out: str) -> float:
    res = [e for e in jsonl(out) if e["event"] == "result"]
    assert len(res) == 1 and res[0]["ok"], out
    return res[0]["stats"]["transfer_ms"] / 1000


def upload_all(sim, fw, devices):
    procs = [subprocess.Popen([CLI, "-i", "127.0.0.1", "-p", str(sim.ports[i]), "-f", fw, "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in devices]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=40)
        assert p.returncode == OK, err
        outs.append(out)
    return [transfer_s(o) for o in outs]


def test_shared_air(sim, tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(SIZE))
    sim.start(["--platform", "esp8266", "--count", "3", *TIMING])
    (alone,) = upload_all(sim, str(fw), [0])
    both = upload_all(sim, str(fw), [1, 2])  # fresh devices, not one rebooting
    air_one = SIZE / AIR  # 1.64 s
    assert air_one * 0.9 <= alone < air_one * 1.6, alone
    # the two overlap on one medium: each needs about the air time of both
    assert min(both) > alone * 1.4, (alone, both)


def test_loss_per_device(sim, tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(SIZE))
    sim.start(["--platform", "esp8266", "--count", "2", "--loss", "0.5@1", "--port", "0", "--rtt", "40",
               "--erase-ms", "0", "--program-us", "0", "--lifetime", "60"])
    clean, lossy = upload_all(sim, str(fw), [0]) + upload_all(sim, str(fw), [1])
    # every other segment of device 1 is resent a round trip later
    assert lossy > clean * 1.2, (clean, lossy)
    assert sim.app_image(1) == fw.read_bytes()
