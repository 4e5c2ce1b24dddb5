"""200 uploads in a loop: no reference or memory growth."""

from __future__ import annotations

import gc
import os
import sys

import pytest

import espota


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Stop(Exception):
    pass


def test_no_growth_over_200_uploads(sim, small_firmware):
    dev = sim("--password", "pw")
    image = bytes(small_firmware)
    calls = [0]

    def progress(p):
        calls[0] += 1

    def auth(host, scheme):
        return "pw"

    def failing(p):
        # Raise at the end, so the device is idle again for the next
        # upload (an abort mid-exchange leaves a real device, and the sim,
        # waiting for a while); the exception still aborts the call.
        if p.phase == "done":
            raise Stop()

    def loop(s, n):
        for _ in range(n):
            s.upload(image, "127.0.0.1", dev.port, progress=progress, auth=auth)
            with pytest.raises(Stop):
                s.upload(image, "127.0.0.1", dev.port, progress=failing, password="pw")
            with pytest.raises(espota.AuthError):
                s.upload(image, "127.0.0.1", dev.port, password="wrong")

    with espota.Session() as s:
        loop(s, 20)  # warm up caches and allocator
        gc.collect()
        refs = (sys.getrefcount(progress), sys.getrefcount(auth), sys.getrefcount(failing),
                sys.getrefcount(image), sys.getrefcount(Stop))
        objects = len(gc.get_objects())
        rss = rss_bytes()
        loop(s, 200)
        gc.collect()
        assert (sys.getrefcount(progress), sys.getrefcount(auth), sys.getrefcount(failing),
                sys.getrefcount(image), sys.getrefcount(Stop)) == refs
        assert len(gc.get_objects()) - objects < 200
        growth = rss_bytes() - rss
    assert calls[0] > 200
    assert growth < 16 * 1024 * 1024, growth
    assert dev.app_image() == image
