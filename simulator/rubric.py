"""The rubric's tables: ``assets/rubric.toml`` with a scenario's ``[scoring]`` overrides, and the
checks of those overrides. Both the scenario loader (which reports bad overrides) and the scorer
(:mod:`simulator.scoring.rules`) read it; it imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulator.assets import load_table


@dataclass(frozen=True, kw_only=True)
class Rubric:
    """The rubric values (points, shares, limits) for one scenario."""

    version: int
    values: Mapping[str, float]

    def __getitem__(self, key: str) -> float:
        return self.values[key]


SHARES = {
    "placement": ("target_share", "zone_share", "breach_share"),
    "cement": ("volume_share", "distribution_share", "leak_share", "timing_share"),
}
"""The shares of each component that must add up to 1."""


def rubric_problems(overrides: Mapping[str, float]) -> list[tuple[str, str]]:
    """Problems of a scenario's ``[scoring]`` overrides taken with the rubric's defaults, as
    ``(field, message)`` pairs (the scenario loader reports them)."""
    table = load_table("rubric")
    v = {k: float(x) for k, x in table.items() if k != "rubric_version"}
    v.update(overrides)

    def field(key: str) -> str:
        return f"scoring.{key}"

    out = []
    for key in ("radiation_zero_ratio", "efficiency_zero_ratio"):
        if v[key] <= 1.0:
            out.append(
                (field(key), f"must be above 1 (a multiple of the expert's), got {v[key]:g}")
            )
    if v["target_zero_mm"] <= v["target_full_mm"]:
        out.append(
            (
                field("target_zero_mm"),
                f"must be greater than target_full_mm ({v['target_full_mm']:g}), "
                f"got {v['target_zero_mm']:g}",
            )
        )
    for key in (*SHARES["placement"], *SHARES["cement"], "breach_penalty_share"):
        if not 0.0 <= v[key] <= 1.0:
            out.append((field(key), f"a share is a number from 0 to 1, got {v[key]:g}"))
    if out:
        return out
    for comp, keys in SHARES.items():
        total = sum(v[k] for k in keys)
        if abs(total - 1.0) > 1e-6:
            names = " + ".join(keys)
            out.append(
                (field(keys[0]), f"the {comp} shares ({names}) must add up to 1, got {total:g}")
            )
    if v["pass_mark"] > 100.0 or v["critical_cap"] > 100.0:
        out.append((field("pass_mark"), "pass_mark and critical_cap are totals from 0 to 100"))
    return out


def rubric_for(scenario) -> Rubric:
    """``assets/rubric.toml`` with the scenario's ``[scoring]`` overrides applied."""
    table = load_table("rubric")
    values = {k: float(v) for k, v in table.items() if k != "rubric_version"}
    values.update(scenario.scoring)
    return Rubric(version=int(table["rubric_version"]), values=values)
