"""Hostile devices and peers against the espota CLI (issue 14): every case
must end in a clear failure (never "confirmed") within a bounded time, and
the honest cases in success."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fakedev import FakeDevice, claims_early, reads_then  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from events import check_output  # noqa: E402

CLI = os.environ.get("ESPOTA_CLI", "espota")
SIZE = 60000


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    # an ESP32 app image is not needed: --force skips the fit check
    p = tmp_path_factory.mktemp("img") / "fw.bin"
    p.write_bytes(bytes([0xE9]) + bytes((i * 7) % 251 for i in range(SIZE - 1)))
    return str(p)


def upload(dev, image, *extra, timeout=40):
    argv = [CLI, "-i", "127.0.0.1", "-p", str(dev.port), "-f", image, "--force",
            "--timeout", "5", "-d", *extra]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, TERM="dumb"))
    dev.join()
    assert dev.error is None, dev.error
    if "--json" in argv:
        check_output(r.stdout)
    return r


def full(fmt=None):
    d = {}
    if fmt:
        d["fmt"] = fmt
    return d


LIARS = {
    # reads 1,000 of 60,000 bytes and answers 1000OK
    "short_read_ok": ({"stop": lambda size: 1000}, b"OK"),
    # counts that add up to more than was sent
    "overcount": (full(lambda n, total: str(n + 1000) if total == SIZE else str(n)), b"OK"),
    # cumulative counts instead of per-read ones
    "cumulative": (full(lambda n, total: str(total)), b"OK"),
    # one count, then OK
    "one_then_ok": ({"stop": lambda size: 1, "fmt": lambda n, total: "1"}, b"OK"),
    # an error text glued after OK
    "ok_then_error": (full(), b"OKERROR[7]: MD5 Check Failed\n"),
}


@pytest.mark.parametrize("case", sorted(LIARS))
@pytest.mark.parametrize("platform_port", ["esp32", "custom"])
def test_liar_never_succeeds(image, case, platform_port):
    counts, final = LIARS[case]
    dev = FakeDevice(reads_then(counts, final))
    extra = ["--platform", "esp32"] if platform_port == "esp32" else []
    r = upload(dev, image, *extra)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "confirmed" not in out, out
    # the figure in the message is one the counts can mean, never the image
    assert f"at most {SIZE} of them" not in out, out


@pytest.mark.parametrize("platform_port", ["esp32", "custom"])
def test_ok_before_every_byte_arrived(image, platform_port):
    # The counts add up and the device says OK, but it stopped reading 8,000
    # bytes before the end and its receive buffer is small: the host's
    # kernel still holds bytes the device never acknowledged at the TCP
    # level. An honest device's OK always comes after every byte arrived.
    dev = FakeDevice(claims_early(8000), rcvbuf=2048)
    extra = ["--platform", "esp32"] if platform_port == "esp32" else []
    r = upload(dev, image, *extra)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "confirmed" not in out, out
    assert "had not reached the device" in out, out
    assert dev.read <= SIZE - 8000, dev.read


def test_honest_merged_counts_succeed(image):
    # ESP32-style: counts of up to 1460 that Nagle may merge; our host reads
    # them merged, the rule still adds them up
    dev = FakeDevice(reads_then(full(), b"OK"))
    r = upload(dev, image)
    assert r.returncode == 0, r.stdout + r.stderr


def spoof_from_other_port(payloads):
    def before(peer):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        for p in payloads:
            s.sendto(p, peer)
        s.close()
        time.sleep(0.05)
    return before


def test_garbage_from_other_port_ignored(image):
    dev = FakeDevice(reads_then(full(), b"OK"))
    dev.before_reply = spoof_from_other_port([b"\x00garbage\xff"])
    r = upload(dev, image)
    assert r.returncode == 0, r.stdout + r.stderr


def test_spoofed_auth_from_other_port_ignored(image):
    dev = FakeDevice(reads_then(full(), b"OK"))
    dev.before_reply = spoof_from_other_port([b"AUTH 0123456789abcdef0123456789abcdef"])
    r = upload(dev, image)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "password" not in out.lower(), out


def test_udp_flood_one_summary(image):
    dev = FakeDevice(reads_then(full(), b"OK"))
    dev.before_reply = spoof_from_other_port([b"noise %d" % i for i in range(3000)])
    r = upload(dev, image, "-d")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    lines = [l for l in out.splitlines() if "ignored" in l]
    assert 1 <= len(lines) <= 5, out


def run_cli(*argv, timeout=20):
    r = subprocess.run([CLI, *argv], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, TERM="dumb"))
    if "--json" in argv:
        check_output(r.stdout)
    return r


def test_long_host_keeps_the_reason(image):
    r = run_cli("-i", "a" * 10000, "-f", image, "--force")
    assert r.returncode == 2, r.stderr
    assert "too long (10000 characters)" in r.stderr, r.stderr
    assert len(r.stderr) < 1000, len(r.stderr)


def test_control_bytes_in_host_never_raw(image):
    r = run_cli("-i", "bad\x1b[31mhost.invalid", "-f", image, "--force")
    assert r.returncode == 2, r.stderr
    assert "\x1b" not in r.stderr and "\x1b" not in r.stdout, repr(r.stderr)
    assert "0x1B at position 4" in r.stderr, r.stderr


def test_oversized_challenge_named_with_its_real_length(image):
    # a 5,000-character nonce: the message gives its real size, not what
    # fitted in a buffer
    dev = FakeDevice(None)
    dev.reply = b"AUTH " + b"a" * 5000
    r = upload(dev, image, "--platform", "esp32", "--no-prompt")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "5005-byte reply" in out, out
    assert "507" not in out, out


def test_min_rate_flag(image):
    dev = FakeDevice(reads_then(full(), b"OK"))
    r = upload(dev, image, "--min-rate", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("-i", "127.0.0.1", "-f", image, "--min-rate", "fast")
    assert r.returncode == 2, r.stderr
    assert "invalid rate 'fast'" in r.stderr, r.stderr


def test_ctrl_c_at_the_password_prompt(tmp_path):
    # Ctrl-C on a real terminal while espota asks for the password: the
    # user is told it was cancelled, not a callback's return code.
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
    from test_cli import pty_run  # noqa: E402 - the CLI tests' pty runner

    fw = tmp_path / "fw.bin"
    fw.write_bytes(bytes([0xE9]) + bytes(4095))
    dev = FakeDevice(None)
    dev.reply = b"AUTH " + b"0123456789abcdef" * 2
    code, out = pty_run(["-i", "127.0.0.1", "-p", dev.port, "-f", fw, "--force", "--timeout", "5"],
                        timeout=20, interrupt_on=b"password for")
    dev.join()
    assert "password for" in out, out
    assert "cancelled while asking for the password" in out, out
    assert "callback returned" not in out and "-12" not in out, out
    assert code != 0, out
