# Type stubs for the espota package (libespota Python binding).
import builtins
import os
from typing import IO, Any, Callable, Iterable, Literal, NamedTuple, Union

_Image = Union[bytes, bytearray, memoryview, str, os.PathLike[str], IO[bytes]]
_Size = Union[int, str, None]
_Target = Literal["app", "fs"]
_Platform = Literal["esp8266", "esp32"] | None

__version__: str
def version() -> tuple[int, int, int]: ...
def strerror(code: int) -> str: ...
def error_name(code: int) -> str: ...
def error_retryable(code: int) -> bool: ...

class Error(Exception):
    code: int
    name: str
    detail: str
    phase: str | None
    result: UploadResult | None
    device_error: dict[str, Any] | None
    advice: list[str]
    def __init__(self, detail: str = ..., code: int | None = ..., *, phase: str | None = ...,
                 result: UploadResult | None = ..., device_error: dict[str, Any] | None = ...) -> None: ...
class InvalidArgument(Error, ValueError): ...
class OutOfMemoryError(Error, MemoryError): ...
class NetworkError(Error, OSError): ...
class TimeoutError(Error, builtins.TimeoutError): ...
class DeviceError(Error):
    device_code: int | None
    device_name: str | None
    device_text: str | None
    explanation: str | None
    device_raw: str | None
class AuthError(Error): ...
class ProtocolError(Error): ...
class ImageError(Error): ...
class NoFitError(Error):
    report: FitReport | None
class CallbackError(Error): ...
class CancelledError(Error): ...
class ResolveError(Error): ...
class ConnectionClosedError(Error, ConnectionError): ...

class Progress(NamedTuple):
    phase: str
    sent: int
    acked: int
    total: int
    elapsed: float
    attempt: int
    @property
    def fraction(self) -> float: ...

class UploadResult(NamedTuple):
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
    device_mss: int = ...  # added later; defaults to 0
    ack_rule: str | None = ...  # "counts" | "device_ok" | None

class DeviceResult(NamedTuple):
    index: int  # type: ignore[assignment]  # the field shadows tuple.index, as at runtime
    host: str
    port: int
    ok: bool
    code: int
    error: str | None
    message: str
    attempts: int
    device_error: dict[str, Any] | None
    stats: UploadResult
    @property
    def exception_type(self) -> type[Error] | None: ...
    def raise_for_status(self) -> None: ...

FleetProgressCallback = Callable[[int, Progress], bool | None]
DoneCallback = Callable[[int, DeviceResult], object]
_Device = Union[str, tuple[str, int], dict[str, Any]]

class Segment(NamedTuple):
    addr: int
    len: int
    offset: int

class Layout(NamedTuple):
    name: str
    ld_script: str
    flash_size: int
    fs_start: int
    fs_end: int
    fs_block: int
    irom0_max: int

class Board(NamedTuple):
    name: str
    description: str
    platform: str | None
    flash_size: int
    layout: str
    flash_mode: int

def layouts() -> list[Layout]: ...
def boards() -> list[Board]: ...

class ImageInfo:
    kind: str
    platform: str | None
    file_size: int
    inner_size: int
    gzip: bool
    signed: bool
    signature_len: int
    magic: int
    flash_mode: int
    flash_size_code: int
    flash_freq_code: int
    header_flash_size: int
    app_offset: int
    entry: int
    segments: tuple[Segment, ...]
    app_end: int
    checksum_ok: bool | None
    irom0_len: int
    chip_id: int
    hash_appended: bool
    detail: str

FILE_MAX: int
def read_file(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> bytes: ...
def inspect(image: _Image) -> ImageInfo: ...

class FitDevice:
    layout: str | None
    board: str | None
    target: _Target
    def __init__(self, *, layout: str | None = ..., board: str | None = ..., target: _Target = ...,
                 platform: _Platform = ..., chip_size: _Size = ..., device_header_size: _Size = ...,
                 running_size: _Size = ..., partitions: str | bytes | None = ..., flash_map: bool = ...,
                 atomic_fs: bool = ..., signing_len: int = ..., gzip_support: bool | None = ...,
                 strict: bool = ...) -> None: ...

class FitReport:
    verdict: Literal["fits", "warning", "refused", "unknown"]
    ok: bool
    device_error: int
    device_error_text: str
    when: Literal["before-data", "first-block", "after-upload", "during-upload"] | None
    mistakes: frozenset[str]
    warnings: frozenset[str]
    assumptions: frozenset[str]
    size: int
    limit: int
    margin: int
    shrink_by: int
    same_size_limit: int
    same_size_margin: int
    summary: str
    advice: list[str]
    image: ImageInfo
    decision: Literal["send", "warn", "refuse"]
    decision_notes: tuple[str, ...]
    running_size_max: int

def check(image: _Image, *, layout: str | None = ..., board: str | None = ..., target: _Target = ...,
          platform: _Platform = ..., chip_size: _Size = ..., device_header_size: _Size = ...,
          running_size: _Size = ..., partitions: str | bytes | None = ..., flash_map: bool = ...,
          atomic_fs: bool = ..., signing_len: int = ..., gzip_support: bool | None = ...,
          strict: bool = ..., fit: FitDevice | dict[str, Any] | None = ...,
          device: FitDevice | None = ...) -> FitReport: ...

class Timeouts:
    invite: float | None
    invite_attempts: int | None
    auth: float | None
    connect: float | None
    stall: float | None
    result: float | None
    min_rate: int | None
    def __init__(self, *, invite: float | None = ..., invite_attempts: int | None = ...,
                 auth: float | None = ..., connect: float | None = ..., stall: float | None = ...,
                 result: float | None = ..., min_rate: int | None = ...) -> None: ...

_Timeouts = Union[Timeouts, dict[str, float], None]

ProgressCallback = Callable[[Progress], bool | None]
AuthCallback = Callable[[str, str], str | bytes | None]

class Session:
    def __init__(self) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Session: ...
    def __exit__(self, *exc: object) -> None: ...
    def cancel(self) -> None: ...
    @property
    def last_error(self) -> str: ...
    def stats(self) -> UploadResult: ...
    def upload(self, image: _Image, host: str, port: int | None = ..., *, target: _Target = ...,
               password: str | bytes | None = ..., auth: AuthCallback | None = ...,
               progress: ProgressCallback | None = ..., timeout: float | None = ...,
               timeouts: _Timeouts = ...,
               compress: bool = ..., transfer: Literal["pipelined", "stop-and-wait", "stream"] = ...,
               window: int | None = ..., chunk: int | None = ..., bind_address: str | None = ...,
               bind_port: int = ..., fit: FitDevice | dict[str, Any] | None = ..., force: bool = ...,
               platform: _Platform = ..., auth_mode: Literal["auto", "sha256", "md5"] = ...,
               filename: str | None = ...) -> UploadResult: ...
    def upload_many(self, image: _Image, devices: Iterable[_Device], *, port: int | None = ...,
                    max_concurrent: int | None = ..., retries: int = ..., device_timeout: float | None = ...,
                    progress: FleetProgressCallback | None = ..., done: DoneCallback | None = ...,
                    target: _Target = ..., password: str | bytes | None = ..., auth: AuthCallback | None = ...,
                    timeout: float | None = ..., timeouts: _Timeouts = ..., compress: bool = ...,
                    transfer: Literal["pipelined", "stop-and-wait", "stream"] = ..., window: int | None = ...,
                    chunk: int | None = ..., bind_address: str | None = ..., bind_port: int = ...,
                    fit: FitDevice | dict[str, Any] | None = ..., force: bool = ..., platform: _Platform = ...,
                    auth_mode: Literal["auto", "sha256", "md5"] = ..., filename: str | None = ...
                    ) -> list[DeviceResult]: ...

def upload(image: _Image, host: str, port: int | None = ..., **kwargs: Any) -> UploadResult: ...
def upload_many(image: _Image, devices: Iterable[_Device], **kwargs: Any) -> list[DeviceResult]: ...

# Discovery (espota/discover.py, typed inline).
from .discover import DiscoveredDevice as DiscoveredDevice
from .discover import discover as discover
from .discover import discover_iter as discover_iter
from .discover import resolve_local as resolve_local
