"""The cement of the flow grid as a voxel volume fraction for the image."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from simulator.cement.flow import CELL


def voxel_fraction(flow, phantom) -> np.ndarray:
    """Cement volume fraction (0–1, float32) per voxel over the flow grid's sub-box.

    Trilinear up-sampling of the 2 mm fill to the voxels, so that the bolus has a smooth
    outline on the image rather than 2 mm steps, times the voxel porosity; rescaled so that
    the voxels hold the grid's cement volume (volume preserving)."""
    g = flow.grid
    coarse = flow.fill.reshape(g.shape)
    fill = ndimage.zoom(coarse, CELL, order=1, mode="nearest", grid_mode=True)
    fill = np.clip(fill, 0.0, 1.0)
    pores = phantom.porosity[g.slices]
    want = float((flow.cement_m3()).sum())
    have = float((fill * pores).sum()) * (phantom.grid.voxel_mm / 1000.0) ** 3
    if have > 0:
        fill *= want / have
    return np.clip(fill * pores, 0.0, 1.0).astype(np.float32)
