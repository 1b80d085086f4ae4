"""Attempt logs (``vsim-attempt/1``, DESIGN §4.4): build and write atomically.

The log holds the scenario's id and file hash, the seed, the trainee, the wall-clock start,
the actions as applied (with their tick), the events and the metrics. Scoring and the
signature come with the scoring work; until then a log carries neither (no score is faked).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from simulator import __version__
from simulator.procedure import Procedure

LOG_FORMAT = "vsim-attempt/1"


def attempt_log(proc: Procedure, *, trainee: str, started_at: str | None = None) -> dict:
    """The JSON-safe log of a finished (or running) procedure."""
    return {
        "format": LOG_FORMAT,
        "simulator_version": __version__,
        "scenario": {"id": proc.scenario.id, "sha256": proc.scenario.sha256},
        "seed": proc.seed,
        "trainee": trainee,
        "started_at": started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "actions": [dict(a) for a in proc.applied],
        "events": [e.as_json() for e in proc.events],
        "metrics": proc.metrics(),
    }


def write_json_atomic(path: str | Path, data: dict) -> Path:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename, so that a reader
    never sees half a file and a failure leaves no partial file behind."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
