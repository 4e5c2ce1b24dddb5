"""The advice of docs/errors.md end to end through the CLI: the situations
that the library's table (tests/unit/test_hint.c) cannot stage alone."""

from __future__ import annotations

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from events import check_output  # noqa: E402
from images import filesystem  # noqa: E402
from test_cli import AUTH, FAILED, FAST, OK, REFUSED, RESOLVE, fw, run, sim  # noqa: E402,F401  (fixtures)


def have_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_closed_port_fails_at_once(fw):
    # nothing listens on loopback port 9: the kernel answers port unreachable
    for host in ("127.0.0.1", "::1") if have_ipv6() else ("127.0.0.1",):
        t0 = time.monotonic()
        r = run("-i", host, "-p", "9", "-f", fw, "-t", "10")
        assert time.monotonic() - t0 < 2, "waited instead of failing on ICMP port unreachable"
        assert r.returncode == FAILED, r.stderr
        assert "ICMP port unreachable" in r.stderr
        assert f"hint: The host at {host} is up but nothing listens on UDP port 9" in r.stderr
        assert r.stderr.count("Sending invitation") == 1 and "retrying" not in r.stderr


def test_no_password_is_said_in_the_users_words(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "pw"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--json")
    assert r.returncode == AUTH
    res = check_output(r.stdout)[-1]
    assert "callback" not in res["message"] and "gave none" not in res["message"]
    assert res["message"] == "the device requires a password and none was given"
    assert "--auth-env VAR" in res["advice"][0]


def test_resolve_hint_mentions_mdns_only_for_local_names(fw):
    r = run("-i", "nosuchhost.invalid", "-f", fw)
    assert r.returncode == RESOLVE
    assert "mDNS" not in r.stderr and "hint: Check the name" in r.stderr


def test_filesystem_error_4_advises_the_filesystem_size(sim, tmp_path):
    # a 256 KiB filesystem image to a device whose layout has 64 KiB of filesystem
    p = tmp_path / "littlefs.bin"
    p.write_bytes(filesystem(262144))
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M64", "--chip-size", "1M"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-s", "-f", p, "--json")
    assert r.returncode == REFUSED, r.stderr
    res = check_output(r.stdout)[-1]
    assert res["device_error"]["code"] == 4
    text = " ".join(res["advice"]) + " " + res["device_error"]["explanation"]
    assert "smaller filesystem" not in text
    assert "larger than the filesystem area" in text and "a larger filesystem" in text


def test_recent_success_says_probably_rebooting(sim, fw, tmp_path):
    """After a success, the same device is silent while it reboots: the
    retry warnings and the hint say so (the record is XDG_CACHE_HOME/espota/recent)."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    sim.start(["--platform", "esp8266", *FAST])
    port = sim.port
    r = run("-i", "127.0.0.1", "-p", port, "-f", fw, env=env)
    assert r.returncode == OK, r.stderr
    rec = (tmp_path / "espota" / "recent").read_text()
    assert rec.endswith(f" {port} 127.0.0.1\n") and oct((tmp_path / "espota" / "recent").stat().st_mode)[-3:] == "600"
    sim.stop()
    # the device is "rebooting": its port is bound but it does not answer yet
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", port))
        r = run("-i", "127.0.0.1", "-p", port, "-f", fw, "-t", "1", "--attempts", "2", env=env)
    warn = [line for line in r.stderr.splitlines() if "retrying" in line]
    assert warn and all("probably still rebooting" in line for line in warn), r.stderr
    assert "hint: This device confirmed an update" in r.stderr
    # another device (port) gets no such remark
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 0))
        r = run("-i", "127.0.0.1", "-p", other.getsockname()[1], "-f", fw, "-t", "1", "--attempts", "2", env=env)
    assert "retrying" in r.stderr and "rebooting" not in r.stderr
