"""Python idioms (issue 20): timeout= for the whole operation, Timeouts for
phases, advice on errors, reprs, check(fit=) like upload(fit=), and the
names shared with the CLI's JSON events and Lua."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

import espota

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "docs", "events.schema.json")


def silent_port() -> tuple[socket.socket, int]:
    """A bound UDP socket that never answers: invitations time out."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    return u, u.getsockname()[1]


def test_timeout_bounds_the_whole_upload(small_firmware):
    u, port = silent_port()
    try:
        t0 = time.monotonic()
        with pytest.raises(espota.TimeoutError) as ei:
            espota.upload(small_firmware, "127.0.0.1", port, timeout=1.2,
                          timeouts=espota.Timeouts(invite=5, invite_attempts=5))
        took = time.monotonic() - t0
    finally:
        u.close()
    assert 1.0 <= took < 3.5, took
    e = ei.value
    assert "timeout=1.2" in e.detail and e.phase == "invitation"
    assert any("No answer to the invitation" in a for a in e.advice), e.advice
    with pytest.raises(espota.InvalidArgument):
        espota.upload(small_firmware, "127.0.0.1", port, timeout=0)


def test_timeouts_object_and_dict_are_the_same(small_firmware):
    t = espota.Timeouts(invite=0.3, invite_attempts=2)
    assert repr(t) == "espota.Timeouts(invite=0.3, invite_attempts=2)"
    assert t == espota.Timeouts(invite=0.3, invite_attempts=2) and t != espota.Timeouts(invite=0.3)
    u, port = silent_port()
    try:
        for timeouts in (t, {"invite": 0.3, "invite_attempts": 2}):
            with pytest.raises(espota.TimeoutError) as ei:
                espota.upload(small_firmware, "127.0.0.1", port, timeouts=timeouts)
            assert ei.value.result.invitations == 2
    finally:
        u.close()
    with pytest.raises(espota.InvalidArgument):
        espota.upload(small_firmware, "127.0.0.1", port, timeouts=espota.Timeouts(invite_attempts=0))
    with pytest.raises(espota.InvalidArgument):
        espota.upload(small_firmware, "127.0.0.1", port, timeouts=[1, 2])


def test_fleet_timeout(sim, small_firmware):
    dev = sim()
    u, port = silent_port()
    try:
        t0 = time.monotonic()
        res = espota.upload_many(small_firmware, [("127.0.0.1", dev.port), ("127.0.0.1", port)], timeout=1.5,
                                 timeouts={"invite": 5, "invite_attempts": 3})
        took = time.monotonic() - t0
    finally:
        u.close()
    assert took < 4, took
    assert res[0].ok
    assert res[1].error == "ESPOTA_ETIMEOUT" and "timeout=1.5" in res[1].message


def test_advice_no_password_and_closed_port(sim, small_firmware):
    dev = sim("--password", "pw")
    with espota.Session() as s:
        with pytest.raises(espota.AuthError) as ei:
            s.upload(small_firmware, "127.0.0.1", dev.port)
        e = ei.value
        assert "none was given" in e.detail and "callback" not in e.detail
        assert e.advice and "none was given" in e.advice[0] and "Pass password=" in e.advice[0]
        assert "--auth-env" not in " ".join(e.advice)
        # an auth callback that declines is "none given" too; one that answers wrongly is not
        with pytest.raises(espota.AuthError) as ei:
            s.upload(small_firmware, "127.0.0.1", dev.port, auth=lambda host, scheme: None)
        assert "Pass password=" in ei.value.advice[0]
        with pytest.raises(espota.AuthError) as ei:
            s.upload(small_firmware, "127.0.0.1", dev.port, auth=lambda host, scheme: "wrong")
        assert ei.value.advice[0].startswith("Wrong password")
        s.upload(small_firmware, "127.0.0.1", dev.port, password="pw")
        port = dev.port
        dev.cleanup()
        # right after the success the device "reboots": its port is closed
        t0 = time.monotonic()
        with pytest.raises(espota.NetworkError) as ei:
            s.upload(small_firmware, "127.0.0.1", port, password="pw")
        assert time.monotonic() - t0 < 1.5
        text = " ".join(ei.value.advice)
        assert "probably still rebooting" in text and f"nothing listens on UDP port {port}" in text


def test_resolve_advice_mentions_mdns_only_for_local(small_firmware):
    with pytest.raises(espota.ResolveError) as ei:
        espota.upload(small_firmware, "nosuchhost.invalid")
    assert "mDNS" not in " ".join(ei.value.advice) and ei.value.advice


def test_reprs(firmware):
    s = espota.Session()
    assert repr(s) == "<espota.Session idle>"
    s.close()
    assert repr(s) == "<espota.Session closed>"
    e = espota.TimeoutError("no answer", phase="invitation")
    assert repr(e) == "<espota.TimeoutError ESPOTA_ETIMEOUT phase='invitation': 'no answer'>"
    dev = espota.FitDevice(board="esp01_1m", target="fs")
    assert repr(dev) == "<espota.FitDevice board='esp01_1m' layout='1M256' target='fs'>"
    r = espota.check(firmware, fit=dev)
    assert repr(r).startswith("<espota.FitReport verdict='refused'")


def test_check_fit_keyword_matches_upload(firmware):
    a = espota.check(firmware, fit={"layout": "1M256", "target": "fs"})
    b = espota.check(firmware, layout="1M256", target="fs")
    c = espota.check(firmware, device=espota.FitDevice(layout="1M256", target="fs"))
    assert a.verdict == b.verdict == c.verdict == "refused"
    assert a.mistakes == b.mistakes == {"FIRMWARE_AS_FS", "TOO_BIG"}
    with pytest.raises(espota.InvalidArgument):
        espota.check(firmware, fit={"layout": "1M256"}, device=espota.FitDevice())


def test_names_match_the_json_schema(firmware):
    """Python's mistakes/assumptions/warnings, verdict and advice use the
    names of the CLI's JSON events (docs/events.schema.json)."""
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    check = schema["$defs"]["event_check"]["properties"]
    mistakes = set(check["mistakes"]["items"]["enum"])
    assumptions = set(check["assumptions"]["items"]["allOf"][1]["properties"]["name"]["enum"])
    warnings = set(check["warnings"]["items"]["allOf"][1]["properties"]["name"]["enum"])
    assert mistakes == set(espota._MISTAKES) and assumptions == set(espota._ASSUMPTIONS)
    assert warnings == set(espota._WARNINGS)
    phases = set(schema["$defs"]["phase"]["enum"])
    errors = set(schema["$defs"]["error_name"]["enum"])
    for code in range(-1, -15, -1):
        assert espota.error_name(code) in errors
    r = espota.check(firmware, layout="1M256", target="fs")
    assert r.verdict in check["verdict"]["anyOf"][0]["enum"]
    assert isinstance(r.advice, list) and r.advice and all(isinstance(a, str) and a for a in r.advice)
    assert not any(a.startswith("- ") for a in r.advice)
    assert {espota._c.espota_phase_name(p) for p in range(0, 9)} <= phases
