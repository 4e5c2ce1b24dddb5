#!/usr/bin/python3
"""Write a synthetic Arduino firmware image (.bin) for demos and tests.

ESP8266 (default): the layout is what elf2bin.py produces: an eboot image
padded to 0x1000, then the application image with five segments
(.irom0.text, .text, .text1, .data, .rodata), zero padding and the checksum
byte, so that the result is exactly --size bytes (which must be a multiple
of 16, as every Arduino .bin is).

ESP32 (--chip esp32): an app image as esptool elf2image writes it: the
24-byte header with the extended header (chip id, hash_appended = 1), four
segments (DROM, DRAM, IRAM, IROM; the mapped ones at load addresses that
match their file offsets modulo 64 KiB), zero padding, the checksum byte at
the end of a 16-byte block and the SHA-256 of everything before it, so that
esp_image_verify() accepts it. Exactly --size bytes (a multiple of 16).

The content looks like code: compressible, but not trivially.

With --code FILE [--rodata FILE] (ESP8266), the application's segments hold
those bytes instead (bench/xtensa/build.sh: real code from Debian's
gcc-xtensa-lx106), and the size follows from them.

usage: make-image.py OUT [--size N] [--flash-size 1M|4M|...] [--mode dout]
                         [--chip esp8266|esp32] [--chip-id N] [--no-hash]
                         [--code FILE [--rodata FILE]]
"""
import argparse
import hashlib
import random
import struct
import sys

SIZE_CODES = {"512K": 0x0, "256K": 0x1, "1M": 0x2, "2M": 0x3, "4M": 0x4, "8M": 0x8, "16M": 0x9}
# ESP32 header flash size codes (esptool): high nibble of byte 3
ESP32_SIZE_CODES = {"1M": 0x0, "2M": 0x1, "4M": 0x2, "8M": 0x3, "16M": 0x4, "32M": 0x5,
                    "64M": 0x6, "128M": 0x7}
# esp_chip_id_t of the chips esptool knows
CHIP_IDS = {"esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12,
            "esp32c6": 13, "esp32h2": 16, "esp32p4": 18}
MODES = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}


def code_like(rng, n):
    """Bytes with the statistics of compiled code: short repeated motifs."""
    motifs = [bytes(rng.getrandbits(8) for _ in range(rng.randint(2, 12))) for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        if rng.random() < 0.7:
            out += rng.choice(motifs)
        else:
            out += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 6)))
    return bytes(out[:n])


def image(segments, mode, size_freq, entry):
    hdr = struct.pack("<BBBBI", 0xE9, len(segments), mode, size_freq, entry)
    body = bytearray(hdr)
    csum = 0xEF
    for addr, data in segments:
        body += struct.pack("<II", addr, len(data)) + data
        for b in data:
            csum ^= b
    # pad so that, with the checksum byte, the length is a multiple of 16
    while (len(body) + 1) % 16:
        body.append(0)
    body.append(csum)
    return bytes(body)


def build(size, flash, mode, seed):
    rng = random.Random(seed)
    size_freq = SIZE_CODES[flash] << 4  # 40 MHz
    boot = image([(0x4010F000, code_like(rng, 1024)), (0x3FFFA000, code_like(rng, 64))],
                 MODES[mode], size_freq, 0x4010F000)
    boot += b"\xAA" * (0x1000 - len(boot))
    app_len = size - 0x1000
    if size % 16 or app_len < 256:
        sys.exit("size must be a multiple of 16 and at least 4352")
    payload = app_len - 8 - 5 * 8 - 1  # header, 5 segment headers, checksum
    small = [0x6000, 0x10, 0x500, 0x1200]
    small = [min(s, max(4, payload // 8)) for s in small]
    irom = payload - sum(small)
    segs = [(0x40201010, code_like(rng, irom)), (0x40100000, code_like(rng, small[0])),
            (0x4010F000, code_like(rng, small[1])), (0x3FFE8000, code_like(rng, small[2])),
            (0x3FFE8000 + small[2], code_like(rng, small[3]))]
    app = image(segs, MODES[mode], size_freq, 0x40100000)
    out = boot + app
    assert len(out) == size, (len(out), size)
    return out


def build_from_code(code, rodata, flash, mode, seed):
    """An ESP8266 image whose segments hold given bytes (real compiled code):
    .irom0.text = `code`, .rodata = `rodata`, the IRAM and .data segments
    empty (4 zero bytes). The eboot image is the synthetic one of build();
    the size follows from the content."""
    rng = random.Random(seed)
    size_freq = SIZE_CODES[flash] << 4  # 40 MHz
    boot = image([(0x4010F000, code_like(rng, 1024)), (0x3FFFA000, code_like(rng, 64))],
                 MODES[mode], size_freq, 0x4010F000)
    boot += b"\xAA" * (0x1000 - len(boot))

    def pad4(b):
        return b + b"\0" * (-len(b) % 4)
    segs = [(0x40201010, pad4(code)), (0x40100000, b"\0" * 4), (0x4010F000, b"\0" * 4),
            (0x3FFE8000, b"\0" * 4), (0x3FFE8004, pad4(rodata))]
    return boot + image(segs, MODES[mode], size_freq, 0x40100000)


def build_esp32(size, flash="4M", mode="dio", seed=32, chip_id=0, hash_appended=True):
    """An ESP32 app image of exactly `size` bytes that esp_image_verify() accepts."""
    if size % 16 or size < 256:
        raise ValueError("size must be a multiple of 16 and at least 256")
    rng = random.Random(seed)
    total = size - 32 if hash_appended else size   # bytes before the digest
    nseg = 4
    # header + segment headers + data + 3 zero bytes + checksum = total
    payload = total - 24 - 8 * nseg - 4
    dram = min(0x400, max(4, payload // 16)) & ~3
    iram = min(0x1000, max(4, payload // 8)) & ~3
    drom = max(4, (payload - dram - iram) // 4) & ~3
    irom = payload - dram - iram - drom
    assert irom >= 4 and irom % 4 == 0, (size, irom)
    hdr = struct.pack("<BBBBI", 0xE9, nseg, MODES[mode], ESP32_SIZE_CODES[flash] << 4, 0x40080400)
    # extended header: wp_pin, spi drive (3), chip id, min rev, min/max rev
    # full, reserved (4), hash_appended
    ext = struct.pack("<B3sHBHH4sB", 0xEE, bytes(3), chip_id, 0, 0, 399, bytes(4),
                      1 if hash_appended else 0)
    body = bytearray(hdr + ext)
    csum = 0xEF
    for load, n in ((0x3F400000, drom), (0x3FFB0000, dram), (0x40080000, iram),
                    (0x400D0000, irom)):
        if load in (0x3F400000, 0x400D0000):   # flash-mapped: offset matches mod 64 KiB
            load += (len(body) + 8) % 0x10000
        data = code_like(rng, n)
        body += struct.pack("<II", load, n) + data
        for b in data:
            csum ^= b
    body += bytes(3)
    body.append(csum)
    assert len(body) == total and len(body) % 16 == 0, (len(body), total)
    if hash_appended:
        body += hashlib.sha256(bytes(body)).digest()
    return bytes(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=329008)
    ap.add_argument("--chip", default="esp8266", choices=["esp8266", *sorted(CHIP_IDS)],
                    help="esp8266 (default), or an ESP32-family chip for an ESP32 app image")
    ap.add_argument("--chip-id", type=int, default=None,
                    help="ESP32: esp_chip_id_t in the header (default: the --chip's id)")
    ap.add_argument("--no-hash", action="store_true", help="ESP32: no appended SHA-256")
    ap.add_argument("--flash-size", default=None,
                    help="header flash size (default 1M for esp8266, 4M for esp32)")
    ap.add_argument("--mode", default=None, choices=sorted(MODES),
                    help="header flash mode (default dout for esp8266, dio for esp32)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--code", default=None,
                    help="ESP8266: the .irom0.text segment is this file's bytes (real code; "
                         "the size then follows from the content)")
    ap.add_argument("--rodata", default=None, help="ESP8266, with --code: the .rodata segment's bytes")
    a = ap.parse_args()
    if (a.code or a.rodata) and a.chip != "esp8266":
        ap.error("--code and --rodata are for ESP8266 images")
    if a.rodata and not a.code:
        ap.error("--rodata needs --code")
    if a.chip == "esp8266":
        if a.chip_id is not None or a.no_hash:
            ap.error("--chip-id and --no-hash are for ESP32 images")
        flash, mode = a.flash_size or "1M", a.mode or "dout"
        if flash not in SIZE_CODES:
            ap.error(f"--flash-size: one of {', '.join(SIZE_CODES)} for esp8266")
        if a.code:
            with open(a.code, "rb") as f:
                code = f.read()
            rodata = b""
            if a.rodata:
                with open(a.rodata, "rb") as f:
                    rodata = f.read()
            data = build_from_code(code, rodata, flash, mode, 8266 if a.seed is None else a.seed)
            what = f"ESP8266 Arduino image from {len(code)} bytes of code, {len(rodata)} of rodata, {flash} header, {mode}"
        else:
            data = build(a.size, flash, mode, 8266 if a.seed is None else a.seed)
            what = f"ESP8266 Arduino image, {flash} header, {mode}"
    else:
        flash, mode = a.flash_size or "4M", a.mode or "dio"
        if flash not in ESP32_SIZE_CODES:
            ap.error(f"--flash-size: one of {', '.join(ESP32_SIZE_CODES)} for ESP32 chips")
        chip_id = CHIP_IDS[a.chip] if a.chip_id is None else a.chip_id
        if not 0 <= chip_id <= 0xFFFF:
            ap.error("--chip-id: 0..65535")
        try:
            data = build_esp32(a.size, flash, mode, 32 if a.seed is None else a.seed, chip_id,
                               not a.no_hash)
        except ValueError as e:
            sys.exit(str(e))
        what = (f"ESP32 app image (chip id {chip_id}{', SHA-256 appended' if not a.no_hash else ''}), "
                f"{flash} header, {mode}")
    with open(a.out, "wb") as f:
        f.write(data)
    print(f"{a.out}: {len(data)} bytes, {what}")


if __name__ == "__main__":
    main()
