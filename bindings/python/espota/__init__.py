"""libespota for Python: upload firmware to ESP8266/ESP32 boards over the
ArduinoOTA ("espota") protocol, and check beforehand whether the device's
Updater will accept the image.

    import espota

    with espota.Session() as s:
        result = s.upload("firmware.bin", "192.168.1.50", password="secret",
                          progress=lambda p: print(f"{p.fraction:.0%}"))

    report = espota.check("firmware.bin", board="esp01_1m")
    if report.verdict == "refused":
        print(report)           # the full human-readable report

The upload releases the GIL while it talks to the device, so several
sessions can upload from several threads at once. Callbacks (progress,
auth) run on the uploading thread with the GIL held; an exception raised in
one aborts the upload and propagates unchanged. Ctrl-C cancels an upload
within about a second (KeyboardInterrupt).

The low-level SWIG module is ``espota._espota`` (names as in the C API);
this package is the supported interface. See docs/bindings.md.
"""

from __future__ import annotations

import builtins
import os
import threading
import time
import warnings
from typing import NamedTuple

from . import _espota as _c

__all__ = [
    "Session", "upload", "inspect", "check", "layouts", "boards", "strerror", "error_name", "error_retryable", "Timeouts",
    "upload_many", "DeviceResult",
    "FitDevice", "FitReport", "ImageInfo", "Segment", "Progress", "UploadResult", "Layout", "Board",
    "Error", "InvalidArgument", "OutOfMemoryError", "NetworkError", "TimeoutError", "DeviceError",
    "AuthError", "ProtocolError", "ImageError", "NoFitError", "CallbackError", "CancelledError",
    "ResolveError", "ConnectionClosedError",
    "__version__", "version", "read_file", "FILE_MAX",
]

__version__: str = _c.espota_version_string()


def version() -> tuple[int, int, int]:
    """Version of the loaded libespota as (major, minor, patch)."""
    return tuple(int(x) for x in _c.espota_version_string().split(".")[:3])  # type: ignore[return-value]


def strerror(code: int) -> str:
    """One-line description of a libespota error code."""
    return _c.espota_strerror(int(code))


def error_name(code: int) -> str:
    """Symbolic name of a libespota error code ("ESPOTA_ETIMEOUT")."""
    return _c.espota_error_name(int(code))


def error_retryable(code: int) -> bool:
    """True when trying the same upload again may succeed (the fleet's retry rule)."""
    return bool(_c.espota_error_retryable(int(code)))


# --------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------

class Error(Exception):
    """A libespota failure.

    Attributes: ``code`` (negative libespota code), ``name``
    ("ESPOTA_EAUTH"), ``detail`` (the session's one-line detail), ``phase``
    (where an upload stopped, e.g. "transfer", or None), ``result`` (the
    UploadResult statistics of a failed upload, or None),
    ``device_error`` (a dict describing an Updater error the device
    reported, or None) and ``advice`` (what to do, a list of lines from
    espota_hint(), the same table as the CLI's hints; may be empty).
    """

    code: int = _c.ESPOTA_ERROR

    def __init__(self, detail: str = "", code: int | None = None, *, phase: str | None = None,
                 result: "UploadResult | None" = None, device_error: dict | None = None):
        if code is not None:
            self.code = code
        self.name = _c.espota_error_name(self.code)
        self.detail = detail or _c.espota_strerror(self.code)
        self.phase = phase
        self.result = result
        self.device_error = device_error
        self.advice: list[str] = []
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        where = f" phase={self.phase!r}" if self.phase else ""
        return f"<espota.{type(self).__name__} {self.name}{where}: {self.detail!r}>"

    def __reduce__(self):
        return (self.__class__, (self.detail, self.code))


class InvalidArgument(Error, ValueError):
    """An option or argument was rejected (ESPOTA_EINVAL)."""
    code = _c.ESPOTA_EINVAL


class OutOfMemoryError(Error, MemoryError):
    """ESPOTA_ENOMEM."""
    code = _c.ESPOTA_ENOMEM


class NetworkError(Error, OSError):
    """A socket or file operation failed (ESPOTA_EIO)."""
    code = _c.ESPOTA_EIO


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - deliberately shadows the builtin
    """A phase deadline passed (ESPOTA_ETIMEOUT); ``phase`` tells which.
    Also an instance of the builtin TimeoutError."""
    code = _c.ESPOTA_ETIMEOUT


class DeviceError(Error):
    """The device's Updater refused the update (ESPOTA_EREFUSED).

    ``device_code`` is the Updater error number (e.g. 8), ``device_name``
    its name ("FLASH_CONFIG"), ``device_text`` the Updater's text,
    ``explanation`` what it means and what to do, ``device_raw`` the text
    as received.
    """
    code = _c.ESPOTA_EREFUSED

    def __init__(self, detail: str = "", code: int | None = None, **kw):
        super().__init__(detail, code, **kw)
        dev = self.device_error or {}
        self.device_code: int | None = dev.get("code")
        self.device_name: str | None = dev.get("name")
        self.device_text: str | None = dev.get("text")
        self.explanation: str | None = dev.get("explanation")
        self.device_raw: str | None = dev.get("raw")


class AuthError(Error):
    """Authentication failed or no password was available (ESPOTA_EAUTH)."""
    code = _c.ESPOTA_EAUTH


class ProtocolError(Error):
    """The device sent something the protocol does not allow (ESPOTA_EPROTO)."""
    code = _c.ESPOTA_EPROTO


class ImageError(Error):
    """The image is malformed or of the wrong kind (ESPOTA_EIMAGE)."""
    code = _c.ESPOTA_EIMAGE


class NoFitError(Error):
    """The flash-fit preflight predicts the device will refuse the image
    (ESPOTA_ENOFIT); ``report`` is the FitReport. Pass force=True to send
    anyway."""
    code = _c.ESPOTA_ENOFIT
    report: "FitReport | None" = None


class CallbackError(Error):
    """A callback stopped the upload without raising (ESPOTA_EUSER)."""
    code = _c.ESPOTA_EUSER


class CancelledError(Error):
    """The upload was cancelled: Session.cancel() or a progress callback
    returning False (ESPOTA_ECANCELLED)."""
    code = _c.ESPOTA_ECANCELLED


class ResolveError(Error):
    """The device address could not be resolved (ESPOTA_ERESOLVE)."""
    code = _c.ESPOTA_ERESOLVE


class ConnectionClosedError(Error, ConnectionError):
    """The device closed the connection without a result (ESPOTA_ECLOSED)."""
    code = _c.ESPOTA_ECLOSED


_ERRORS: dict[int, type[Error]] = {
    cls.code: cls for cls in (InvalidArgument, OutOfMemoryError, NetworkError, TimeoutError, DeviceError,
                              AuthError, ProtocolError, ImageError, NoFitError, CallbackError,
                              CancelledError, ResolveError, ConnectionClosedError)
}


def _error_class(code: int) -> type[Error]:
    return _ERRORS.get(code, Error)


# --------------------------------------------------------------------------
# Small value types
# --------------------------------------------------------------------------

_TARGETS = {"app": _c.ESPOTA_TARGET_APP, "fs": _c.ESPOTA_TARGET_FS}
_TARGET_NAMES = {v: k for k, v in _TARGETS.items()}
_TRANSFERS = {"pipelined": _c.ESPOTA_TRANSFER_PIPELINED, "stop-and-wait": _c.ESPOTA_TRANSFER_STOP_AND_WAIT,
              "stream": _c.ESPOTA_TRANSFER_STREAM}
_AUTH_MODES = {"auto": _c.ESPOTA_AUTH_MODE_AUTO, "sha256": _c.ESPOTA_AUTH_MODE_SHA256, "md5": _c.ESPOTA_AUTH_MODE_MD5}
# Names are the library's (espota_platform_name, espota_auth_scheme_name).
_PLATFORM_NAMES = {p: _c.espota_platform_name(p) for p in (_c.ESPOTA_PLATFORM_ESP8266, _c.ESPOTA_PLATFORM_ESP32)}
_PLATFORMS = {**{v: k for k, v in _PLATFORM_NAMES.items()}, None: _c.ESPOTA_PLATFORM_UNKNOWN,
              "unknown": _c.ESPOTA_PLATFORM_UNKNOWN}
_SCHEMES = {s: _c.espota_auth_scheme_name(s) for s in (_c.ESPOTA_AUTH_MD5, _c.ESPOTA_AUTH_PBKDF2_SHA256,
                                                       _c.ESPOTA_AUTH_PBKDF2_MD5)}
_WHEN = {_c.ESPOTA_FIT_WHEN_NONE: None, _c.ESPOTA_FIT_WHEN_BEFORE_DATA: "before-data",
         _c.ESPOTA_FIT_WHEN_FIRST_BLOCK: "first-block", _c.ESPOTA_FIT_WHEN_AFTER_UPLOAD: "after-upload",
         _c.ESPOTA_FIT_WHEN_DURING_UPLOAD: "during-upload"}


def _flags(prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: getattr(_c, k) for k in dir(_c) if k.startswith(prefix)}


_MISTAKES = _flags("ESPOTA_FIT_MISTAKE_")
_ASSUMPTIONS = _flags("ESPOTA_FIT_ASSUME_")
_WARNINGS = _flags("ESPOTA_FIT_WARN_")


def _names(bits: int, table: dict[str, int]) -> frozenset[str]:
    return frozenset(name for name, bit in table.items() if bits & bit)


def _choice(what: str, value, table: dict):
    try:
        return table[value]
    except (KeyError, TypeError):
        choices = ", ".join(repr(k) for k in table if k is not None)
        raise InvalidArgument(f"{what}: expected one of {choices}, got {value!r}") from None


def _size_arg(what: str, value) -> str | None:
    """Sizes are ints (bytes) or strings like "1M", "512K", "4MB" (parsed by the library)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidArgument(f"{what}: expected bytes or a size like '1M', got {value!r}")
    if isinstance(value, int) and value < 0:
        raise InvalidArgument(f"{what}: negative size")
    return str(value)


class Progress(NamedTuple):
    """Passed to the progress callback. ``phase`` is a name ("invite",
    "auth", "connect", "transfer", "result", "done", ...); ``sent`` and
    ``acked`` count image bytes; ``total`` is never 0; ``elapsed`` is in
    seconds; ``attempt`` is the invitation attempt (1-based)."""
    phase: str
    sent: int
    acked: int
    total: int
    elapsed: float
    attempt: int

    @property
    def fraction(self) -> float:
        """acked / total, 0.0 .. 1.0."""
        return self.acked / self.total if self.total else 0.0


class UploadResult(NamedTuple):
    """Statistics of an upload (also attached to exceptions as ``result``)."""
    phase: str
    scheme: str | None
    platform: str | None
    total: int
    original_size: int
    sent: int
    acked: int
    elapsed: float
    transfer_time: float
    invitations: int
    acks: int
    local_port: int
    device_mss: int = 0
    ack_rule: str | None = None  # "counts" or "device_ok": what proved the success


class DeviceResult(NamedTuple):
    """Outcome of one device of Session.upload_many().

    ``ok`` is True only after the device confirmed the update. Otherwise
    ``code`` is the negative libespota code, ``error`` its name
    ("ESPOTA_ETIMEOUT"), ``message`` the one-line detail and
    ``exception_type`` the espota.Error subclass upload() would have raised.
    ``attempts`` counts the uploads tried (1 + retries used); ``stats`` are
    the UploadResult of the last attempt (``elapsed`` spans all attempts);
    ``device_error`` is a dict describing an Updater error, or None.
    """
    index: int
    host: str
    port: int
    ok: bool
    code: int
    error: str | None
    message: str
    attempts: int
    device_error: dict | None
    stats: UploadResult

    @property
    def exception_type(self) -> "type[Error] | None":
        return None if self.ok else _error_class(self.code)

    def raise_for_status(self) -> None:
        """Raise the espota.Error upload() would have raised for this device."""
        if not self.ok:
            raise _error_class(self.code)(self.message, self.code, phase=self.stats.phase, result=self.stats,
                                          device_error=self.device_error)


class Segment(NamedTuple):
    addr: int
    len: int
    offset: int


class Layout(NamedTuple):
    """A standard ESP8266 flash layout."""
    name: str
    ld_script: str
    flash_size: int
    fs_start: int
    fs_end: int
    fs_block: int
    irom0_max: int


class Board(NamedTuple):
    """A board alias with its IDE defaults."""
    name: str
    description: str
    platform: str | None
    flash_size: int
    layout: str
    flash_mode: int


def layouts() -> list[Layout]:
    """All standard ESP8266 layouts ("1M64", "4M2M", ...)."""
    out = []
    for i in range(_c.espota_layout_count()):
        l = _c.espota_layout_at(i)
        out.append(Layout(l.name, l.ld_script, l.flash_size, l.fs_start, l.fs_end, l.fs_block, l.irom0_max))
    return out


def boards() -> list[Board]:
    """All known board aliases ("nodemcuv2", "esp01_1m", "esp32dev", ...)."""
    out = []
    for i in range(_c.espota_board_count()):
        b = _c.espota_board_at(i)
        out.append(Board(b.name, b.description, _PLATFORM_NAMES.get(b.platform), b.flash_size, b.layout,
                         b.flash_mode))
    return out


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

FILE_MAX: int = _c.espota_file_max()


def read_file(path) -> bytes:
    """Read a regular file with the library's reader (espota_file_read):
    at most FILE_MAX bytes. A FIFO, directory or device, an empty file or a
    larger one raises InvalidArgument naming the path and what it is; a file
    that cannot be opened or read raises NetworkError (an OSError)."""
    rc, value = _c.file_read(path)
    if rc:
        raise _error_class(rc)(value, rc)
    return value


def _image_bytes(image):
    """bytes-like -> itself; str/PathLike -> file contents; binary file object -> .read()."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return image
    if isinstance(image, (str, os.PathLike)):
        return read_file(image)
    read = getattr(image, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("image file object must be opened in binary mode")
        return data
    try:
        return memoryview(image)
    except TypeError:
        raise TypeError(f"image: expected bytes-like, a path or a binary file object, "
                        f"not {type(image).__name__}") from None


class ImageInfo:
    """What espota.inspect() found in an image. Attributes mirror
    espota_image_info: kind ("esp8266-arduino", "esp32-app", "littlefs",
    "unknown", ...), platform ("esp8266"/"esp32"/None), file_size,
    inner_size, gzip, signed, signature_len, magic, flash_mode,
    flash_size_code, flash_freq_code, header_flash_size, app_offset, entry,
    segments (tuple of Segment), app_end, checksum_ok (True/False/None),
    irom0_len, chip_id, hash_appended, detail."""

    __slots__ = ("_obj", "_raw", "kind", "platform", "file_size", "inner_size", "gzip", "signed", "signature_len",
                 "magic", "flash_mode", "flash_size_code", "flash_freq_code", "header_flash_size",
                 "app_offset", "entry", "segments", "app_end", "checksum_ok", "irom0_len", "chip_id",
                 "hash_appended", "detail")

    def __init__(self, obj):
        # obj: the binding's image holder (code, facts, image object); kept
        # alive because _raw (its facts) points into it.
        self._obj = obj
        raw = self._raw = obj.info
        self.kind = _c.espota_image_kind_name(raw.kind)
        self.platform = _PLATFORM_NAMES.get(raw.platform)
        self.file_size = raw.file_size
        self.inner_size = raw.inner_size
        self.gzip = bool(raw.gzip)
        self.signed = bool(raw.is_signed)
        self.signature_len = raw.signature_len
        self.magic = raw.magic
        self.flash_mode = raw.flash_mode
        self.flash_size_code = raw.flash_size_code
        self.flash_freq_code = raw.flash_freq_code
        self.header_flash_size = raw.header_flash_size
        self.app_offset = raw.app_offset
        self.entry = raw.entry
        segs = []
        for i in range(raw.segment_count):
            s = obj.segment(i)
            if s is not None:
                segs.append(Segment(s.addr, s.len, s.offset))
        self.segments = tuple(segs)
        self.app_end = raw.app_end
        self.checksum_ok = None if raw.checksum_ok < 0 else bool(raw.checksum_ok)
        self.irom0_len = raw.irom0_len
        self.chip_id = raw.chip_id
        self.hash_appended = bool(raw.hash_appended)
        self.detail = obj.detail()

    def __repr__(self) -> str:
        return (f"<espota.ImageInfo kind={self.kind!r} platform={self.platform!r} "
                f"file_size={self.file_size} segments={len(self.segments)}>")


def _parse(data) -> ImageInfo:
    obj = _c.espota_swig_image(data)
    rc = obj.rc
    if rc != _c.ESPOTA_OK:
        raise _error_class(rc)(obj.detail() or _c.espota_strerror(rc), rc)
    return ImageInfo(obj)


def inspect(image) -> ImageInfo:
    """Inspect an image (bytes-like, path or binary file object).
    Raises ImageError when the data claims to be an image but is broken."""
    return _parse(_image_bytes(image))


# --------------------------------------------------------------------------
# Flash-fit
# --------------------------------------------------------------------------

class FitDevice:
    """What is known about the device that receives the image.

    layout      ESP8266 layout of the RUNNING firmware ("1M64", "4M2M", or
                an ld script name)
    board       board id or alias ("nodemcuv2", "esp01_1m", "esp32dev", the
                mDNS "board" value, ...): supplies platform, chip_size and
                layout/partition scheme; an unknown board is a UserWarning
    target      "app" or "fs"
    platform    "esp8266" / "esp32" / None (from the image)
    chip_size, device_header_size, running_size   bytes or "1M"-style; None = unknown
    partitions  ESP32: a built-in scheme name ("default", "min_spiffs", ...),
                CSV text (str containing a newline or comma), or a binary
                table (bytes); None = unknown
    flash_map, atomic_fs, signing_len, gzip_support (None = unknown)
    strict      refuse (NoFitError / decision "refuse") when the check rests
                on an assumption, e.g. an unknown board (a UserWarning
                otherwise: the upload goes on with what the image tells)
    """

    def __init__(self, *, layout: str | None = None, board: str | None = None, target: str = "app",
                 platform: str | None = None, chip_size=None, device_header_size=None, running_size=None,
                 partitions=None, flash_map: bool = False, atomic_fs: bool = False, signing_len: int = 0,
                 gzip_support: bool | None = None, strict: bool = False):
        if isinstance(partitions, (bytes, bytearray, memoryview)):
            part = bytes(partitions)
        elif isinstance(partitions, str):
            part = partitions.encode()
        elif partitions is None:
            part = b""
        else:
            raise InvalidArgument("partitions: expected a scheme name, CSV text or a binary table")
        # The board, layout, scheme, sizes and platform rules are the library's (device.h).
        holder = _c.espota_device()
        err = _c.espota_swig_device_describe(
            holder, None if board is None else str(board), None if layout is None else str(layout), part,
            None if platform is None else str(platform), _choice("target", target, _TARGETS),
            _size_arg("chip_size", chip_size), _size_arg("device_header_size", device_header_size),
            _size_arg("running_size", running_size), int(bool(strict)))
        if err:
            raise InvalidArgument(err)
        if holder.fit.assumed & _c.ESPOTA_DEVICE_UNKNOWN_BOARD:
            # not an error: the check and the upload go on with what the image
            # and the device tell (strict=True refuses instead)
            warnings.warn(holder.note, UserWarning, stacklevel=2)
        self._holder = holder  # owns the partition table _dev points at
        dev = self._dev = holder.fit
        dev.flash_map = int(bool(flash_map))
        dev.atomic_fs = int(bool(atomic_fs))
        dev.signing_len = int(signing_len or 0)
        dev.gzip_support = -1 if gzip_support is None else int(bool(gzip_support))
        # what was given, or the board's default the library picked
        self.layout = layout if layout is not None else (dev.layout.name if dev.layout is not None else None)
        self.board = board
        self.target = target

    def __repr__(self) -> str:
        facts = [f"{k}={v!r}" for k, v in (("board", self.board), ("layout", self.layout),
                                             ("target", self.target)) if v is not None]
        if self._dev.partitions is not None:
            facts.append(f"partitions={_c.espota_partition_table_name(self._dev.partitions)!r}")
        return f"<espota.FitDevice {' '.join(facts)}>"

    @classmethod
    def _from(cls, fit) -> "FitDevice":
        if isinstance(fit, FitDevice):
            return fit
        if isinstance(fit, dict):
            return cls(**fit)
        raise TypeError("fit: expected a FitDevice or a dict of FitDevice keyword arguments")


class FitReport:
    """The flash-fit verdict. Attributes: verdict ("fits", "warning",
    "refused", "unknown"), ok (verdict is fits or warning), device_error
    (predicted Updater error number, 0 if none), device_error_text, when
    ("before-data", "first-block", "after-upload", "during-upload" or
    None), mistakes / warnings / assumptions (frozensets of names such as
    "FIRMWARE_AS_FS"), size, limit, margin, shrink_by, same_size_limit,
    same_size_margin, summary, advice (what to do, a list of lines), image
    (ImageInfo).
    The preflight's decision (the library's policy: refuse only on facts):
    decision ("send", "warn", "refuse"), decision_notes (the warnings, each
    with the figure assumed), running_size_max (it fits when the running
    sketch is at most this many bytes; 0 if not applicable).
    str(report) is the full multi-line report."""

    def __init__(self, pre, info: ImageInfo, dev: FitDevice):
        raw = pre.report
        self._pre, self._raw, self.image, self._device = pre, raw, info, dev
        self.decision: str = _c.espota_preflight_decision_name(pre.decision)
        self.decision_notes: tuple[str, ...] = tuple(l for l in (pre.warnings or "").splitlines() if l)
        self.running_size_max: int = pre.running_size_max
        self.verdict: str = _c.espota_fit_verdict_name(raw.verdict)
        self.ok: bool = raw.verdict in (_c.ESPOTA_FIT_OK, _c.ESPOTA_FIT_WARN)
        self.device_error: int = raw.device_error
        self.device_error_text: str = raw.device_error_text or ""
        self.when: str | None = _WHEN.get(raw.when)
        self.mistakes: frozenset[str] = _names(raw.mistakes, _MISTAKES)
        self.warnings: frozenset[str] = _names(raw.warnings, _WARNINGS)
        self.assumptions: frozenset[str] = _names(raw.assumptions, _ASSUMPTIONS)
        self.size: int = raw.size
        self.limit: int = raw.limit
        self.margin: int = raw.margin
        self.shrink_by: int = raw.shrink_by
        self.same_size_limit: int = raw.same_size_limit
        self.same_size_margin: int = raw.same_size_margin
        self.summary: str = raw.summary
        self.advice: list[str] = _lines(raw.advice)

    def __str__(self) -> str:
        text = _c.espota_swig_fit_format(self.image._raw, self._device._dev, self._raw)
        return text if text is not None else self.summary

    def __repr__(self) -> str:
        return f"<espota.FitReport verdict={self.verdict!r} device_error={self.device_error} summary={self.summary!r}>"


def _lines(text: str) -> list[str]:
    """Advice text ("- a\n  more\n- b\n") as ["a more", "b"]: the items of
    the CLI's JSON "advice" and of the Lua report's advice."""
    out: list[str] = []
    for line in (text or "").splitlines():
        cont = line[:1].isspace()
        line = line.strip()
        if not cont and line.startswith("- "):
            line = line[2:]
        if not line:
            continue
        if cont and out:
            out[-1] += " " + line
        else:
            out.append(line)
    return out


def check(image, *, layout: str | None = None, board: str | None = None, target: str = "app",
          platform: str | None = None, chip_size=None, device_header_size=None, running_size=None,
          partitions=None, flash_map: bool = False, atomic_fs: bool = False, signing_len: int = 0,
          gzip_support: bool | None = None, strict: bool = False, fit=None,
          device: FitDevice | None = None) -> FitReport:
    """Predict what the device's Updater will do with `image` (see FitDevice
    for the device facts; pass `fit=` -- a FitDevice or a dict of its
    keyword arguments, as upload() takes it -- to reuse one; `device=` is
    the older name of the same). Pure: no I/O."""
    if fit is not None and device is not None:
        raise InvalidArgument("check: pass fit= or device=, not both")
    if fit is not None:
        device = FitDevice._from(fit)
    info = inspect(image)
    dev = device if device is not None else FitDevice(
        layout=layout, board=board, target=target, platform=platform, chip_size=chip_size,
        device_header_size=device_header_size, running_size=running_size, partitions=partitions,
        flash_map=flash_map, atomic_fs=atomic_fs, signing_len=signing_len, gzip_support=gzip_support,
        strict=strict)
    pre = _c.espota_preflight()
    rc = _c.espota_preflight_run(pre, info._raw, dev._dev)
    if rc != _c.ESPOTA_OK:
        raise _error_class(rc)(_c.espota_strerror(rc), rc)
    return FitReport(pre, info, dev)


# --------------------------------------------------------------------------
# Sessions and uploads
# --------------------------------------------------------------------------

_TIMEOUT_KEYS = {"invite": "invite_ms", "auth": "auth_ms", "connect": "connect_ms", "stall": "stall_ms",
                 "result": "result_ms"}


class Timeouts:
    """Per-phase limits, in seconds (None = the library's default):
    ``invite`` (each invitation), ``invite_attempts`` (how many),
    ``auth``, ``connect`` (the device connecting back), ``stall`` (no
    acknowledgement during the transfer) and ``result`` (the final OK);
    ``min_rate`` bounds the whole data phase to 60 s plus 1 s per
    ``min_rate`` bytes (bytes per second; default 1000, 0 = no such bound).
    Pass as ``timeouts=``; a dict with the same keys also works. The whole
    operation is bounded separately by ``timeout=``."""

    __slots__ = ("invite", "invite_attempts", "auth", "connect", "stall", "result", "min_rate")

    def __init__(self, *, invite: float | None = None, invite_attempts: int | None = None,
                 auth: float | None = None, connect: float | None = None, stall: float | None = None,
                 result: float | None = None, min_rate: int | None = None):
        self.invite, self.invite_attempts, self.auth = invite, invite_attempts, auth
        self.connect, self.stall, self.result = connect, stall, result
        self.min_rate = min_rate

    def _items(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    def __eq__(self, other) -> bool:
        return isinstance(other, Timeouts) and self._items() == other._items()

    def __repr__(self) -> str:
        return "espota.Timeouts(" + ", ".join(f"{k}={v!r}" for k, v in self._items().items()) + ")"


def _timeouts(timeouts, call: dict) -> None:
    if timeouts is None:
        return
    if isinstance(timeouts, Timeouts):
        timeouts = timeouts._items()
    if not isinstance(timeouts, dict):
        raise InvalidArgument("timeouts: expected espota.Timeouts or a dict such as "
                              "{'connect': 5.0, 'invite_attempts': 3}")
    for key, value in timeouts.items():
        if key == "invite_attempts":
            if isinstance(value, bool) or int(value) <= 0:
                raise InvalidArgument("timeouts['invite_attempts']: must be a positive count")
            call["invite_attempts"] = int(value)
        elif key == "min_rate":
            if isinstance(value, bool) or int(value) < 0 or int(value) >= 0xFFFFFFFF:
                raise InvalidArgument("timeouts['min_rate']: bytes per second, 0 (no bound) or more")
            call["min_rate"] = int(value) or 0xFFFFFFFF  # 0: ESPOTA_MIN_RATE_OFF
        elif key in _TIMEOUT_KEYS:
            ms = int(round(float(value) * 1000))
            if ms <= 0:
                raise InvalidArgument(f"timeouts[{key!r}]: must be positive (seconds)")
            call[_TIMEOUT_KEYS[key]] = ms
        else:
            raise InvalidArgument(f"timeouts: unknown key {key!r} (expected {', '.join(_TIMEOUT_KEYS)}, "
                                  "invite_attempts, min_rate)")


# Devices that confirmed an update in this process: (host, port) ->
# time.monotonic(). In-process, unlike the CLI's file (docs/errors.md): a
# Python program that uploads twice is one process, and a library should not
# write files its caller did not ask for.
_RECENT: dict[tuple[str, int], float] = {}


def _since_success_ms(host: str, port: int) -> int:
    t = _RECENT.get((host, port))
    return 0 if t is None else max(1, int((time.monotonic() - t) * 1000))


def _advice(code: int, s, call: dict, host: str | None, port: int, since_ms: int) -> list[str]:
    """espota_hint() for a failed upload: the same table as the CLI's hints."""
    state = call["_hint"]
    text = _c.espota_swig_hint(int(code), s, call["target"], int(state["password_given"]), host, int(port),
                               int(bool(call["bind_address"]) or bool(call["bind_port"])), since_ms)
    return [line for line in (text or "").splitlines() if line]


def _deadline(timeout) -> float | None:
    """timeout= (seconds for the whole operation) as a time.monotonic() deadline."""
    if timeout is None:
        return None
    if isinstance(timeout, bool):
        raise InvalidArgument("timeout: expected seconds")
    t = float(timeout)
    if not t > 0:
        raise InvalidArgument("timeout: must be positive (seconds)")
    return time.monotonic() + t


def _positive(what: str, value) -> int | None:
    if value is None:
        return None
    v = int(value)
    if v <= 0:
        raise InvalidArgument(f"{what}: must be positive")
    return v


class Session:
    """An upload handle (one upload at a time; distinct sessions may upload
    concurrently from different threads). Use as a context manager or call
    close(). cancel() may be called from any thread."""

    def __init__(self):
        s = _c.espota_session()
        if s is None:
            raise OutOfMemoryError("cannot create a session")
        self._s = s
        self._busy = threading.Lock()

    # -- lifecycle --------------------------------------------------------
    def close(self) -> None:
        """Free the session. Raises RuntimeError while an upload runs."""
        if self._s is None:
            return
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("espota.Session.close(): an upload is running on this session")
        try:
            self._s = None
        finally:
            self._busy.release()

    @property
    def closed(self) -> bool:
        return self._s is None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._s is None else ("uploading" if self._busy.locked() else "idle")
        return f"<espota.Session {state}>"

    def _handle(self):
        s = self._s
        if s is None:
            raise ValueError("espota.Session is closed")
        return s

    # -- API --------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the running upload to stop; it raises CancelledError promptly.
        Thread-safe; a no-op when nothing runs."""
        s = self._s
        if s is not None:
            _c.espota_session_cancel(s)

    @property
    def last_error(self) -> str:
        """One-line detail of the last failure ("" after a success)."""
        return _c.espota_session_last_error(self._handle())

    def stats(self) -> UploadResult:
        """Statistics of the last upload."""
        return self._stats(self._handle())

    @staticmethod
    def _stats(s) -> UploadResult:
        st = _c.espota_upload_stats()
        _c.espota_session_stats(s, st)
        return _upload_result(st)

    @staticmethod
    def _device_error(s) -> dict | None:
        return _device_error_dict(_c.espota_session_device_error(s))

    def upload(self, image, host: str, port: int | None = None, *, target: str = "app",
               password: str | bytes | None = None, auth=None, progress=None, timeout: float | None = None,
               timeouts: "Timeouts | dict | None" = None,
               compress: bool = False, transfer: str = "pipelined", window: int | None = None,
               chunk: int | None = None, bind_address: str | None = None, bind_port: int = 0,
               fit=None, force: bool = False, platform: str | None = None, auth_mode: str = "auto",
               filename: str | None = None) -> UploadResult:
        """Upload `image` (bytes-like, path or binary file object) to the
        device at `host` and return the UploadResult.

        port        device UDP port; None = 3232 for platform="esp32", else 8266
        target      "app" (firmware) or "fs" (filesystem image, espota -s)
        password    static password; or `auth(host, scheme) -> str|bytes|None`
                    asked when the device challenges (None = no credential)
        progress    progress(p: Progress); return False to cancel. Called at
                    least once a second, even while waiting.
        timeout     seconds for the whole upload (None = only the phase
                    limits); passing it raises TimeoutError, checked about
                    once a second
        timeouts    per-phase limits: espota.Timeouts(invite=, auth=,
                    connect=, stall=, result=, invite_attempts=) or a dict
                    with those keys (seconds)
        fit         a FitDevice or a dict of its keyword arguments: run the
                    flash-fit preflight first (NoFitError when refused,
                    unless force=True)
        An exception raised by a callback aborts the upload and propagates
        unchanged; failures raise an espota.Error subclass.
        """
        if not isinstance(host, str) or not host:
            raise InvalidArgument("host: expected a non-empty str")
        call, data, fitdev, plat = _build_call(
            image, target=target, password=password, auth=auth, progress=progress, timeouts=timeouts,
            compress=compress, transfer=transfer, window=window, chunk=chunk, bind_address=bind_address,
            bind_port=bind_port, fit=fit, force=force, platform=platform, auth_mode=auth_mode,
            filename=filename)
        if port is None:
            port = _c.ESPOTA_PORT_ESP32 if plat == _c.ESPOTA_PLATFORM_ESP32 else _c.ESPOTA_PORT_ESP8266
        call["host"] = host
        call["port"] = int(port)
        deadline = _deadline(timeout)
        timed_out = _watch_deadline(call, deadline)
        since_ms = _since_success_ms(host, int(port))

        s = self._handle()
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("espota.Session: an upload is already running on this session "
                               "(use one session per thread)")
        try:
            # Releases the GIL; callbacks re-acquire it. A callback's
            # exception (or KeyboardInterrupt) is re-raised from here.
            rc = _c.session_upload(s, call)
            if rc == _c.ESPOTA_OK:
                _RECENT[(host, int(port))] = time.monotonic()
                return self._stats(s)
            detail = _c.espota_session_last_error(s) or _c.espota_strerror(rc)
            result = self._stats(s)
            if rc == _c.ESPOTA_ECANCELLED and timed_out():
                rc = _c.ESPOTA_ETIMEOUT
                detail = f"the upload did not finish within timeout={timeout} s (it was in {result.phase})"
            err = _error_class(rc)(detail, rc, phase=result.phase, result=result,
                                   device_error=self._device_error(s))
            err.advice = _advice(rc, s, call, host, int(port), since_ms)
        finally:
            self._busy.release()
        if isinstance(err, NoFitError) and fitdev is not None:
            try:
                err.report = check(data, device=fitdev)
            except Error:
                pass
        raise err

    def upload_many(self, image, devices, *, port: int | None = None, max_concurrent: int | None = None,
                    retries: int = 0, device_timeout: float | None = None, progress=None, done=None,
                    target: str = "app", password: str | bytes | None = None, auth=None,
                    timeout: float | None = None, timeouts: "Timeouts | dict | None" = None, compress: bool = False, transfer: str = "pipelined",
                    window: int | None = None, chunk: int | None = None, bind_address: str | None = None,
                    bind_port: int = 0, fit=None, force: bool = False, platform: str | None = None,
                    auth_mode: str = "auto", filename: str | None = None) -> "list[DeviceResult]":
        """Upload `image` to every device in `devices` from this thread, up to
        `max_concurrent` at once (None = the library chooses: docs/bindings.md), and return
        one DeviceResult per device, in the order given.

        devices         host strings, (host, port) tuples, or dicts
                        {"host", "port", "password"}; a missing port is `port`,
                        else 3232 for platform="esp32", else 8266; a missing
                        password is `password` / the `auth` callback
        retries         extra attempts per device after a timeout, an I/O error
                        or a lost connection
        device_timeout  seconds per device, retries included (None = no limit)
        timeout         seconds for the whole fleet: devices still running
                        then fail with ESPOTA_ETIMEOUT
        progress        progress(index, p: Progress); return False to stop that
                        device (it fails with ESPOTA_ECANCELLED)
        done            done(index, r: DeviceResult), once per device as it ends
        The other options are those of upload() and apply to every device.

        Per-device failures are in the results; nothing is raised for them.
        Bad options raise the usual exceptions before anything is sent. An
        exception raised by a callback (or KeyboardInterrupt) stops every
        device and propagates unchanged. cancel() from another thread stops
        every device; the results then say ESPOTA_ECANCELLED.
        """
        if done is not None and not callable(done):
            raise TypeError("done must be callable or None")
        if isinstance(devices, (str, bytes, dict)) or not hasattr(devices, "__iter__"):
            raise InvalidArgument("devices: expected a list of hosts, (host, port) tuples or dicts")
        call, data, fitdev, plat = _build_call(
            image, target=target, password=password, auth=auth, progress=progress, timeouts=timeouts,
            compress=compress, transfer=transfer, window=window, chunk=chunk, bind_address=bind_address,
            bind_port=bind_port, fit=fit, force=force, platform=platform, auth_mode=auth_mode, filename=filename)
        if port is None:
            port = _c.ESPOTA_PORT_ESP32 if plat == _c.ESPOTA_PLATFORM_ESP32 else _c.ESPOTA_PORT_ESP8266
        devs = [_device_tuple(i, d, int(port)) for i, d in enumerate(devices)]
        if not devs:
            raise InvalidArgument("devices: empty")
        if retries is None or isinstance(retries, bool) or int(retries) < 0:
            raise InvalidArgument("retries: must be >= 0")
        deadline_ms = 0
        if device_timeout is not None:
            deadline_ms = int(round(float(device_timeout) * 1000))
            if deadline_ms <= 0:
                raise InvalidArgument("device_timeout: must be positive (seconds)")
        deadline = _deadline(timeout)
        call["devices"] = devs
        call["max_concurrent"] = _positive("max_concurrent", max_concurrent) or 0
        call["retries"] = int(retries)
        call["device_deadline_ms"] = deadline_ms
        if done is not None:
            call["done"] = lambda i, raw: done(i, _device_result(i, devs[i], raw))

        s = self._handle()
        timed_out = _watch_deadline(call, deadline, cancel=lambda: _c.espota_session_cancel(s))
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("espota.Session: an upload is already running on this session "
                      "(use one session per thread)")
        out: list = [None] * len(devs)
        try:
            # Releases the GIL; callbacks re-acquire it. A callback's exception
            # (or KeyboardInterrupt) is re-raised from here.
            rc = _c.session_upload_many(s, call, out)
            if rc in (_c.ESPOTA_OK, _c.ESPOTA_ERROR, _c.ESPOTA_ECANCELLED) and None not in out:
                results = [_device_result(i, devs[i], raw) for i, raw in enumerate(out)]
                now = time.monotonic()
                for i, r in enumerate(results):
                    if r.ok:
                        _RECENT[(r.host, r.port)] = now
                    elif r.code == _c.ESPOTA_ECANCELLED and timed_out():
                        results[i] = r._replace(code=_c.ESPOTA_ETIMEOUT, error="ESPOTA_ETIMEOUT",
                                                message=f"the fleet did not finish within timeout={timeout} s")
                return results
            detail = _c.espota_session_last_error(s) or _c.espota_strerror(rc)
            err = _error_class(rc)(detail, rc)
        finally:
            self._busy.release()
        if isinstance(err, NoFitError) and fitdev is not None:
            try:
                err.report = check(data, device=fitdev)
            except Error:
                pass
        raise err


def upload_many(image, devices, **kwargs) -> "list[DeviceResult]":
    """One-shot fleet upload on a fresh Session; see Session.upload_many()."""
    with Session() as s:
        return s.upload_many(image, devices, **kwargs)


def _build_call(image, *, target, password, auth, progress, timeouts, compress, transfer, window, chunk,
                bind_address, bind_port, fit, force, platform, auth_mode, filename):
    """The options shared by upload() and upload_many(), as the dict the C
    layer reads. Returns (call, image bytes, FitDevice or None, platform)."""
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable or None")
    if auth is not None and not callable(auth):
        raise TypeError("auth must be callable or None")
    data = _image_bytes(image)
    plat = _choice("platform", platform, _PLATFORMS)
    if isinstance(password, str) and "\0" in password:
        raise InvalidArgument("password: embedded NUL")
    call = {
        "image": data, "target": _choice("target", target, _TARGETS),
        "password": password, "auth_mode": _choice("auth_mode", auth_mode, _AUTH_MODES),
        "filename": filename, "transfer": _choice("transfer", transfer, _TRANSFERS),
        "chunk_size": _positive("chunk", chunk), "window": _positive("window", window),
        "compress": int(bool(compress)), "force": int(bool(force)), "platform": plat,
        "bind_address": bind_address, "bind_port": int(bind_port or 0),
        "progress": progress, "progress_type": Progress if progress is not None else None, "auth": auth,
    }
    _timeouts(timeouts, call)
    # For the advice: was a password available when the device asked?
    state = {"password_given": bool(password)}
    call["_hint"] = state
    if auth is not None:
        def _auth(host, scheme, _f=auth):
            value = _f(host, scheme)
            if value:
                state["password_given"] = True
            return value
        call["auth"] = _auth
    fitdev = None
    if fit is not None:
        fitdev = FitDevice._from(fit)
        call["fit"] = fitdev._dev
        call["fit_owner"] = fitdev  # keeps the partition table alive
    return call, data, fitdev, plat


def _watch_deadline(call: dict, deadline: float | None, cancel=None):
    """Bound the whole operation by `deadline` through the progress callback
    (called at least once a second): past it, the progress callback stops
    the upload (and `cancel` stops a fleet). Returns a function telling
    whether that happened."""
    hit = [False]
    if deadline is None:
        return lambda: False
    user = call.get("progress")

    def _progress(*args):
        if time.monotonic() >= deadline:
            hit[0] = True
            if cancel is not None:
                cancel()
            return False
        return user(*args) if user is not None else None
    call["progress"] = _progress
    call["progress_type"] = Progress
    return lambda: hit[0]


def _device_tuple(i: int, dev, default_port: int) -> tuple:
    """A device of upload_many() as (host, port, password)."""
    host, port, password = dev, None, None
    if isinstance(dev, tuple):
        if len(dev) != 2:
            raise InvalidArgument(f"devices[{i}]: expected (host, port), got {dev!r}")
        host, port = dev
    elif isinstance(dev, dict):
        unknown = set(dev) - {"host", "port", "password"}
        if unknown:
            raise InvalidArgument(f"devices[{i}]: unknown keys {sorted(unknown)} (host, port, password)")
        host, port, password = dev.get("host"), dev.get("port"), dev.get("password")
    if not isinstance(host, str) or not host or "\0" in host:
        raise InvalidArgument(f"devices[{i}]: host: expected a non-empty str, got {host!r}")
    if port is None:
        port = default_port
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidArgument(f"devices[{i}]: port: expected an int in 1..65535, got {port!r}")
    if password is not None:
        if not isinstance(password, (str, bytes)):
            raise InvalidArgument(f"devices[{i}]: password: expected str, bytes or None")
        if ("\0" if isinstance(password, str) else b"\0") in password:
            raise InvalidArgument(f"devices[{i}]: password: embedded NUL")
    return (host, port, password)


# The one place a stats struct (SWIG espota_upload_stats, from a session or a
# fleet device) becomes an UploadResult: a new stats field is added here and
# in UploadResult, nowhere else.
def _upload_result(st) -> UploadResult:
    return UploadResult(
        phase=_c.espota_phase_name(st.phase), scheme=_SCHEMES.get(st.scheme),
        platform=_PLATFORM_NAMES.get(st.platform), total=st.total, original_size=st.original_size,
        sent=st.sent, acked=st.acked, elapsed=st.elapsed_ms / 1000.0, transfer_time=st.transfer_ms / 1000.0,
        invitations=st.invitations, acks=st.acks, local_port=st.local_port, device_mss=st.device_mss,
        ack_rule=_ACK_RULES.get(st.ack_rule))


_ACK_RULES = {_c.ESPOTA_ACK_RULE_COUNTS: "counts", _c.ESPOTA_ACK_RULE_DEVICE_OK: "device_ok"}


def _device_error_dict(d) -> dict | None:
    if d is None:
        return None
    return {"platform": _PLATFORM_NAMES.get(d.platform), "code": d.code, "name": d.name, "text": d.text,
            "explanation": d.explanation, "raw": d.raw}


def _device_result(index: int, dev: tuple, raw: tuple) -> DeviceResult:
    code, attempts, message, de, st = raw
    stats = _upload_result(st)
    device_error = _device_error_dict(de)
    ok = code == _c.ESPOTA_OK
    return DeviceResult(index=index, host=dev[0], port=dev[1], ok=ok, code=code,
                        error=None if ok else _c.espota_error_name(code),
                        message="" if ok else (message or _c.espota_strerror(code)),
                        attempts=attempts, device_error=device_error, stats=stats)


def upload(image, host: str, port: int | None = None, **kwargs) -> UploadResult:
    """One-shot upload on a fresh Session; see Session.upload()."""
    with Session() as s:
        return s.upload(image, host, port, **kwargs)


# Discovery (mDNS) lives in espota/discover.py.
from .discover import DiscoveredDevice, discover, discover_iter, resolve_local  # noqa: E402

__all__ += ["DiscoveredDevice", "discover", "discover_iter", "resolve_local"]
