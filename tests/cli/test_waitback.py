"""espota --wait-back: after OK, wait until the device answers on its OTA port again.

The sim reboots after a success; an ESP8266 reboot includes eboot's copy of
the staged image (ceil(N/4096) x (erase + 16 x program), docs/simulator.md),
and the instance ignores datagrams until it is back. Bounded: every run has a
timeout, the images are 64 KiB.
"""
from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from images import esp8266_arduino  # noqa: E402
from test_cli import OK, TIMEOUT, jsonl, run, sim  # noqa: E402,F401 (sim: the fixture)

# a quick link, the default flash timing: 16 sectors of eboot copy = 899 ms
TIMING = ["--port", "0", "--rtt", "2", "--lifetime", "60"]


@pytest.fixture(scope="module")
def fw64(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "firmware.bin"
    p.write_bytes(esp8266_arduino(65536))
    return str(p)


def test_back_after_eboot_copy(sim, fw64):
    sim.start(["--platform", "esp8266", *TIMING])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw64, "--wait-back", "10", "--json", timeout=40)
    assert r.returncode == OK, r.stderr
    back = [e for e in jsonl(r.stdout) if e["event"] == "back"]
    assert len(back) == 1 and back[0]["back"] is True, r.stdout
    # 100 ms before the restart plus the eboot copy of 16 sectors (56.2 ms each)
    assert 900 <= back[0]["ms"] <= 5000, back
    # the probe could not start an update: begin() refused size 0 (error 5)
    # and the device never connected back for it
    assert [(u["result"], u["error"]) for u in sim.events("upload")] == [("ok", 0), ("error", 5)]
    begins = sim.events("begin")
    assert [b["ok"] for b in begins] == [True, False], begins
    assert len([c for c in sim.events("connect") if c.get("state") == "started"]) == 1


def test_back_with_password_leaves_device_idle(sim, fw64):
    sim.start(["--platform", "esp8266", "--password", "pw", *TIMING])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-a", "pw", "-f", fw64, "--wait-back", "10", timeout=40)
    assert r.returncode == OK, r.stderr
    assert "back after" in r.stderr
    # the AUTH it answered is not left pending: the next upload goes through at once
    r = run("-i", "127.0.0.1", "-p", sim.port, "-a", "pw", "-f", fw64, "-q", "--attempts", "1", timeout=40)
    assert r.returncode == OK, r.stderr


def test_not_back_is_a_clear_timeout(sim, fw64):
    sim.start(["--platform", "esp8266", "--boot-ms", "20000", *TIMING])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw64, "--wait-back", "2", timeout=40)
    assert r.returncode == TIMEOUT, r.stderr
    assert "Success" in r.stderr
    assert "did not answer on its OTA port within 2 s" in r.stderr
