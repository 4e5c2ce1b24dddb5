#!/usr/bin/python3
"""Regenerate the seed corpora in tests/fuzz/corpus/ (deterministic).

Seeds are small, valid (or realistically broken) inputs that get each fuzzer
past the obvious checks: images built like elf2bin/esptool/signing.py would,
partition tables, device reply streams as ESP8266 and ESP32 send them, CLI
argument vectors and hosts files. Run it after changing an input format:

    tests/fuzz/make_corpus.py
"""
import gzip
import hashlib
import importlib.util
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus")

spec = importlib.util.spec_from_file_location("make_image", os.path.join(ROOT, "tools/scripts/make-image.py"))
mk = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mk)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# ---- images -----------------------------------------------------------------

def esp32_app(nseg=3, chip=0, hash_appended=True, seed=32):
    rng = random.Random(seed)
    # esp_image_header_t: magic, segments, mode, size|freq, entry, wp_pin,
    # drive settings (3), chip id, min rev, min/max rev full, reserved(4), hash_appended
    hdr = struct.pack("<BBBBIB3sHBHH4sB", 0xE9, nseg, 2, 0x20, 0x40080000, 0xEE, b"\0\0\0",
                      chip, 0, 0, 0xFFFF, b"\0" * 4, 1 if hash_appended else 0)
    assert len(hdr) == 24
    body = bytearray(hdr)
    csum = 0xEF
    for i in range(nseg):
        data = bytes(rng.getrandbits(8) for _ in range(64 + 32 * i))
        body += struct.pack("<II", 0x3F400020 + 0x10000 * i, len(data)) + data
        for b in data:
            csum ^= b
    while (len(body) + 1) % 16:
        body.append(0)
    body.append(csum)
    if hash_appended:
        body += hashlib.sha256(bytes(body)).digest()
    return bytes(body)


def v2_image():
    irom = bytes(range(256)) * 2
    hdr = struct.pack("<BBBBIII", 0xEA, 4, 3, 0x20, 0x40100000, 0x40201010, len(irom))
    v1 = mk.image([(0x40100000, b"\x01" * 100), (0x3FFE8000, b"\x02" * 40)], 3, 0x20, 0x40100000)
    return hdr + irom + v1 + b"\xde\xad\xbe\xef"


def partition_bin(rows, md5=True):
    out = bytearray()
    for label, typ, sub, off, size, flags in rows:
        out += struct.pack("<BBBBII16sI", 0xAA, 0x50, typ, sub, off, size, label.encode(), flags)
    if md5:
        out += b"\xEB\xEB" + b"\xFF" * 14 + hashlib.md5(bytes(out)).digest()
    out += b"\xFF" * 32
    return bytes(out)


DEFAULT_ROWS = [("nvs", 1, 2, 0x9000, 0x5000, 0), ("otadata", 1, 0, 0xE000, 0x2000, 0),
                ("app0", 0, 0x10, 0x10000, 0x140000, 0), ("app1", 0, 0x11, 0x150000, 0x140000, 0),
                ("spiffs", 1, 0x82, 0x290000, 0x160000, 0), ("coredump", 1, 3, 0x3F0000, 0x10000, 0)]


def images():
    t = "fuzz_image"
    small = mk.build(4352, "1M", "dout", 1)
    write(t, "arduino-1m-4352.bin", small)
    write(t, "arduino-4m-qio.bin", mk.build(5008, "4M", "qio", 2))
    write(t, "arduino-8m.bin", mk.build(4368, "8M", "dio", 3))
    write(t, "arduino-gzip.bin.gz", gz(mk.build(6144, "1M", "dout", 4)))
    sig = bytes(random.Random(5).getrandbits(8) for _ in range(256))
    write(t, "arduino-signed.bin.signed", small + sig + struct.pack("<I", len(sig)))
    write(t, "arduino-signed-gzip.bin.gz", gz(small) + sig + struct.pack("<I", len(sig)))
    bare = mk.image([(0x40100000, b"\x11" * 200), (0x3FFE8000, b"\x22" * 60)], 2, 0x00, 0x40100000)
    write(t, "bare.bin", bare)
    write(t, "bare-trailing.bin", bare + b"\0" * 37)
    write(t, "v2-0xEA.bin", v2_image())
    write(t, "esp32-app.bin", esp32_app())
    write(t, "esp32c3-app-nohash.bin", esp32_app(nseg=2, chip=5, hash_appended=False))
    write(t, "esp32s3-app.bin", esp32_app(nseg=4, chip=9))
    write(t, "esp32-app-gzip.bin.gz", gz(esp32_app()))
    write(t, "esp32-partitions.bin", partition_bin(DEFAULT_ROWS))
    lfs = bytearray(b"\xff" * 4096)
    lfs[0:8] = b"\x00\x00\x00\x00\xf0\x0f\xff\xf7"
    lfs[8:16] = b"littlefs"
    write(t, "littlefs.bin", bytes(lfs))
    sp = bytearray(b"\xff" * 4096)
    struct.pack_into("<H", sp, 0, 0x8001)   # lookup page: id of page 1 (index page)
    struct.pack_into("<HH", sp, 256, 0x8001, 0)
    sp[256 + 4] = 0xF8                      # used, final, index, not deleted
    write(t, "spiffs.bin", bytes(sp))
    write(t, "truncated.bin", small[:600])
    write(t, "gzip-truncated.gz", gz(small)[:300])
    write(t, "text.txt", "not an image\n")


def partitions():
    t = "fuzz_partitions"
    write(t, "default.csv",
          "# Name,   Type, SubType, Offset,  Size, Flags\n"
          "nvs,      data, nvs,     0x9000,  0x5000,\n"
          "otadata,  data, ota,     0xe000,  0x2000,\n"
          "app0,     app,  ota_0,   0x10000, 0x140000,\n"
          "app1,     app,  ota_1,   0x150000,0x140000,\n"
          "spiffs,   data, spiffs,  0x290000,0x160000,\n"
          "coredump, data, coredump,0x3F0000,0x10000,\n")
    write(t, "min_spiffs.csv",
          "nvs,data,nvs,0x9000,0x5000,\notadata,data,ota,0xe000,0x2000,\n"
          "app0,app,ota_0,0x10000,0x1E0000,\napp1,app,ota_1,0x1F0000,0x1E0000,\n"
          "spiffs,data,spiffs,0x3D0000,0x20000,\ncoredump,data,coredump,0x3F0000,0x10000,\n")
    write(t, "implicit-offsets.csv",
          "nvs, data, nvs, , 24K,\nphy_init, data, phy, , 4K,\nfactory, app, factory, , 1M,\n"
          "storage, data, fat, , 1M, encrypted\n")
    write(t, "littlefs-huge.csv",
          "nvs,data,nvs,0x9000,0x5000\nfactory,app,factory,0x10000,3M\n"
          "littlefs,data,littlefs,,0xF0000\n")
    write(t, "no-ota.csv", "nvs,data,nvs,0x9000,0x6000,\nfactory,app,factory,0x10000,0x300000,\n")
    write(t, "default.bin", partition_bin(DEFAULT_ROWS))
    write(t, "nomd5.bin", partition_bin(DEFAULT_ROWS[:3], md5=False))


# ---- device replies -----------------------------------------------------------

def rec(data):
    """A datagram record of fuzz_engine_udp: op 0, length, bytes."""
    data = data.encode() if isinstance(data, str) else data
    return bytes([0, len(data)]) + data


TICK = lambda steps: bytes([3, steps])
CONNECT = b"\x04"
PASSWORD = lambda how: bytes([5, how])

NONCE32 = hashlib.md5(b"12345678").hexdigest()
NONCE64 = hashlib.sha256(b"12345678").hexdigest()


def engine_udp():
    t = "fuzz_engine_udp"
    # flags: bit0 password, bits1-2 auth mode, bits3-4 port, bit5 FS, bit6 seeded, bit7 short timeouts
    write(t, "ok", b"\x40" + rec("OK") + CONNECT)
    write(t, "ok-lost", b"\x40" + TICK(60) + CONNECT)
    write(t, "auth-md5-pw", b"\x41" + rec("AUTH " + NONCE32) + rec("OK") + CONNECT)
    write(t, "auth-md5-prompt", b"\x40" + rec("AUTH " + NONCE32) + PASSWORD(0) + rec("OK"))
    write(t, "auth-md5-wrong", b"\x41" + rec("AUTH " + NONCE32) + rec("Authentication Failed"))
    write(t, "auth-md5-nopw", b"\x40" + rec("AUTH " + NONCE32) + PASSWORD(1))
    write(t, "auth-sha-fallback", b"\x49" + rec("AUTH " + NONCE64) + rec("Authentication Failed")
          + rec("AUTH " + NONCE64) + rec("OK") + CONNECT)
    write(t, "auth-sha-timeout", b"\x49" + rec("AUTH " + NONCE64) + TICK(255) + TICK(255))
    write(t, "auth-sha-md5mode", b"\x4d" + rec("AUTH " + NONCE64) + rec("OK"))
    write(t, "err-space", b"\x40" + rec("ERR: ERROR[4]: Not Enough Space\n"))
    write(t, "err-flash", b"\x40" + rec("ERR: ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304\n"))
    write(t, "retries", b"\xc0" + TICK(3) + TICK(3) + TICK(3) + rec("OK"))
    write(t, "dup-auth", b"\x41" + rec("AUTH " + NONCE32) + rec("AUTH " + NONCE32) + rec("OK"))
    write(t, "junk", b"\x40" + rec(b"\x00\xffOK\r\n") + rec("AUTH 123"))
    write(t, "fs-target", b"\x60" + rec("OK\n") + CONNECT)


def tcp_rec(data):
    data = data.encode() if isinstance(data, str) else data
    return bytes([2, len(data)]) + data


def engine_tcp():
    t = "fuzz_engine_tcp"
    WRITE_ALL = b"\x01"
    OKOP = b"\x07"
    CLOSE = b"\x05\x00"

    def hdr(flags, length, *extra):
        return bytes([flags]) + struct.pack("<H", length - 1) + bytes(extra)

    # flags: bit0 stop-and-wait, bits1-2 port (8266/3232/other), bit3 chunk, bit4 window,
    # bit5 short timeouts, bit6 end by deadline
    write(t, "esp8266-1460", hdr(0, 2920) + WRITE_ALL + tcp_rec("1460") + tcp_rec("1460") + tcp_rec("OK") + CLOSE)
    write(t, "esp8266-coalesced", hdr(0, 2920) + WRITE_ALL + tcp_rec("14601460") + tcp_rec("OK"))
    write(t, "esp8266-split", hdr(0, 2920) + WRITE_ALL + tcp_rec("14") + tcp_rec("601460OK"))
    write(t, "esp32-1460", hdr(2, 3000) + WRITE_ALL + tcp_rec("1460") + tcp_rec("1460") + tcp_rec("80") + tcp_rec("OK"))
    write(t, "esp32-304OK", hdr(2, 304) + WRITE_ALL + tcp_rec("304OK"))
    write(t, "esp8266-error7", hdr(0, 1000) + WRITE_ALL + tcp_rec("1000") + tcp_rec("ERROR[7]: MD5 verification failed\n"))
    write(t, "esp32-md5", hdr(2, 1000) + WRITE_ALL + tcp_rec("1000") + tcp_rec("MD5 Check Failed\r\n") + CLOSE)
    write(t, "esp32-repeat", hdr(2, 1460) + WRITE_ALL + tcp_rec("1460") + tcp_rec("1460") + tcp_rec("OK"))
    write(t, "stop-and-wait", hdr(1 | 8, 600, 6) + b"\x01" + tcp_rec("97") + b"\x01" + tcp_rec("97")
          + WRITE_ALL + b"\x06\x40" * 8 + OKOP)
    write(t, "honest", hdr(16, 5000, 8) + (WRITE_ALL + b"\x06\xff\x06\x81") * 12 + OKOP)
    write(t, "over-ack", hdr(0, 100) + WRITE_ALL + tcp_rec("1000"))
    write(t, "early-ok", hdr(0, 2000) + WRITE_ALL + tcp_rec("1460") + tcp_rec("OK"))
    write(t, "stall", hdr(32 | 64, 2000) + WRITE_ALL + tcp_rec("1000") + b"\x04\x10")
    write(t, "reset", hdr(0, 2000) + WRITE_ALL + tcp_rec("1460") + b"\x05\x01")
    write(t, "unknown-port", hdr(4, 4000) + WRITE_ALL + tcp_rec("2048") + tcp_rec("1952OK"))


def device_errors():
    t = "fuzz_device_error"
    texts = [(1, "ERR: ERROR[4]: Not Enough Space\n"), (1, "ERROR[7]: MD5 verification failed\n"),
             (1, "ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304\n"),
             (1, "ERROR[9]: new Flash config wrong: real: 1048576\n"),
             (0, "ERROR[12]: Signature verification failed\n"),
             (2, "MD5 Check Failed\r\n"), (2, "Wrong Magic Byte\r\n"), (0, "Not Enough Space\r\n"),
             (2, "UNKNOWN\r\n"), (2, "Could Not Activate The Firmware\r\n"), (0, "OK"), (0, "garbage")]
    for i, (plat, text) in enumerate(texts):
        write(t, "e%02d" % i, bytes([plat]) + text.encode())


# ---- CLI --------------------------------------------------------------------------

def cli():
    t = "fuzz_cli_args"
    vectors = [
        ["-i", "192.168.1.20", "-f", "firmware.bin"],
        ["-i", "esp.local", "-p", "3232", "--auth=secret", "-f", "fw.bin", "-r", "-d"],
        ["-i192.168.1.2", "-P", "48266", "-I", "0.0.0.0", "-sdr", "-ffs.bin"],
        ["espota.py", "-i", "10.0.0.2", "-f", "a.bin", "-t", "10", "-m"],
        ["check", "fw.bin", "--board", "esp8285", "--chip-size", "1M", "--running-size=0x50000"],
        ["check", "fw.bin", "--layout", "4M2M", "--device-header-size", "4MiB", "--flash-map"],
        ["--hosts", "devices.txt", "-f", "fw.bin", "--parallel", "8", "--json", "--no-prompt"],
        ["-i", "a", "-i", "b", "-f", "x", "--stop-and-wait", "--window", "8192", "--chunk", "512"],
        ["--list-boards"], ["--help"], ["--version"],
        ["--ip", "[fe80::1%eth0]:8266", "--file", "x", "--platform", "esp32", "--scheme", "min_spiffs"],
        ["-i", "x", "-f", "y", "--auth-env", "OTA_PW", "--sha256-only", "--compress", "--force", "-q"],
        ["-i", "x", "-f", "y", "--partitions", "p.csv", "--attempts", "3", "--", "-z"],
        ["-i", "x", "-f", "y", "--au", "pw", "--auth-file", "/tmp/pw"],
    ]
    for i, v in enumerate(vectors):
        write(t, "argv%02d" % i, b"\0".join(a.encode() for a in v))

    t = "fuzz_hosts"
    write(t, "simple", "192.168.1.20\n192.168.1.21\n")
    write(t, "full", "# devices\n192.168.1.20\nkitchen.local:3232      KITCHEN_OTA_PASSWORD\n"
          "[fe80::1%eth0]:8266\nfe80::2                 # a bare IPv6 literal\n\n  \t\n"
          "garage.local PW_GARAGE # comment\r\n")
    write(t, "bad-port", "host:70000\n")
    write(t, "three-fields", "a b c\n")
    write(t, "bad-env", "host 1abc\n")
    write(t, "crlf", "a.local:1\r\nb.local:65535\r\n")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    images()
    partitions()
    engine_udp()
    engine_tcp()
    device_errors()
    cli()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes" % total)


if __name__ == "__main__":
    main()
