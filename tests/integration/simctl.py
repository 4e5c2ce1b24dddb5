"""Run espota-sim (the virtual ArduinoOTA device) from Python tests.

    with Sim().start(["--platform", "esp8266", "--fast"]) as sim:
        ... talk to ("127.0.0.1", sim.port) ...
        assert sim.app_image() == image
        assert sim.events("upload")[-1]["result"] == "ok"

The binary comes from $ESPOTA_SIM (CTest sets it) or the `binary` argument.
Python 3.11 standard library only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

__all__ = ["Sim", "SimError", "esp32_image", "esp8266_image"]

_MAKE_IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                           "scripts", "make-image.py")
_mk = None


def _make_image_module():
    global _mk
    if _mk is None:
        spec = importlib.util.spec_from_file_location("make_image", _MAKE_IMAGE)
        _mk = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_mk)
    return _mk


def esp32_image(size: int = 329008, chip_id: int = 0, hash_appended: bool = True,
                seed: int = 32, flash: str = "4M") -> bytes:
    """An ESP32 app image that the sim's (and the device's) image check
    accepts: tools/scripts/make-image.py --chip esp32. `size` is a multiple
    of 16, at least 256. ESP32 app uploads need one since the sim verifies
    the image at Update.end() (error 9 otherwise)."""
    return _make_image_module().build_esp32(size, flash, "dio", seed, chip_id, hash_appended)


def esp8266_image(size: int = 329008, flash: str = "1M", seed: int = 8266) -> bytes:
    """An ESP8266 Arduino image (eboot + app): make-image.py's default."""
    return _make_image_module().build(size, flash, "dout", seed)


class SimError(RuntimeError):
    pass


class Sim:
    def __init__(self, binary: str | None = None):
        self.binary = binary or os.environ.get("ESPOTA_SIM", "espota-sim")
        self.proc: subprocess.Popen | None = None
        self.dir: str | None = None
        self.ports: list[int] = []
        self.addresses: list[str] = []
        self.mdns_port = 0
        self.stdout = ""
        self.stderr = ""

    # -- lifecycle ---------------------------------------------------------
    def start(self, args=(), timeout: float = 5.0) -> "Sim":
        """Start the simulator with extra `args`; wait (bounded) until every
        socket is bound. Adds --ready-file, --log and --out-dir itself."""
        if self.proc:
            raise SimError("already started")
        self.dir = tempfile.mkdtemp(prefix="espota-sim-")
        self.ready_path = os.path.join(self.dir, "ready")
        self.log_path = os.path.join(self.dir, "log.jsonl")
        self.out_dir = os.path.join(self.dir, "out")
        os.mkdir(self.out_dir)
        self._out = open(os.path.join(self.dir, "stdout"), "w+")
        self._err = open(os.path.join(self.dir, "stderr"), "w+")
        cmd = [self.binary, *[str(a) for a in args], "--ready-file", self.ready_path,
               "--log", self.log_path, "--out-dir", self.out_dir]
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready_path):
            if self.proc.poll() is not None:
                self._collect()
                raise SimError(f"espota-sim exited with {self.proc.returncode}: {self.stderr.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise SimError("espota-sim did not become ready")
            time.sleep(0.01)
        with open(self.ready_path) as f:
            for line in f:
                idx, addr, port = line.split()
                if idx == "-1" and addr == "mdns":  # --mdns responder port
                    self.mdns_port = int(port)
                    continue
                self.addresses.append(addr)
                self.ports.append(int(port))
        return self

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def address(self) -> str:
        return self.addresses[0]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the simulator to exit on its own (--max-uploads/--lifetime)."""
        assert self.proc
        try:
            return self.proc.wait(timeout)
        finally:
            self._collect()

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, bounded wait, then SIGKILL. Keeps the temp dir until cleanup()."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._collect()
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _collect(self) -> None:
        for name in ("_out", "_err"):
            f = getattr(self, name, None)
            if f and not f.closed:
                f.flush()
                f.seek(0)
                setattr(self, "stdout" if name == "_out" else "stderr", f.read())
                f.close()

    def __enter__(self) -> "Sim":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # -- results -----------------------------------------------------------
    def _image(self, name: str, dev: int | None) -> bytes | None:
        if len(self.ports) > 1 or (dev or 0) > 0:
            path = os.path.join(self.out_dir, f"dev{dev or 0}", name)
        else:
            path = os.path.join(self.out_dir, name)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def app_image(self, dev: int | None = None) -> bytes | None:
        return self._image("app.bin", dev)

    def fs_image(self, dev: int | None = None) -> bytes | None:
        return self._image("fs.bin", dev)

    def events(self, event: str | None = None, dev: int | None = None) -> list[dict]:
        """Parsed JSON log lines, optionally filtered by event name and instance."""
        out = []
        try:
            with open(self.log_path) as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # being written
                    ev = json.loads(line)
                    if event is not None and ev.get("event") != event:
                        continue
                    if dev is not None and ev.get("dev") != dev:
                        continue
                    out.append(ev)
        except FileNotFoundError:
            pass
        return out

    def wait_event(self, event: str, timeout: float = 10.0, count: int = 1,
                   dev: int | None = None, **match) -> list[dict]:
        """Poll the log until `count` matching events exist (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            evs = [e for e in self.events(event, dev)
                   if all(e.get(k) == v for k, v in match.items())]
            if len(evs) >= count:
                return evs
            if time.monotonic() > deadline:
                raise SimError(f"timed out waiting for {count} x {event} {match}; "
                               f"have {self.events()[-5:]}")
            time.sleep(0.01)
