#!/usr/bin/python3
"""Write a synthetic ESP8266 Arduino firmware image (.bin) for demos and tests.

The layout is what elf2bin.py produces: an eboot image padded to 0x1000,
then the application image with five segments (.irom0.text, .text, .text1,
.data, .rodata), zero padding and the checksum byte, so that the result is
exactly --size bytes (which must be a multiple of 16, as every Arduino .bin
is). The content looks like code: compressible, but not trivially.

usage: make-image.py OUT [--size N] [--flash-size 1M|4M|...] [--mode dout]
"""
import argparse
import random
import struct
import sys

SIZE_CODES = {"512K": 0x0, "256K": 0x1, "1M": 0x2, "2M": 0x3, "4M": 0x4, "8M": 0x8, "16M": 0x9}
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=329008)
    ap.add_argument("--flash-size", default="1M", choices=sorted(SIZE_CODES))
    ap.add_argument("--mode", default="dout", choices=sorted(MODES))
    ap.add_argument("--seed", type=int, default=8266)
    a = ap.parse_args()
    data = build(a.size, a.flash_size, a.mode, a.seed)
    with open(a.out, "wb") as f:
        f.write(data)
    print(f"{a.out}: {len(data)} bytes, ESP8266 Arduino image, {a.flash_size} header, {a.mode}")


if __name__ == "__main__":
    main()
