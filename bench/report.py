#!/usr/bin/env python3
"""Print bench/run.sh's tables from its results directory."""
import glob
import os
import re
import statistics
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/build-bench/bench-results"


def kv(line):
    d = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}
    if 'error="' in line:  # the message itself may contain quotes
        d["error"] = line.split('error="', 1)[1].rstrip().rstrip('"')
    return d


def runs(name):
    path = os.path.join(OUT, name + ".txt")
    if not os.path.exists(path):
        return None
    ok, bad = [], []
    for line in open(path):
        if line.startswith("run "):
            d = kv(line)
            (ok if d.get("ok") == "1" else bad).append(d)
    return ok, bad


def med(name, key="time"):
    r = runs(name)
    if not r or not r[0]:
        return None, 0, (r[1] if r else [])
    vals = [float(d[key]) for d in r[0]]
    return statistics.median(vals), len(vals), r[1]


def limit(plat, rtt, mss):
    """limit.c's best time to the OK, plus the model's time from the OK to
    the end of stream (where an upload ends: CLOSE_S)."""
    path = os.path.join(OUT, f"limit_{plat}_r{rtt}_m{mss}.txt")
    best = None
    detail = {}
    for line in open(path):
        d = kv(line)
        t = float(d["total"]) + CLOSE_S[plat]
        detail[d["seg"]] = t
        best = t if best is None else min(best, t)
    return best, detail


# The upload ends at the device's end of stream, which an ESP8266 sends
# 1000 ms after its OK (docs/simulator.md, fixed delays); limit.c stops at the OK.
CLOSE_S = {"esp8266": 1.0, "esp32": 0.0}


def first_kv(path):
    if not os.path.exists(path):
        return {}
    for line in open(path):
        return kv(line)
    return {}


def grid():
    files = glob.glob(os.path.join(OUT, "grid_*_pipe.txt"))
    if not files:
        return
    print("\n## 0. Pacing grid: 256 KiB upload, one device window per row (median seconds of GRID_REPS runs per cell)\n")
    print("adaptive = the pipelined default (learns the window); paced = the fixed 4 × MSS pacing it "
          "replaces (`ESPOTA_TRANSFER_PACED`); stream = no pacing. limit = bench/limit.c (the sim's "
          "model, + the ESP8266's 1 s to its close); closed = bench/closed.c (documented behaviour only). "
          "learnt = the window the adaptive sender decided on. spread = the slowest run of the "
          "better of stream and paced over its median (the noise of an identical sender in this run); "
          "a cell is met when the adaptive median is at most the better mode's slowest run.\n")
    print("| device | RTT | MSS | window | learnt | adaptive | stream | paced | adaptive / best of the two |"
          " spread of the best | met | adaptive / limit | adaptive / closed | limit / closed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cells = []
    for p in files:
        m = re.match(r"grid_(\w+?)_r(\d+)_m(\d+)_w(\d+)_pipe\.txt", os.path.basename(p))
        cells.append((m.group(1) != "esp8266", int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(1)))
    worst = []
    for _, rtt, mss, win, plat in sorted(cells):
        base = f"grid_{plat}_r{rtt}_m{mss}_w{win}"
        t = {}
        for mode in ("pipe", "stream", "paced"):
            v, n, bad = med(f"{base}_{mode}")
            t[mode] = v
            for d in bad:
                errors.append(f"{base}_{mode}: {d.get('error')}")
        r = runs(f"{base}_pipe")
        learnt = r[0][0].get("win", "-") if r and r[0] else "-"
        lim = None
        lp = os.path.join(OUT, f"glimit_{plat}_r{rtt}_m{mss}_w{win}.txt")
        if os.path.exists(lp):
            lim = min(float(kv(line)["total"]) for line in open(lp)) + CLOSE_S[plat]
        cl = first_kv(os.path.join(OUT, f"gclosed_{plat}_r{rtt}_m{mss}_w{win}.txt")).get("total")
        cl = float(cl) if cl else None
        best = None if t["stream"] is None or t["paced"] is None else min(t["stream"], t["paced"])
        rb = ratio(t["pipe"], best)
        spread, met = None, None
        if best is not None:
            bm = "stream" if t["stream"] <= t["paced"] else "paced"
            slowest = max(float(d["time"]) for d in runs(f"{base}_{bm}")[0])
            spread = slowest / best
            met = t["pipe"] <= slowest
        if rb is not None:
            worst.append((rb, f"{plat} RTT {rtt} MSS {mss} window {win}", met, spread))
        print(f"| {plat} | {rtt} | {mss} | {win} ({win / mss:.0f}×) | {learnt} | {f(t['pipe'])} | {f(t['stream'])} |"
              f" {f(t['paced'])} | **{f(rb, '{:.3f}')}×** | {f(spread, '{:.3f}')}× |"
              f" {'—' if met is None else ('yes' if met else '**no**')} | {f(ratio(t['pipe'], lim), '{:.3f}')}× |"
              f" {f(ratio(t['pipe'], cl), '{:.3f}')}× | {f(ratio(lim, cl), '{:.3f}')}× |")
    if worst:
        w = max(worst)
        b = min(worst)
        n_met = sum(1 for x in worst if x[2])
        goals["grid"] = (w, b, sum(1 for x in worst if x[0] <= 1.0), len(worst), n_met,
                         [x for x in worst if not x[2]])
        sp = [x[3] for x in worst if x[3] is not None]
        print(f"\nadaptive / best of stream and paced: worst {w[0]:.3f}× ({w[1]}), best {b[0]:.3f}× ({b[1]}); "
              f"{goals['grid'][2]} of {len(worst)} cells at or below 1.000×; {n_met} of {len(worst)} met "
              f"(within the spread of the better mode, which is 1.000×–{max(sp):.3f}×, median "
              f"{statistics.median(sp):.3f}×)")


def f(x, fmt="{:.2f}"):
    return "—" if x is None else fmt.format(x)


def ratio(a, b):
    return None if a is None or b is None else a / b


errors = []
goals = {}


def part1():
    print("\n## 1. 1 MB upload vs espota-sim (median of N runs; seconds)\n")
    print("| device | RTT ms | MSS | limit | stop-and-wait | pipelined | stream | pipe+gzip | pipe/limit |"
          " stream/limit | gzip/limit(gz) | speed-up pipe | speed-up gzip | CPU ms pipe |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [("esp8266", r, m) for m in (536, 1460) for r in (5, 20, 50)] + \
           [("esp32", r, "def") for r in (5, 20, 50)]
    for plat, rtt, mss in rows:
        base = f"single_{plat}_r{rtt}_m{mss}"
        if not os.path.exists(os.path.join(OUT, base + "_pipe.txt")):
            continue
        lim, _ = limit(plat, rtt, mss)
        saw, ns, b1 = med(base + "_saw")
        pipe, npp, b2 = med(base + "_pipe")
        gz, ng, b3 = med(base + "_gzip")
        st, nst, b4 = med(base + "_stream")
        pcpu, _, _ = med(base + "_pipe", "cpu")
        for nm, b in (("saw", b1), ("pipe", b2), ("gzip", b3), ("stream", b4)):
            for d in b:
                errors.append(f"{base}_{nm}: {d.get('error')}")
        gzlim = None
        r = runs(base + "_gzip")
        if r and r[0]:
            sent = int(r[0][0]["sent"])
            gzlim = gzip_limit(plat, rtt, mss, sent)
        mss_s = {"def": "1440"}.get(str(mss), str(mss))
        if ratio(pipe, lim) is not None:
            goals.setdefault("pipe", []).append((f"{plat} RTT {rtt} MSS {mss_s}", ratio(pipe, lim)))
        print(f"| {plat} | {rtt} | {mss_s} | {f(lim)} | {f(saw)} | {f(pipe)} | {f(st)} | {f(gz)} |"
              f" **{f(ratio(pipe, lim), '{:.3f}')}×** | {f(ratio(st, lim), '{:.3f}')}× |"
              f" {f(ratio(gz, gzlim), '{:.3f}')}× ({f(gzlim)}) |"
              f" {f(ratio(saw, pipe), '{:.2f}')}× | {f(ratio(saw, gz), '{:.2f}')}× |"
              f" {f(None if pcpu is None else pcpu * 1000, '{:.0f}')} |")
    r = runs("single_esp8266_r5_m536_gzip")
    if r and r[0]:
        print(f"\ngzip: {r[0][0]['orig']} → {r[0][0]['sent']} bytes sent. "
              "limit(gz) = the limit for the compressed byte count.")


def gzip_limit(plat, rtt, mss, size):
    bench = os.environ.get("ESPOTA_BENCH") or os.path.join(os.path.dirname(OUT.rstrip("/")), "bench", "espota-bench")
    if not os.path.exists(bench):
        return None
    import subprocess
    best = None
    for seg in ("1", "1000000"):
        args = [bench, "limit", "--platform", plat, "--rtt", str(rtt), "--size", str(size), "--seg", seg]
        if mss != "def":
            args += ["--mss", str(mss)]
        out = subprocess.run(args, capture_output=True, text=True).stdout
        t = float(kv(out)["total"]) + CLOSE_S[plat]
        best = t if best is None else min(best, t)
    return best


def windows():
    if not glob.glob(os.path.join(OUT, "single_*_w8192.txt")):
        return
    print("\n## 1b. Pipelined with other public settings (ratio to the limit; median seconds)\n")
    print("| RTT ms | MSS | window 8192 | window 16384 | window 65536 (default) |")
    print("|---|---|---|---|---|")
    for mss in (536, 1460):
        for rtt in (5, 20, 50):
            base = f"single_esp8266_r{rtt}_m{mss}"
            lim, _ = limit("esp8266", rtt, mss)
            cells = []
            for v in ("w8192", "w16384", "pipe"):
                t, n, b = med(f"{base}_{v}")
                for d in b:
                    errors.append(f"{base}_{v}: {d.get('error')}")
                cells.append(f"{f(t)} ({f(ratio(t, lim), '{:.3f}')}×)")
            print(f"| {rtt} | {mss} | " + " | ".join(cells) + " |")
    for v, label in (("single_esp8266_r20_m536_c536", "chunk 536, RTT 20, MSS 536"),
                     ("single_esp8266_r20_m1460_c4096", "chunk 4096, RTT 20, MSS 1460")):
        t, n, b = med(v)
        if t is not None:
            mss = 536 if "m536" in v else 1460
            lim, _ = limit("esp8266", 20, mss)
            print(f"\n{label}: {f(t)} s ({f(ratio(t, lim), '{:.3f}')}× limit)", end="")
    print()


def part2():
    files = sorted(glob.glob(os.path.join(OUT, "fleet_*.txt")))
    if not files:
        return
    res = {}
    for p in files:
        m = re.match(r"fleet_n(\d+)_(\w+?)_rep(\d+)\.txt", os.path.basename(p))
        n, mc = int(m.group(1)), m.group(2)
        d = {}
        for line in open(p):
            if line.startswith("fleet ") or line.startswith("simcpu="):
                d.update(kv(line))
            elif line.strip():
                errors.append(f"{os.path.basename(p)}: {line.strip()}")
        if "wall" in d:
            res.setdefault((n, mc), []).append(d)
    print("\n## 2. Fleet, 1 MB each, default timing model (RTT 10, MSS 536), one uploader thread\n")
    print("| devices | concurrency | ok | wall s | × one device | uploader CPU s | peak RSS MB |"
          " sim CPU s | sim CPU / wall |")
    print("|---|---|---|---|---|---|---|---|---|")
    one = None
    if (1, "all") in res:
        one = statistics.median(float(d["wall"]) for d in res[(1, "all")])
    for key in sorted(res):
        ds = res[key]
        wall = statistics.median(float(d["wall"]) for d in ds)
        cpu = statistics.median(float(d["cpu"]) for d in ds)
        rss = max(int(d["maxrss_kb"]) for d in ds) / 1024
        sim = statistics.median(float(d.get("simcpu", "nan")) for d in ds)
        ok = min(int(d["ok"]) for d in ds)
        conc = key[0] if key[1] == "all" else "0 (default: all)"
        if key == (50, "default") and one:
            goals["fleet50"] = wall / one
        if key[0] == 200:
            goals["rss200"] = max(goals.get("rss200", 0), rss)
        print(f"| {key[0]} | {conc} | {ok}/{key[0]} | {wall:.2f} | {f(ratio(wall, one), '{:.3f}')}× |"
              f" {cpu:.3f} | {rss:.1f} | {sim:.2f} | {sim / wall:.2f} |")


def gzip_real():
    if not os.path.exists(os.path.join(OUT, "gz_real_pipe.txt")):
        return
    print("\n## 1c. gzip on real Xtensa code (bench/xtensa/xtensa-code.bin) beside the synthetic image\n")
    print("Both images are 60 656 bytes (the synthetic one is the 256 KiB image cut to that size); "
          "RTT 20 ms, MSS 536, median of N runs. transfer = connect-back to the last acknowledgement.\n")
    print("| image | sent / original (gzip) | time pipe s | time gzip s | gzip / pipe (time) |"
          " transfer pipe s | transfer gzip s | gzip / pipe (transfer) |")
    print("|---|---|---|---|---|---|---|---|")
    for img, label in (("real", "real Xtensa code (gcc-xtensa-lx106 -Os)"), ("synth", "synthetic (make-image.py)")):
        tp, _, b1 = med(f"gz_{img}_pipe")
        tg, _, b2 = med(f"gz_{img}_gzip")
        xp, _, _ = med(f"gz_{img}_pipe", "transfer")
        xg, _, _ = med(f"gz_{img}_gzip", "transfer")
        for d in b1 + b2:
            errors.append(f"gz_{img}: {d.get('error')}")
        r = runs(f"gz_{img}_gzip")
        frac = None
        if r and r[0]:
            frac = int(r[0][0]["sent"]) / int(r[0][0]["orig"])
            goals.setdefault("gzip", []).append((label, frac, ratio(xg, xp)))
        print(f"| {label} | {f(frac, '{:.3f}')} | {f(tp)} | {f(tg)} | {f(ratio(tg, tp), '{:.3f}')}× |"
              f" {f(xp)} | {f(xg)} | {f(ratio(xg, xp), '{:.3f}')}× |")


def air():
    files = glob.glob(os.path.join(OUT, "air_*.txt"))
    if not files:
        return
    print("\n## 2b. One access point: every device shares the air (espota-sim --airtime), 256 KiB each\n")
    print("all = every device at once (max_concurrent = N, the old default); chosen = the fleet's policy "
          "(max_concurrent 0, libespota/src/proto/fleet_policy.c). ideal = N × 256 KiB / airtime.\n")
    print("| device | N | ideal s | all: wall s | all: ok | chosen: wall s | chosen: ok | chosen concurrency: mean over the first half (peak) |"
          " chosen / all | chosen / ideal | s per device (chosen) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    air_bps = float(os.environ.get("AIRTIME", "1000000"))
    for plat in ("esp8266", "esp32"):
        one = first_kv(os.path.join(OUT, f"air_{plat}_n1_all.txt"))
        for n in (1, 10, 25, 50, 100, 200):
            a = {}
            for mc in ("all", "policy"):
                p = os.path.join(OUT, f"air_{plat}_n{n}_{mc}.txt")
                d = {}
                if os.path.exists(p):
                    for line in open(p):
                        if line.startswith("fleet "):
                            d = kv(line)
                a[mc] = d
            if not a["all"]:
                continue
            if n == 1:
                a["policy"] = a["all"]
            ideal = n * 262144 / air_bps
            wa = float(a["all"]["wall"]) if a["all"] else None
            wp = float(a["policy"]["wall"]) if a["policy"] else None
            if wp is not None:
                goals.setdefault("air", {}).setdefault(plat, []).append(
                    (n, wp / n, int(a["policy"]["ok"]) == n, ratio(wp, wa)))
            for mc in ("all", "policy"):
                if a[mc] and int(a[mc]["ok"]) != n:
                    errors.append(f"air_{plat}_n{n}_{mc}: {a[mc]['ok']}/{n} ok")
            print(f"| {plat} | {n} | {ideal:.1f} | {f(wa)} | {a['all'].get('ok', '—')}/{n} | {f(wp)} |"
                  f" {a['policy'].get('ok', '—')}/{n} | {a['policy'].get('mean_conc', '—')} (peak {a['policy'].get('peak', '—')}) |"
                  f" {f(ratio(wp, wa), '{:.3f}')}× | {f(ratio(wp, ideal), '{:.2f}')}× |"
                  f" {f(None if wp is None else wp / n, '{:.3f}')} |")
        del one


def back():
    import json as _json
    rows = []
    for plat in ("esp8266", "esp32"):
        p = os.path.join(OUT, f"back_{plat}.json")
        if not os.path.exists(p):
            continue
        ev = {}
        for line in open(p):
            try:
                e = _json.loads(line)
            except ValueError:
                continue
            if e.get("event") in ("result", "back"):
                ev[e["event"]] = e
        rows.append((plat, ev))
    if not rows:
        return
    print("\n## 4. Time to the device being back after its OK (espota --wait-back 60), 1 MB, RTT 20\n")
    print("model = what docs/simulator.md documents for the reboot: ESP8266 100 ms, then eboot copies "
          "the staged image (256 × (45 + 16 × 0.7) ms = 14.39 s); ESP32 10 + 100 ms (its image "
          "read-back, 50 ms per MiB, comes before the OK).\n")
    print("| device | upload ok | back | back after s | model s | back / model |")
    print("|---|---|---|---|---|---|")
    model = {"esp8266": 0.1 + 256 * 0.0562, "esp32": 0.11}
    for plat, ev in rows:
        r, b = ev.get("result", {}), ev.get("back", {})
        ms = b.get("ms") if b.get("back") else None
        if not b.get("back"):
            errors.append(f"back_{plat}: {b.get('error') or 'no back event'}")
        sec = None if ms is None else ms / 1000
        goals.setdefault("back", []).append((plat, sec, model[plat]))
        print(f"| {plat} | {r.get('ok')} | {b.get('back')} | {f(sec)} | {model[plat]:.2f} |"
              f" {f(ratio(sec, model[plat]), '{:.3f}')}× |")


def part3():
    files = sorted(glob.glob(os.path.join(OUT, "cpu_*.txt")))
    if not files:
        return
    print("\n## 3. Engine overhead, loopback, espota-sim --fast (uploader user+sys CPU)\n")
    print("The headline is the host CPU per GB **with** the MD5, which the protocol requires (the "
          "invitation carries it); the rest of the row splits it.\n")
    print("| mode | uploads | GB | uploader CPU s | **s/GB (with MD5)** | of which MD5 s/GB | engine s/GB (without the MD5) |"
          " MD5 share | wall s | sim CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in files:
        d = {}
        for line in open(p):
            if line.startswith("cpu ") or line.startswith("simcpu="):
                d.update(kv(line))
        mode = os.path.basename(p)[4:-4].replace("_", ", ")
        if "s_per_gb" not in d:
            errors.append(f"{os.path.basename(p)}: {open(p).read().strip()}")
            continue
        gb = int(d["bytes"]) / 1e9
        eng = float(d['s_per_gb']) - float(d['md5_s_per_gb'])
        if mode == "pipe, onecore":
            goals["engine"] = (float(d['s_per_gb']), eng)
        elif mode == "pipe, twocores":
            goals["engine2"] = (float(d['s_per_gb']), eng)
        share = float(d['md5_s_per_gb']) / float(d['s_per_gb']) if float(d['s_per_gb']) > 0 else 0
        print(f"| {mode} | {d['uploads']} | {gb:.3f} | {float(d['cpu']):.3f} | **{float(d['s_per_gb']):.3f}** |"
              f" {float(d['md5_s_per_gb']):.3f} | {eng:.3f} | {share:.2f} | {float(d['wall']):.2f} | {d.get('simcpu')} |")


def summary():
    print("\n## Goals (issues 8 and 19), from the tables above\n")
    if "grid" in goals:
        w, b, n_ok, n, n_met, missed = goals["grid"]
        print(f"- adaptive pacing never slower than the better of stream and paced: worst cell {w[1]} at "
              f"{w[0]:.3f}x, {n_ok}/{n} cells at or below 1.000x; {n_met}/{n} within the better mode's "
              f"spread -> {'met' if n_met == n else 'NOT met'}"
              + "".join(f"\n  missed: {x[1]} at {x[0]:.3f}x (spread {x[3]:.3f}x)" for x in missed))
    if "pipe" in goals:
        worst = max(goals["pipe"], key=lambda c: c[1])
        print(f"- pipelined within 1.15x of the limit at every round trip: worst cell {worst[0]} at "
              f"{worst[1]:.3f}x -> {'met' if worst[1] <= 1.15 else 'NOT met'}")
    if "fleet50" in goals:
        print(f"- 50 devices within 1.3x the time of one: {goals['fleet50']:.3f}x -> "
              f"{'met' if goals['fleet50'] <= 1.3 else 'NOT met'}")
    if "rss200" in goals:
        print(f"- under 64 MB RSS for 200 devices: {goals['rss200']:.1f} MB -> "
              f"{'met' if goals['rss200'] < 64 else 'NOT met'}")
    for plat, rows in goals.get("air", {}).items():
        # time per device must not grow as devices are added (10 % for the noise)
        grows = [(a[0], b[0]) for a, b in zip(rows, rows[1:]) if b[1] > a[1] * 1.10]
        allok = all(r[2] for r in rows)
        print(f"- shared air, {plat}: s per device with the fleet's choice "
              + ", ".join(f"{r[0]}: {r[1]:.3f}" for r in rows)
              + f"; chosen / all {min(r[3] for r in rows if r[3]):.3f}x-{max(r[3] for r in rows if r[3]):.3f}x; "
              f"{'every device ok' if allok else 'NOT every device ok'} -> "
              f"{'met' if not grows and allok else 'NOT met'} (total time never worse per device added)")
    for label, frac, tr in goals.get("gzip", []):
        print(f"- gzip on {label}: sends {frac:.3f} of the image; data phase {tr:.3f}x of the uncompressed one")
    for plat, sec, model in goals.get("back", []):
        print(f"- time to back, {plat}: " + ("no back event" if sec is None else
              f"{sec:.2f} s after the OK (model {model:.2f} s)"))
    if "engine" in goals:
        tot, eng = goals["engine"]
        print(f"- host CPU per GB, with the MD5 the protocol needs (headline): {tot:.3f} s/GB (sim and "
              f"uploader on one core); the MD5 alone {tot - eng:.3f} s/GB, the engine without it "
              f"{eng:.3f} s/GB -> engine under 1 s/GB {'met' if eng < 1 else 'NOT met'}; with the MD5 "
              f"{'under' if tot < 1 else 'over'} 1 s/GB")
    if "engine2" in goals:
        tot, eng = goals["engine2"]
        print(f"  (unpinned, with cross-core wake-ups charged to the uploader: {tot:.3f} s/GB with the MD5, "
              f"{eng:.3f} without it)")


grid()
part1()
windows()
gzip_real()
part2()
air()
back()
part3()
summary()
if errors:
    print("\nFailures:")
    for e in errors:
        print("  " + e)
