"""The type stubs (espota/__init__.pyi) match the package: mypy's stubtest
compares them with the imported module, and mypy checks a typed program
against them. Both must also catch a mismatch (the negative cases)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import espota

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "mypy.ini")
ALLOWLIST = os.path.join(HERE, "stubtest_allowlist.txt")
PKG = os.path.dirname(espota.__file__)

pytest.importorskip("mypy", reason="python3-mypy (scripts/deps.sh installs it)")
# Type checks do not depend on the C code's memory safety, and mypy under a
# preloaded sanitizer runtime is slow: they run in the plain build only.
pytestmark = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                                reason="type checks run in the plain build")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One mypy cache for the module's runs: typeshed is parsed once."""
    return str(tmp_path_factory.mktemp("mypy-cache"))


def mypy(*args: str, path: str, cache: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=path, MYPY_CACHE_DIR=cache)
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=path)


def test_stubtest_passes(cache):
    r = mypy("mypy.stubtest", "espota", "--mypy-config-file", CONFIG, "--allowlist", ALLOWLIST,
             path=os.path.dirname(PKG), cache=cache)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubtest_catches_a_renamed_keyword(tmp_path, cache):
    copy = tmp_path / "espota"
    shutil.copytree(PKG, copy)
    stub = (copy / "__init__.pyi").read_text()
    assert "timeout: float | None = ..., timeouts: _Timeouts" in stub
    (copy / "__init__.pyi").write_text(stub.replace("timeout: float | None = ..., timeouts: _Timeouts",
                                                    "deadline: float | None = ..., timeouts: _Timeouts", 1))
    r = mypy("mypy.stubtest", "espota", "--mypy-config-file", CONFIG, "--allowlist", ALLOWLIST, path=str(tmp_path),
             cache=cache)
    assert r.returncode != 0 and "deadline" in r.stdout, r.stdout


GOOD = """
import espota
t = espota.Timeouts(invite=1.0, invite_attempts=3)
with espota.Session() as s:
    r = s.upload("fw.bin", "192.168.4.1", timeout=30.0, timeouts=t, password="x")
    total: int = r.total
rep = espota.check(b"...", fit={"board": "esp01_1m"})
lines: list[str] = rep.advice
try:
    espota.upload(b"...", "h")
except espota.Error as e:
    first: str = e.advice[0]
"""

BAD = """
import espota
rep = espota.check(b"...", board="esp01_1m")
text: str = rep.advice
espota.Session().upload(b"...", "h", timeout="30")
"""


def test_mypy_checks_programs_against_the_stubs(tmp_path, cache):
    for name, src in (("good.py", GOOD), ("bad.py", BAD)):
        (tmp_path / name).write_text(textwrap.dedent(src))
    good = mypy("mypy", "--config-file", CONFIG, str(tmp_path / "good.py"), path=os.path.dirname(PKG), cache=cache)
    assert good.returncode == 0, good.stdout
    bad = mypy("mypy", "--config-file", CONFIG, str(tmp_path / "bad.py"), path=os.path.dirname(PKG), cache=cache)
    assert bad.returncode == 1, bad.stdout
    assert 'bad.py:4: error: Incompatible types in assignment' in bad.stdout, bad.stdout
    assert 'bad.py:5: error: Argument "timeout"' in bad.stdout, bad.stdout
