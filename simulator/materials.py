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

LEAK_SITES = ("none", "canal", "disc", "vein", "paravertebral")
BODY_TISSUES = (
    "cancellous",
    "cortical",
    "endplate",
    "cleft",
    "cortical_defect",
    "endplate_crack",
    "basivertebral_vein",
)
"""Tissues that make up the treated vertebral body (cement here is in the body)."""


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

    def id(self, name: str) -> int:
        """The label id of tissue ``name``."""
        return self.names.index(name)

    def ids(self, *names: str) -> list[int]:
        """Label ids of several tissues."""
        return [self.names.index(n) for n in names]


@functools.cache
def tissues() -> TissueTable:
    """The tissue table (cached). Ids must run 0 … n-1 without gaps."""
    labels = load_table("materials")["labels"]
    rows = sorted(labels.items(), key=lambda kv: kv[1]["id"])
    ids = [row["id"] for _, row in rows]
    if ids != list(range(len(ids))):
        raise ValueError(f"assets/materials.toml: label ids must be 0..{len(ids) - 1}, got {ids}")
    for name, row in rows:
        if row["leak_site"] not in LEAK_SITES:
            raise ValueError(
                f"assets/materials.toml: labels.{name}.leak_site must be one of {LEAK_SITES}"
            )

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
    )
