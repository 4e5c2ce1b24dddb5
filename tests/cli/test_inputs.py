"""Inputs the CLI must refuse without reading (issue 14): a FIFO, a directory
or a device given as `check FILE`, `-f`, `--auth-file`, `--hosts` or
`--partitions`. The old code opened them with fopen() before its
regular-file check and blocked forever on a FIFO; every run here is bounded
by a 10 s timeout. No device is needed: each refusal comes before the
network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from images import esp8266_arduino  # noqa: E402
from events import check_output  # noqa: E402

CLI = os.environ.get("ESPOTA_CLI", "espota")


def run(*args):
    e = dict(os.environ)
    e.pop("ESPOTA_PASSWORD", None)
    e["TERM"] = "dumb"
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=e, timeout=10,
                       stdin=subprocess.DEVNULL)
    if "--json" in map(str, args):
        check_output(r.stdout)
    return r


@pytest.fixture
def paths(tmp_path):
    fw = tmp_path / "firmware.bin"
    fw.write_bytes(esp8266_arduino())
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    d = tmp_path / "dir"
    d.mkdir()
    return {"fw": str(fw), "fifo": str(fifo), "dir": str(d), "dev": "/dev/zero"}


KINDS = {"fifo": "is a FIFO (named pipe), not a regular file", "dir": "is a directory, not a regular file",
         "dev": "is a character device, not a regular file"}

# argv builders: p is the paths dict, bad the path under test
CASES = {
    "check": lambda p, bad: ["check", bad],
    "-f": lambda p, bad: ["-i", "127.0.0.1", "-p", "9", "-f", bad],
    "--auth-file": lambda p, bad: ["-i", "127.0.0.1", "-p", "9", "-f", p["fw"], "--auth-file", bad],
    "--hosts": lambda p, bad: ["--hosts", bad, "-f", p["fw"]],
    "--partitions": lambda p, bad: ["check", p["fw"], "--partitions", bad],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("option", sorted(CASES))
def test_non_regular_refused(paths, option, kind):
    bad = paths[kind]
    r = run(*CASES[option](paths, bad))
    assert r.returncode != 0, r.stderr
    assert f"{bad} {KINDS[kind]}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_json_names_the_fifo(paths):
    r = run("check", paths["fifo"], "--json")
    assert r.returncode != 0
    assert "FIFO" in r.stdout and paths["fifo"] in r.stdout, r.stdout


def test_control_bytes_in_path_escaped(tmp_path):
    bad = tmp_path / "a\x1b[2Jb"
    os.mkfifo(bad)
    r = run("check", str(bad))
    assert r.returncode != 0
    assert "\x1b" not in r.stderr
    assert "a\\x1b[2Jb is a FIFO" in r.stderr, r.stderr
