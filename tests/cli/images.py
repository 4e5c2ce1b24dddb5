"""Build well-formed test images for the CLI tests (Python stdlib only)."""

from __future__ import annotations

import struct


def _v1_image(segments: list[tuple[int, bytes]], mode: int, byte3: int, entry: int) -> bytes:
    """An ESP8266 v1 (0xE9) image: header, segments, zero padding and checksum."""
    out = bytearray(struct.pack("<BBBBI", 0xE9, len(segments), mode, byte3, entry))
    ck = 0xEF
    for addr, data in segments:
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            ck ^= b
    end = (len(out) + 16) & ~15
    out += bytes(end - len(out))
    out[-1] = ck
    return bytes(out)


def esp8266_arduino(size: int = 329008, byte3: int = 0x20, mode: int = 3) -> bytes:
    """An Arduino ESP8266 .bin (eboot at 0, app at 0x1000) of about `size` bytes.

    byte3's high nibble is the flash size code (0x20 = 1 MB, 0x40 = 4 MB)."""
    eboot = _v1_image([(0x4010F000, bytes(range(64)))], mode, byte3, 0x4010F000)
    head = eboot + b"\xff" * (0x1000 - len(eboot))
    ram = bytes((i * 7) % 256 for i in range(256))
    # header 8 + 2 segment headers 16 + ram + padding (<= 16)
    irom_len = max(16, size - 0x1000 - 8 - 16 - len(ram) - 16)
    irom_len &= ~3
    irom = bytes((i * 31 + 7) % 251 for i in range(irom_len))
    app = _v1_image([(0x40201010, irom), (0x3FFE8000, ram)], mode, byte3, 0x40100000)
    return head + app


def filesystem(size: int = 65536) -> bytes:
    """Data that is not an application image (first byte not 0xE9)."""
    return bytes((i * 13 + 1) % 256 for i in range(size))
