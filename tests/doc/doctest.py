#!/usr/bin/env python3
"""Run every command README.md and docs/*.md tell a user to type.

Convention (also in tests/doc/README.md and /work/helpers/NOTES.md):
  - fenced blocks tagged sh, bash or shell are run, each in a fresh
    `bash -e -o pipefail`; in `console` blocks only lines starting with "$ "
    are run; blocks with any other tag (text, ini, c, python, json, ...) or none
    are never run, so commands must be in a tagged block; an untagged block
    is an error;
  - HTML comments on the lines right before a fence direct it:
      <!-- doctest: skip REASON -->   not run (REASON is required: network,
                                      hardware, root-only installs, ...);
      <!-- doctest: setup NAME -->    run setup_NAME from tests/doc/setup.sh first;
      <!-- doctest: status N -->      the block must exit with N (default 0).
Each block runs in a scratch copy of the tree's top level, with an installed
tree's bin/ first on PATH and its Python and Lua modules on their paths,
inside private network (loopback only), mount (/tmp is a fresh tmpfs) and
PID namespaces, so a command cannot reach the real network or leave a
process behind, bounded by --timeout seconds.

usage: doctest.py --src SRC --build BUILD --work DIR [--timeout S] [--list] [FILE.md ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(skip|setup|status)\b\s*(.*?)\s*-->\s*$")
RUN_TAGS = {"sh", "bash", "shell"}


class Block:
    def __init__(self, path, line, tag, body, directives):
        self.path, self.line, self.tag, self.body = path, line, tag, body
        self.skip = None
        self.setups: list[str] = []
        self.status = 0
        self.errors: list[str] = []
        for kind, arg in directives:
            if kind == "skip":
                if not arg:
                    self.errors.append("skip without a reason")
                self.skip = arg or "?"
            elif kind == "setup":
                self.setups += arg.split()
            elif kind == "status":
                try:
                    self.status = int(arg)
                except ValueError:
                    self.errors.append(f"status {arg!r} is not a number")

    @property
    def where(self):
        return f"{self.path}:{self.line}"

    def commands(self) -> str:
        if self.tag == "console":
            return "\n".join(ln.strip()[2:] for ln in self.body if ln.strip().startswith("$ "))
        return "\n".join(self.body)


def blocks_of(path: str, rel: str) -> list[Block]:
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, tag = m.groups()
        directives, k = [], i - 1
        while k >= 0 and DIRECTIVE.match(lines[k]):
            d = DIRECTIVE.match(lines[k])
            directives.insert(0, (d.group(1), d.group(2)))
            k -= 1
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j]]
        if tag in RUN_TAGS or tag == "console":
            out.append(Block(rel, i + 1, tag, body, directives))
        elif not tag:
            # an untagged block may hold commands nobody runs: say what it is
            b = Block(rel, i + 1, tag, body, directives)
            b.errors.append("untagged code block: tag it sh (run), or text/ini/c/... (never run)")
            out.append(b)
        elif directives:
            b = Block(rel, i + 1, tag, body, directives)
            b.errors.append(f"doctest directive on a `{tag or 'untagged'}` block, which is never run")
            out.append(b)
        i = j + 1
    return out


def scratch_tree(src: str, dest: str) -> None:
    """A clone-like directory: tracked top-level entries linked, bindings/ copied
    (pip builds in place), so commands see the repository's files but write here."""
    os.makedirs(dest)
    names = subprocess.run(["git", "-C", src, "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    for top in sorted({n.split("/", 1)[0] for n in names if n}):
        s = os.path.join(src, top)
        if top == "bindings":
            shutil.copytree(s, os.path.join(dest, top), symlinks=True,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        elif os.path.exists(s):
            os.symlink(s, os.path.join(dest, top))
    os.makedirs(os.path.join(dest, "home"))


def fresh_tmp(*keep: str) -> str:
    """Shell commands that give the namespace an empty /tmp while the trees
    in `keep` stay where they are, also when they live under /tmp (a clone
    made with `git clone . "$(mktemp -d)/c"`): the host's /tmp is bound
    aside first, and each kept tree bound back over the fresh tmpfs."""
    under = sorted({k for k in keep if k.startswith("/tmp/")})
    if not under:
        return "mount -t tmpfs tmpfs /tmp"
    cmds = ["mkdir -p /mnt", "mount -t tmpfs tmpfs /mnt", "mkdir /mnt/host", "mount --rbind /tmp /mnt/host",
            "mount -t tmpfs tmpfs /tmp"]
    for k in under:
        q = shlex.quote(k)
        cmds += [f"mkdir -p {q}", f"mount --rbind {shlex.quote('/mnt/host' + k[len('/tmp'):])} {q}"]
    return " && ".join(cmds)


def namespace_cmd() -> list[str]:
    base = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child"]
    return base if os.geteuid() == 0 else ["unshare", "--map-root-user", *base[1:]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    src, build, work = (os.path.abspath(p) for p in (a.src, a.build, a.work))
    if work == "/tmp":
        ap.error("--work must not be /tmp itself (each block gets a fresh /tmp)")
    files = a.files or ["README.md", *sorted(os.path.relpath(p, src) for p in glob.glob(os.path.join(src, "docs", "*.md")))]

    blocks = []
    for rel in files:
        blocks += blocks_of(os.path.join(src, rel), rel)
    bad = [b for b in blocks if b.errors]
    for b in bad:
        print(f"ERROR {b.where}: {'; '.join(b.errors)}")
    if a.list:
        for b in blocks:
            state = "ERROR" if b.errors else f"skip: {b.skip}" if b.skip else "run" + (f" (setup {' '.join(b.setups)})" if b.setups else "")
            print(f"{b.where:28} {state}")
        return 1 if bad else 0

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    prefix = os.path.join(work, "prefix")
    r = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        return 1
    pysite = sorted(glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages")))
    luadir = sorted(glob.glob(os.path.join(prefix, "lib", "**", "lua", "5.4"), recursive=True))
    setup_sh = os.path.join(src, "tests", "doc", "setup.sh")
    failed, ran, skipped = [], 0, 0
    for n, b in enumerate(blocks):
        if b.errors:
            continue
        if b.skip:
            skipped += 1
            print(f"skip {b.where}: {b.skip}")
            continue
        d = os.path.join(work, f"block{n:02d}")
        scratch_tree(src, d)
        env = {"PATH": f"{prefix}/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.path.join(d, "home"),
               "LANG": "C.UTF-8", "TERM": "dumb", "DOCTEST_SRC": src, "DOCTEST_BUILD": build,
               # compiles in documented commands (pip, python3 -m build) at -O0: the docs are under test
               "CFLAGS": "-O0 -g0"}
        if pysite:
            env["PYTHONPATH"] = pysite[0]
        if luadir:
            env["LUA_CPATH"] = luadir[0] + "/?.so;;"
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        script = "\n".join([
            f"ip link set lo up && {fresh_tmp(src, build, work)} || {{ echo 'doctest: no private namespaces' >&2; exit 125; }}",
            f"cd {d!r} && . {setup_sh!r} && setup_images || exit 125",
            *(f"setup_{s}" for s in b.setups),
            "set -e -o pipefail",
            b.commands(),
        ])
        t0 = time.monotonic()
        try:
            p = subprocess.run([*namespace_cmd(), "bash", "--norc", "--noprofile", "-c", script], cwd=d, env=env,
                               capture_output=True, text=True, timeout=a.timeout, stdin=subprocess.DEVNULL)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
        dt = time.monotonic() - t0
        ran += 1
        if rc == b.status:
            print(f"ok   {b.where} ({dt:.1f} s)")
        else:
            failed.append(b)
            print(f"FAIL {b.where}: exit {rc}, expected {b.status} ({dt:.1f} s)\n---- commands:\n{b.commands()}\n---- output:\n{out[-4000:]}----")
    print(f"{ran} blocks run, {skipped} skipped, {len(failed)} failed, {len(bad)} malformed")
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
