"""Closed-form line integrals of the trunk's air solids (lungs, bowel gas) for one projection.

Each :class:`~simulator.anatomy.air.AirSolid` adds Δμ × its path length along a ray
(``AirSolid.chord_mm``): for a solid the grid paints (the lungs) only the path outside the
grid's box [origin − h/2, origin + (n − 1/2) h] (the half voxel past the edge centres that the
clamped interpolation of the grid fills), for the others all of it. So the grid's labels count
inside its box and the closed form outside it, never both.

Cost: numpy over the rays, each solid only on the detector rectangle its bounding box can
reach (the box's 8 corners projected from the source onto the ray grid: the central
projection of a convex set lies in the hull of its corners' projections); the rays that are
left out miss the solid, so the culling changes no value.
"""

from __future__ import annotations

import numpy as np

from simulator.anatomy.air import box_interval


def air_line_integrals(volume, source, corner, d_row, d_col, ray_grid) -> np.ndarray:
    """Σ Δμ · chord (dimensionless, float64 (n, n)) of ``volume.air_solids`` along the rays
    from ``source`` to the pixels (voxel units of ``volume``'s grid, as ``_rays`` gives them;
    ``ray_grid`` (n, n, 2): the (row, col) each pixel looks through)."""
    n = ray_grid.shape[0]
    out = np.zeros((n, n))
    if not volume.air_solids:
        return out
    o, h = np.asarray(volume.origin_mm, dtype=float), float(volume.voxel_mm)
    s_mm = o + h * np.asarray(source, dtype=float)
    box_lo = o - 0.5 * h
    box_hi = o + (np.asarray(volume.codes.shape) - 0.5) * h
    row_lo, row_hi = ray_grid[..., 0].min(axis=1), ray_grid[..., 0].max(axis=1)
    col_lo, col_hi = ray_grid[..., 1].min(axis=0), ray_grid[..., 1].max(axis=0)
    for solid in volume.air_solids:
        lo, hi = solid.bounds_mm()
        rect = _pixel_rect(
            (lo - o) / h, (hi - o) / h, source, corner, d_row, d_col, row_lo, row_hi, col_lo, col_hi
        )
        if rect is None:
            continue
        sl = (slice(rect[0], rect[1]), slice(rect[2], rect[3]))
        g = ray_grid[sl]
        px = corner + g[..., :1] * d_row + g[..., 1:] * d_col
        d = (px - source).reshape(-1, 3)
        length = np.linalg.norm(d, axis=1)
        d = d / length[:, None]
        box_t = box_interval(s_mm, d, box_lo, box_hi)
        chord = solid.chord_mm(s_mm, d, h * length, box_t)
        out[sl] += solid.delta_mu_per_mm * chord.reshape(g.shape[:2])
    return out


def _pixel_rect(lo, hi, source, corner, d_row, d_col, row_lo, row_hi, col_lo, col_hi):
    """(i0, i1, j0, j1): the pixel rows and columns whose rays can cross the box [lo, hi]
    (voxel units), or None when none can; the whole detector when a corner lies behind the
    source."""
    n_rows, n_cols = len(row_lo), len(col_lo)
    whole = (0, n_rows, 0, n_cols)
    corners = np.array([[(lo, hi)[(k >> a) & 1][a] for a in range(3)] for k in range(8)])
    a = np.stack(
        [corners - source, np.broadcast_to(-d_row, (8, 3)), np.broadcast_to(-d_col, (8, 3))],
        axis=-1,
    )
    try:
        sol = np.linalg.solve(a, np.broadcast_to(corner - source, (8, 3))[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return whole
    if not np.all(sol[:, 0] > 0.0):
        return whole
    r0, r1 = sol[:, 1].min(), sol[:, 1].max()
    c0, c1 = sol[:, 2].min(), sol[:, 2].max()
    rows = np.nonzero((row_hi >= r0) & (row_lo <= r1))[0]
    cols = np.nonzero((col_hi >= c0) & (col_lo <= c1))[0]
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
