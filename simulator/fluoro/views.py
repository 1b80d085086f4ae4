"""C-arm views: which way the beam goes and how world points land on the detector.

Both standard views are parallel projections along a phantom grid axis with the detector
pixels aligned to the voxels (pixel = voxel = 0.5 mm), so the anatomy's line integral is a
plain sum and cement and needle can be pasted without resampling. A view keeps its orbital
and cranial/caudal angles so that oblique views can be added later; only 0° is implemented.

Display conventions (rows top to bottom, columns left to right):

* ``lateral`` — beam along x; columns follow +y (anterior on the left, posterior on the
  right), rows follow −z (head up).
* ``ap`` — beam along y; columns follow +x (the patient's right on the viewer's left, the
  radiological convention), rows follow −z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.anatomy.grid import Grid

VIEW_NAMES = ("lateral", "ap")
_AXES = {"lateral": (0, 1), "ap": (1, 0)}  # (beam axis, detector column axis)


@dataclass(frozen=True, kw_only=True)
class View:
    """One C-arm position and its detector.

    ``col0_index``: phantom grid index (along the column axis) of detector column 0;
    ``row0_index``: grid z index of detector row 0 (rows run toward −z).
    """

    name: str
    beam_axis: int
    col_axis: int
    pixel_mm: float
    size_px: int
    col0_index: int
    row0_index: int
    grid: Grid
    orbital_deg: float = 0.0
    cranial_deg: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """Detector (rows, cols)."""
        return (self.size_px, self.size_px)

    def project(self, points_mm) -> np.ndarray:
        """Detector (row, col) in pixels (floats) of LPS points (..., 3) in mm."""
        p = np.asarray(points_mm, dtype=float)
        g = self.grid
        col_idx = (p[..., self.col_axis] - g.origin_mm[self.col_axis]) / g.voxel_mm
        z_idx = (p[..., 2] - g.origin_mm[2]) / g.voxel_mm
        return np.stack([self.row0_index - z_idx, col_idx - self.col0_index], axis=-1)

    def circle_mask(self) -> np.ndarray:
        """True inside the circular collimated field."""
        n = self.size_px
        r = np.arange(n) - (n - 1) / 2.0
        return (r[:, None] ** 2 + r[None, :] ** 2) <= (n / 2.0) ** 2

    def radius_fraction(self) -> np.ndarray:
        """Distance of each pixel from the field centre over the field radius."""
        n = self.size_px
        r = np.arange(n) - (n - 1) / 2.0
        return np.sqrt(r[:, None] ** 2 + r[None, :] ** 2) / (n / 2.0)


def standard_views(
    grid: Grid, *, centre_mm, field_diameter_mm: float, pixel_mm: float
) -> dict[str, View]:
    """The lateral and AP views centred on ``centre_mm`` (snapped to the voxel grid)."""
    if abs(pixel_mm - grid.voxel_mm) > 1e-9:
        raise ValueError("detector pixels must match the phantom voxels (pixel-aligned views)")
    size = round(field_diameter_mm / pixel_mm)
    centre_idx = grid.index_of(centre_mm)
    views = {}
    for name in VIEW_NAMES:
        beam, col = _AXES[name]
        views[name] = View(
            name=name,
            beam_axis=beam,
            col_axis=col,
            pixel_mm=pixel_mm,
            size_px=size,
            col0_index=int(centre_idx[col]) - size // 2,
            row0_index=int(centre_idx[2]) + size // 2,
            grid=grid,
        )
    return views
