"""Brick maps of a voxel volume for empty-space skipping in the ray casters.

The grid's trilinear *cells* start at i = min(⌊x⌋, n − 2) per axis (the clamped index a sample
at x reads from) and read voxels i and i + 1. Brick b (edge ``brick`` voxels) holds the cells
i ∈ [b·brick, (b + 1)·brick), so every sample whose cell lies in it reads only the voxels
[b·brick, (b + 1)·brick] (the brick dilated by one voxel toward + on each axis): what each map
below reduces over.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def brick_reduce(values: np.ndarray, brick: int, reduce) -> np.ndarray:
    """``reduce`` (``np.max``, ``np.min``, ``np.any``: called with ``axis=``) over the voxels
    that each brick's cells read (see the module docstring); shape (n_bricks per axis)."""
    m = np.asarray(values)
    for a in range(3):
        n_cells = m.shape[a] - 1
        n_bricks = (n_cells - 1) // brick + 1
        parts = []
        for b in range(n_bricks):
            sl = [slice(None)] * 3
            sl[a] = slice(b * brick, min((b + 1) * brick, n_cells) + 1)
            parts.append(reduce(m[tuple(sl)], axis=a))
        m = np.stack(parts, axis=a)
    return m


def brick_occupancy(nonzero: np.ndarray, brick: int) -> np.ndarray:
    """uint8 per brick: 1 where a cell of the brick reads a voxel of ``nonzero``."""
    return brick_reduce(np.asarray(nonzero, dtype=bool), brick, np.any).astype(np.uint8)


def brick_constant(values: np.ndarray, brick: int) -> np.ndarray:
    """float32 per brick: the one value every cell of the brick reads, NaN where they vary."""
    lo = brick_reduce(values, brick, np.min)
    hi = brick_reduce(values, brick, np.max)
    return np.where(lo == hi, lo, np.nan).astype(np.float32)


def brick_reach(constant: np.ndarray) -> np.ndarray:
    """uint8 per brick: the Chebyshev distance (bricks) from a constant brick to the nearest
    brick that holds another value or varies (NaN in ``constant``), capped at 255; 0 where the
    brick varies. Every brick within ``reach − 1`` of a constant brick holds its value too."""
    constant = np.asarray(constant, dtype=np.float32)
    reach = np.zeros(constant.shape, dtype=np.int64)
    for value in np.unique(constant[~np.isnan(constant)]):
        same = constant == value
        if same.all():
            return np.full(constant.shape, 255, dtype=np.uint8)
        dist = ndimage.distance_transform_cdt(same, metric="chessboard")
        reach = np.where(same, dist, reach)
    return np.minimum(reach, 255).astype(np.uint8)


def occupied_box(nonzero: np.ndarray):
    """Voxel-unit box (lo, hi) of the ``nonzero`` voxels plus the interpolation's one-voxel
    reach, within the half voxel past the edge centres that the clamped interpolation fills
    (an empty mask gives the empty box lo = hi = 0)."""
    occ = [np.nonzero(nonzero.any(axis=tuple(b for b in range(3) if b != a)))[0] for a in range(3)]
    if any(o.size == 0 for o in occ):
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    lo = tuple(float(max(o[0] - 1.0, -0.5)) for o in occ)
    hi = tuple(float(min(o[-1] + 1.0, n - 0.5)) for o, n in zip(occ, nonzero.shape, strict=True))
    return lo, hi
