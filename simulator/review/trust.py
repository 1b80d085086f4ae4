"""What review says of the logs' signatures and origins (text and HTML alike)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from simulator.records.signing import STATUSES
from simulator.review.collect import Attempt

MAX_LISTED = 20
"""Logs named one by one among the warnings (the rest are counted)."""

_WARN = {
    "tampered": "changed after it was signed (the signature does not match)",
    "unknown key": "signed by a key you do not hold or trust (not checked)",
    "unsigned": "unsigned (edits cannot be detected)",
}


def trusted(attempts: list[Attempt]) -> list[Attempt]:
    """The attempts whose logs were not changed after they were signed (and, with
    ``--replay``, whose replay gave the log's results): any other is listed among the
    warnings and in the CSV, never counted in a table, plot or trend."""
    return [a for a in attempts if a.verification != "tampered" and a.replay in (None, "ok")]


def origin_text(a: Attempt) -> str:
    """How the attempt's actions were made, with "+ hints" when training hints were on."""
    return a.origin + (" + hints" if a.hints else "")


def trust_line(attempts: list[Attempt]) -> str:
    """One line: how many logs have each signature status and each origin."""
    status = Counter(a.verification for a in attempts)
    origin = Counter(a.origin for a in attempts)
    hints = sum(1 for a in attempts if a.hints)
    sig = ", ".join(f"{status[s]} {s}" for s in STATUSES if status[s])
    how = ", ".join(f"{n} {o}" for o, n in sorted(origin.items()))
    replays = Counter(a.replay for a in attempts if a.replay is not None)
    again = ", ".join(f"{n} {r}" for r, n in sorted(replays.items()))
    return (
        f"Signatures: {sig or 'none'}. Origin: {how or 'none'}"
        + (f"; {hints} with training hints on" if hints else "")
        + "."
        + (f" Replays: {again}." if again else "")
    )


def trust_warnings(attempts: list[Attempt]) -> list[str]:
    """A warning per log that is not validly signed (tampered first), at most
    :data:`MAX_LISTED` named."""
    replayed = [a for a in attempts if a.replay not in (None, "ok")]
    out = [f"WARNING {Path(a.file).name}: replay {a.replay} (verify it)" for a in replayed]
    bad = [a for a in attempts if a.verification != "valid"]
    bad.sort(key=lambda a: (STATUSES.index(a.verification) * -1, a.file))
    out += [f"WARNING {Path(a.file).name}: {_WARN[a.verification]}" for a in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        out.append(f"… and {len(bad) - MAX_LISTED} more logs not validly signed")
    return out
