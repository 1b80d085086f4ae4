"""Landmarks of the phantom: pedicle axes, the ideal target zone per side, body volumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from simulator.anatomy.grid import Grid
from simulator.materials import TissueTable


@dataclass(frozen=True, kw_only=True)
class PedicleAxis:
    """A pedicle's axis: isthmus centre (mm) and unit direction toward the body."""

    side: str
    isthmus_mm: tuple[float, float, float]
    direction: tuple[float, float, float]
    half_width_mm: float
    half_height_mm: float


@dataclass(frozen=True, kw_only=True)
class TargetZone:
    """An axis-aligned box (mm) where the needle tip should end; ``point_mm`` is its ideal
    point (the aim of the plan)."""

    point_mm: tuple[float, float, float]
    lo_mm: tuple[float, float, float]
    hi_mm: tuple[float, float, float]

    def contains(self, p_mm) -> bool:
        """True when the point lies in the zone."""
        p = np.asarray(p_mm, dtype=float)
        return bool(np.all(p >= self.lo_mm) and np.all(p <= self.hi_mm))


@dataclass(frozen=True, kw_only=True)
class Landmarks:
    """Named places and sizes a scorer, planner or debrief needs (mm, ml)."""

    pedicle_axes: Mapping[str, PedicleAxis]
    targets: Mapping[str, TargetZone]
    cancellous_ml: float
    """Cancellous bone of the treated body (the volume cement can fill), ml."""
    body_ml: float
    """The treated body including shell, endplates, veins and defects inside it, ml."""
    posterior_wall_y_mm: float
    anterior_y_mm: float


def target_zone(geom, approach: str, side: str) -> TargetZone:
    """The ideal tip zone for one side.

    Unipedicular: near the midline (|x| ≤ 5 mm) so one needle fills both halves;
    bipedicular: the centre of that side's half (x = ±a/3, ± 5 mm). In both, the anterior third
    of the body (docs/SOURCES.md) kept 3 mm clear of the anterior cortex, and 3 mm clear of both
    endplates.
    """
    body = geom.body
    s = 1.0 if side == "left" else -1.0
    x_c = 0.0 if approach == "unipedicular" else s * body.half_width_mm / 3.0
    depth = 2.0 * body.half_depth_mm
    y_lo = body.anterior_y_mm + 3.0
    y_hi = body.anterior_y_mm + depth / 3.0
    y_c = body.anterior_y_mm + 0.22 * depth
    z_bot = float(body.bottom_z(x_c, y_c))
    z_top = float(body.top_z(x_c, y_c))
    z_mid = 0.5 * (z_bot + z_top)
    half_z = max(0.5 * (z_top - z_bot) - 3.0, 1.0)  # a flat body still gets a 2 mm slab
    return TargetZone(
        point_mm=(x_c, y_c, z_mid),
        lo_mm=(x_c - 5.0, y_lo, z_mid - half_z),
        hi_mm=(x_c + 5.0, y_hi, z_mid + half_z),
    )


def make_landmarks(
    labels: np.ndarray, grid: Grid, scenario, T: TissueTable, *, skin_y0_mm: float, geometry=None
) -> Landmarks:
    """Landmarks of a built label volume (``geometry``: the phantom's analytic frame, default
    the scenario's)."""
    geom = scenario.geometry if geometry is None else geometry
    vox_ml = grid.voxel_mm**3 / 1000.0
    body_ids = T.group_ids("body_volume")
    axes = {
        side: PedicleAxis(
            side=side,
            isthmus_mm=ped.isthmus_mm,
            direction=ped.axis,
            half_width_mm=ped.half_width_mm,
            half_height_mm=ped.half_height_mm,
        )
        for side, ped in geom.pedicles.items()
    }
    approach = scenario.targets.approach
    return Landmarks(
        pedicle_axes=MappingProxyType(axes),
        targets=MappingProxyType(
            {side: target_zone(geom, approach, side) for side in ("left", "right")}
        ),
        cancellous_ml=float((labels == T.id("cancellous")).sum()) * vox_ml,
        body_ml=float(np.isin(labels, body_ids).sum()) * vox_ml,
        posterior_wall_y_mm=geom.body.wall_y_mm,
        anterior_y_mm=geom.body.anterior_y_mm,
    )
