"""Session.upload_many(): one image to many devices from one thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import espota


def test_five_devices_byte_exact(sim, firmware):
    dev = sim("--count", "5")
    seen: dict[int, set[str]] = {}
    finished: list[espota.DeviceResult] = []

    def progress(i: int, p: espota.Progress):
        assert isinstance(p, espota.Progress)
        seen.setdefault(i, set()).add(p.phase)

    devices = [("127.0.0.1", dev.ports[0]), {"host": "127.0.0.1", "port": dev.ports[1]},
               *[("127.0.0.1", p) for p in dev.ports[2:]]]
    with espota.Session() as s:
        res = s.upload_many(firmware, devices, max_concurrent=3, progress=progress,
                            done=lambda i, r: finished.append(r))
    assert [r.index for r in res] == list(range(5))
    for i, r in enumerate(res):
        assert isinstance(r, espota.DeviceResult)
        assert r.ok and r.code == 0 and r.error is None and r.message == ""
        assert r.attempts == 1 and r.port == dev.ports[i] and r.host == "127.0.0.1"
        assert r.stats.phase == "done" and r.stats.acked == len(firmware)
        assert r.stats.device_mss > 0
        assert r.device_error is None and r.exception_type is None
        r.raise_for_status()
        assert dev.app_image(i) == firmware
        assert "done" in seen[i] and "transfer" in seen[i]
    assert sorted(r.index for r in finished) == list(range(5))


def test_one_failing_device(sim, firmware):
    dev = sim("--count", "3", "--fault", "no-invite-reply@1")
    res = espota.upload_many(firmware, [("127.0.0.1", p) for p in dev.ports],
                             timeouts={"invite": 0.5, "invite_attempts": 1})
    assert [r.ok for r in res] == [True, False, True]
    bad = res[1]
    assert bad.error == "ESPOTA_ETIMEOUT" and bad.exception_type is espota.TimeoutError
    assert bad.code == espota._c.ESPOTA_ETIMEOUT and bad.message
    assert bad.stats.phase == "invitation"
    with pytest.raises(espota.TimeoutError):
        bad.raise_for_status()
    assert dev.app_image(0) == firmware and dev.app_image(2) == firmware
    assert dev.app_image(1) is None


def test_retry_and_per_device_password(sim, small_firmware):
    dev = sim("--count", "2", "--password", "pw", "--fault", "drop-after=4096@1*1")
    res = espota.upload_many(small_firmware,
                             [{"host": "127.0.0.1", "port": dev.ports[0], "password": "pw"},
                              {"host": "127.0.0.1", "port": dev.ports[1], "password": b"pw"}],
                             retries=1, chunk=512, window=1024)
    assert [r.ok for r in res] == [True, True], res
    assert [r.attempts for r in res] == [1, 2]


def test_auth_callback_gets_host(sim, small_firmware):
    dev = sim("--count", "2", "--password", "cb")
    hosts: list[str] = []

    def auth(host, scheme):
        hosts.append(host)
        return "cb"

    res = espota.upload_many(small_firmware, [("127.0.0.1", p) for p in dev.ports], auth=auth)
    assert all(r.ok for r in res)
    assert hosts == ["127.0.0.1", "127.0.0.1"]


def test_raising_callback_propagates(sim, firmware):
    dev = sim("--count", "3")

    class Boom(Exception):
        pass

    def progress(i, p):
        if i == 1 and p.phase == "transfer":
            raise Boom("stop")

    with espota.Session() as s:
        t0 = time.monotonic()
        with pytest.raises(Boom, match="stop"):
            s.upload_many(firmware, [("127.0.0.1", p) for p in dev.ports], progress=progress)
        assert time.monotonic() - t0 < 10
        # the session stays usable
        res = s.upload_many(firmware, [("127.0.0.1", dev.ports[0])])
        assert res[0].ok


def test_raising_done_propagates(sim, small_firmware):
    dev = sim("--count", "2")

    def done(i, r):
        raise KeyError(i)

    with pytest.raises(KeyError):
        espota.upload_many(small_firmware, [("127.0.0.1", p) for p in dev.ports], done=done)


def test_progress_false_stops_one_device(sim, firmware):
    dev = sim("--count", "2")
    res = espota.upload_many(firmware, [("127.0.0.1", p) for p in dev.ports],
                             progress=lambda i, p: False if i == 0 else None)
    assert not res[0].ok and res[0].error == "ESPOTA_ECANCELLED"
    assert res[1].ok


def test_cancel_from_another_thread(sim, small_firmware):
    dev = sim("--count", "2", "--fault", "no-connect")
    s = espota.Session()
    timer = threading.Timer(0.5, s.cancel)
    timer.start()
    t0 = time.monotonic()
    try:
        res = s.upload_many(small_firmware, [("127.0.0.1", p) for p in dev.ports],
                            timeouts={"connect": 30})
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 5
    assert [r.error for r in res] == ["ESPOTA_ECANCELLED"] * 2
    s.close()


def test_ctrl_c_cancels_promptly(sim, small_firmware):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    dev = sim("--count", "2", "--fault", "no-connect")
    sent_at: list[float] = []

    def interrupt():
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, interrupt)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            espota.upload_many(small_firmware, [("127.0.0.1", p) for p in dev.ports],
                               timeouts={"connect": 30})
        latency = time.monotonic() - sent_at[0]
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert latency < 2.0, latency


@pytest.mark.parametrize("devices,kw,exc", [
    ([], {}, espota.InvalidArgument),
    ("127.0.0.1", {}, espota.InvalidArgument),
    ([("127.0.0.1",)], {}, espota.InvalidArgument),
    ([{"host": "h", "pw": "x"}], {}, espota.InvalidArgument),
    ([("h", 70000)], {}, espota.InvalidArgument),
    ([""], {}, espota.InvalidArgument),
    (["h"], {"retries": -1}, espota.InvalidArgument),
    (["h"], {"device_timeout": 0}, espota.InvalidArgument),
    (["h"], {"max_concurrent": 0}, espota.InvalidArgument),
    (["h"], {"done": 3}, TypeError),
])
def test_bad_arguments(small_firmware, devices, kw, exc):
    with pytest.raises(exc):
        espota.upload_many(small_firmware, devices, **kw)


def test_nothing_starts_raises(small_firmware, firmware):
    # the flash-fit preflight refuses the image for every device: raised
    with pytest.raises(espota.NoFitError):
        espota.upload_many(firmware, ["127.0.0.1"], target="fs", fit={"layout": "1M256"})
