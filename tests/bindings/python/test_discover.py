"""espota.discover / discover_iter / resolve_local against espota-sim --mdns
in the test-only unicast mode (no multicast leaves the host)."""
from __future__ import annotations

import threading
import time

import pytest

import espota


def test_discover_objects_with_attributes(sim):
    s = sim("--count", "4", "--mdns", "--mdns-port", "0", "--hostname", "py", "--board-id", "d1_mini")
    uni = f"127.0.0.1:{s.mdns_port}"
    found = sorted(espota.discover(0.5, unicast=uni), key=lambda d: d.name)
    assert [d.name for d in found] == ["py-0", "py-1", "py-2", "py-3"]
    for d, port in zip(found, s.ports):
        assert d.hostname == d.name + ".local"
        assert (d.address, d.port) == ("127.0.0.1", port)
        assert d.addresses == [("127.0.0.1", "lo")]
        assert d.board == "d1_mini" and d.password is False and d.platform == "esp8266"
        assert list(d.txt) == ["auth_upload", "board", "ssh_upload", "tcp_check"]
        assert 0 <= d.elapsed < 0.5
    assert espota.resolve_local("py-3.local", 0.5, unicast=uni) == "127.0.0.1"
    with pytest.raises(espota.ResolveError, match="nobody.local"):
        espota.resolve_local("nobody", 0.2, unicast=uni)
    with pytest.raises(espota.InvalidArgument):
        espota.discover(0.2, unicast="nonsense")
    with pytest.raises(ValueError):
        espota.discover(-1)


def test_discover_iter_yields_as_devices_answer(sim):
    s = sim("--count", "3", "--mdns", "--mdns-port", "0", "--password", "pw", platform="esp32")
    t0 = time.monotonic()
    it = espota.discover_iter(1.5, unicast=f"127.0.0.1:{s.mdns_port}")
    first = next(it)
    # the first device arrives long before the browse ends
    assert time.monotonic() - t0 < 1.0
    assert first.password is True and first.platform == "esp32"
    rest = list(it)
    assert len(rest) == 2


def test_discover_releases_the_gil(sim):
    s = sim("--mdns", "--mdns-port", "0")
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=spin)
    t.start()
    try:
        espota.discover(0.6, unicast=f"127.0.0.1:{s.mdns_port}")
    finally:
        stop.set()
        t.join()
    # the other thread kept running during the 0.6 s browse
    assert len(ticks) >= 20


def test_callback_exception_propagates(sim, monkeypatch):
    s = sim("--count", "2", "--mdns", "--mdns-port", "0")
    from espota import _espota

    def boom(raw):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        _espota.discover_browse({"timeout_ms": 500, "unicast": f"127.0.0.1:{s.mdns_port}"}, boom)
