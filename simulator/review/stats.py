"""Per scenario and metric: how many attempts, the median and the interquartile range, beside
the expert's figure when the review has it (for validity studies: which metrics tell novices
from experts on which case).

The metrics are the scalar ones an assessor compares across a cohort (:data:`METRICS`); the
quartiles are numpy's default (linear) percentiles of the attempts that have the metric.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from simulator.review.collect import Attempt

METRICS = (
    # (log key or "score", label, format)
    ("score", "score (0–100)", ".1f"),
    ("tip_to_target_mm", "tip to target mm", ".1f"),
    ("fluoro_time_s", "fluoro s", ".1f"),
    ("fluoro_shots", "shots", ".0f"),
    ("dose_dap_mgycm2", "DAP mGy·cm²", ".0f"),
    ("procedure_time_s", "procedure s", ".0f"),
    ("in_body_ml", "in body ml", ".2f"),
    ("leak_total_ml", "leaked ml", ".2f"),
    ("max_injection_pressure_kpa", "peak kPa", ".0f"),
)


@dataclass(frozen=True)
class MetricStats:
    """One metric over one scenario's attempts: n, median, first and third quartile."""

    n: int
    median: float
    q1: float
    q3: float


def value(a: Attempt, key: str) -> float | None:
    """Attempt ``a``'s value of metric ``key`` (:data:`METRICS`), None when it has none."""
    if key == "score":
        return a.total
    if key == "leak_total_ml":
        leaks = a.metrics.get("leak_ml")
        if not isinstance(leaks, dict):
            return None
        nums = [v for v in leaks.values() if isinstance(v, int | float) and not isinstance(v, bool)]
        return float(sum(nums)) if nums else None
    v = a.metrics.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def stats(values: list[float]) -> MetricStats | None:
    """n, median and quartiles of ``values`` (None when empty)."""
    if not values:
        return None
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return MetricStats(len(values), float(med), float(q1), float(q3))


def by_scenario(attempts: list[Attempt]) -> dict[str, dict[str, MetricStats | None]]:
    """{scenario: {metric key: its stats over that scenario's attempts}}, scenarios sorted."""
    groups: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        groups[a.scenario_id].append(a)
    return {
        sid: {
            key: stats([v for a in groups[sid] if (v := value(a, key)) is not None])
            for key, _, _ in METRICS
        }
        for sid in sorted(groups)
    }


def stats_rows(attempts: list[Attempt], reference: dict | None = None) -> list[list[str]]:
    """Rows (scenario, metric, n, median, IQR, expert) of :func:`by_scenario`; ``reference``:
    {scenario: {metric key: the expert's value}} (empty cells where none)."""
    rows = []
    for sid, per in by_scenario(attempts).items():
        for key, label, fmt in METRICS:
            s = per[key]
            if s is None:
                continue
            ref = (reference or {}).get(sid, {}).get(key)
            rows.append(
                [
                    sid,
                    label,
                    str(s.n),
                    format(s.median, fmt),
                    f"{format(s.q1, fmt)}–{format(s.q3, fmt)}",
                    "–" if ref is None else format(ref, fmt),
                ]
            )
    return rows


STATS_HEADER = ["scenario", "metric", "n", "median", "IQR", "expert"]
