"""tools/gen-boards/gen_boards.py on a small synthetic upstream tree (written
here, not copied): the rules it applies to the real files.

Run: /usr/bin/python3 -m pytest tests/gen-boards (CTest: gen_boards).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "..", "tools", "gen-boards", "gen_boards.py")

BOARDS_8266 = """\
menu.eesz=Flash Size
alpha.name=Alpha Module
alpha.build.board=ESP8266_ALPHA
alpha.build.mcu=esp8266
alpha.build.flash_mode=dio
alpha.menu.eesz.1M64=1MB (FS:64KB)
alpha.menu.eesz.1M64.build.flash_ld=eagle.flash.1m64.ld
alpha.menu.eesz.1M=1MB (FS:none)
alpha.menu.eesz.1M.build.flash_ld=eagle.flash.1m.ld
alpha.menu.eesz.autoflash=Mapping defined by Hardware and Sketch
beta.name=Beta Board
beta.build.board=ESP8266_BETA
beta.menu.FlashMode.dout=DOUT
beta.menu.FlashMode.dout.build.flash_mode=dout
beta.menu.eesz.8M=8MB (FS:none)
beta.menu.eesz.8M.build.flash_ld=eagle.flash.8m.ld
beta.menu.eesz.8M.build.rfcal_addr=0x7FC000
"""


def ld(irom_len, fs_start, fs_end, block):
    return (f"MEMORY {{\n  irom0_0_seg : org = 0x40201010, len = {irom_len:#x}\n}}\n"
            f"PROVIDE ( _FS_start = {0x40200000 + fs_start:#x} );\nPROVIDE ( _FS_end = {0x40200000 + fs_end:#x} );\n"
            f"PROVIDE ( _FS_block = {block:#x} );\n")


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def generate(tmp_path):
    up = str(tmp_path / "up")
    write(up, "e8266/boards.txt", BOARDS_8266)
    write(up, "e8266/tools/sdk/ld/eagle.flash.1m64.ld", ld(0xE9FF0, 0xEB000, 0xFB000, 0x1000))
    write(up, "e8266/tools/sdk/ld/eagle.flash.1m.ld", ld(0xF9FF0, 0xFB000, 0xFB000, 0x1000))
    write(up, "e32/boards.txt", "gamma.name=Gamma Dev\ngamma.build.mcu=esp32\ngamma.build.variant=gam\n"
          "gamma.build.board=GAMMA_DEV\ngamma.build.flash_size=4MB\ngamma.build.partitions=default\n"
          "gamma.menu.PartitionScheme.default.build.partitions=default\n"
          "gamma.menu.PartitionScheme.big.build.partitions=big\n")
    write(up, "e32/tools/partitions/default.csv", "# Name, Type, SubType, Offset, Size\n"
          "nvs, data, nvs, 0x9000, 0x5000,\notadata, data, ota, 0xe000, 0x2000,\n"
          "app0, app, ota_0, 0x10000, 0x140000,\napp1, app, ota_1, 0x150000, 0x140000,\n")
    write(up, "e32/tools/partitions/big.csv", "nvs, data, nvs, 0x9000, 0x5000,\n"
          "app0, app, ota_0, 0x10000, 0x700000,\n")
    write(up, "e32/tools/partitions/relative.csv", "nvs, data, nvs, , 0x5000,\n")
    write(up, "p8266/boards/alpha.json", json.dumps({
        "build": {"arduino": {"ldscript": "eagle.flash.1m.ld"}, "extra_flags": "-DARDUINO_ESP8266_ALPHA",
                  "flash_mode": "qio", "mcu": "esp8266"}, "frameworks": ["arduino"], "name": "Alpha (PIO)"}))
    write(up, "p32/boards/delta.json", json.dumps({
        "build": {"arduino": {"partitions": "big.csv"}, "extra_flags": ["-DARDUINO_DELTA_X", "-DARDUINO_USB_MODE=1"],
                  "mcu": "esp32s3", "variant": "delta", "flash_mode": "qio"},
        "frameworks": ["arduino"], "name": "Delta", "upload": {"flash_size": "8MB"}}))
    write(up, "p32/boards/idf_only.json", json.dumps({"build": {"mcu": "esp32"}, "frameworks": ["espidf"],
                                                        "name": "x", "upload": {"flash_size": "4MB"}}))
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, GEN, "--esp8266", f"{up}/e8266", "--esp32", f"{up}/e32",
                        "--pio8266", f"{up}/p8266", "--pio32", f"{up}/p32", "--out", str(out),
                        "--sources", str(tmp_path / "SOURCES")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {n: (out / n).read_text() for n in ("boards.def", "layouts.def", "schemes.def")}, r.stdout


def test_generated_tables(tmp_path):
    d, summary = generate(tmp_path)
    assert "3 layouts, 2 schemes, 5 boards (2 IDE ESP8266, 1 PlatformIO ESP8266, 1 IDE ESP32, 1 PlatformIO ESP32)" in summary
    lay, boards, schemes = d["layouts.def"], d["boards.def"], d["schemes.def"]
    # figures from the ld script; 8M has none: from boards.txt, irom0 by the rule
    assert 'ESPOTA_LAYOUT("1M64",' in lay and "0x0eb000, 0x0fb000, 4096, 958448" in lay
    assert 'ESPOTA_LAYOUT("8M",' in lay and "0x7fb000, 0x7fb000, 0   , 1044464) /* derived */" in lay
    # IDE default = first eesz entry; the flash mode from the FlashMode menu
    assert 'ESPOTA_BOARD("alpha@ide", "Alpha Module", ESPOTA_PLATFORM_ESP8266, "esp8266", 0x100000, "1M64", 2, "ide", "1M64 1M")' in boards
    assert 'ESPOTA_BOARD("beta", "Beta Board", ESPOTA_PLATFORM_ESP8266, "esp8266", 0x800000, "8M", 3, "ide", "8M")' in boards
    # the PlatformIO id keeps the name; core board through -DARDUINO_<build.board>
    assert 'ESPOTA_BOARD("alpha", "Alpha (PIO)", ESPOTA_PLATFORM_ESP8266, "esp8266", 0x100000, "1M", 0, "pio:alpha", "1M 1M64")' in boards
    assert 'ESPOTA_BOARD("delta", "Delta", ESPOTA_PLATFORM_ESP32, "esp32s3", 0x800000, "big", 0, "pio:", "big default")' in boards
    assert 'ESPOTA_BOARD("gamma", "Gamma Dev", ESPOTA_PLATFORM_ESP32, "esp32", 0x400000, "default", 2, "ide", "default big")' in boards
    assert "idf_only" not in boards  # no Arduino framework
    for alias, target in (("ESP8266_ALPHA", "alpha@ide"), ("PLATFORMIO_ALPHA", "alpha"), ("gam", "gamma"),
                          ("GAMMA_DEV", "gamma"), ("DELTA_X", "delta")):
        assert f'ESPOTA_ALIAS("{alias}", "{target}")' in boards, alias
    assert "USB_MODE" not in boards
    # schemes: fixed offsets only; the chip size is the power of two that holds the table
    assert 'ESPOTA_SCHEME("big", 0x800000,' in schemes and 'ESPOTA_SCHEME("default", 0x400000,' in schemes
    assert "relative" not in schemes
    assert (tmp_path / "SOURCES").read_text().startswith("esp8266/Arduino plain tree")


def test_committed_tables_match_the_arduino_esp32_extract(tmp_path):
    # The ESP32 IDE rows and every scheme of libespota/data come from the facts-only
    # extract in tools/gen-boards/upstream/arduino-esp32: regenerating them from it
    # gives the committed tables (no hand edit, no drift between extract and data).
    sys.path.insert(0, os.path.dirname(GEN))
    import gen_boards as g
    up = os.path.join(os.path.dirname(GEN), "upstream", "arduino-esp32")
    data = os.path.join(HERE, "..", "..", "libespota", "data")
    schemes, ide = g.esp32_data(g.Tree(up))
    g.write_schemes(str(tmp_path / "schemes.def"), schemes, "espressif/arduino-esp32 " + g.Tree(up).commit)
    with open(os.path.join(data, "schemes.def")) as f:
        assert f.read() == (tmp_path / "schemes.def").read_text()
    with open(os.path.join(data, "boards.def")) as f:
        rows = f.read()
    assert len(ide) == 170 and {b["chip"] for b in ide} == {"esp32", "esp32s2", "esp32s3", "esp32c3"}
    for b in ide:
        tail = (f'{g.c_str(b["chip"])}, {b["flash"]:#x}, {g.c_str(b["layout"])}, {g.MODES[b["mode"]]}, '
                f'"ide", {g.c_str(" ".join(b["offered"]))})')
        assert (f'ESPOTA_BOARD({g.c_str(b["id"])}, ' in rows or f'ESPOTA_BOARD({g.c_str(b["id"] + "@ide")}, ' in rows), b["id"]
        assert tail in rows, b["id"]
