#!/usr/bin/env python3
"""How much do four Python threads gain over serial uploads?

Uploads one image to each of four espota-sim devices, first one after the
other, then from four threads at once, using the sim's default timing model
(not --fast), and prints serial_time / threaded_time. Near 4 means the GIL
is released during the upload; near 1 would mean it is not. Printed, never
asserted.

    PYTHONPATH=build/bindings/python ESPOTA_SIM=build/tools/espota-sim/espota-sim \
        /usr/bin/python3 bench/bindings_threads.py [--size BYTES]
"""

import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "bindings", "python"))

import espota  # noqa: E402
import images  # noqa: E402
from simctl import Sim  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=65536, help="image size in bytes (multiple of 16)")
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--separate", action="store_true",
                    help="one espota-sim process per device instead of one process with --count")
    args = ap.parse_args()
    image = images.arduino_esp8266(args.size)
    n = args.devices
    def start():
        # Fresh devices for each phase: after an update the virtual device
        # reboots (--boot-ms) and would not answer the next invitation yet.
        if args.separate:
            sims = [Sim().start(["--platform", "esp8266", "--port", "0"]) for _ in range(n)]
            return sims, [(s.address, s.port) for s in sims]
        sims = [Sim().start(["--platform", "esp8266", "--port", "0", "--count", str(n)])]
        return sims, list(zip(sims[0].addresses, sims[0].ports))

    sims, targets = start()
    try:
        t0 = time.monotonic()
        for i in range(n):
            espota.upload(image, *targets[i])
        serial = time.monotonic() - t0
    finally:
        for s in sims:
            s.cleanup()

    sims, targets = start()
    try:
        errors = []

        def worker(i):
            try:
                espota.upload(image, *targets[i])
            except espota.Error as e:
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        threaded = time.monotonic() - t0
    finally:
        for s in sims:
            s.cleanup()
    if errors:
        print("errors:", errors, file=sys.stderr)
        return 1
    print(f"{n} devices, {args.size} bytes each: serial {serial:.2f} s, {n} threads {threaded:.2f} s, "
          f"ratio {serial / threaded:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
