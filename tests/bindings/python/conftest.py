"""pytest fixtures for the espota Python binding tests.

CTest runs these with PYTHONPATH pointing at the built package and
ESPOTA_SIM at the espota-sim binary; tests/integration/simctl.py drives the
simulator."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))

from simctl import Sim  # noqa: E402

import images  # noqa: E402


@pytest.fixture
def sim():
    """start(*args) -> a running Sim (--port 0 added); all stopped at teardown."""
    started: list[Sim] = []

    def start(*args, fast: bool = True, platform: str = "esp8266") -> Sim:
        argv = ["--platform", platform, "--port", "0", *(["--fast"] if fast else []), *args]
        s = Sim().start(argv)
        started.append(s)
        return s

    yield start
    for s in started:
        s.cleanup()


@pytest.fixture(scope="session")
def firmware() -> bytes:
    """A 1 MB-header Arduino-ESP8266 image of 329,008 bytes."""
    return images.arduino_esp8266(329008)


@pytest.fixture(scope="session")
def small_firmware() -> bytes:
    return images.arduino_esp8266(16384)
