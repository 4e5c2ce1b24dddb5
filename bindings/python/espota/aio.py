"""asyncio uploads over libespota's multi interface: no threads.

    import asyncio, espota.aio

    async def main():
        result = await espota.aio.upload_async("firmware.bin", "192.168.1.50")
        results = await espota.aio.upload_many_async("firmware.bin", hosts, retries=1)
        devices = await espota.aio.discover_async(2.0)   # mDNS, same loop
        address = await espota.aio.resolve_async("esp-garage.local")

    asyncio.run(main())

Every transfer of a :class:`Multi` is driven from the running loop: the
descriptors espota_multi_fds() names are watched (through one private
selector whose descriptor the loop watches with ``loop.add_reader``), the
next deadline is a ``loop.call_later`` timer, and whatever became ready is
handed to espota_multi_socket_action(). Callbacks (progress, auth) run on
the loop's thread, inside that call. Cancelling the task that awaits an
upload, a browse or a resolve removes its transfer, which closes its
sockets at once. An mDNS browse or resolve is a transfer of the same
handle as the uploads (espota_multi_add_browse/_resolve), so discovery and
uploads share one loop and one set of descriptors.

Why a private selector rather than one ``add_reader``/``add_writer`` per
descriptor: libespota closes a finished transfer's sockets inside the call
that finishes it, and asyncio's selector cannot always unregister a
descriptor that was closed behind its back (``modify`` on a closed or
reused descriptor raises). The private selector's registrations are
repaired here, so the loop only ever watches one descriptor that stays open.
"""

from __future__ import annotations

import asyncio
import selectors

from . import (_build_call, _c, _device_error_dict, _device_tuple, _error_class, _upload_result,
               DeviceResult, InvalidArgument, Session, UploadResult)
from .discover import DiscoveredDevice, _opts as _discover_opts

__all__ = ["Multi", "upload_async", "upload_many_async", "discover_async", "resolve_async"]

_READ, _WRITE, _ERROR = _c.ESPOTA_WAIT_READ, _c.ESPOTA_WAIT_WRITE, _c.ESPOTA_WAIT_ERROR


class Multi:
    """A multi handle on the running event loop. Use it as an async context
    manager, or call :meth:`close`. One Multi serves any number of uploads
    at once; each :meth:`upload` is a coroutine."""

    def __init__(self, session: Session | None = None):
        self._loop = asyncio.get_running_loop()
        self._own_session = session is None
        self._session = Session() if session is None else session
        self._m = _c.py_multi_new(self._session._handle())
        self._sel = selectors.DefaultSelector()
        self._watched: dict[int, tuple[int, int]] = {}  # fd -> (serial, selector events)
        self._futures: dict = {}               # int(transfer pointer) -> (transfer, future, result reader)
        self._timer: asyncio.TimerHandle | None = None
        self._loop.add_reader(self._sel.fileno(), self._on_ready)
        self._closed = False

    async def __aenter__(self) -> "Multi":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop every transfer still running and free the handle."""
        if self._closed:
            return
        self._closed = True
        for t, fut, _ in list(self._futures.values()):
            _c.py_multi_remove(self._m, t)
            if not fut.done():
                fut.cancel()
        self._futures.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._sel.fileno())
        self._sel.close()
        _c.py_multi_free(self._m)
        if self._own_session:
            self._session.close()

    def _start(self, call: dict) -> asyncio.Future:
        if self._closed:
            raise RuntimeError("espota.aio.Multi: closed")
        return self._track(_c.py_multi_add(self._m, call), _c.py_transfer_result)

    def _track(self, t, read) -> asyncio.Future:
        """A future for transfer `t`, resolved with read(t) when it finishes."""
        fut = self._loop.create_future()
        self._futures[int(t)] = (t, fut, read)
        fut.add_done_callback(lambda f, key=int(t): self._on_future_done(key, f))
        self._collect()
        self._update()
        return fut

    async def upload(self, image, host: str, port: int | None = None, **kwargs) -> UploadResult:
        """Upload `image` to `host` as :meth:`espota.Session.upload` does
        (same keyword arguments) and return its UploadResult; raises the
        same espota.Error subclasses."""
        if not isinstance(host, str) or not host:
            raise InvalidArgument("host: expected a non-empty str")
        call, _, _, plat = _build_call(image, **_defaults(kwargs))
        if port is None:
            port = _c.ESPOTA_PORT_ESP32 if plat == _c.ESPOTA_PLATFORM_ESP32 else _c.ESPOTA_PORT_ESP8266
        call["host"], call["port"] = host, int(port)
        raw = await self._start(call)
        code, _, message, de, st = raw
        result = _upload_result(st)
        if code == _c.ESPOTA_OK:
            return result
        raise _error_class(code)(message or _c.espota_strerror(code), code, phase=result.phase,
                                 result=result, device_error=_device_error_dict(de))

    async def discover(self, timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
                       unicast: str | None = None, max_devices: int = 0) -> "list[DiscoveredDevice]":
        """Browse for ArduinoOTA devices by mDNS for `timeout` seconds, as
        :func:`espota.discover` does (same arguments), and return every
        device that answered, in order; a transfer of this Multi."""
        if self._closed:
            raise RuntimeError("espota.aio.Multi: closed")
        opts = _discover_opts(timeout, interface, family, unicast, max_devices)
        code, detail, raws, _ = await self._track(_c.py_multi_add_browse(self._m, opts), _read_discover)
        if code != _c.ESPOTA_OK:
            raise _error_class(code)(detail or _c.espota_strerror(code), code)
        return [DiscoveredDevice(raw) for raw in raws]

    async def resolve(self, name: str, timeout: float = 2.0, *, interface: str | None = None,
                      family: int = 0, unicast: str | None = None) -> str:
        """The address of `name` ("dev" or "dev.local") by mDNS, as
        :func:`espota.resolve_local` does; raises ResolveError when nothing
        answers within `timeout`."""
        if self._closed:
            raise RuntimeError("espota.aio.Multi: closed")
        opts = _discover_opts(timeout, interface, family, unicast, 0)
        code, detail, _, address = await self._track(_c.py_multi_add_resolve(self._m, opts, str(name)),
                                                     _read_discover)
        if code != _c.ESPOTA_OK:
            raise _error_class(code)(detail or _c.espota_strerror(code), code)
        return address

    # ---- driving -----------------------------------------------------------

    def _on_future_done(self, key: int, fut: asyncio.Future) -> None:
        # A cancelled await: stop that transfer now (its sockets close).
        if fut.cancelled() and key in self._futures and not self._closed:
            t, _, _ = self._futures.pop(key)
            _c.py_multi_remove(self._m, t)
            self._update()

    def _expire(self, fut: asyncio.Future, code: int, message: str) -> None:
        """End the transfer behind `fut` now with `code`: its stats so far
        and `message` become the result (a deadline of the caller's)."""
        for key, (t, f, read) in list(self._futures.items()):
            if f is not fut:
                continue
            del self._futures[key]
            try:
                _, attempts, _, de, st = read(t)
            except BaseException:  # a callback's exception: the deadline decides now
                attempts, de, st = 1, None, _c.espota_upload_stats()
            _c.py_multi_remove(self._m, t)
            if not fut.done():
                fut.set_result((code, attempts, message, de, st))
            self._update()
            return

    def _on_ready(self) -> None:
        for key, mask in self._sel.select(0):
            ev = (_READ if mask & selectors.EVENT_READ else 0) | (_WRITE if mask & selectors.EVENT_WRITE else 0)
            _c.py_multi_action(self._m, key.fd, ev)
        self._after_action()

    def _on_timer(self) -> None:
        self._timer = None
        _c.py_multi_action(self._m, -1, 0)
        self._after_action()

    def _after_action(self) -> None:
        if self._closed:
            return
        self._collect()
        self._update()

    def _collect(self) -> None:
        while True:
            t = _c.py_multi_info_read(self._m)
            if t is None:
                return
            _, fut, read = self._futures.pop(int(t), (None, None, _c.py_transfer_result))
            try:
                raw = read(t)
            except BaseException as exc:  # a callback raised: hand it to the awaiting task
                raw, err = None, exc
            else:
                err = None
            _c.py_multi_remove(self._m, t)
            if fut is None or fut.done():
                continue
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(raw)

    def _update(self) -> None:
        """Make the private selector watch exactly what the handle asks for,
        and set the timer to the handle's next deadline."""
        want: dict[int, tuple[int, int]] = {}
        for fd, events, serial in _c.py_multi_fds(self._m):
            mask = (selectors.EVENT_READ if events & _READ else 0) | (selectors.EVENT_WRITE if events & _WRITE else 0)
            if mask:
                want[fd] = (serial, mask)
        for fd in list(self._watched):
            if fd not in want:
                self._unwatch(fd)
        # (fd, serial) is a socket's identity: the same number with a new
        # serial is a new socket that the selector has never seen.
        for fd, entry in want.items():
            if self._watched.get(fd) != entry:
                self._watch(fd, entry)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ms = _c.py_multi_timeout(self._m)
        if ms >= 0:
            self._timer = self._loop.call_later(ms / 1000.0, self._on_timer)

    def _unwatch(self, fd: int) -> None:
        self._watched.pop(fd, None)
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass  # closed by the library already: nothing left to watch

    def _watch(self, fd: int, entry: tuple[int, int]) -> None:
        self._unwatch(fd)
        self._sel.register(fd, entry[1])
        self._watched[fd] = entry


def _read_discover(t):
    return _c.py_discover_result(t, 0)


def _defaults(kwargs: dict) -> dict:
    """Session.upload()'s keyword arguments with its defaults filled in."""
    known = {"target": "app", "password": None, "auth": None, "progress": None, "timeouts": None,
             "compress": False, "transfer": "pipelined", "window": None, "chunk": None,
             "bind_address": None, "bind_port": 0, "fit": None, "force": False, "platform": None,
             "auth_mode": "auto", "filename": None}
    unknown = set(kwargs) - set(known)
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
    return {**known, **kwargs}


async def upload_async(image, host: str, port: int | None = None, **kwargs) -> UploadResult:
    """``await`` one upload on the running loop (see Multi.upload)."""
    async with Multi() as m:
        return await m.upload(image, host, port, **kwargs)




async def upload_many_async(image, devices, *, port: int | None = None, max_concurrent: int | None = None,
                            retries: int = 0, device_timeout: float | None = None,
                            **kwargs) -> "list[DeviceResult]":
    """Upload `image` to every device (host strings, (host, port) tuples or
    {"host", "port", "password"} dicts) from the running loop, at most
    `max_concurrent` at once (None: all), and return one DeviceResult per
    device in order. A device's failure never disturbs the others.
    `retries` and `device_timeout` work as in :func:`espota.upload_many`:
    extra attempts after a timeout, an I/O error or a lost connection, and
    seconds per device with its retries (then ESPOTA_ETIMEOUT)."""
    plat = kwargs.get("platform")
    default_port = port if port is not None else (
        _c.ESPOTA_PORT_ESP32 if plat == "esp32" else _c.ESPOTA_PORT_ESP8266)
    devs = [_device_tuple(i, d, default_port) for i, d in enumerate(devices)]
    if not devs:
        raise InvalidArgument("devices: expected at least one device")
    if retries is None or isinstance(retries, bool) or int(retries) < 0:
        raise InvalidArgument("retries: must be >= 0")
    budget = None
    if device_timeout is not None:
        budget = float(device_timeout)
        if not budget > 0:
            raise InvalidArgument("device_timeout: must be positive (seconds)")
    limit = asyncio.Semaphore(max_concurrent or len(devs))
    data = None

    async with Multi() as m:
        loop = asyncio.get_running_loop()

        async def attempt(call: dict, deadline: float | None) -> tuple:
            fut = m._start(call)
            timer = None
            if deadline is not None:
                # worded as the blocking fleet's per-device deadline
                msg = f"the device's deadline of {int(round(budget * 1000))} ms passed"
                timer = loop.call_later(max(0.0, deadline - loop.time()), m._expire, fut,
                                        _c.ESPOTA_ETIMEOUT, msg)
            try:
                return await fut
            finally:
                if timer is not None:
                    timer.cancel()

        async def one(i: int, dev: tuple) -> DeviceResult:
            host, dport, password = dev
            kw = dict(kwargs)
            if password is not None:
                kw["password"] = password
            tries = 0
            async with limit:
                deadline = None if budget is None else loop.time() + budget
                while True:
                    tries += 1
                    call, _, _, _ = _build_call(data, **_defaults(kw))
                    call["host"], call["port"] = host, dport
                    raw = await attempt(call, deadline)
                    code = raw[0]
                    if (_c.espota_error_retryable(code) and tries <= retries and
                            (deadline is None or loop.time() < deadline)):
                        continue
                    break
            code, _, message, de, st = raw
            ok = code == _c.ESPOTA_OK
            return DeviceResult(index=i, host=host, port=dport, ok=ok, code=code,
                                error=None if ok else _c.espota_error_name(code),
                                message="" if ok else (message or _c.espota_strerror(code)),
                                attempts=tries, device_error=_device_error_dict(de),
                                stats=_upload_result(st))

        from . import _image_bytes
        data = _image_bytes(image)
        return list(await asyncio.gather(*(one(i, d) for i, d in enumerate(devs))))


async def discover_async(timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
                         unicast: str | None = None, max_devices: int = 0) -> "list[DiscoveredDevice]":
    """``await`` an mDNS browse on the running loop (see Multi.discover)."""
    async with Multi() as m:
        return await m.discover(timeout, interface=interface, family=family, unicast=unicast,
                                max_devices=max_devices)


async def resolve_async(name: str, timeout: float = 2.0, *, interface: str | None = None, family: int = 0,
                        unicast: str | None = None) -> str:
    """``await`` an mDNS resolve of NAME.local on the running loop (see Multi.resolve)."""
    async with Multi() as m:
        return await m.resolve(name, timeout, interface=interface, family=family, unicast=unicast)
