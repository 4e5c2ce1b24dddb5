#!/usr/bin/python3
"""Generate libespota's board, layout and partition-scheme tables from the
upstream files (facts only: ids, sizes, offsets; no upstream text or code).

Inputs (each a git directory, bare or not, read at --rev, or a plain tree):
  --esp8266 DIR     esp8266/Arduino: boards.txt, tools/sdk/ld/eagle.flash.*.ld
  --esp32 DIR       espressif/arduino-esp32: boards.txt, tools/partitions/*.csv
  --pio8266 DIR     platformio/platform-espressif8266: boards/*.json
  --pio32 DIR       platformio/platform-espressif32: boards/*.json
Outputs (in --out, default libespota/data): layouts.def, schemes.def,
boards.def, and the revisions read in tools/gen-boards/SOURCES.

The data is committed; the build never runs this script.
Run: /usr/bin/python3 tools/gen-boards/gen_boards.py --esp8266 ... (see README.md here).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

MB = 1024 * 1024


class Tree:
    """A source tree: a git directory (read at a revision) or plain files."""

    def __init__(self, path, rev="HEAD"):
        self.path = path
        self.git = None
        for gd in (path, os.path.join(path, ".git")):
            if os.path.isfile(os.path.join(gd, "HEAD")) and os.path.isdir(os.path.join(gd, "objects")):
                self.git = gd
                break
        self.rev = rev
        if self.git:
            self.commit = self._git("rev-parse", rev).strip()
        else:
            src = os.path.join(path, "SOURCE")
            self.commit = "plain tree" + (" (its SOURCE below)" if os.path.exists(src) else "")

    def _git(self, *args):
        return subprocess.run(["git", "--git-dir", self.git, *args], check=True,
                              capture_output=True, text=True).stdout

    def read(self, rel):
        if self.git:
            try:
                return self._git("show", f"{self.commit}:{rel}")
            except subprocess.CalledProcessError:
                return None
        p = os.path.join(self.path, rel)
        if not os.path.exists(p):
            return None
        with open(p, encoding="utf-8", errors="replace") as f:
            return f.read()

    def list(self, rel_dir, suffix):
        if self.git:
            out = self._git("ls-tree", "--name-only", f"{self.commit}:{rel_dir}")
            return sorted(f"{rel_dir}/{n}" for n in out.split() if n.endswith(suffix))
        return sorted(os.path.relpath(p, self.path)
                      for p in glob.glob(os.path.join(self.path, rel_dir, "*" + suffix)))


def parse_boards_txt(text):
    """boards.txt -> {id: {key: value}} in file order (dicts keep order)."""
    boards = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        bid, _, rest = key.partition(".")
        if not rest or bid == "menu":
            continue
        boards.setdefault(bid, {})[rest] = value.strip()
    return {b: kv for b, kv in boards.items() if "name" in kv}


def menu_entries(kv, menu):
    """Option ids of a menu, in order (the first is the IDE default)."""
    out = []
    pre = f"menu.{menu}."
    for k in kv:
        if k.startswith(pre):
            opt = k[len(pre):].split(".", 1)[0]
            if opt not in out:
                out.append(opt)
    return out


def num(s):
    return int(s, 0)


# ---------------------------------------------------------------- ESP8266

def layout_from_ld(text):
    m = re.search(r"irom0_0_seg\s*:\s*org\s*=\s*(0x[0-9a-fA-F]+)\s*,\s*len\s*=\s*(0x[0-9a-fA-F]+)", text)
    fs = {k: num(v) for k, v in re.findall(r"PROVIDE\s*\(\s*_FS_(start|end|block)\s*=\s*(0x[0-9a-fA-F]+)", text)}
    if not m or "start" not in fs or "end" not in fs:
        return None
    base = 0x40200000
    block = fs.get("block", 0) if fs["start"] != fs["end"] else 0
    return {"fs_start": fs["start"] - base, "fs_end": fs["end"] - base, "fs_block": block, "irom0": num(m.group(2))}


def size_of_name(name):
    m = re.match(r"(\d+)([KM])", name)
    return int(m.group(1)) * (1024 if m.group(2) == "K" else MB)


def esp8266_data(tree):
    boards = parse_boards_txt(tree.read("boards.txt"))
    layouts = {}
    ide = []
    for bid, kv in boards.items():
        opts = [o for o in menu_entries(kv, "eesz") if o != "autoflash"]
        for o in opts:
            if o in layouts:
                continue
            ld = kv.get(f"menu.eesz.{o}.build.flash_ld")
            if not ld:
                continue
            text = tree.read(f"tools/sdk/ld/{ld}")
            lay = layout_from_ld(text) if text else None
            if lay is None:
                # No shipped script (eagle.flash.8m.ld, 16m.ld): the menu's own
                # figures; irom0 by the rule every shipped script follows.
                start = kv.get(f"menu.eesz.{o}.build.spiffs_start")
                if start:
                    fs_start, fs_end = num(start), num(kv[f"menu.eesz.{o}.build.spiffs_end"])
                    block = num(kv.get(f"menu.eesz.{o}.build.spiffs_blocksize", "0"))
                else:
                    fs_start = fs_end = num(kv[f"menu.eesz.{o}.build.rfcal_addr"]) - 0x1000
                    block = 0
                lay = {"fs_start": fs_start, "fs_end": fs_end, "fs_block": block,
                       "irom0": min(fs_start, 0x100000) - 0x1010, "derived": True}
            lay["ld"] = ld
            lay["flash"] = size_of_name(o)
            layouts[o] = lay
        mode = kv.get("build.flash_mode")
        fm = menu_entries(kv, "FlashMode")
        if fm:
            mode = kv.get(f"menu.FlashMode.{fm[0]}.build.flash_mode", mode)
        if not opts:
            continue
        ide.append({"id": bid, "name": kv["name"], "platform": "ESP8266", "chip": kv.get("build.mcu", "esp8266"),
                    "flash": layouts[opts[0]]["flash"], "layout": opts[0], "offered": opts,
                    "mode": mode or "dout", "source": "ide", "aliases": [kv.get("build.board", "")]})
    for lay in layouts.values():
        if lay.get("derived"):
            continue
        # Check the rule used for the scripts that are not shipped.
        if lay["irom0"] != min(lay["fs_start"], 0x100000) - 0x1010:
            print(f"note: {lay['ld']}: irom0 {lay['irom0']:#x} differs from the derived rule", file=sys.stderr)
    return layouts, ide


def pio_flags(build):
    ef = build.get("extra_flags", "")
    if isinstance(ef, list):
        ef = " ".join(ef)
    return re.findall(r"-DARDUINO_([A-Za-z0-9_]+)", ef)


def by_build_board(ide):
    """IDE boards by build.board (what PlatformIO's -DARDUINO_<X> names)."""
    by_board = {}
    for b in ide:
        for a in b["aliases"]:
            by_board.setdefault(a, b)
    return by_board


def pio_manifests(tree):
    """(id, manifest, its build section) of each PlatformIO board with the Arduino framework."""
    for path in tree.list("boards", ".json"):
        d = json.loads(tree.read(path))
        if "arduino" in d.get("frameworks", []):
            yield os.path.basename(path)[:-5], d, d["build"]


def pio8266_data(tree, layouts, ide):
    by_board = by_build_board(ide)
    out = []
    for bid, d, build in pio_manifests(tree):
        ld = build.get("arduino", {}).get("ldscript") or build.get("ldscript")
        lay = next((n for n, l in layouts.items() if l["ld"] == ld), None)
        if lay is None:
            print(f"skip {bid}: ldscript {ld} not a known layout", file=sys.stderr)
            continue
        flags = [f for f in pio_flags(build) if f.startswith("ESP8266_")]
        core = next((by_board[f] for f in flags if f in by_board), None)
        # board_build.ldscript picks any layout of the flash size: the
        # default first, then the core board's menu order, then the rest.
        same = [n for n in sorted(layouts, key=lambda n: layouts[n]["fs_start"], reverse=True)
                if layouts[n]["flash"] == layouts[lay]["flash"]]
        menu = [o for o in core["offered"] if o in same] if core else []
        offered = [lay] + [o for o in menu + same if o != lay]
        offered = list(dict.fromkeys(offered))
        out.append({"id": bid, "name": d["name"], "platform": "ESP8266", "chip": build.get("mcu", "esp8266"),
                    "flash": layouts[lay]["flash"], "layout": lay, "offered": offered,
                    "mode": build.get("flash_mode", "dout"), "source": "pio",
                    "core": core["id"] if core else "", "aliases": ["PLATFORMIO_" + bid.upper()]})
    return out


# ---------------------------------------------------------------- ESP32

def parse_csv_table(text):
    rows = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = [x.strip() for x in line.split(",")]
        rows.append(f[:6] + [""] * (6 - len(f[:6])))
    return rows


def csv_end(rows):
    end = 0
    for r in rows:
        if r[3] and r[4]:
            end = max(end, num(r[3]) + num(r[4]))
    size = MB
    while size < end:
        size *= 2
    return size


def esp32_data(tree):
    schemes = {}
    for path in tree.list("tools/partitions", ".csv"):
        text = tree.read(path)
        rows = parse_csv_table(text)
        if not rows or any(not r[3] for r in rows):
            continue  # offsets left to the tool: not a fixed table
        name = os.path.basename(path)[:-4]
        schemes[name] = {"rows": rows, "chip": csv_end(rows)}
    facts = tree.read("boards.facts")
    if facts is not None:
        ide = [b for b in esp32_facts(facts) if b]
    else:
        ide = esp32_boards_txt(tree.read("boards.txt") or "")
    for b in ide:
        check_max(b, schemes)
        # Every scheme of the board's menus that has a built-in table, the
        # default first (kept even without a table: it is what the board builds).
        b["offered"] = list(dict.fromkeys([b["layout"]] + [p for p in b.pop("menu") if p in schemes]))
    return schemes, ide


def expand(field, macros):
    out = []
    for tok in field.split():
        out += macros[tok[1:]].split() if tok.startswith("@") else [tok]
    return out


def esp32_facts(text):
    """tools/gen-boards/upstream/arduino-esp32/boards.facts (format in its header)."""
    macros = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            name, _, value = line[1:].partition("=")
            macros[name] = value
            continue
        bid, name, mcu, variant, board, flash, part, mode, maxsize, fsm, psm = line.split("|")
        menu, maxes = [], {}
        for tok in expand(psm, macros):
            _, _, val = tok.partition("=")
            pname, _, mx = val.partition(":")
            if pname and not pname.startswith("*"):
                menu.append(pname)
                if mx:
                    maxes[pname] = int(mx)
        for tok in expand(fsm, macros):
            _, _, val = tok.partition("=")
            _, _, pname = val.partition(":")
            if pname:
                menu.append(pname)
        yield {"id": bid, "name": name, "platform": "ESP32", "chip": mcu, "flash": size_of_name(flash),
               "layout": part, "menu": menu, "max": int(maxsize), "maxes": maxes, "mode": mode,
               "source": "ide", "aliases": [board, variant]}


def esp32_boards_txt(text):
    """A full boards.txt (when a checkout is at hand): the same facts."""
    out = []
    for bid, kv in parse_boards_txt(text).items():
        def first(menu, key, default):
            opts = menu_entries(kv, menu)
            return kv.get(f"menu.{menu}.{opts[0]}.{key}", default) if opts else default
        part = first("FlashSize", "build.partitions", kv.get("build.partitions", "default"))
        part = first("PartitionScheme", "build.partitions", part)
        menu = [kv[f"menu.PartitionScheme.{o}.build.partitions"] for o in menu_entries(kv, "PartitionScheme")
                if f"menu.PartitionScheme.{o}.build.partitions" in kv]
        menu += [kv[f"menu.FlashSize.{o}.build.partitions"] for o in menu_entries(kv, "FlashSize")
                 if f"menu.FlashSize.{o}.build.partitions" in kv]
        out.append({"id": bid, "name": kv["name"], "platform": "ESP32", "chip": kv.get("build.mcu", "esp32"),
                    "flash": size_of_name(first("FlashSize", "build.flash_size", kv.get("build.flash_size", "4MB"))),
                    "layout": part, "menu": menu, "max": int(first("PartitionScheme", "upload.maximum_size",
                                                                   kv.get("upload.maximum_size", "0"))),
                    "maxes": {}, "mode": first("FlashMode", "build.flash_mode", kv.get("build.flash_mode", "dio")),
                    "source": "ide", "aliases": [kv.get("build.board", ""), kv.get("build.variant", "")]})
    return out


def app_max(rows):
    return max((num(r[4]) for r in rows if r[1] == "app" and r[4]), default=0)


def check_max(b, schemes):
    """upload.maximum_size should be the largest app partition of the scheme:
    report where boards.txt and the CSV disagree (the CSV is what the device has)."""
    for pname, mx in [(b["layout"], b["max"])] + list(b["maxes"].items()):
        if pname in schemes and mx and app_max(schemes[pname]["rows"]) != mx:
            print(f"note: {b['id']}: {pname} upload.maximum_size {mx} != app partition "
                  f"{app_max(schemes[pname]['rows'])}", file=sys.stderr)


def pio32_data(tree, schemes, ide):
    by_board = by_build_board(ide)
    out = []
    for bid, d, build in pio_manifests(tree):
        part = build.get("partitions") or build.get("arduino", {}).get("partitions") or "default.csv"
        part = part[:-4] if part.endswith(".csv") else part
        flash = size_of_name(d.get("upload", {}).get("flash_size", "4MB"))
        flags = pio_flags(build)
        core = next((by_board[f] for f in flags if f in by_board), None)
        # Schemes a PlatformIO user picks with board_build.partitions: every
        # built-in table that fits the flash.
        offered = [part] + sorted(n for n, s in schemes.items() if s["chip"] <= flash and n != part)
        out.append({"id": bid, "name": d["name"], "platform": "ESP32", "chip": build.get("mcu", "esp32"),
                    "flash": flash, "layout": part, "offered": offered,
                    "mode": build.get("flash_mode", "dio"), "source": "pio", "core": core["id"] if core else "",
                    # ESP32 devices announce build.variant as their mDNS board (ESPmDNS
                    # enableArduino: STR(ARDUINO_VARIANT)); -DARDUINO_<X> is build.board.
                    "aliases": [build.get("variant", "")] +
                               [f for f in flags if f not in ("USB_MODE", "USB_CDC_ON_BOOT", "RUNNING_CORE",
                                                              "EVENT_RUNNING_CORE")]})
    return out


# ---------------------------------------------------------------- output

def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


HEAD = "/* Generated by tools/gen-boards/gen_boards.py from {src}. Do not edit. */\n"


def write_layouts(path, layouts, src):
    order = sorted(layouts, key=lambda n: (layouts[n]["flash"], layouts[n]["fs_end"] - layouts[n]["fs_start"]))
    with open(path, "w") as f:
        f.write(HEAD.format(src=src))
        f.write("""/*
 * ESP8266 flash layouts: one row per eagle.flash.*.ld the boards offer.
 * Data only, shared by the library and espota-sim (which may share data
 * tables, never logic). Include with ESPOTA_LAYOUT defined:
 *
 *   ESPOTA_LAYOUT(name, ld_script, flash_size, fs_start, fs_end, fs_block, irom0_max)
 *
 * Offsets are flash offsets (CPU address minus 0x40200000). fs_start ==
 * fs_end: no filesystem. irom0_max: the irom0_0_seg length (upload.maximum_size).
 * Rows marked "derived": the script is not shipped; figures from boards.txt.
 */
""")
        for n in order:
            l = layouts[n]
            f.write(f'ESPOTA_LAYOUT({c_str(n) + ",":<10} {c_str(l["ld"]) + ",":<24} {l["flash"]:#08x}, '
                    f'{l["fs_start"]:#08x}, {l["fs_end"]:#08x}, {l["fs_block"]:<4}, {l["irom0"]})'
                    f'{" /* derived */" if l.get("derived") else ""}\n')


def write_schemes(path, schemes, src):
    with open(path, "w") as f:
        f.write(HEAD.format(src=src))
        f.write("""/*
 * arduino-esp32 built-in partition schemes (tools/partitions/<name>.csv).
 * Data only, shared by the library and espota-sim. Include with
 * ESPOTA_SCHEME defined:
 *
 *   ESPOTA_SCHEME(name, chip_size, csv)
 *
 * chip_size: the smallest flash size that holds the table.
 */
""")
        for n in sorted(schemes):
            s = schemes[n]
            csv = "".join(",".join(r[:5]) + "\\n" for r in s["rows"])
            f.write(f'ESPOTA_SCHEME({c_str(n)}, {s["chip"]:#x},\n\t"{csv}")\n')


MODES = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}


def write_boards(path, boards, src):
    seen = {}
    with open(path, "w") as f:
        f.write(HEAD.format(src=src))
        f.write("""/*
 * Boards: every ESP8266 and ESP32 board id of the Arduino IDE (boards.txt)
 * and of PlatformIO (boards/<id>.json) with the defaults they build with.
 * Data only. Include with ESPOTA_BOARD and ESPOTA_ALIAS defined:
 *
 *   ESPOTA_BOARD(id, description, platform, chip, flash_size, layout, flash_mode, origin, offered)
 *   ESPOTA_ALIAS(alias, id)
 *
 * layout: ESP8266 layout name or ESP32 scheme name the board defaults to.
 * offered: the layouts/schemes the board offers (space separated), the
 * default first. origin: "ide" or "pio:<core board>".
 * When an IDE id and a PlatformIO id coincide (d1_mini, nodemcuv2, ...) the
 * PlatformIO entry keeps the id (the PlatformIO recipe passes $BOARD) and
 * the IDE entry is also reachable as "<id>@ide".
 */
""")
        rows = []
        for b in boards:
            bid = b["id"]
            if bid.lower() in seen:
                bid = bid + "@" + b["source"]
            seen[bid.lower()] = b
            rows.append((bid, b))
        for bid, b in rows:
            origin = "ide" if b["source"] == "ide" else "pio:" + b.get("core", "")
            f.write(f'ESPOTA_BOARD({c_str(bid)}, {c_str(b["name"])}, ESPOTA_PLATFORM_{b["platform"]}, '
                    f'{c_str(b["chip"])}, {b["flash"]:#x}, {c_str(b["layout"])}, {MODES.get(b["mode"], 3)}, '
                    f'{c_str(origin)}, {c_str(" ".join(b["offered"]))})\n')
        # Aliases (mDNS "board" values, build.board names) that name one board.
        alias = {}
        for bid, b in rows:
            for a in b["aliases"]:
                if a and a.lower() not in seen:
                    ids = alias.setdefault(a.lower(), (a, []))[1]
                    if bid not in ids:
                        ids.append(bid)
        for key in sorted(alias):
            a, ids = alias[key]
            # An alias shared by several boards names the first of them in
            # boards.txt order that is an IDE board (ESP8266_GENERIC ->
            # generic, ESP32_DEV -> esp32: the core's own dev module comes
            # first), or the first of boards that all have the same facts;
            # else it is left out (an unknown board: a warning, never a guess).
            ide_ids = [i for i in ids if seen[i.lower()]["source"] == "ide"]
            facts = {tuple(seen[i.lower()][k] if k != "offered" else tuple(seen[i.lower()][k])
                           for k in ("platform", "flash", "layout", "offered")) for i in ids}
            if len(ids) == 1 or ide_ids or len(facts) == 1:
                target = ide_ids[0] if ide_ids else sorted(ids)[0]
                f.write(f"ESPOTA_ALIAS({c_str(a)}, {c_str(target)})\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--esp8266", required=True)
    ap.add_argument("--esp32", required=True)
    ap.add_argument("--pio8266", required=True)
    ap.add_argument("--pio32", required=True)
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "libespota", "data"))
    ap.add_argument("--sources", default=os.path.join(os.path.dirname(__file__), "SOURCES"),
                    help="where to record the revisions read")
    a = ap.parse_args()
    t8266, t32, p8266, p32 = Tree(a.esp8266, a.rev), Tree(a.esp32, a.rev), Tree(a.pio8266, a.rev), Tree(a.pio32, a.rev)
    layouts, ide8266 = esp8266_data(t8266)
    pio8266 = pio8266_data(p8266, layouts, ide8266)
    schemes, ide32 = esp32_data(t32)
    pio32 = pio32_data(p32, schemes, ide32)
    # PlatformIO first: its ids are what the README recipe passes as $BOARD.
    boards = pio8266 + pio32 + ide8266 + ide32
    src = {"esp8266/Arduino": t8266.commit, "espressif/arduino-esp32": t32.commit,
           "platformio/platform-espressif8266": p8266.commit, "platformio/platform-espressif32": p32.commit}
    write_layouts(os.path.join(a.out, "layouts.def"), layouts, "esp8266/Arduino " + t8266.commit)
    write_schemes(os.path.join(a.out, "schemes.def"), schemes, "espressif/arduino-esp32 " + t32.commit)
    write_boards(os.path.join(a.out, "boards.def"), boards, "the four upstreams in tools/gen-boards/SOURCES")
    with open(a.sources, "w") as f:
        for k, v in src.items():
            f.write(f"{k} {v}\n")
        for t in (t8266, t32, p8266, p32):
            note = None if t.git else t.read("SOURCE")
            if note:
                f.write(f"\n{t.path}/SOURCE:\n{note}")
    print(f"{len(layouts)} layouts, {len(schemes)} schemes, {len(boards)} boards "
          f"({len(ide8266)} IDE ESP8266, {len(pio8266)} PlatformIO ESP8266, {len(ide32)} IDE ESP32, "
          f"{len(pio32)} PlatformIO ESP32)")


if __name__ == "__main__":
    main()
