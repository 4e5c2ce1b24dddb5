"""Validate espota --json output against docs/events.schema.json.

Every CLI test that passes --json checks each line it got through
check_output(), so the whole integration suite is also a schema test: a
field, type or name that the schema does not describe fails the test that
produced it. Needs python3-jsonschema (scripts/deps.sh installs it).
"""

from __future__ import annotations

import json
import os

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "events.schema.json")

with open(SCHEMA_PATH, encoding="utf-8") as f:
    SCHEMA = json.load(f)
jsonschema.Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Counts what the suite validated, by event type (see test_schema.py).
SEEN: dict[str, int] = {}


def problems(event) -> list[str]:
    """Why `event` (a decoded JSON value) does not match the schema; [] when it does."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<event>'}: {e.message}"
            for e in sorted(VALIDATOR.iter_errors(event), key=lambda e: list(map(str, e.absolute_path)))]


def check_output(stdout: str) -> list[dict]:
    """Parse JSON Lines and validate every event; raise AssertionError naming
    the first line that does not match. Returns the events."""
    events = []
    for n, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"--json line {n} is not JSON ({e}): {line[:200]}") from None
        bad = problems(ev)
        if bad:
            raise AssertionError(f"--json line {n} does not match docs/events.schema.json:\n  "
                                 + "\n  ".join(bad[:8]) + f"\n  line: {line[:400]}")
        SEEN[ev["event"]] = SEEN.get(ev["event"], 0) + 1
        events.append(ev)
    return events
