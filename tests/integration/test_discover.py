"""mDNS discovery end to end: espota discover, espota-discovery (arduino-cli
pluggable discovery protocol), NAME.local uploads and --board auto, against
espota-sim --mdns.

No packet leaves through the real interface: the loopback tests use the
test-only unicast mode (ESPOTA_MDNS_UNICAST); the multicast test and the
NAME.local upload (whose first step, the system resolver, may send a DNS
query) run inside a network namespace this file creates with `unshare -n`
and that vanishes with its processes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from images import esp8266_arduino  # noqa: E402
from simctl import Sim  # noqa: E402

CLI = os.environ.get("ESPOTA_CLI", "espota")
DISCOVERY = os.environ.get("ESPOTA_DISCOVERY", "espota-discovery")
SIM = os.environ.get("ESPOTA_SIM", "espota-sim")
NONE_FOUND = 9

# (platform, password, count): 20 devices, both platforms, half with a password
FLEET = [("esp8266", None, 5), ("esp8266", "pw8266", 5), ("esp32", None, 5), ("esp32", "pw32", 5)]


def env_for(*sims):
    e = dict(os.environ)
    e["ESPOTA_MDNS_UNICAST"] = ",".join(f"127.0.0.1:{s.mdns_port}" for s in sims)
    e.pop("ESPOTA_PASSWORD", None)
    return e


@pytest.fixture
def fleet():
    sims = []
    try:
        for i, (plat, pw, n) in enumerate(FLEET):
            args = ["--platform", plat, "--count", n, "--port", 0, "--fast", "--lifetime", 60,
                    "--mdns", "--mdns-port", 0, "--hostname", f"{plat}-g{i}"]
            if pw:
                args += ["--password", pw]
            sims.append(Sim().start(args))
        yield sims
    finally:
        for s in sims:
            s.cleanup()


def expected_txt(plat, pw, board):
    auth = "yes" if pw else "no"
    # wire order of LEAmDNS (ESP8266) and ESP-IDF mdns (ESP32), see tools/espota-sim/mdns.c
    if plat == "esp8266":
        return [("auth_upload", auth), ("board", board), ("ssh_upload", "no"), ("tcp_check", "no")]
    return [("auth_upload", auth), ("ssh_upload", "no"), ("tcp_check", "no"), ("board", board)]


def test_twenty_devices_found_with_txt_in_under_a_second(fleet):
    t0 = time.monotonic()
    r = subprocess.run([CLI, "discover", "--json", "--timeout", "1"], env=env_for(*fleet),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 20, r.stdout
    assert time.monotonic() - t0 < 5
    assert max(row["elapsed_ms"] for row in rows) < 1000
    by_name = {row["name"]: row for row in rows}
    for i, (plat, pw, n) in enumerate(FLEET):
        for k in range(n):
            name = f"{plat}-g{i}-{k}"
            row = by_name[name]
            assert row["hostname"] == name + ".local"
            assert row["port"] == fleet[i].ports[k]
            assert row["address"] == "127.0.0.1"
            assert row["password"] is bool(pw)
            assert row["platform"] == plat
            board = "generic" if plat == "esp8266" else "esp32"
            assert list(row["txt"].items()) == expected_txt(plat, pw, board)


def test_table_and_none_found(fleet):
    r = subprocess.run([CLI, "discover", "--timeout", "0.5"], env=env_for(fleet[1]),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "PORT", "BOARD", "PASSWORD", "PLATFORM"]
    assert len(lines) == 6
    assert all(line.split()[4] == "yes" for line in lines[1:])
    # a responder that does not exist: nothing answers, distinct exit code
    e = env_for(fleet[1])
    e["ESPOTA_MDNS_UNICAST"] = "127.0.0.1:9"
    r = subprocess.run([CLI, "discover", "--timeout", "0.3"], env=e, capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == NONE_FOUND
    assert r.stdout == ""
    assert "no device answered" in r.stderr


def test_ipv6_answers_carry_aaaa():
    # an IPv6 device: the querier's IPv6 socket, IPV6_PKTINFO and AAAA records
    with Sim() as s:
        s.start(["--platform", "esp32", "--listen", "::1", "--port", 0, "--lifetime", 60, "--mdns",
                 "--mdns-listen", "::1", "--mdns-port", 0, "--hostname", "six", "--password", "pw"])
        e = env_for(s)
        e["ESPOTA_MDNS_UNICAST"] = f"[::1]:{s.mdns_port}"
        r = subprocess.run([CLI, "discover", "--json", "--timeout", "0.5"], env=e, capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        (row,) = [json.loads(line) for line in r.stdout.splitlines()]
        assert (row["name"], row["address"], row["port"]) == ("six", "::1", s.ports[0])
        assert row["addresses"] == [{"address": "::1", "interface": "lo"}]
        assert row["password"] is True and row["platform"] == "esp32"


def test_board_auto_takes_the_txt_board(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(size=329008))
    with Sim() as s:
        # a 1 MB board: the 4M-layout image check must use its layout
        s.start(["--platform", "esp8266", "--port", 0, "--fast", "--lifetime", 60, "--mdns",
                 "--mdns-port", 0, "--hostname", "plug", "--board-id", "esp01_1m",
                 "--chip-size", "1M", "--layout", "1M256"])
        def limit(*board):
            r = subprocess.run([CLI, "check", str(fw), *board, "--json"], env=env_for(s),
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stdout + r.stderr
            return json.loads(r.stdout.splitlines()[-1])["limit"]
        auto = limit("--board", "auto", "-i", "127.0.0.1")
        assert auto == limit("--board", "esp01_1m")
        assert auto != limit("--board", "d1_mini")
        r = subprocess.run([CLI, "check", str(fw), "--board", "auto", "-i", "127.0.0.9"],
                           env=env_for(s), capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert "--board auto" in r.stderr


class Discovery:
    """espota-discovery as a child; a thread turns its stdout into events
    (select() on a buffered text pipe would miss lines already read)."""

    def __init__(self, env):
        import queue
        import threading
        self.proc = subprocess.Popen([DISCOVERY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self.q = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))

    def speak(self, cmd, expect=None, timeout=5.0):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.event(expect, timeout)

    def event(self, expect=None, timeout=5.0):
        import queue
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ev = self.q.get(timeout=max(0.01, left))
            except queue.Empty:
                raise AssertionError(f"no {expect} event within {timeout} s") from None
            if expect is None or ev.get("eventType") == expect:
                return ev
            if left <= 0:
                raise AssertionError(f"no {expect} event within {timeout} s")


def test_pluggable_discovery_protocol(fleet):
    e = env_for(fleet[0], fleet[3])
    e["ESPOTA_DISCOVERY_INTERVAL"] = "0.4"
    d = Discovery(e)
    p = d.proc
    try:
        ev = d.speak("START")
        assert ev["eventType"] == "command_error" and ev["error"] is True
        ev = d.speak('HELLO 1 "arduino-cli 1.0.0"')
        assert ev == {"eventType": "hello", "protocolVersion": 1, "message": "OK"}
        assert d.speak("START") == {"eventType": "start", "message": "OK"}
        time.sleep(0.6)
        ev = d.speak("LIST")
        assert ev["eventType"] == "list"
        assert len(ev["ports"]) == 10
        port = next(x for x in ev["ports"] if x["label"].startswith("esp32-g3-0 "))
        assert port["protocol"] == "network" and port["address"] == "127.0.0.1"
        props = port["properties"]
        assert props["port"] == str(fleet[3].ports[0])
        assert props["board"] == "esp32" and props["auth_upload"] == "yes"
        assert props["hostname"] == "esp32-g3-0.local"
        assert props["."] == "esp32" and props["tcp_check"] == "no"
        assert d.speak("STOP") == {"eventType": "stop", "message": "OK"}
        assert d.speak("FOO")["eventType"] == "command_error"
        assert d.speak("START_SYNC") == {"eventType": "start_sync", "message": "OK"}
        adds = [d.event("add") for _ in range(10)]
        assert {a["port"]["properties"]["hostname"] for a in adds} == \
            {f"esp8266-g0-{k}.local" for k in range(5)} | {f"esp32-g3-{k}.local" for k in range(5)}
        # a device that goes away is removed after two silent rounds
        fleet[3].stop()
        ev = d.event("remove", timeout=5)
        assert ev["port"] == {"address": "127.0.0.1", "protocol": "network"}
        assert d.speak("QUIT", "quit") == {"eventType": "quit", "message": "OK"}
        assert p.wait(timeout=5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- inside a network namespace ---------------------------------------------

def netns_ok():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is missing"
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if r.returncode != 0:
        return "cannot create a network namespace here (needs root or user namespaces)"
    return None


NETNS_SKIP = netns_ok()


def in_netns(script, env, timeout=60):
    return subprocess.run(["unshare", "-n", "sh", "-ec", script], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test skipped: {NETNS_SKIP}")
def test_name_local_upload_without_nss_mdns(tmp_path):
    """The system resolver does not know NAME.local (no nss-mdns); the upload
    resolves it by mDNS, logs so, and succeeds."""
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp8266_arduino(size=329008))
    e = dict(os.environ)
    e.pop("ESPOTA_PASSWORD", None)
    e["ESPOTA_MDNS_UNICAST"] = "127.0.0.1:15353"
    ready = tmp_path / "ready"
    script = f"""
ip link set lo up
"{SIM}" --platform esp8266 --port 8266 --fast --lifetime 30 --max-uploads 1 --mdns --mdns-port 15353 \
  --hostname otadev --out-dir "{tmp_path}" --ready-file "{ready}" >/dev/null &
i=0; while [ ! -f "{ready}" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
"{CLI}" -i otadev.local -f "{fw}" -d
wait
"""
    r = in_netns(script, e)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mDNS resolved it to 127.0.0.1" in r.stderr
    assert (tmp_path / "app.bin").read_bytes() == fw.read_bytes()


def multicast_in_namespaces(tmp_path, family):
    """224.0.0.251 / ff02::fb over a veth pair that exists only in private
    namespaces: the querier sends real multicast on v0; the device side has
    a namespace of its own (anonymous: it ends with the sim), so its unicast
    answer really crosses the link. DAD is off so that the link-local
    addresses are usable at once (v1 takes the defaults of the namespace it
    moves into, so it is set again there)."""
    e = dict(os.environ)
    e.pop("ESPOTA_MDNS_UNICAST", None)
    ready = tmp_path / "ready"
    nodad = "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
    ll = ('i=0; while ! ip -6 addr show dev {0} | grep -q "fe80.*scope.link" && [ $i -lt 300 ]; do '
          'sleep 0.01; i=$((i+1)); done')
    script = f"""
{nodad}
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.77.0.1/24 dev v0
ip link set v0 up
unshare -n sh -ec '
  i=0; while ! ip link show v1 >/dev/null 2>&1 && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
  {nodad} net.ipv6.conf.v1.accept_dad=0
  ip link set lo up; ip addr add 10.77.0.2/24 dev v1; ip link set v1 up
  {ll.format("v1")}
  exec "{SIM}" --platform esp32 --password pw --listen 10.77.0.2 --port 3232 --lifetime 10 --mdns \\
    --mdns-multicast v1 --hostname mcdev --ready-file "{ready}" >/dev/null 2>&1' &
dev=$!
# move v1 only once the child is in its own namespace
i=0; while [ "$(readlink /proc/$dev/ns/net)" = "$(readlink /proc/self/ns/net)" ] && [ $i -lt 500 ]; do
  sleep 0.01; i=$((i+1)); done
ip link set v1 netns $dev
i=0; while [ ! -f "{ready}" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
{ll.format("v0")}
"{CLI}" discover --json --debug --interface v0 -{family} --timeout 1.5
kill $dev
"""
    r = in_netns(script, e)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1, r.stdout + r.stderr
    row = rows[0]
    assert row["name"] == "mcdev" and row["port"] == 3232
    assert row["addresses"][0]["interface"] == "v0"
    assert row["password"] is True and row["platform"] == "esp32"
    return row


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test skipped: {NETNS_SKIP}")
def test_real_multicast_in_a_namespace(tmp_path):
    assert multicast_in_namespaces(tmp_path, 4)["address"] == "10.77.0.2"


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test skipped: {NETNS_SKIP}")
def test_real_ipv6_multicast_in_a_namespace(tmp_path):
    # ESP32 answers AAAA too: over ff02::fb the device is found by its link-local address
    row = multicast_in_namespaces(tmp_path, 6)
    # the address to give -i: link-local with its interface
    assert row["address"] == row["addresses"][0]["address"] + "%v0"
    assert row["address"].startswith("fe80:")
