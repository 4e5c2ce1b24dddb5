"""GIL release (four threads, four devices) and Ctrl-C during an upload."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import espota


def test_four_threads_overlap(sim, small_firmware):
    # The sim's default timing model (not --fast): each upload takes a while,
    # so serial execution could not produce overlapping intervals.
    dev = sim("--count", "4", fast=False)
    intervals: list[tuple[float, float] | None] = [None] * 4
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with espota.Session() as s:
                t0 = time.monotonic()
                s.upload(small_firmware, dev.addresses[i], dev.ports[i])
                intervals[i] = (t0, time.monotonic())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert all(iv is not None for iv in intervals)
    for i in range(4):
        assert dev.app_image(i) == small_firmware
    # All four were running at one moment: the latest start precedes the
    # earliest end. No timing threshold is asserted.
    assert max(s for s, _ in intervals) < min(e for _, e in intervals)


def test_main_thread_runs_while_uploading(sim, small_firmware):
    # While another thread waits in C, the main thread keeps executing Python.
    dev = sim("--fault", "no-connect")
    s = espota.Session()
    done = threading.Event()
    caught: list[BaseException] = []

    def worker():
        try:
            s.upload(small_firmware, "127.0.0.1", dev.port, timeouts={"connect": 30})
        except BaseException as e:  # noqa: BLE001
            caught.append(e)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    n = 0
    while not dev.events("invitation") and n < 10_000_000:
        n += 1
    for _ in range(200_000):
        n += 1  # pure-Python work: impossible if the upload held the GIL
    s.cancel()
    assert done.wait(10)
    t.join()
    s.close()
    assert caught and isinstance(caught[0], espota.CancelledError)


@pytest.mark.parametrize("with_progress", [False, True])
def test_ctrl_c_cancels_promptly(sim, small_firmware, with_progress):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    dev = sim("--fault", "no-connect")
    sent_at: list[float] = []

    def interrupt():
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, interrupt)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            espota.upload(small_firmware, "127.0.0.1", dev.port, timeouts={"connect": 30},
                          progress=(lambda p: None) if with_progress else None)
        latency = time.monotonic() - sent_at[0]
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert latency < 2.0, latency
