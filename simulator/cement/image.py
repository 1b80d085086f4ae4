"""The cement of the flow grid as a voxel volume fraction for the image."""

from __future__ import annotations

import numpy as np

from simulator.cement.flow import CELL


def upsample_linear(a: np.ndarray, factor: int) -> np.ndarray:
    """``a`` refined ``factor`` times along every axis by linear interpolation between cell
    centres, edges held (as ``ndimage.zoom(a, factor, order=1, mode="nearest",
    grid_mode=True)``, separably and ≈ 5× faster): fine voxel k of a cell sits
    (2k + 1 − factor) / (2 factor) cells from its centre."""
    for axis in range(a.ndim):
        a = np.moveaxis(a, axis, -1)
        n = a.shape[-1]
        lo = np.concatenate([a[..., :1], a[..., :-1]], -1)
        hi = np.concatenate([a[..., 1:], a[..., -1:]], -1)
        out = np.empty((*a.shape, factor))
        for k in range(factor):
            off = (2 * k + 1 - factor) / (2 * factor)
            nb, w = (lo, -off) if off < 0 else (hi, off)
            out[..., k] = (1.0 - w) * a + w * nb
        a = np.moveaxis(out.reshape((*a.shape[:-1], n * factor)), -1, axis)
    return np.ascontiguousarray(a)


def voxel_fraction(flow, phantom) -> np.ndarray:
    """Cement volume fraction (0–1, float32) per voxel over the flow grid's sub-box.

    Trilinear up-sampling of the 2 mm fill to the voxels, so that the bolus has a smooth
    outline on the image rather than 2 mm steps, times the voxel porosity; rescaled so that
    the voxels hold the grid's cement volume (volume preserving)."""
    g = flow.grid
    coarse = flow.fill.reshape(g.shape)
    fill = upsample_linear(coarse, CELL)
    fill = np.clip(fill, 0.0, 1.0)
    pores = phantom.porosity[g.slices]
    want = float((flow.cement_m3()).sum())
    have = float((fill * pores).sum()) * (phantom.grid.voxel_mm / 1000.0) ** 3
    if have > 0:
        fill *= want / have
    return np.clip(fill * pores, 0.0, 1.0).astype(np.float32)
