"""The rubric's tables: ``assets/rubric.toml`` with a scenario's ``[scoring]`` overrides, and the
checks of those overrides. Both the scenario loader (which reports bad overrides) and the scorer
(:mod:`simulator.scoring.rules`) read it; it imports neither.

The rubric has two kinds of entries: numbers (points, shares, limits; a scenario may override
each) and tables (zone scores, distribution and radiation weights, leak scales per site, good
timing phases; fixed with the rubric version, never overridden: the scenario loader allows only
the numeric keys, and :func:`rubric_for` takes only numbers from the file into ``values``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulator.assets import load_table


@dataclass(frozen=True, kw_only=True)
class Rubric:
    """The rubric values (points, shares, limits) for one scenario."""

    version: int
    values: Mapping[str, float]
    tables: Mapping[str, Mapping]
    """The rubric's tables (``[zone_scores]`` …), not overridable."""

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def table(self, name: str) -> Mapping:
        """The rubric table ``name`` (e.g. ``"zone_scores"``: tip zone → share)."""
        if name not in self.tables:
            raise KeyError(f"assets/rubric.toml: no table [{name}]")
        return self.tables[name]


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def numeric_defaults(table: Mapping) -> dict[str, float]:
    """The rubric's numeric keys (the overridable ones) with their default values."""
    return {k: float(v) for k, v in table.items() if k != "rubric_version" and _is_number(v)}


SHARES = {
    "placement": ("target_share", "zone_share", "breach_share"),
    "cement": ("volume_share", "distribution_share", "leak_share", "timing_share"),
    "technique": (
        "blind_share",
        "wall_check_share",
        "view_share",
        "alignment_share",
        "watch_share",
        "reaction_share",
    ),
}
"""The shares of each component that must add up to 1."""


RANGES = (
    ("target_full_mm", "target_zero_mm"),
    ("blind_full_mm", "blind_zero_mm"),
    ("alignment_full_deg", "alignment_zero_deg"),
    ("watch_full_ml", "watch_zero_ml"),
    ("reaction_full_ml", "reaction_zero_ml"),
)
"""The ramps' (full, zero) pairs: zero must lie beyond full."""

VERSIONS = (1, 2, 3)
"""The rubric versions this release scores with (``[v1]``, ``[v2]``: their values)."""


def rubric_problems(overrides: Mapping[str, float]) -> list[tuple[str, str]]:
    """Problems of a scenario's ``[scoring]`` overrides taken with the rubric's defaults, as
    ``(field, message)`` pairs (the scenario loader reports them)."""
    v = numeric_defaults(load_table("rubric"))
    v.update(overrides)

    def field(key: str) -> str:
        return f"scoring.{key}"

    out = []
    for key in ("radiation_zero_ratio", "efficiency_zero_ratio"):
        if v[key] <= 1.0:
            out.append(
                (field(key), f"must be above 1 (a multiple of the expert's), got {v[key]:g}")
            )
    for full, zero in RANGES:
        if v[zero] <= v[full]:
            out.append((field(zero), f"must be greater than {full} ({v[full]:g}), got {v[zero]:g}"))
    for key in (
        *[k for keys in SHARES.values() for k in keys],
        "breach_penalty_share",
        "unipedicular_share",
    ):
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


def rubric_for(scenario, *, version: int | None = None) -> Rubric:
    """``assets/rubric.toml`` with the scenario's ``[scoring]`` overrides applied; ``version``
    1 (the rubric of releases before 0.7.0): its ``[v1]`` values first. None: today's."""
    table = load_table("rubric")
    current = int(table["rubric_version"])
    version = current if version is None else int(version)
    if version not in VERSIONS:
        raise ValueError(f"rubric version {version}: this release scores with {VERSIONS}")
    values = numeric_defaults(table)
    if version < current:
        values.update(numeric_defaults(table[f"v{version}"]))
    values.update(scenario.scoring)
    tables = {k: MappingProxyType(v) for k, v in table.items() if isinstance(v, dict)}
    return Rubric(version=version, values=values, tables=MappingProxyType(tables))
