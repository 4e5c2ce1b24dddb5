"""Board database and the preflight that refuses only on facts (issue 16),
end to end: the espota binary ($ESPOTA_CLI) against espota-sim ($ESPOTA_SIM).

Pinned list: the common IDE and PlatformIO board ids with the default
layout/scheme and flash size their upstream board files give (esp8266/Arduino
boards.txt first eesz entry; PlatformIO boards/<id>.json ldscript or
partitions, default.csv when none; the revisions are in tools/gen-boards/SOURCES).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from images import esp8266_arduino  # noqa: E402
from simctl import esp32_image  # noqa: E402
from test_cli import run, sim  # noqa: E402,F401  (the CLI runner and the sim fixture)

FAST = ["--port", "0", "--fast", "--lifetime", "60"]
OK, USAGE, IMAGE = 0, 2, 6
M = 1024 * 1024

# id -> (platform, flash bytes, default layout or scheme)
PINNED = {
    # PlatformIO, ESP8266 (boards/<id>.json build.arduino.ldscript)
    "esp12e": ("esp8266", 4 * M, "4M1M"), "esp07": ("esp8266", 1 * M, "1M256"),
    "esp01": ("esp8266", 512 * 1024, "512K64"), "esp01_1m": ("esp8266", 1 * M, "1M256"),
    "esp8285": ("esp8266", 1 * M, "1M256"), "esp_wroom_02": ("esp8266", 2 * M, "2M"),
    "d1": ("esp8266", 4 * M, "4M1M"), "d1_mini": ("esp8266", 4 * M, "4M1M"),
    "d1_mini_lite": ("esp8266", 1 * M, "1M64"), "d1_mini_pro": ("esp8266", 16 * M, "16M14M"),
    "nodemcu": ("esp8266", 4 * M, "4M1M"), "nodemcuv2": ("esp8266", 4 * M, "4M1M"),
    "huzzah": ("esp8266", 4 * M, "4M1M"), "sonoff_basic": ("esp8266", 1 * M, "1M256"),
    "sonoff_s20": ("esp8266", 1 * M, "1M256"), "sonoff_th": ("esp8266", 1 * M, "1M256"),
    "gen4iod": ("esp8266", 512 * 1024, "512K64"),
    "wifinfo": ("esp8266", 1 * M, "1M256"), "thing": ("esp8266", 512 * 1024, "512K64"),
    "thingdev": ("esp8266", 512 * 1024, "512K64"), "modwifi": ("esp8266", 2 * M, "2M"),
    "oak": ("esp8266", 4 * M, "4M1M"), "wio_node": ("esp8266", 4 * M, "4M1M"),
    # Arduino IDE, ESP8266 (boards.txt, first eesz entry)
    "generic": ("esp8266", 1 * M, "1M64"), "sonoff": ("esp8266", 1 * M, "1M64"),
    "d1_mini@ide": ("esp8266", 4 * M, "4M2M"), "nodemcuv2@ide": ("esp8266", 4 * M, "4M2M"),
    "esp8285@ide": ("esp8266", 1 * M, "1M64"), "d1_mini_pro@ide": ("esp8266", 16 * M, "16M14M"),
    "espduino@ide": ("esp8266", 4 * M, "4M2M"), "huzzah@ide": ("esp8266", 4 * M, "4M2M"),
    "wifi_slot": ("esp8266", 1 * M, "1M"), "wifi_slot@ide": ("esp8266", 1 * M, "1M64"),
    "inventone": ("esp8266", 4 * M, "4M1M"), "inventone@ide": ("esp8266", 4 * M, "4M2M"),
    # PlatformIO, ESP32 (boards/<id>.json partitions; default.csv when none)
    "esp32dev": ("esp32", 4 * M, "default"), "esp32doit-devkit-v1": ("esp32", 4 * M, "default"),
    "nodemcu-32s": ("esp32", 4 * M, "default"), "lolin32": ("esp32", 4 * M, "default"),
    "lolin_d32": ("esp32", 4 * M, "default"), "wemos_d1_mini32": ("esp32", 4 * M, "default"),
    "esp32cam": ("esp32", 4 * M, "huge_app"), "ttgo-t-beam": ("esp32", 4 * M, "default"),
    "m5stack-core-esp32": ("esp32", 4 * M, "default"), "featheresp32": ("esp32", 4 * M, "default"),
    "esp-wrover-kit": ("esp32", 4 * M, "default"), "heltec_wifi_kit_32_v2": ("esp32", 8 * M, "default_8MB"),
    "esp32-s3-devkitc-1": ("esp32", 8 * M, "default_8MB"), "esp32-c3-devkitm-1": ("esp32", 4 * M, "default"),
    "esp32-s2-saola-1": ("esp32", 4 * M, "default"),
    "esp32thing_plus": ("esp32", 16 * M, "default_16MB"), "nina_w10": ("esp32", 2 * M, "minimal"),
    "lolin_s2_mini": ("esp32", 4 * M, "default"), "seeed_xiao_esp32c3": ("esp32", 4 * M, "default"),
    "upesy_wroom": ("esp32", 4 * M, "default"), "az-delivery-devkit-v4": ("esp32", 4 * M, "default"),
    "pico32": ("esp32", 4 * M, "default"), "tinypico": ("esp32", 4 * M, "default"),
    # Arduino IDE, ESP32 (boards.txt build.partitions)
    "esp32": ("esp32", 4 * M, "default"), "esp32wrover": ("esp32", 4 * M, "default"),
    "pico32@ide": ("esp32", 4 * M, "default"), "tinypico@ide": ("esp32", 4 * M, "default"),
    # (boards.txt: the first PartitionScheme/FlashSize entry over build.*; <id>@ide where
    # PlatformIO has the same id)
    "esp32s3": ("esp32", 4 * M, "default"), "esp32c3": ("esp32", 4 * M, "default"),
    "esp32s2": ("esp32", 4 * M, "default"), "esp32da": ("esp32", 4 * M, "default"),
    "esp32wroverkit": ("esp32", 4 * M, "default"), "lolin32@ide": ("esp32", 4 * M, "default"),
    "nodemcu-32s@ide": ("esp32", 4 * M, "default"), "featheresp32@ide": ("esp32", 4 * M, "default"),
    "ttgo-t1@ide": ("esp32", 4 * M, "default"), "esp32doit-devkit-v1@ide": ("esp32", 4 * M, "default"),
    "esp32cam@ide": ("esp32", 4 * M, "huge_app"), "m5stack-core-esp32@ide": ("esp32", 4 * M, "default"),
    "d1_mini32": ("esp32", 4 * M, "default"), "lolin_s2_mini@ide": ("esp32", 4 * M, "default"),
    "lolin_c3_mini@ide": ("esp32", 4 * M, "default"), "XIAO_ESP32C3": ("esp32", 4 * M, "default"),
    "m5stack-fire@ide": ("esp32", 16 * M, "default_16MB"), "m5stack-core2@ide": ("esp32", 16 * M, "default_16MB"),
    "esp32thing_plus@ide": ("esp32", 16 * M, "default_16MB"),
    "heltec_wifi_lora_32_V2@ide": ("esp32", 8 * M, "default_8MB"), "nina_w10@ide": ("esp32", 2 * M, "minimal"),
    "feathers2": ("esp32", 16 * M, "ffat"), "tinys3": ("esp32", 8 * M, "default_8MB"),
    "lolin_s3@ide": ("esp32", 16 * M, "ffat"), "watchy@ide": ("esp32", 4 * M, "huge_app"),
    "sonoff_dualr3": ("esp32", 4 * M, "rainmaker"), "m5stack-timer-cam@ide": ("esp32", 4 * M, "huge_app"),
    "adafruit_feather_esp32s3@ide": ("esp32", 4 * M, "partitions-4MB-tinyuf2"),
}

# IDE ESP32 boards: the schemes their menu offers that have a built-in table, in menu order
IDE_SCHEMES = {
    "esp32": "default default_ffat default_8MB minimal no_ota noota_3g noota_ffat noota_3gffat huge_app "
             "min_spiffs ffat app3M_fat9M_16MB rainmaker",
    "lolin32@ide": "default no_ota min_spiffs",
    "m5stack-fire@ide": "default_16MB large_spiffs_16MB",
    "nina_w10@ide": "minimal default default_ffat default_8MB min_spiffs no_ota noota_3g noota_ffat "
                    "noota_3gffat huge_app rainmaker",
}

# mDNS TXT "board" values a device announces -> the board they name
ALIASES = {"ESP8266_WEMOS_D1MINI": "d1_mini@ide", "PLATFORMIO_D1_MINI": "d1_mini",
           "PLATFORMIO_ESP12E": "esp12e", "ESP8266_GENERIC": "generic", "ESP32_DEV": "esp32",
           "platformio_nodemcuv2": "nodemcuv2", "ARDUINO_ESP8266_GENERIC": "generic"}


@pytest.fixture(scope="module")
def table():
    r = run("boards", "--json")
    assert r.returncode == OK, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return {b["id"]: b for b in rows if b["event"] == "board"}


def test_pinned_list_resolves_to_upstream_defaults(table):
    assert len(PINNED) >= 60
    for bid, (plat, flash, default) in PINNED.items():
        b = table.get(bid)
        assert b is not None, bid
        assert b["platform"] == plat, bid
        assert b["flash_size"] == flash, bid
        assert b.get("layout", b.get("scheme")) == default, bid
        assert b["offered"][0] == default, bid


def test_ide_esp32_boards_offer_their_menu_schemes(table):
    ide32 = [b for b in table.values() if b["platform"] == "esp32" and b["origin"] == "ide"]
    assert len(ide32) >= 170
    assert {b["chip"] for b in ide32} >= {"esp32", "esp32s2", "esp32s3", "esp32c3"}
    for bid, schemes in IDE_SCHEMES.items():
        assert " ".join(table[bid]["offered"]) == schemes, bid


def test_lookup_by_alias_any_case(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(300000))
    for alias, bid in ALIASES.items():
        r = run("boards", "--json", alias)
        ids = [json.loads(line)["id"] for line in r.stdout.splitlines()
               if json.loads(line)["event"] == "board"]
        assert bid in ids or alias.startswith("ARDUINO_") or alias.islower(), (alias, ids)
    # the check itself takes any spelling: same report as the id
    for spelling in ("D1_MINI", "PLATFORMIO_D1_MINI", "d1_mini"):
        r = run("check", fw, "--board", spelling, "--running-size", "300000", "--json")
        assert r.returncode == OK, (spelling, r.stderr)
        assert json.loads(r.stdout.splitlines()[0])["limit"] == 0x300000 - 303104, spelling


def test_names_for_completion(table):
    r = run("boards", "--names")
    assert r.returncode == OK
    names = r.stdout.split()
    assert set(table) <= set(names)
    assert "ESP8266_WEMOS_D1MINI" in names and len(names) == len(set(names))


def test_near_miss_suggestion(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(300000))
    r = run("check", fw, "--board", "d1_mini_pr")
    assert "did you mean d1_mini_pro?" in r.stderr
    r = run("boards", "esp32doit-devkit-v2")
    assert r.returncode == USAGE and "did you mean esp32doit-devkit-v1?" in r.stderr


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "500k.bin"
    p.write_bytes(esp8266_arduino(500 * 1024))
    return str(p)


def _sim_1m64(sim):
    # the device: layout 1M64, running a 300,000-byte sketch
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M64", "--chip-size", "1M",
               "--sketch-size", "300000", "--max-uploads", "1"])


# (board, what the warning says): the running size assumed, then an unknown board
ASSUMPTIONS = [
    ("sonoff", "assumed: the running sketch is as large as the new image (512000 bytes); "
               "it fits if the running sketch is at most 450560 bytes"),
    ("no_such_board_xyz", "unknown board 'no_such_board_xyz'"),
]


@pytest.mark.parametrize("board,warning", ASSUMPTIONS)
def test_assumption_warns_and_uploads(sim, big, board, warning):
    _sim_1m64(sim)
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", big, "--board", board)
    assert r.returncode == OK, r.stderr
    assert warning in r.stderr
    with open(big, "rb") as f:
        assert sim.app_image() == f.read()


@pytest.mark.parametrize("board,warning", ASSUMPTIONS)
def test_assumption_strict_refuses(sim, big, board, warning):
    _sim_1m64(sim)
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", big, "--board", board, "--strict")
    assert r.returncode == IMAGE, r.stderr
    assert "--strict" in r.stderr and warning in r.stderr
    assert sim.events("invite") == [] and sim.events("upload") == []


def test_facts_still_refuse(sim, tmp_path):
    # layout and running size given: 700 KiB cannot fit next to 300,000 bytes on 1M64
    p = tmp_path / "700k.bin"
    p.write_bytes(esp8266_arduino(700 * 1024))
    _sim_1m64(sim)
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", p, "--layout", "1M64", "--running-size", "300000")
    assert r.returncode == IMAGE, r.stderr
    assert "Shrink the image by" in r.stderr
    assert sim.events("invite") == []
    # too big for every 1 MB layout the board offers, whatever runs: a fact too
    p.write_bytes(esp8266_arduino(1100 * 1024))
    r = run("check", p, "--board", "sonoff")
    assert r.returncode == IMAGE, r.stdout + r.stderr


@pytest.mark.parametrize("board", ["esp12e", "d1_mini", "d1_mini_pro", "esp32doit-devkit-v1", "esp32", "esp32s3",
                                   "esp32-s3-devkitc-1", "sonoff_basic", "esp01_1m"])
def test_platformio_recipe_any_board(sim, board, tmp_path):
    # README: upload_command = espota -i $UPLOAD_PORT -f $SOURCE --board $BOARD
    fw = tmp_path / "firmware.bin"
    fw.write_bytes(esp8266_arduino(300000))
    if board.startswith("esp32"):
        fw.write_bytes(esp32_image(300000))
        sim.start(["--platform", "esp32", *FAST, "--max-uploads", "1"])
    else:
        sim.start(["--platform", "esp8266", *FAST, "--max-uploads", "1"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--board", board)
    assert r.returncode == OK, r.stderr
    assert sim.app_image() == fw.read_bytes()


def test_board_ids_are_known_to_check(table, tmp_path):
    # README recipe: `--board $BOARD` never ends in a usage error; the check
    # decides (sent, warned, or refused on the image's facts). Every pinned id
    # and every third id of the table (the whole table costs 15 s under ASan).
    fw8266, fw32 = tmp_path / "8266.bin", tmp_path / "32.bin"
    fw8266.write_bytes(esp8266_arduino(300000))
    fw32.write_bytes(esp32_image(300000))
    ids = sorted(set(list(table)[::3]) | set(PINNED))
    for bid in ids:
        b = table[bid]
        r = run("check", fw32 if b["platform"] == "esp32" else fw8266, "--board", bid)
        assert r.returncode in (OK, IMAGE), (bid, r.stderr)
        assert "unknown board" not in r.stderr, bid
