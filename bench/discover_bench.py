#!/usr/bin/env python3
"""Time to the first and to the last mDNS answer, and queries sent, for
1, 20 and 200 devices: `espota discover --json --debug` against one
espota-sim --mdns --count N in the test-only loopback unicast mode.

usage: bench/discover_bench.py BUILD_DIR [--runs 5] [--timeout 2]
Prints one line per N: median first/last answer (ms) and queries sent.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def run(build, n, timeout):
    sim = os.path.join(build, "tools/espota-sim/espota-sim")
    cli = os.path.join(build, "tools/espota/espota")
    d = tempfile.mkdtemp(prefix="espota-discbench-")
    ready = os.path.join(d, "ready")
    p = subprocess.Popen([sim, "--count", str(n), "--port", "0", "--mdns", "--mdns-port", "0",
                          "--lifetime", "60", "--ready-file", ready], stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        port = next(int(l.split()[2]) for l in open(ready) if l.startswith("-1 mdns"))
        env = dict(os.environ, ESPOTA_MDNS_UNICAST=f"127.0.0.1:{port}")
        r = subprocess.run([cli, "discover", "--json", "--debug", "--timeout", str(timeout)],
                           env=env, capture_output=True, text=True, timeout=60)
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        sent = int(re.search(r"(\d+) mDNS packet\(s\) sent", r.stderr).group(1))
        el = [row["elapsed_ms"] for row in rows]
        return len(rows), min(el), max(el), sent
    finally:
        p.terminate()
        p.wait()
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


def main():
    build = sys.argv[1]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 2
    for n in (1, 20, 200):
        res = [run(build, n, timeout) for _ in range(runs)]
        assert all(r[0] == n for r in res), f"found {[r[0] for r in res]} of {n}"
        print(f"discover N={n:<3} found {n}/{n} in {runs}/{runs} runs; first answer "
              f"{statistics.median(r[1] for r in res):.0f} ms, last {statistics.median(r[2] for r in res):.0f} ms "
              f"(median), queries sent {statistics.median(r[3] for r in res):.0f} in {timeout:g} s")


if __name__ == "__main__":
    main()
