"""Finding ArduinoOTA devices by mDNS (libespota's espota_discover_*).

``espota.discover(timeout=2.0)`` returns a list of :class:`DiscoveredDevice`;
``espota.discover_iter(timeout=2.0)`` yields each device as it answers (the
browse runs in a worker thread with the GIL released);
``espota.resolve_local("dev.local")`` returns an address.

Test only: ``unicast="127.0.0.1:5353"`` (or the environment variable
ESPOTA_MDNS_UNICAST) sends the queries unicast to a responder such as
``espota-sim --mdns`` instead of multicast.
"""
from __future__ import annotations

import queue
import threading
import typing

from . import _espota as _c

_PLATFORMS = {0: "unknown", 1: "esp8266", 2: "esp32"}


class DiscoveredDevice:
    """One device that answered: ``name`` (the service instance),
    ``hostname`` ("dev.local"), ``address`` (the first one), ``addresses``
    (list of (address, interface)), ``port``, ``txt`` (dict, in the order
    received), ``txt_items`` (list of (key, value, has_value)), ``board``
    (str or None), ``password`` (True/False, None when the TXT does not
    say), ``platform`` ("esp8266", "esp32" or "unknown"), ``elapsed``
    (seconds from the start of the browse)."""

    __slots__ = ("name", "hostname", "address", "addresses", "port", "txt", "txt_items", "board",
                 "password", "platform", "elapsed")

    def __init__(self, raw: tuple) -> None:
        inst, host, port, addrs, txt, board, auth, plat, elapsed_ms = raw
        self.name: str = inst
        self.hostname: str = host
        self.port: int = port
        self.addresses: list[tuple[str, str]] = [(a[0], a[1]) for a in addrs]
        self.address: str | None = self.addresses[0][0] if self.addresses else None
        self.txt_items: list[tuple[str, str, bool]] = [(t[0], t[1], bool(t[2])) for t in txt]
        self.txt: dict[str, str] = {}
        for k, v, _ in self.txt_items:
            self.txt.setdefault(k, v)  # RFC 6763 6.4: the first occurrence counts
        self.board: str | None = board
        self.password: bool | None = None if auth < 0 else bool(auth)
        self.platform: str = _PLATFORMS.get(plat, "unknown")
        self.elapsed: float = elapsed_ms / 1000.0

    def __repr__(self) -> str:
        return (f"DiscoveredDevice(name={self.name!r}, address={self.address!r}, port={self.port}, "
                f"board={self.board!r}, password={self.password}, platform={self.platform!r})")


def _opts(timeout: float, interface: str | None, family: int, unicast: str | None,
          max_devices: int) -> dict:
    t = float(timeout)
    if not (0 < t <= 3600):
        raise ValueError("timeout: expected seconds in (0, 3600]")
    if family not in (0, 4, 6):
        raise ValueError("family: expected 0, 4 or 6")
    return {"timeout_ms": max(1, int(t * 1000 + 0.5)), "interface": interface, "family": family,
            "unicast": unicast, "max_devices": int(max_devices)}


def _raise(rc: int, detail: str) -> None:
    from . import _error_class  # type: ignore[attr-defined]  # private, not in the stubs
    raise _error_class(rc)(detail, rc)


def discover(timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
             unicast: str | None = None, max_devices: int = 0) -> list[DiscoveredDevice]:
    """Browse for ``timeout`` seconds; every device that answered, in order."""
    found: list[DiscoveredDevice] = []
    rc, _, _, detail = _c.discover_browse(_opts(timeout, interface, family, unicast, max_devices),
                                          lambda raw: found.append(DiscoveredDevice(raw)))
    if rc < 0:
        _raise(rc, detail)
    return found


def discover_iter(timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
                  unicast: str | None = None, max_devices: int = 0) -> typing.Iterator[DiscoveredDevice]:
    """Yield devices as they answer. Closing the generator early stops the
    browse at the next answer (at the latest at the timeout)."""
    opts = _opts(timeout, interface, family, unicast, max_devices)
    q: queue.Queue = queue.Queue()
    stop = threading.Event()
    done = object()

    def on_device(raw: tuple) -> bool:
        q.put(DiscoveredDevice(raw))
        return stop.is_set()

    def worker() -> None:
        try:
            q.put(("end", _c.discover_browse(opts, on_device)))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(("exc", e))
        q.put(done)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, DiscoveredDevice):
                yield item
            elif item[0] == "exc":
                raise item[1]
            elif item[1][0] < 0:
                _raise(item[1][0], item[1][3])
    finally:
        stop.set()
        t.join(timeout=opts["timeout_ms"] / 1000.0 + 5)


def resolve_local(name: str, timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
                  unicast: str | None = None) -> str:
    """The address of ``name`` ("dev" or "dev.local") by mDNS; raises
    ResolveError when nothing answers within ``timeout``."""
    rc, addr, detail = _c.discover_resolve(_opts(timeout, interface, family, unicast, 0), str(name))
    if rc < 0:
        _raise(rc, detail)
    return addr
