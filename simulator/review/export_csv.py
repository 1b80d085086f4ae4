"""One CSV row per attempt, one column per metric, for validity studies.

The columns are the declared list :data:`COLUMNS` (never derived from whichever log came
first), so files from different reviews line up. Nested metrics are flattened
(``leak_ml_canal``, ``endplate_contact_superior``, ``needle_tip_mm_x``); lists are joined
with ``;``; booleans are ``true``/``false``; a missing value is an empty cell. Every field is
quoted (``csv.QUOTE_ALL``) and text has its control characters (CR, LF, TAB, ESC, NUL …)
replaced by U+FFFD, so a value from a log can neither start a new row nor a formula. The
metric columns follow ``assets/metrics.toml``; a metric of a new kind needs its columns in
``_columns_of``.
"""

from __future__ import annotations

import csv
import io

from simulator.inputs import printable
from simulator.metrics import metric_table
from simulator.records.log import LEAK_SITES
from simulator.review.collect import Attempt
from simulator.units import SIDES

COMPONENTS = ("placement", "cement", "radiation", "efficiency", "technique")
"""Score components with a column (``technique``: rubric 2, release 0.7.0 on)."""

IDENTITY_COLUMNS = (
    "trainee",
    "scenario_id",
    "scenario_sha256",
    "started_at",
    "seed",
    "simulator_version",
    "signed",
    "file",
)


def _columns_of(name: str, kind: str) -> tuple[str, ...]:
    """The CSV columns of one declared metric (nested kinds are flattened)."""
    if kind == "point":
        return tuple(f"{name}_{axis}" for axis in "xyz")
    if kind == "breaches":
        return ("breaches_count", "breach_kinds", "breach_max_depth_mm")
    if kind == "leaks":
        return (*(f"{name}_{site}" for site in LEAK_SITES), f"{name}_total")
    if kind == "endplates":
        return tuple(f"{name}_{side}" for side in ("superior", "inferior"))
    if kind == "sites":
        return tuple(f"{name}_{site}" for site in LEAK_SITES)
    if kind == "needles":
        return tuple(f"{name}_{side}_{k}" for side in SIDES for k in NEEDLE_COLUMNS)
    return (name,)


NEEDLE_COLUMNS = ("tip_to_target_mm", "tip_zone", "breaches_count", "max_blind_advance_mm")
"""What the CSV shows of each needle of ``needles`` (release 0.8.0 on)."""


# Metric columns in the order of assets/metrics.toml (the log's order); the log key each one
# comes from is in flat_metrics.
def _metric_columns(*, since: tuple | None = None, before: tuple | None = None) -> tuple:
    return tuple(
        col
        for m in metric_table()
        if (since is None or m.since >= since) and (before is None or m.since < before)
        for col in _columns_of(m.name, m.kind.removesuffix(" or null"))
    )


LATER = (0, 7, 0)
"""Metrics of this release on get their columns after the review's (the earlier releases'
columns keep their places)."""
METRIC_COLUMNS: tuple[str, ...] = _metric_columns()
"""Every metric's columns (in the table's order)."""
SCORE_COLUMNS = (
    "score_total",
    "score_passed",
    "score_critical",
    *(f"score_{name}_points" for name in COMPONENTS[:4]),
    "score_rubric_version",
)
REVIEW_COLUMNS = (
    "verification",
    "origin",
    "hints",
    "station",
    "attempt_no",
    "scenario_attempt_no",
    "replay",
)
"""What review found of each log (release 0.6.0 on): appended, so that the columns of
earlier releases keep their places."""
TWO_NEEDLES = (0, 8, 0)
LATER_COLUMNS = (
    *_metric_columns(since=LATER, before=TWO_NEEDLES),
    "score_technique_points",
    *_metric_columns(since=TWO_NEEDLES),
)
"""Release 0.7.0's: the image-guidance metrics and the technique component; then 0.8.0's:
each needle's placement (appended)."""
COLUMNS: tuple[str, ...] = (
    IDENTITY_COLUMNS
    + _metric_columns(before=LATER)
    + SCORE_COLUMNS
    + REVIEW_COLUMNS
    + LATER_COLUMNS
)
"""Every CSV column, in file order."""


def cell(value) -> str:
    """A value as CSV text: ``true``/``false``, shortest float repr, ``;``-joined lists,
    empty for ``None``, text that a spreadsheet would run as a formula quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ";".join(cell(v) for v in value)
    text = printable(str(value))  # no CR, LF, NUL or escape reaches the file
    if isinstance(value, str) and value.lstrip()[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # text from a log (a trainee's name) must not become a spreadsheet formula
        return "'" + text
    return text


def _num(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def flat_metrics(metrics: dict) -> dict[str, object]:
    """The log's ``metrics`` flattened to the scalar columns of :data:`METRIC_COLUMNS`."""
    row: dict[str, object] = {
        k: metrics.get(k) for k in METRIC_COLUMNS if k in metrics and _scalar(metrics.get(k))
    }
    needles = metrics.get("needles")
    for side, own in needles.items() if isinstance(needles, dict) else ():
        if side in SIDES and isinstance(own, dict):
            breaches = own.get("breaches")
            own = {**own, "breaches_count": len(breaches) if isinstance(breaches, list) else None}
            for k in NEEDLE_COLUMNS:
                if _scalar(own.get(k)):
                    row[f"needles_{side}_{k}"] = own.get(k)
    tip = metrics.get("needle_tip_mm")
    if isinstance(tip, list) and len(tip) == 3:
        row.update(zip(("needle_tip_mm_x", "needle_tip_mm_y", "needle_tip_mm_z"), tip, strict=True))
    breaches = metrics.get("breaches")
    if isinstance(breaches, list):
        kinds = [b.get("kind") for b in breaches if isinstance(b, dict)]
        depths = [_num(b.get("depth_mm")) for b in breaches if isinstance(b, dict)]
        depths = [d for d in depths if d is not None]
        row["breaches_count"] = len(breaches)
        row["breach_kinds"] = [str(k) for k in kinds]
        row["breach_max_depth_mm"] = max(depths) if depths else (0.0 if not breaches else None)
    leaks = metrics.get("leak_ml")
    if isinstance(leaks, dict):
        volumes = {site: _num(leaks.get(site)) for site in LEAK_SITES}
        row.update({f"leak_ml_{site}": v for site, v in volumes.items()})
        known = [v for v in volumes.values() if v is not None]
        row["leak_ml_total"] = round(sum(known), 6) if known else None
    for m in metric_table():
        per_site = metrics.get(m.name)
        if m.kind == "sites" and isinstance(per_site, dict):
            row.update({f"{m.name}_{site}": _num(per_site.get(site)) for site in LEAK_SITES})
    contact = metrics.get("endplate_contact")
    if isinstance(contact, dict):
        for side in ("superior", "inferior"):
            row[f"endplate_contact_{side}"] = contact.get(side)
    return row


def _scalar(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def score_cells(score: dict | None) -> dict[str, object]:
    """The log's ``score`` as :data:`SCORE_COLUMNS` values (all empty when unscored)."""
    if not isinstance(score, dict):
        return {}
    row: dict[str, object] = {
        "score_total": score.get("total"),
        "score_passed": score.get("passed"),
        "score_critical": [str(c) for c in score.get("critical") or []],
        "score_rubric_version": score.get("rubric_version"),
    }
    components = score.get("components")
    if isinstance(components, dict):
        for name in COMPONENTS:
            part = components.get(name)
            if isinstance(part, dict):
                row[f"score_{name}_points"] = part.get("points")
    return row


def attempt_row(a: Attempt) -> dict[str, object]:
    """One attempt as ``{column: value}`` over :data:`COLUMNS` (missing values ``None``)."""
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    row.update(
        trainee=a.trainee,
        scenario_id=a.scenario_id,
        scenario_sha256=a.scenario_sha256,
        started_at=a.started_at,
        seed=a.seed,
        simulator_version=a.simulator_version,
        signed=a.signed,
        verification=a.verification,
        origin=a.origin,
        hints=a.hints,
        station=a.station,
        attempt_no=a.attempt_no or "",
        scenario_attempt_no=a.scenario_attempt_no or "",
        replay=a.replay,
        file=a.file,
    )
    row.update(flat_metrics(a.metrics))
    row.update(score_cells(a.score))
    return row


def csv_text(attempts: list[Attempt]) -> str:
    """The whole CSV (header and one row per attempt) as text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    for a in attempts:
        row = attempt_row(a)
        writer.writerow([cell(row[c]) for c in COLUMNS])
    return buf.getvalue()
