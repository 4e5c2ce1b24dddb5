#!/usr/bin/env python3
"""Upload a firmware or filesystem image over ArduinoOTA with a progress
bar; with --layout/--board, run the flash-fit check first.

The same program as examples/c/espota-upload.c and
examples/lua/espota_upload.lua.

    espota_upload.py 192.168.1.50 firmware.bin --password secret --board nodemcuv2
"""

import argparse
import sys

import espota


def progress_bar(p: espota.Progress) -> None:
    width = 40
    done = int(width * p.fraction)
    sys.stderr.write(f"\r{p.phase:<12} [{'#' * done}{'.' * (width - done)}] {p.fraction:4.0%} "
                     f"{p.acked}/{p.total}")
    if p.phase == "done":
        sys.stderr.write("\n")
    sys.stderr.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("host", help="device address")
    ap.add_argument("file", help="image to upload")
    ap.add_argument("-p", "--port", type=int, default=None, help="device UDP port (default 8266, 3232 for esp32)")
    ap.add_argument("-a", "--password", default=None, help="OTA password")
    ap.add_argument("-s", "--spiffs", "--fs", dest="fs", action="store_true", help="filesystem image")
    ap.add_argument("--layout", help="ESP8266 layout of the running firmware (e.g. 4M2M)")
    ap.add_argument("--board", help="board alias (e.g. nodemcuv2, esp32dev)")
    ap.add_argument("--force", action="store_true", help="upload even when the fit check says it will fail")
    args = ap.parse_args()

    target = "fs" if args.fs else "app"
    if args.layout or args.board:
        report = espota.check(args.file, layout=args.layout, board=args.board, target=target)
        print(report, file=sys.stderr)
        if report.verdict == "refused" and not args.force:
            print("not uploading: the device would refuse this image (use --force to try anyway)", file=sys.stderr)
            return 2

    try:
        result = espota.upload(args.file, args.host, args.port, target=target, password=args.password,
                               progress=progress_bar)
    except espota.DeviceError as e:
        print(f"\nthe device refused the update: error {e.device_code} ({e.device_name}): {e.device_text}\n"
              f"{e.explanation}", file=sys.stderr)
        for line in e.advice:
            print(f"hint: {line}", file=sys.stderr)
        return 1
    except espota.Error as e:
        print(f"\nupload failed ({e.name}, phase {e.phase}): {e}", file=sys.stderr)
        for line in e.advice:
            print(f"hint: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(f"uploaded {result.total} bytes in {result.elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
