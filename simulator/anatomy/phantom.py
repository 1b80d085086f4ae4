"""The :class:`Phantom`: what the rest of the simulator reads about the patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.anatomy.air import AirSolid
from simulator.anatomy.geometry import VertebraGeometry, skin_y_mm
from simulator.anatomy.grid import Grid
from simulator.anatomy.landmarks import Landmarks
from simulator.materials import tissues


@dataclass(frozen=True, kw_only=True, eq=False)
class Phantom:
    """A voxel phantom of the treated vertebra and its neighbours (LPS mm, ``[x, y, z]``).

    ``labels``: uint8 tissue ids (``assets/materials.toml``); ``porosity``: pore fraction;
    ``permeability_m2``: AP/lateral Darcy permeability (m²), multiplied per axis by
    ``permeability_anisotropy`` (x, y, z); ``bone_density``: optional uint8 trabecular bone
    volume fraction × 255 in the textured cancellous labels (``simulator.anatomy.texture``),
    None on phantoms without the texture (then the images use one μ per label). All arrays
    are read-only.

    ``air_solids``: lungs and bowel gas in closed form (:class:`~simulator.anatomy.air.AirSolid`,
    world mm), counted by the fluoroscopy outside the grid (and, for the unpainted ones,
    inside it); ``soft_tissue_mm``: the habitus's extra trunk tissue (mm,
    ``simulator.anatomy.habitus``). Both default to the old phantom's: none.
    """

    scenario_id: str
    seed: int
    grid: Grid
    labels: np.ndarray
    porosity: np.ndarray
    permeability_m2: np.ndarray
    permeability_anisotropy: tuple[float, float, float]
    geometry: VertebraGeometry
    landmarks: Landmarks
    skin_y0_mm: float
    build_time_s: float
    bone_density: np.ndarray | None = None
    air_solids: tuple[AirSolid, ...] = ()
    soft_tissue_mm: float = 0.0

    def skin_y_mm(self, x_mm):
        """y of the posterior skin surface at lateral offset ``x_mm`` (mm)."""
        return skin_y_mm(x_mm, skin_y0_mm=self.skin_y0_mm)

    def label_at(self, points_mm) -> np.ndarray:
        """Tissue ids at LPS points (..., 3) by nearest voxel; outside the volume, soft tissue
        in front of the skin and air behind it."""
        pts = np.asarray(points_mm, dtype=float)
        idx = self.grid.index_of(pts)
        ok = self.grid.inside(idx)
        out = np.where(
            pts[..., 1] <= self.skin_y_mm(pts[..., 0]),
            tissues().id("soft_tissue"),
            tissues().id("air"),
        ).astype(np.uint8)
        safe = np.where(ok[..., None], idx, 0)
        inside_vals = self.labels[safe[..., 0], safe[..., 1], safe[..., 2]]
        return np.where(ok, inside_vals, out).astype(np.uint8)

    def label_volume_ml(self, *names: str) -> float:
        """Volume (ml) of the voxels with any of the named tissues."""
        ids = tissues().ids(*names)
        count = int(np.isin(self.labels, ids).sum())
        return count * self.grid.voxel_mm**3 / 1000.0

    @property
    def nbytes(self) -> int:
        """Memory held by the volumes (bytes)."""
        extra = 0 if self.bone_density is None else self.bone_density.nbytes
        return self.labels.nbytes + self.porosity.nbytes + self.permeability_m2.nbytes + extra
