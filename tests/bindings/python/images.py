"""Synthetic firmware images for the binding tests (a Python port of
tests/unit/fit_builders.h: only what the parsers look at is realistic)."""

from __future__ import annotations

import struct


def _fill(n: int, seed: int) -> bytes:
    x = (seed * 2654435761 + 1) & 0xFFFFFFFF
    out = bytearray(n)
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def _v1(hdr: int, segs: list[tuple[int, int]], mode: int, size_freq: int, entry: int, seed: int = 0) -> bytearray:
    b = bytearray(hdr)
    b[0:8] = struct.pack("<BBBBI", 0xE9, len(segs), mode, size_freq, entry)
    ck = 0xEF
    for i, (addr, n) in enumerate(segs):
        data = _fill(n, seed + i + 1)
        b += struct.pack("<II", addr, n) + data
        for c in data:
            ck ^= c
    end = (len(b) + 16) & ~15
    b += bytes(end - len(b))
    b[end - 1] = ck
    return b


def arduino_esp8266(total: int, size_code: int = 2, mode: int = 3) -> bytes:
    """An Arduino-ESP8266 .bin (eboot + app at 0x1000) of exactly `total`
    bytes (a multiple of 16). size_code 2 = 1 MB, 4 = 4 MB; mode 3 = DOUT."""
    assert total % 16 == 0 and total >= 0x1000 + 8 + 40 + 7800 + 16
    eboot = _v1(8, [(0x4010F000, 1280), (0x3FFFA000, 64)], mode, size_code << 4, 0x4010F000)
    eboot += b"\xaa" * (0x1000 - len(eboot))
    fixed = 4000 + 1000 + 800 + 2000
    irom = total - 0x1000 - 8 - 40 - fixed - 1 - (total // 16) % 16
    app = _v1(8, [(0x40201010, irom), (0x40100000, 4000), (0x40101000, 1000), (0x3FFE8000, 800),
                  (0x3FFE8400, 2000)], mode, size_code << 4, 0x40100000)
    img = bytes(eboot + app)
    assert len(img) == total, (len(img), total)
    return img
