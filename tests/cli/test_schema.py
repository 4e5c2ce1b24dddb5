"""docs/events.schema.json: the schema itself, a negative test per kind of
mistake it must catch, and the names the check event carries. Every other
CLI test validates its --json output through events.check_output()."""

from __future__ import annotations

import copy
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from events import SCHEMA, check_output, problems  # noqa: E402
from test_cli import IMAGE, OK, fs, fw, run  # noqa: E402,F401  (fixtures)

RESULT = {
    "event": "result", "schema": 1, "index": 0, "host": "127.0.0.1", "port": 8266, "ok": False,
    "exit_code": 4, "code": -5, "error": "ESPOTA_ETIMEOUT", "message": "no answer",
    "advice": ["No answer to the invitation."], "attempts": 1, "device_error": None,
    "stats": {"phase": "invitation", "platform": "esp8266", "total": 10, "original_size": 10, "sent": 0,
              "acked": 0, "elapsed_ms": 5, "transfer_ms": 0, "invitations": 3, "local_port": 40000,
              "device_mss": 0},
}


def test_schema_version_field():
    assert SCHEMA["properties"]["schema"] == {"const": 1}
    assert problems(RESULT) == []


@pytest.mark.parametrize("why,change", [
    ("no schema field", lambda e: e.pop("schema")),
    ("another schema version", lambda e: e.update(schema=2)),
    ("an event type the schema does not know", lambda e: e.update(event="finished")),
    ("a field the schema does not describe", lambda e: e.update(hint="old field")),
    ("advice as one string", lambda e: e.update(advice="line one\nline two")),
    ("an error class as a number", lambda e: e.update(error=-5)),
    ("an error class that is no name", lambda e: e.update(error="TIMEOUT")),
    ("a phase that is no name", lambda e: e["stats"].update(phase=3)),
    ("a platform that is no name", lambda e: e["stats"].update(platform="esp8285")),
    ("a missing stats field", lambda e: e["stats"].pop("acked")),
    ("ok with an error", lambda e: e.update(ok=True)),
    ("a negative size", lambda e: e["stats"].update(total=-1)),
])
def test_schema_rejects(why, change):
    bad = copy.deepcopy(RESULT)
    change(bad)
    assert problems(bad), why
    import json
    with pytest.raises(AssertionError, match="does not match docs/events.schema.json"):
        check_output(json.dumps(bad) + "\n")


def test_check_output_rejects_non_json():
    with pytest.raises(AssertionError, match="is not JSON"):
        check_output('{"event": "start"\n')


def test_check_mistakes_are_names_not_bits():
    ev = {"event": "check", "schema": 1, "file": "f", "image": {}, "verdict": "refused", "fits": False,
          "device_error": 4, "device_error_text": "Not Enough Space", "size": 1, "limit": 0, "margin": -1,
          "shrink_by": 1, "when": "before-data", "mistakes": ["FIRMWARE_AS_FS", "TOO_BIG"],
          "assumptions": [{"name": "RUNNING_SIZE", "text": "t"}], "warnings": [], "summary": "s", "advice": []}
    assert problems(ev) == []
    for bad in ({"mistakes": 33}, {"mistakes": ["FIRMWARE_AS_FS", "NOT_A_MISTAKE"]},
                {"assumptions": ["RUNNING_SIZE"]}, {"advice": "- shrink it\n"}):
        e = dict(ev, **bad)
        assert problems(e), bad


def test_check_event_carries_names_assumptions_and_warnings(fw, fs):
    # firmware as the filesystem of a 1M256 layout: refused, two mistakes
    r = run("check", fw, "--layout", "1M256", "-s", "--json")
    assert r.returncode == IMAGE, r.stderr
    (ev,) = check_output(r.stdout)
    assert ev["event"] == "check" and ev["schema"] == 1 and ev["verdict"] == "refused"
    assert set(ev["mistakes"]) == {"FIRMWARE_AS_FS", "TOO_BIG"}
    assert ev["when"] == "before-data"
    assert isinstance(ev["advice"], list) and ev["advice"]
    assert not any(a.startswith("- ") or "\n" in a for a in ev["advice"])
    assert any("without -s" in a for a in ev["advice"])
    # unknown running size: the verdict rests on an assumption, said so by name and text
    r = run("check", fw, "--board", "esp8285", "--json")
    assert r.returncode == OK, r.stderr
    (ev,) = check_output(r.stdout)
    names = {a["name"] for a in ev["assumptions"]}
    assert "RUNNING_SIZE" in names, ev["assumptions"]
    assert all(a["text"] for a in ev["assumptions"])
    assert ev["warnings"] == [] and ev["mistakes"] == []
