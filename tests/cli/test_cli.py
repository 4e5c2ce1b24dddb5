"""The espota command-line tool against espota-sim (docs/cli.md).

Runs the built binary ($ESPOTA_CLI) against the virtual device ($ESPOTA_SIM).
Python 3.11 standard library + pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from images import esp8266_arduino, filesystem  # noqa: E402
from simctl import Sim  # noqa: E402
from events import check_output  # noqa: E402

CLI = os.environ.get("ESPOTA_CLI", "espota")
FAST = ["--port", "0", "--fast", "--lifetime", "60"]

# exit codes (args.h, docs/cli.md)
OK, FAILED, USAGE, AUTH, TIMEOUT, REFUSED, IMAGE, CLOSED, RESOLVE, CANCELLED = 0, 1, 2, 3, 4, 5, 6, 7, 8, 130


@pytest.fixture
def sim():
    s = Sim()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "firmware.bin"
    p.write_bytes(esp8266_arduino())
    return str(p)


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "littlefs.bin"
    p.write_bytes(filesystem(65536))
    return str(p)


def run(*args, env=None, timeout=60, stdin=subprocess.DEVNULL):
    """Run the CLI. Its --json output is checked against docs/events.schema.json;
    each run gets its own XDG_CACHE_HOME (the recent-success record) unless
    `env` gives one."""
    e = dict(os.environ)
    e.pop("ESPOTA_PASSWORD", None)
    e["TERM"] = "dumb"
    with tempfile.TemporaryDirectory(prefix="espota-cache-") as cache:
        e["XDG_CACHE_HOME"] = cache
        if env:
            e.update(env)
        r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=e,
                           timeout=timeout, stdin=stdin)
    if "--json" in map(str, args):
        check_output(r.stdout)
    return r


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_file(p):
    with open(p, "rb") as f:
        return f.read()


# ---- success -----------------------------------------------------------------

def test_success_byte_exact(sim, fw):
    sim.start(["--platform", "esp8266", *FAST])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw)
    assert r.returncode == OK, r.stderr
    assert sim.app_image() == read_file(fw)
    assert "Success" in r.stderr and "confirmed" in r.stderr
    assert "Sending invitation to 127.0.0.1" in r.stderr
    assert "100%" in r.stderr
    assert r.stdout == ""


def test_filesystem_upload(sim, fs):
    sim.start(["--platform", "esp8266", *FAST])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-s", "-f", fs)
    assert r.returncode == OK, r.stderr
    assert sim.fs_image() == read_file(fs)
    assert sim.app_image() is None


@pytest.mark.parametrize("mode", [[], ["--stop-and-wait"], ["--stream"], ["--window", "4096", "--chunk", "512"]])
def test_transfer_modes(sim, fw, mode):
    sim.start(["--platform", "esp8266", *FAST])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "-q", *mode)
    assert r.returncode == OK, r.stderr
    assert r.stderr == ""
    assert sim.app_image() == read_file(fw)


def test_compress(sim, fw):
    sim.start(["--platform", "esp8266", *FAST])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--compress", "--json")
    assert r.returncode == OK, r.stderr
    res = jsonl(r.stdout)[-1]
    assert res["ok"] and res["stats"]["original_size"] == os.path.getsize(fw)
    assert res["stats"]["device_mss"] > 0
    assert res["stats"]["ack_rule"] in ("counts", "device_ok")
    assert res["stats"]["total"] < res["stats"]["original_size"]


# ---- espota.py compatibility ----------------------------------------------------

def test_espota_py_flags(sim, fw):
    """-i -I -p -P -a -f -d -r -t, in the forms the IDEs use."""
    sim.start(["--platform", "esp8266", *FAST, "--password", "pw1"])
    hp = free_port()
    r = run("-i", "127.0.0.1", "-I", "127.0.0.1", "-p", sim.port, "-P", hp, "--auth=pw1",
            "-f", fw, "-d", "-r", "-t", "5")
    assert r.returncode == OK, r.stderr
    assert "Uploading: [" in r.stderr and "100% Done..." in r.stderr
    assert sim.app_image() == read_file(fw)
    # -P really fixed the connect-back port
    assert any(str(hp) in json.dumps(e) for e in sim.events()), sim.events()[-5:]


def test_argparse_forms(sim, fw):
    """--opt=value, -ovalue, -o=value, unique prefixes, clustered flags."""
    sim.start(["--platform", "esp8266", *FAST, "--max-uploads", "3"])
    for argv in (["-i127.0.0.1", f"-p{sim.port}", f"--file={fw}", "-dq"],
                 ["--ip", "127.0.0.1", f"--po={sim.port}", "-f", fw, "--tim", "3", "-q"],
                 ["-i=127.0.0.1", f"-p={sim.port}", "-f", fw, "-q"]):
        r = run(*argv)
        assert r.returncode == OK, (argv, r.stderr)


def test_ide_pattern_with_script_path(sim, fw):
    """esp8266 IDE pattern: `{cmd} -I .../espota.py -i ADDR -p PORT --auth= -f BIN`."""
    sim.start(["--platform", "esp8266", *FAST])
    r = run("-I", "/opt/esp8266/tools/espota.py", "-i", "127.0.0.1", "-p", sim.port,
            "--auth=", "-f", fw)
    assert r.returncode == OK, r.stderr


def test_md5_target_esp32(sim, tmp_path):
    """-m: ESP32 >= 3.3.1 sketch storing an MD5 password hash."""
    img = tmp_path / "fs.bin"
    img.write_bytes(filesystem(8192))
    sim.start(["--platform", "esp32", *FAST, "--password-hash",
               hashlib.md5(b"pw2").hexdigest()])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-a", "pw2", "-m", "-s", "-f", img, "-q")
    assert r.returncode == OK, r.stderr
    assert sim.fs_image() == img.read_bytes()


@pytest.mark.parametrize("argv,needle", [
    ([], "no device"),
    (["-i", "h"], "no image"),
    (["-i", "h", "-f", "x", "--bogus"], "unrecognized option"),
    (["-i", "h", "-f", "x", "-p", "70000"], "invalid port"),
    (["-i", "h", "-f", "x", "--p", "1"], "ambiguous"),
    (["-i", "h", "-f", "x", "-m", "--sha256-only"], "exclude"),
    (["-i", "h", "-f", "x", "-t"], "expected one argument"),
    (["check"], "no image file"),
])
def test_usage_errors(argv, needle):
    r = run(*argv)
    assert r.returncode == USAGE
    assert needle in r.stderr


@pytest.mark.parametrize("abbrev", ["--au", "--aut"])
def test_stock_abbreviations(sim, fw, abbrev):
    """espota.py (argparse) takes --au for --auth; ours has --auth-env and --auth-file too."""
    sim.start(["--platform", "esp8266", *FAST, "--password", "pw"])
    r = run("--i", "127.0.0.1", "--po", sim.port, abbrev, "pw", "--fi", fw, "--deb")
    assert r.returncode == OK, r.stderr
    assert sim.app_image() == read_file(fw)


def test_help_lists_exit_codes():
    r = run("--help")
    assert r.returncode == 0
    for s in ("--host_port", "--md5-target", "--auth-env", "--json", "--board", "Exit status",
              "3 authentication failed", "130 interrupted"):
        assert s in r.stdout


def test_subcommand_help_is_its_own(fw):
    whole = run("--help").stdout
    assert "check " in whole and "SUBCOMMAND --help" in whole
    # --help anywhere after the subcommand, even with a file and other options
    for args in (("check", "--help"), ("check", "-h"), ("check", fw, "--layout", "1M64", "--help")):
        r = run(*args)
        assert r.returncode == OK, r.stderr
        assert r.stdout.startswith("usage: espota check FILE"), r.stdout
        assert "--layout NAME" in r.stdout and "--running-size" in r.stdout
        # the upload-only options are not in the subcommand's help
        assert "--host_port" not in r.stdout and "--parallel" not in r.stdout
        assert r.stdout != whole


# ---- error classes and exit codes -------------------------------------------------

def test_wrong_password(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "right"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "-a", "wrong")
    assert r.returncode == AUTH
    assert "wrong password" in r.stderr.lower()
    assert "right" not in r.stderr and "wrong" not in r.stdout


def test_password_required_none_given(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "right"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw)
    assert r.returncode == AUTH
    assert "--auth-env" in r.stderr


def test_no_answer(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--fault", "no-invite-reply"])
    t0 = time.monotonic()
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "-t", "1", "--attempts", "2")
    assert r.returncode == TIMEOUT, r.stderr
    assert time.monotonic() - t0 < 10
    assert "No answer to the invitation" in r.stderr
    assert "-p" in r.stderr


def test_device_error_not_enough_space_udp(sim, fw):
    """Firmware sent with -s to a 1M256 device: ERROR[4] over UDP -> 5, decoded."""
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M256", "--chip-size", "1M"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-s", "-f", fw)
    assert r.returncode == REFUSED, r.stderr
    assert "Not Enough Space" in r.stderr
    assert "meaning:" in r.stderr
    assert "firmware image" in r.stderr  # the kind-based warning without a board


def test_device_error_8(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M64", "--chip-size", "1M",
               "--header-flash-size", "4M"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw)
    assert r.returncode == REFUSED
    assert "Flash config wrong" in r.stderr
    assert "Re-flash over serial" in r.stderr


def test_closed_mid_transfer(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--fault", "drop-after=100000"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw)
    assert r.returncode == CLOSED, r.stderr
    assert "closed the connection" in r.stderr


def test_no_connect_back(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--fault", "no-connect"])
    hp = free_port()
    r = run("-i", "127.0.0.1", "-p", sim.port, "-P", hp, "-f", fw)
    assert r.returncode == TIMEOUT
    assert "firewall" in r.stderr
    assert f"TCP port {hp}" in r.stderr
    assert "-P PORT" in r.stderr and "-I" in r.stderr


def test_no_connect_back_json_has_port(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--fault", "no-connect"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--json")
    assert r.returncode == TIMEOUT
    res = jsonl(r.stdout)[-1]
    port = res["stats"]["local_port"]
    assert port > 0 and f"port {port}" in " ".join(res["advice"])
    assert res["error"] == "ESPOTA_ETIMEOUT" and res["exit_code"] == TIMEOUT


def test_unreadable_image():
    r = run("-i", "127.0.0.1", "-f", "/nonexistent/fw.bin")
    assert r.returncode == IMAGE
    assert "cannot open" in r.stderr


def test_malformed_image(tmp_path):
    p = tmp_path / "bad.bin"
    b = bytearray(esp8266_arduino())
    p.write_bytes(bytes(b[:0x1000 + 40]))  # truncated app
    r = run("-i", "127.0.0.1", "-f", p)
    assert r.returncode == IMAGE
    assert "malformed" in r.stderr


# ---- JSON ------------------------------------------------------------------------

def test_json_events(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "pj"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--json", "-a", "pj")
    assert r.returncode == OK, r.stderr
    evs = jsonl(r.stdout)
    assert "pj" not in r.stdout  # never the password
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "start" and kinds[-1] == "result"
    assert evs[0]["size"] == os.path.getsize(fw) and evs[0]["target"] == "app"
    phases = [e["phase"] for e in evs if e["event"] == "phase"]
    assert phases[0] == "invitation" or phases[0] == "invite" or "invit" in phases[0]
    assert phases[-1] == "done"
    prog = [e for e in evs if e["event"] == "progress"]
    assert prog and prog[-1]["acked"] == prog[-1]["total"] == os.path.getsize(fw)
    assert prog[-1]["percent"] == 100
    res = evs[-1]
    assert res["ok"] is True and res["exit_code"] == 0 and res["code"] == 0
    assert res["device_error"] is None
    assert res["stats"]["acked"] == os.path.getsize(fw)


def test_json_device_error(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M64", "--chip-size", "1M",
               "--header-flash-size", "4M"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--json")
    assert r.returncode == REFUSED
    res = jsonl(r.stdout)[-1]
    assert res["event"] == "result" and res["ok"] is False
    assert res["error"] == "ESPOTA_EREFUSED" and res["exit_code"] == REFUSED
    d = res["device_error"]
    assert d["code"] == 8 and d["name"] == "FLASH_CONFIG"
    assert "serial" in d["explanation"]
    assert "ERROR[8]" in d["raw"]


# ---- preflight -------------------------------------------------------------------

def test_preflight_firmware_as_fs_refused(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M256", "--chip-size", "1M"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-s", "-f", fw, "--layout", "1M256")
    assert r.returncode == IMAGE, r.stderr
    assert "refused" in r.stderr
    assert "without -s" in r.stderr
    assert "Shrink the image by 66864 bytes" in r.stderr
    assert "--force" in r.stderr
    assert sim.events("invite") == [] and sim.events("upload") == []
    # --force sends it; the device then refuses with error 4
    r = run("-i", "127.0.0.1", "-p", sim.port, "-s", "-f", fw, "--layout", "1M256", "--force")
    assert r.returncode == REFUSED, r.stderr
    assert "Not Enough Space" in r.stderr


def test_preflight_json(sim, fw):
    r = run("-i", "127.0.0.1", "-p", "9", "-s", "-f", fw, "--board", "esp8285", "--json")
    assert r.returncode == IMAGE
    evs = jsonl(r.stdout)
    pf = [e for e in evs if e["event"] == "preflight"][0]
    assert pf["verdict"] == "refused" and pf["device_error"] == 4
    assert pf["shrink_by"] == 66864 and pf["image"]["kind"] == "esp8266-arduino"
    assert evs[-1]["event"] == "result" and evs[-1]["error"] == "ESPOTA_ENOFIT"


def test_preflight_ok_uploads(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--layout", "1M256", "--chip-size", "1M",
               "--sketch-size", "329008"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--board", "esp8285")
    assert r.returncode == OK, r.stderr
    assert sim.app_image() == read_file(fw)


def test_preflight_header_bigger_than_chip(tmp_path):
    p = tmp_path / "4m.bin"
    p.write_bytes(esp8266_arduino(byte3=0x40))
    r = run("check", p, "--layout", "1M256")
    assert r.returncode in (OK, IMAGE)
    assert "4 MB" in r.stdout or "4,194,304" in r.stdout or "4194304" in r.stdout


def test_check(fw, fs):
    r = run("check", fw, "--layout", "1M256", "-s")
    assert r.returncode == IMAGE
    assert "Verdict:" in r.stdout and "refused" in r.stdout and "Not Enough Space" in r.stdout
    r = run("check", fs, "--layout", "1M256", "-s")
    assert r.returncode == OK
    assert "fits" in r.stdout
    r = run("check", fw)
    assert r.returncode == OK
    assert "unknown" in r.stdout
    r = run("check", fw, "--board", "esp8285", "--json")
    assert r.returncode == OK
    ev = jsonl(r.stdout)[0]
    assert ev["event"] == "check" and ev["fits"] is True


def test_unknown_board():
    r = run("check", "/dev/null", "--board", "nope")
    assert r.returncode in (USAGE, IMAGE)


# ---- passwords --------------------------------------------------------------------

def test_password_env(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "envpw", "--max-uploads", "2"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "-q", env={"ESPOTA_PASSWORD": "envpw"})
    assert r.returncode == OK, r.stderr
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "-q", "--auth-env", "MY_PW",
            env={"MY_PW": "envpw"})
    assert r.returncode == OK, r.stderr


def test_password_env_missing():
    r = run("-i", "127.0.0.1", "-f", "/dev/null", "--auth-env", "NOPE_NOT_SET")
    assert r.returncode in (USAGE, IMAGE)


def test_password_file(sim, fw, tmp_path):
    pf = tmp_path / "pw"
    pf.write_text("filepw\n")
    os.chmod(pf, 0o600)
    sim.start(["--platform", "esp8266", *FAST, "--password", "filepw"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--auth-file", pf)
    assert r.returncode == OK, r.stderr
    assert "readable by other users" not in r.stderr


def test_password_file_insecure_warns(sim, fw, tmp_path):
    pf = tmp_path / "pw"
    pf.write_text("filepw\n")
    os.chmod(pf, 0o644)
    sim.start(["--platform", "esp8266", *FAST, "--password", "filepw"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--auth-file", pf)
    assert r.returncode == OK, r.stderr
    assert "readable by other users" in r.stderr


def pty_run(argv, env=None, answer=None, timeout=30, interrupt_on=None):
    """Run the CLI on a pseudo-terminal; returns (exit code, output)."""
    e = dict(os.environ)
    e.pop("ESPOTA_PASSWORD", None)
    e["TERM"] = "xterm"
    if env:
        e.update(env)
    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.execve(CLI, [CLI, *map(str, argv)], e)
        finally:
            os._exit(127)
    out = b""
    answered = interrupted = False
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        if answer is not None and not answered and b"password" in out.lower():
            os.write(fd, answer.encode() + b"\n")
            answered = True
        if interrupt_on is not None and not interrupted and interrupt_on in out:
            os.kill(pid, signal.SIGINT)
            interrupted = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    # What the child wrote just before it exited is still in the pty: read
    # it (bounded) whether or not it has exited.
    try:
        for _ in range(200):
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    if status is None:
        for _ in range(100):
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_password_prompt(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--password", "typed"])
    code, out = pty_run(["-i", "127.0.0.1", "-p", sim.port, "-f", fw], answer="typed")
    assert code == OK, out
    assert "OTA password for 127.0.0.1" in out
    assert "typed" not in out.split("password for 127.0.0.1:", 1)[1]  # no echo
    assert sim.app_image() == read_file(fw)


def test_progress_bar_on_tty(sim, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(esp8266_arduino(250000, byte3=0x40))
    # a realistic link so the bar is redrawn a few times
    sim.start(["--platform", "esp8266", "--port", "0", "--bandwidth", "2000000",
               "--lifetime", "60"])
    code, out = pty_run(["-i", "127.0.0.1", "-p", sim.port, "-f", big])
    assert code == OK, out
    assert "\r\x1b[K[" in out          # a redrawn bar line
    assert "100%" in out
    assert "/s" in out and "ETA" in out  # rate and ETA
    assert "KiB" in out
    assert out.count("%") >= 3


def test_sigint_exits_130(sim, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(esp8266_arduino(600000, byte3=0x40))
    sim.start(["--platform", "esp8266", *FAST, "--fault", "stall-after=50000"])
    code, out = pty_run(["-i", "127.0.0.1", "-p", sim.port, "-f", big, "-r"],
                        interrupt_on=b"Uploading: [")
    assert code == CANCELLED, out


# ---- several devices ----------------------------------------------------------------

def test_hosts_file_and_summary(sim, fw, tmp_path):
    sim.start(["--platform", "esp8266", *FAST, "--count", "3", "--password", "multi"])
    hosts = tmp_path / "hosts"
    lines = ["# devices", f"127.0.0.1:{sim.ports[0]}   PW_A",
             f"127.0.0.1:{sim.ports[1]}  # comment", ""]
    hosts.write_text("\n".join(lines))
    r = run("--hosts", hosts, "-i", f"127.0.0.1:{sim.ports[2]}", "-f", fw, "--parallel", "2",
            env={"PW_A": "multi", "ESPOTA_PASSWORD": "multi"})
    assert r.returncode == OK, r.stderr
    assert "3 of 3 devices updated" in r.stderr
    for i in range(3):
        assert sim.app_image(i) == read_file(fw)


def test_several_devices_one_fails(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "2", "--password", "right",
               "--fault", "no-invite-reply@1"])
    r = run("-i", f"127.0.0.1:{sim.ports[0]}", "-i", f"127.0.0.1:{sim.ports[1]}", "-f", fw,
            "-a", "right", "-t", "1", "--attempts", "1", "--json")
    assert r.returncode == TIMEOUT, r.stderr
    evs = jsonl(r.stdout)
    res = {e["port"]: e for e in evs if e["event"] == "result"}
    assert res[sim.ports[0]]["ok"] is True
    assert res[sim.ports[1]]["exit_code"] == TIMEOUT
    summ = evs[-1]
    assert summ["event"] == "summary" and summ["ok"] == 1 and summ["failed"] == 1


def test_bad_hosts_file(tmp_path, fw):
    hosts = tmp_path / "hosts"
    hosts.write_text("good.local\nbad host extra field\n")
    r = run("--hosts", hosts, "-f", fw)
    assert r.returncode == USAGE
    assert "line 2" in r.stderr


# ---- fleets: one thread, one poll() loop (espota_fleet_upload) ------------------------

def fleet_hosts(sim):
    return [f"127.0.0.1:{p}" for p in sim.ports]


def test_fleet_repeated_i_json(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "6"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    r = run(*argv, "-f", fw, "--parallel", "3", "--json")
    assert r.returncode == OK, r.stderr
    evs = jsonl(r.stdout)
    assert evs[0]["event"] == "start" and evs[0]["devices"] == 6 and evs[0]["parallel"] == 3
    results = [e for e in evs if e["event"] == "result"]
    assert sorted(e["index"] for e in results) == list(range(6))
    for e in results:
        assert e["ok"] and e["attempts"] == 1 and e["port"] == sim.ports[e["index"]]
        assert e["stats"]["acked"] == os.path.getsize(fw)
    prog = [e for e in evs if e["event"] == "progress"]
    assert {e["index"] for e in prog} == set(range(6))
    summ = evs[-1]
    assert summ["event"] == "summary" and summ["devices"] == 6 and summ["ok"] == 6
    assert summ["failed"] == 0 and summ["exit_code"] == 0
    assert [x["index"] for x in summ["results"]] == list(range(6))
    assert all(x["ok"] and x["phase"] == "done" and x["attempts"] == 1 for x in summ["results"])
    for i in range(6):
        assert sim.app_image(i) == read_file(fw)


def test_fleet_hosts_file_passwords(sim, fw, tmp_path):
    sim.start(["--platform", "esp8266", *FAST, "--count", "6", "--password", "fleetpw"])
    hosts = tmp_path / "hosts"
    lines = ["# six devices"]
    for i, h in enumerate(fleet_hosts(sim)):
        lines.append(f"{h}  PW_{i}" if i % 2 == 0 else h)
    hosts.write_text("\n".join(lines) + "\n")
    env = {f"PW_{i}": "fleetpw" for i in range(0, 6, 2)}
    env["ESPOTA_PASSWORD"] = "fleetpw"
    r = run("--hosts", hosts, "-f", fw, env=env)
    assert r.returncode == OK, r.stderr
    assert "6 of 6 devices updated" in r.stderr
    assert "DEVICE" in r.stderr and "TRIES" in r.stderr
    assert "fleetpw" not in r.stderr
    for i in range(6):
        assert sim.app_image(i) == read_file(fw)
    # a wrong per-host password fails that device alone, with the auth code
    env["PW_2"] = "wrong"
    r = run("--hosts", hosts, "-f", fw, "--json", env=env)
    assert r.returncode == AUTH, r.stderr
    summ = jsonl(r.stdout)[-1]
    assert summ["ok"] == 5 and summ["failed"] == 1
    assert [x["index"] for x in summ["results"] if not x["ok"]] == [2]
    assert summ["results"][2]["error"] == "ESPOTA_EAUTH"


def test_fleet_one_failing_device(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "6", "--fault", "no-invite-reply@3"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    r = run(*argv, "-f", fw, "-t", "1", "--attempts", "1", "--json")
    assert r.returncode == TIMEOUT, r.stderr
    evs = jsonl(r.stdout)
    res = {e["index"]: e for e in evs if e["event"] == "result"}
    assert res[3]["ok"] is False and res[3]["error"] == "ESPOTA_ETIMEOUT"
    assert res[3]["exit_code"] == TIMEOUT and "No answer" in " ".join(res[3]["advice"])
    for i in (0, 1, 2, 4, 5):
        assert res[i]["ok"] is True
        assert sim.app_image(i) == read_file(fw)
    assert sim.app_image(3) is None
    summ = evs[-1]
    assert summ["ok"] == 5 and summ["failed"] == 1 and summ["exit_code"] == TIMEOUT


def test_fleet_retry_succeeds(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "6", "--fault", "drop-after=8192@2*1"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    r = run(*argv, "-f", fw, "--retries", "1", "--json")
    assert r.returncode == OK, r.stderr
    evs = jsonl(r.stdout)
    res = {e["index"]: e for e in evs if e["event"] == "result"}
    assert res[2]["ok"] is True and res[2]["attempts"] == 2
    assert all(res[i]["attempts"] == 1 for i in (0, 1, 3, 4, 5))
    retries = [e for e in evs if e["event"] == "retry"]
    assert [(e["index"], e["attempt"]) for e in retries] == [(2, 2)]
    assert evs[-1]["results"][2]["attempts"] == 2
    for i in range(6):
        assert sim.app_image(i) == read_file(fw)
    assert [u["result"] for u in sim.events("upload", dev=2)] == ["dropped", "ok"]


def test_retries_single_device(sim, fw):
    """--retries with one device also goes through the fleet driver."""
    sim.start(["--platform", "esp8266", *FAST, "--fault", "drop-after=8192*1"])
    r = run("-i", "127.0.0.1", "-p", sim.port, "-f", fw, "--retries", "2", "--json")
    assert r.returncode == OK, r.stderr
    evs = jsonl(r.stdout)
    assert evs[-1]["event"] == "result" and evs[-1]["attempts"] == 2
    assert sim.app_image() == read_file(fw)


def test_fleet_device_timeout(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "2", "--fault", "no-invite-reply@1"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    t0 = time.monotonic()
    r = run(*argv, "-f", fw, "-t", "10", "--device-timeout", "1", "--retries", "3", "--json")
    assert time.monotonic() - t0 < 8
    assert r.returncode == TIMEOUT, r.stderr
    res = {e["index"]: e for e in jsonl(r.stdout) if e["event"] == "result"}
    assert res[0]["ok"] and not res[1]["ok"]
    assert "deadline" in res[1]["message"]


def test_fleet_tty_display(sim, fw):
    sim.start(["--platform", "esp8266", *FAST, "--count", "3"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    code, out = pty_run([*argv, "-f", fw])
    assert code == OK, out
    assert "3 devices:" in out and "3 ok, 0 failed" in out  # the totals line
    assert "\r\x1b[K127.0.0.1:" in out                        # a redrawn device line
    assert "3 of 3 devices updated" in out


def test_fleet_sigint_exits_130(sim, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(esp8266_arduino(300000, byte3=0x40))
    sim.start(["--platform", "esp8266", *FAST, "--count", "3", "--fault", "stall-after=50000"])
    argv = [x for h in fleet_hosts(sim) for x in ("-i", h)]
    t0 = time.monotonic()
    code, out = pty_run([*argv, "-f", big], interrupt_on=b"3 running")
    assert code == CANCELLED, out
    assert time.monotonic() - t0 < 8
    assert "Interrupted" in out or "cancel" in out.lower()


@pytest.mark.parametrize("argv,needle", [
    (["--retries", "-1"], "--retries"),
    (["--retries", "x"], "--retries"),
    (["--device-timeout", "0"], "--device-timeout"),
    (["--parallel", "0"], "--parallel"),
])
def test_fleet_usage_errors(argv, needle, fw):
    r = run("-i", "h", "-f", fw, *argv)
    assert r.returncode == USAGE
    assert needle in r.stderr


def test_help_lists_fleet_options():
    r = run("--help")
    for s in ("--parallel N", "--retries N", "--device-timeout SEC", "default 16"):
        assert s in r.stdout
