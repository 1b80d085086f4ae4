"""Tissue (and, later, cement) property tables loaded from ``assets/``.

:func:`tissues` returns the label table of ``assets/materials.toml`` as per-label arrays indexed
by the uint8 label id, so a property volume is one fancy-indexing away:
``tissues().porosity[labels]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from simulator.assets import load_table

SOURCE = "assets/materials.toml"


@dataclass(frozen=True, kw_only=True)
class LeakSite:
    """One place cement can be booked (``[[leak_sites]]`` of ``assets/materials.toml``)."""

    site: str
    """Key in logs, events and CSV columns (``"none"``: inside the treated vertebra)."""
    short: str
    """Short name for table headers."""
    by_label: bool
    """Whether a tissue's ``leak_site`` may name it (else the needle path decides)."""


@functools.cache
def leak_sites() -> tuple[LeakSite, ...]:
    """Every leak site, ``"none"`` first, in the declared order (flow grid index, log keys,
    CSV columns)."""
    rows = load_table("materials").get("leak_sites")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{SOURCE}: leak_sites: must be a non-empty [[leak_sites]] list")
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(LeakSite(site=row["site"], short=row["short"], by_label=row["by_label"]))
        except KeyError as e:
            raise ValueError(f"{SOURCE}: leak_sites[{i}].{e.args[0]}: missing") from None
    if out[0].site != "none":
        raise ValueError(f"{SOURCE}: leak_sites[0].site: must be 'none', got {out[0].site!r}")
    return tuple(out)


def site_names() -> tuple[str, ...]:
    """All leak site keys, ``"none"`` (in the body) first."""
    return tuple(s.site for s in leak_sites())


def outside_sites() -> tuple[str, ...]:
    """The leak sites outside the body (every site but ``"none"``): log keys, CSV columns."""
    return site_names()[1:]


@dataclass(frozen=True, kw_only=True)
class TissueTable:
    """Per-label properties; every array has one entry per label id (0 … n-1)."""

    names: tuple[str, ...]
    """Label key (e.g. ``"cancellous"``) per id."""
    display_names: tuple[str, ...]
    mu_per_mm: np.ndarray
    """Linear attenuation at the effective beam energy (1/mm)."""
    porosity: np.ndarray
    permeability_scale: np.ndarray
    """Multiplier of the scenario's cancellous permeability."""
    leak_site: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    """Group name → member tissue names in id order (``groups`` of each label)."""

    def id(self, name: str) -> int:
        """The label id of tissue ``name``."""
        return self.names.index(name)

    def ids(self, *names: str) -> list[int]:
        """Label ids of several tissues."""
        return [self.names.index(n) for n in names]

    def group(self, name: str) -> tuple[str, ...]:
        """Names of the tissues in group ``name`` (declared in ``[groups]``), in id order."""
        if name not in self.groups:
            raise KeyError(f"{SOURCE}: no tissue group {name!r}; groups: {', '.join(self.groups)}")
        return self.groups[name]

    def group_ids(self, name: str) -> list[int]:
        """Label ids of the tissues in group ``name``, ascending."""
        return self.ids(*self.group(name))


def _groups(table: dict, rows: list) -> dict[str, tuple[str, ...]]:
    """Validated group memberships: every label's ``groups`` names declared groups, and every
    declared group has a member."""
    declared = table.get("groups")
    if not isinstance(declared, dict) or not declared:
        raise ValueError(f"{SOURCE}: groups: must be a [groups] table of name = meaning")
    members: dict[str, list[str]] = {g: [] for g in declared}
    for name, row in rows:
        groups = row.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError(f"{SOURCE}: labels.{name}.groups: must be a list of group names")
        for g in groups:
            if g not in members:
                raise ValueError(
                    f"{SOURCE}: labels.{name}.groups: unknown group {g!r}; "
                    f"declared in [groups]: {', '.join(declared)}"
                )
            members[g].append(name)
    for g, names in members.items():
        if not names:
            raise ValueError(f"{SOURCE}: groups.{g}: no label has this group")
    return {g: tuple(names) for g, names in members.items()}


@functools.cache
def tissues() -> TissueTable:
    """The tissue table (cached). Ids must run 0 … n-1 without gaps."""
    table = load_table("materials")
    rows = sorted(table["labels"].items(), key=lambda kv: kv[1]["id"])
    ids = [row["id"] for _, row in rows]
    if ids != list(range(len(ids))):
        raise ValueError(f"{SOURCE}: label ids must be 0..{len(ids) - 1}, got {ids}")
    by_label = tuple(s.site for s in leak_sites() if s.by_label)
    for name, row in rows:
        if row["leak_site"] not in by_label:
            raise ValueError(f"{SOURCE}: labels.{name}.leak_site must be one of {by_label}")
    groups = _groups(table, rows)

    def arr(key: str) -> np.ndarray:
        a = np.array([row[key] for _, row in rows], dtype=np.float32)
        a.setflags(write=False)
        return a

    return TissueTable(
        names=tuple(name for name, _ in rows),
        display_names=tuple(row["name"] for _, row in rows),
        mu_per_mm=arr("mu_per_mm"),
        porosity=arr("porosity"),
        permeability_scale=arr("permeability_scale"),
        leak_site=tuple(row["leak_site"] for _, row in rows),
        groups=groups,
    )
