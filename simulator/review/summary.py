"""Per-trainee and per-scenario summaries of attempts, and their plain-text tables.

A trend is the least-squares line of a value against the attempt number at the scenario
(for a scenario, each trainee's attempt number there; for a trainee, the line's slope is the
one within each of their scenarios, so that trends never pool different cases), reported as
the fitted values at the first and last attempt: a fall of more than 5 % reads
"↓ improving", a rise "↑ worse", else "→ steady".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from simulator.materials import leak_sites
from simulator.review.collect import Attempt
from simulator.review.export_csv import LEAK_SITES
from simulator.review.trust import trust_line, trust_warnings, trusted

TABLE_WIDTH = 100
LEAK_MIN_ML = 0.02  # a site counts as leaked from the model's leak-event volume (cement.py)
SITE_LABELS = {s.site: s.short for s in leak_sites() if s.site != "none"}
"""Leak site → short column header (``assets/materials.toml [[leak_sites]]``)."""


@dataclass(frozen=True)
class Trend:
    """Fitted first and last values of a least-squares line through (attempt number, value)."""

    first: float
    last: float
    n: int

    @property
    def word(self) -> str:
        """``↓ improving``, ``↑ worse`` or ``→ steady`` (±5 % of the first value)."""
        scale = max(abs(self.first), 1e-9)
        change = (self.last - self.first) / scale
        if change < -0.05:
            return "↓ improving"
        if change > 0.05:
            return "↑ worse"
        return "→ steady"


def trend(x: list[float], y: list[float], cases: list[str] | None = None) -> Trend | None:
    """The trend of ``y`` against ``x`` (``None`` with fewer than two distinct ``x``). With
    ``cases`` (each point's scenario) the line's slope is the one within the scenarios (each
    centred on its own means, so that a harder case tried later is no false "worse"),
    through the overall means."""
    keep = [i for i, b in enumerate(y) if b is not None]
    pairs = [(x[i], y[i]) for i in keep]
    if len({a for a, _ in pairs}) < 2:
        return None
    xs, ys = np.array(pairs, dtype=float).T
    if cases is not None and len({cases[i] for i in keep}) > 1:
        labels = np.array([cases[i] for i in keep])
        cx, cy = xs.copy(), ys.copy()
        for c in set(labels.tolist()):
            sel = labels == c
            cx[sel] -= xs[sel].mean()
            cy[sel] -= ys[sel].mean()
        denom = float(cx @ cx)
        if denom == 0.0:
            return None
        slope = float(cx @ cy) / denom
        intercept = float(ys.mean() - slope * xs.mean())
    else:
        slope, intercept = np.polyfit(xs, ys, 1)
    return Trend(
        first=float(intercept + slope * xs.min()),
        last=float(intercept + slope * xs.max()),
        n=len(xs),
    )


@dataclass(frozen=True)
class GroupSummary:
    """What one trainee (or one scenario) did over their attempts.

    ``critical_count`` counts critical errors (an attempt may have several);
    ``leak_attempts`` counts attempts with at least ``LEAK_MIN_ML`` at each site and
    ``leak_ml`` sums the volume there (ml).
    """

    name: str
    attempts: int
    scored: int
    passed: int
    best: float | None
    mean: float | None
    critical_count: int
    most_common_critical: tuple[str, int] | None
    fluoro_s: Trend | None
    shots: Trend | None
    leak_attempts: dict[str, int]
    leak_ml: dict[str, float]

    @property
    def pass_rate(self) -> float | None:
        """Passed / scored attempts (0–1), ``None`` without scored attempts."""
        return self.passed / self.scored if self.scored else None


def _metric(a: Attempt, key: str) -> float | None:
    v = a.metrics.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def leak_volumes(a: Attempt) -> dict[str, float]:
    """Leaked volume per site (ml; 0 where the log has none)."""
    leaks = a.metrics.get("leak_ml")
    leaks = leaks if isinstance(leaks, dict) else {}
    out = {}
    for site in LEAK_SITES:
        v = leaks.get(site)
        out[site] = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0
    return out


def summarise(name: str, attempts: list[Attempt], *, by_scenario: bool) -> GroupSummary:
    """The summary of one group of attempts (in ``started_at`` order)."""
    totals = [a.total for a in attempts if a.total is not None]
    scored = [a for a in attempts if a.score is not None]
    crit = Counter(c for a in attempts for c in a.critical)
    # x: the attempt number at the scenario; a trainee's trend is within their scenarios
    x = [float(a.scenario_attempt_no) for a in attempts]
    cases = None if by_scenario else [a.scenario_id for a in attempts]
    volumes = [leak_volumes(a) for a in attempts]
    return GroupSummary(
        name=name,
        attempts=len(attempts),
        scored=len(scored),
        passed=sum(1 for a in scored if a.passed),
        best=max(totals) if totals else None,
        mean=float(np.mean(totals)) if totals else None,
        critical_count=sum(crit.values()),
        most_common_critical=crit.most_common(1)[0] if crit else None,
        fluoro_s=trend(x, [_metric(a, "fluoro_time_s") for a in attempts], cases),
        shots=trend(x, [_metric(a, "fluoro_shots") for a in attempts], cases),
        leak_attempts={s: sum(1 for v in volumes if v[s] >= LEAK_MIN_ML) for s in LEAK_SITES},
        leak_ml={s: float(sum(v[s] for v in volumes)) for s in LEAK_SITES},
    )


def group(attempts: list[Attempt], *, by: str) -> list[GroupSummary]:
    """Summaries per trainee (``by="trainee"``) or per scenario (``by="scenario"``), sorted
    by name."""
    groups: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        groups[a.trainee if by == "trainee" else a.scenario_id].append(a)
    return [summarise(k, groups[k], by_scenario=by == "scenario") for k in sorted(groups)]


# ----- plain text ------------------------------------------------------------------------------


def _f(v: float | None, fmt: str = ".1f") -> str:
    return "–" if v is None else format(v, fmt)


def _trend_text(t: Trend | None, fmt: str) -> str:
    if t is None:
        return "–"
    return f"{t.first:{fmt}}→{t.last:{fmt}} {t.word}"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def format_table(header: list[str], rows: list[list[str]], *, right: set[int]) -> list[str]:
    """Aligned columns two spaces apart; the first column (names) and the last (free text)
    are shortened with "…" so a line never passes :data:`TABLE_WIDTH` characters."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    over = sum(widths) + 2 * (len(widths) - 1) - TABLE_WIDTH
    for col, floor in ((len(widths) - 1, 12), (0, 10)):
        if over > 0:
            cut = min(over, widths[col] - max(floor, len(header[col])))
            widths[col] -= max(cut, 0)
            over -= max(cut, 0)

    def line(cells: list[str]) -> str:
        parts = []
        for i, c in enumerate(cells):
            c = _fit(c, widths[i])
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def score_table(groups: list[GroupSummary], label: str) -> list[str]:
    """Attempts, pass rate, best and mean score, critical errors: one row per group."""
    header = [label, "attempts", "scored", "pass", "best", "mean", "critical", "most common"]
    rows = []
    for g in groups:
        common = "–"
        if g.most_common_critical:
            common = f"{g.most_common_critical[0]} ({g.most_common_critical[1]})"
        rows.append(
            [
                g.name or "(none)",
                str(g.attempts),
                str(g.scored),
                "–" if g.pass_rate is None else f"{g.pass_rate:.0%}",
                _f(g.best),
                _f(g.mean),
                str(g.critical_count),
                common,
            ]
        )
    return format_table(header, rows, right={1, 2, 3, 4, 5, 6})


def radiation_table(groups: list[GroupSummary], label: str) -> list[str]:
    """Fluoroscopy time and shots trends, and attempts with a leak per site."""
    header = [label, "fluoro s first→last", "shots first→last"]
    header += [SITE_LABELS[s] for s in LEAK_SITES]
    rows = []
    for g in groups:
        rows.append(
            [
                g.name or "(none)",
                _trend_text(g.fluoro_s, ".1f"),
                _trend_text(g.shots, ".0f"),
                *(str(g.leak_attempts[s]) for s in LEAK_SITES),
            ]
        )
    return format_table(header, rows, right=set(range(3, 3 + len(LEAK_SITES))))


def text_report(attempts: list[Attempt]) -> list[str]:
    """The terminal report: the signatures and origins, then score and radiation/leak tables
    per trainee and per scenario over the logs not tampered with (:func:`trusted`)."""
    counted = trusted(attempts)
    trainees = group(counted, by="trainee")
    scenarios = group(counted, by="scenario")
    unscored = sum(1 for a in counted if a.score is None)
    lines = [
        f"{len(counted)} attempts by {len(trainees)} trainees on {len(scenarios)} scenarios"
        + (f" ({unscored} unscored)" if unscored else "")
        + (
            f"; {len(attempts) - len(counted)} logs left out (tampered, or their replay differs)"
            if counted != attempts
            else ""
        ),
        "",
    ]
    lines += ["Signatures and origin", trust_line(attempts), *trust_warnings(attempts), ""]
    for groups, label in ((trainees, "trainee"), (scenarios, "scenario")):
        lines += [f"Scores by {label} (score 0–100; pass = passed / scored)"]
        lines += score_table(groups, label)
        lines += ["", f"Fluoroscopy trend and attempts with a leak, by {label}"]
        lines += radiation_table(groups, label)
        lines += [""]
    lines += [
        "Trends: least-squares line over attempt number, fitted first → last attempt.",
        f"Leak columns: attempts with ≥ {LEAK_MIN_ML:g} ml of cement at the site",
        "(para = paravertebral, tract = needle tract).",
    ]
    return lines
