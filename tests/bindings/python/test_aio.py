"""espota.aio: uploads driven by the multi interface from one asyncio loop,
no threads: 100 simulated devices byte-exact, progress and errors, and
cancelling a task stops its transfer at once."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

import espota
import espota.aio


def run(coro, timeout: float = 60.0):
    """Run `coro` on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_upload_async_byte_exact(sim, firmware):
    dev = sim()
    seen = []

    async def main():
        return await espota.aio.upload_async(firmware, "127.0.0.1", dev.port,
                                             progress=lambda p: seen.append(p.phase))

    r = run(main())
    assert isinstance(r, espota.UploadResult)
    assert r.phase == "done" and r.acked == len(firmware) and r.total == len(firmware)
    assert r.ack_rule in ("counts", "device_ok")
    assert dev.app_image() == firmware
    assert seen[-1] == "done" and "transfer" in seen


def test_hundred_devices_one_loop_one_thread(sim, small_firmware):
    dev = sim("--count", "100")
    threads_before = threading.active_count()
    peak = [threads_before]

    async def watch():
        while True:
            peak[0] = max(peak[0], threading.active_count())
            await asyncio.sleep(0.01)

    async def main():
        w = asyncio.get_running_loop().create_task(watch())
        try:
            return await espota.aio.upload_many_async(
                small_firmware, [("127.0.0.1", p) for p in dev.ports],
                timeouts={"invite": 1.0, "invite_attempts": 5})
        finally:
            w.cancel()

    t0 = time.monotonic()
    res = run(main())
    wall = time.monotonic() - t0
    assert len(res) == 100
    bad = [r for r in res if not r.ok]
    assert not bad, bad[:3]
    assert peak[0] == threads_before, "no thread may be started"
    for i, r in enumerate(res):
        assert r.index == i and r.port == dev.ports[i] and r.stats.acked == len(small_firmware)
        assert r.attempts == 1
        assert dev.app_image(i) == small_firmware
    assert wall < 30


def test_one_multi_concurrent_awaits(sim, small_firmware):
    dev = sim("--count", "3")

    async def main():
        async with espota.aio.Multi() as m:
            return await asyncio.gather(*(m.upload(small_firmware, "127.0.0.1", p) for p in dev.ports))

    res = run(main())
    assert [r.acked for r in res] == [len(small_firmware)] * 3
    for i in range(3):
        assert dev.app_image(i) == small_firmware


def test_errors_raise_the_same_classes(sim, small_firmware):
    dev = sim("--password", "pw")

    async def main():
        with pytest.raises(espota.AuthError) as ei:
            await espota.aio.upload_async(small_firmware, "127.0.0.1", dev.port)
        assert ei.value.code == espota._c.ESPOTA_EAUTH
        with pytest.raises(espota.ResolveError):
            await espota.aio.upload_async(small_firmware, "no-such-host.invalid", 8266)
        r = await espota.aio.upload_async(small_firmware, "127.0.0.1", dev.port, password="pw")
        assert r.scheme == "md5"

    run(main())


def test_callback_exception_propagates(sim, small_firmware):
    dev = sim()

    class Boom(Exception):
        pass

    def progress(p):
        if p.phase == "transfer":
            raise Boom("from progress")

    async def main():
        with pytest.raises(Boom):
            await espota.aio.upload_async(small_firmware, "127.0.0.1", dev.port, progress=progress)

    run(main())


def test_cancel_the_task(sim, firmware, small_firmware):
    dev = sim("--count", "2", fast=False)  # slow enough to be cancelled mid-transfer
    started = []

    async def main():
        async with espota.aio.Multi() as m:
            fds_before = len(os.listdir("/proc/self/fd"))

            def progress(p):
                if p.phase == "transfer" and p.acked > 0:
                    started.append(p.acked)

            task = asyncio.get_running_loop().create_task(
                m.upload(firmware * 3, "127.0.0.1", dev.port, progress=progress))
            for _ in range(2000):
                if started:
                    break
                await asyncio.sleep(0.005)
            assert started, "the transfer never started"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The transfer's sockets closed with the cancel.
            assert not m._futures
            assert len(os.listdir("/proc/self/fd")) <= fds_before
            # The handle goes on working (on the other device: the first
            # waits out its own timeout for the bytes that stopped).
            r = await m.upload(small_firmware, "127.0.0.1", dev.ports[1])
            assert r.acked == len(small_firmware)

    run(main())
    assert dev.app_image(1) == small_firmware


def test_discover_resolve_and_upload_on_one_multi(sim, small_firmware):
    """mDNS browse and resolve are transfers of the same Multi as an upload:
    one loop, no thread (loopback test mode: espota-sim --mdns, no multicast)."""
    dev = sim("--count", "3", "--mdns", "--mdns-port", "0", "--hostname", "aio", "--board-id", "d1_mini")
    uni = f"127.0.0.1:{dev.mdns_port}"
    threads_before = threading.active_count()

    async def main():
        async with espota.aio.Multi() as m:
            found, up = await asyncio.gather(m.discover(1.0, unicast=uni),
                                             m.upload(small_firmware, "127.0.0.1", dev.ports[0]))
            address = await m.resolve(found[2].hostname, unicast=uni)
            with pytest.raises(espota.ResolveError) as ei:
                await m.resolve("nobody", 0.3, unicast=uni)
            assert "nobody.local" in str(ei.value)
            return found, up, address

    t0 = time.monotonic()
    found, up, address = run(main())
    assert threading.active_count() == threads_before
    assert sorted(d.port for d in found) == sorted(dev.ports)
    assert all(isinstance(d, espota.DiscoveredDevice) for d in found)
    assert {d.board for d in found} == {"d1_mini"} and all(d.address == "127.0.0.1" for d in found)
    assert all(d.name.startswith("aio-") and d.hostname.endswith(".local") for d in found)
    assert address == "127.0.0.1"
    assert up.acked == len(small_firmware) and dev.app_image(0) == small_firmware
    assert time.monotonic() - t0 < 10
    # the module-level call: its own Multi
    again = run(espota.aio.discover_async(0.6, unicast=uni))
    assert sorted(d.port for d in again) == sorted(dev.ports)


def test_cancel_a_discover_task_closes_its_socket(sim):
    dev = sim("--mdns", "--mdns-port", "0")

    async def main():
        async with espota.aio.Multi() as m:
            fds_before = len(os.listdir("/proc/self/fd"))
            task = asyncio.get_running_loop().create_task(
                m.discover(30.0, unicast=f"127.0.0.1:{dev.mdns_port}"))
            await asyncio.sleep(0.2)
            assert len(os.listdir("/proc/self/fd")) > fds_before  # its socket is open
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - t0 < 1.0
            assert not m._futures
            assert len(os.listdir("/proc/self/fd")) == fds_before

    run(main())


def test_upload_many_async_retries_like_the_blocking_fleet(sim, small_firmware):
    # the second device drops the connection once after 4 KiB: a retry saves it
    def devices(dev):
        return [{"host": "127.0.0.1", "port": dev.ports[0], "password": "pw"},
                {"host": "127.0.0.1", "port": dev.ports[1], "password": b"pw"}]

    dev = sim("--count", "2", "--password", "pw", "--fault", "drop-after=4096@1*1")
    res = run(espota.aio.upload_many_async(small_firmware, devices(dev), retries=1, chunk=512, window=1024))
    assert [r.ok for r in res] == [True, True], res
    assert [r.attempts for r in res] == [1, 2]
    assert dev.app_image(1) == small_firmware
    # without retries the same fault is that device's failure
    dev = sim("--count", "2", "--password", "pw", "--fault", "drop-after=4096@1*1")
    res = run(espota.aio.upload_many_async(small_firmware, devices(dev), chunk=512, window=1024))
    assert [r.ok for r in res] == [True, False], res
    assert res[1].attempts == 1 and res[1].error in ("ESPOTA_ECLOSED", "ESPOTA_EIO", "ESPOTA_ETIMEOUT")
    with pytest.raises(espota.InvalidArgument):
        run(espota.aio.upload_many_async(small_firmware, ["h"], retries=-1))
    with pytest.raises(espota.InvalidArgument):
        run(espota.aio.upload_many_async(small_firmware, ["h"], device_timeout=0))


def test_upload_many_async_device_timeout_covers_retries(small_firmware):
    import socket
    # a "device" that takes the invitation and never answers
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mute.bind(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        res = run(espota.aio.upload_many_async(small_firmware, [("127.0.0.1", mute.getsockname()[1])],
                                               retries=5, device_timeout=0.5,
                                               timeouts={"invite": 0.3, "invite_attempts": 10}))
        wall = time.monotonic() - t0
    finally:
        mute.close()
    r = res[0]
    assert not r.ok and r.error == "ESPOTA_ETIMEOUT"
    assert "deadline of 500 ms" in r.message
    assert r.attempts == 1 and r.stats.phase == "invitation"
    assert 0.4 < wall < 2.0
