"""The numba kernel of :func:`simulator.fluoro.anatomy_cast.anatomy_line_integrals`.

Compiled once and cached on disk (``cache=True``), parallel over detector rows, and ``nogil`` so
that it can run in a background thread. Voxel units throughout; see ``anatomy_cast`` for the
volume (codes, LUT, brick maps) and the sampling.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from simulator.fluoro.torso import _chord

UNIFORM = 128
"""Flag bit of a code: the trilinear cell starting at this voxel reads one Δμ throughout."""


@njit(parallel=True, cache=True, nogil=True)
def anatomy_kernel(
    codes,
    lut,
    reach,
    const,
    shift,
    source,
    corner,
    d_row,
    d_col,
    grid,
    lo,
    hi,
    step,
    torso,
    mu_soft,
    h_mm,
    out,
):  # pragma: no cover
    """Fill ``out`` (float32 (rows, cols)) with ∫μ dl = (μ_soft · chord + Σ Δμ · h) · voxel_mm
    along each pixel's ray.

    ``source``, ``corner`` (pixel (0, 0)), ``d_row``, ``d_col`` (pixel steps), ``grid`` (rows,
    cols, 2): the (row, col) on the detector plane each image pixel looks through (the
    identity, or the intensifier's pincushion undone), the Δμ box
    ``lo``/``hi``, ``step`` and ``torso`` (``Torso.params``) in voxel units; ``mu_soft`` (1/mm)
    and ``lut`` (1/mm) per voxel length ``h_mm`` (mm); ``shift`` log2 of the brick edge
    (−1: every sample interpolated, no skipping).
    """
    n_rows, n_cols = out.shape
    sx, sy, sz = source[0], source[1], source[2]
    for r in prange(n_rows):
        for c in range(n_cols):
            gr, gc = grid[r, c, 0], grid[r, c, 1]
            dx = corner[0] + gr * d_row[0] + gc * d_col[0] - sx
            dy = corner[1] + gr * d_row[1] + gc * d_col[1] - sy
            dz = corner[2] + gr * d_row[2] + gc * d_col[2] - sz
            length = math.sqrt(dx * dx + dy * dy + dz * dz)
            dx, dy, dz = dx / length, dy / length, dz / length
            total = mu_soft * _chord(sx, sy, dx, dy, length, torso)
            t0, t1 = _clip_box(sx, sy, sz, dx, dy, dz, lo, hi)
            if t1 > t0:
                ray = (sx, sy, sz, dx, dy, dz, t0, t1)
                total += _delta_integral(codes, lut, reach, const, shift, ray, step)
            out[r, c] = total * h_mm


@njit(cache=True, nogil=True, inline="always")
def _delta_integral(codes, lut, reach, const, shift, ray, step):
    """Σ Δμ · h over the midpoint samples of [t0, t1] (voxel units); ``ray`` = (source x, y, z,
    unit direction x, y, z, t0, t1), ``shift`` = log2 of the brick edge (−1: sample every one).

    The ray walks brick by brick (3-D DDA over the bricks): the samples of a constant brick
    (``const`` not NaN: empty ones are 0) are counted, those of a varying one interpolated;
    where a constant brick's ``reach`` spans more bricks, one jump crosses them all.
    """
    sx, sy, sz, dx, dy, dz, t0, t1 = ray
    nx, ny, nz = codes.shape
    n_steps = math.ceil((t1 - t0) / step)
    h = (t1 - t0) / n_steps
    if shift < 0:
        acc = 0.0
        for m in range(n_steps):
            t = t0 + (m + 0.5) * h
            acc += _sample(codes, lut, sx + t * dx, sy + t * dy, sz + t * dz)
        return acc * h
    inv_h = 1.0 / h
    ix = 1.0 / dx if dx != 0.0 else np.inf
    iy = 1.0 / dy if dy != 0.0 else np.inf
    iz = 1.0 / dz if dz != 0.0 else np.inf
    step_x, step_y, step_z = (
        (1 if dx > 0.0 else -1),
        (1 if dy > 0.0 else -1),
        (1 if dz > 0.0 else -1),
    )
    acc = 0.0
    m = 0
    while m < n_steps:
        # the brick of sample m, from its position (as the interpolation indexes it)
        t = t0 + (m + 0.5) * h
        bi = min(int(min(max(sx + t * dx, 0.0), nx - 1.0)), nx - 2) >> shift
        bj = min(int(min(max(sy + t * dy, 0.0), ny - 1.0)), ny - 2) >> shift
        bk = min(int(min(max(sz + t * dz, 0.0), nz - 1.0)), nz - 2) >> shift
        r = np.int64(reach[bi, bj, bk])
        if r > 1:  # the bricks within r − 1 hold this brick's value: one jump
            t_exit = min(
                _exit(sx, dx, ix, bi, r, shift, nx),
                _exit(sy, dy, iy, bj, r, shift, ny),
                _exit(sz, dz, iz, bk, r, shift, nz),
            )
            m_end = _first_sample_after(t_exit, t0, inv_h, m + 1, n_steps)
            acc += const[bi, bj, bk] * (m_end - m)
            m = m_end
            continue
        tx = _exit(sx, dx, ix, bi, 1, shift, nx)
        ty = _exit(sy, dy, iy, bj, 1, shift, ny)
        tz = _exit(sz, dz, iz, bk, 1, shift, nz)
        first = m + 1  # sample m lies in this first brick
        while True:
            t_exit = min(tx, ty, tz)
            m_end = _first_sample_after(t_exit, t0, inv_h, first, n_steps)
            v = const[bi, bj, bk]
            if v == v:
                acc += v * (m_end - m)
            else:
                for q in range(m, m_end):
                    t = t0 + (q + 0.5) * h
                    acc += _sample(codes, lut, sx + t * dx, sy + t * dy, sz + t * dz)
            m, first = m_end, m_end
            if m >= n_steps:
                break
            if tx <= ty and tx <= tz:
                bi += step_x
                tx = _exit(sx, dx, ix, bi, 1, shift, nx)
            elif ty <= tz:
                bj += step_y
                ty = _exit(sy, dy, iy, bj, 1, shift, ny)
            else:
                bk += step_z
                tz = _exit(sz, dz, iz, bk, 1, shift, nz)
            if reach[bi, bj, bk] > 1:
                break  # a long jump from sample m's own brick
    return acc * h


@njit(cache=True, nogil=True, inline="always")
def _first_sample_after(t_exit, t0, inv_h, at_least, n_steps):
    """Index of the first lattice sample t0 + (m + ½)·h at or past ``t_exit``, within
    [``at_least``, ``n_steps``] (``n_steps`` when the exit lies past the last sample)."""
    q = (t_exit - t0) * inv_h - 0.5
    if q >= n_steps:  # also ∞, and far exits that would overflow the integer
        return n_steps
    return max(math.ceil(q), at_least)


@njit(cache=True, nogil=True, inline="always")
def _sample(codes, lut, x, y, z):
    """Δμ at voxel coordinates (x, y, z), clamped into the grid, interpolated trilinearly from
    the LUT values of the 8 corner codes (one read where the cell is flagged uniform)."""
    nx, ny, nz = codes.shape
    x = min(max(x, 0.0), nx - 1.0)
    y = min(max(y, 0.0), ny - 1.0)
    z = min(max(z, 0.0), nz - 1.0)
    i, j, k = min(int(x), nx - 2), min(int(y), ny - 2), min(int(z), nz - 2)
    code = codes[i, j, k]
    if code >= UNIFORM:
        return np.float64(lut[code])
    fx, fy, fz = x - i, y - j, z - k
    c00 = lut[code] * (1.0 - fx) + lut[codes[i + 1, j, k]] * fx
    c10 = lut[codes[i, j + 1, k]] * (1.0 - fx) + lut[codes[i + 1, j + 1, k]] * fx
    c01 = lut[codes[i, j, k + 1]] * (1.0 - fx) + lut[codes[i + 1, j, k + 1]] * fx
    c11 = lut[codes[i, j + 1, k + 1]] * (1.0 - fx) + lut[codes[i + 1, j + 1, k + 1]] * fx
    c0 = c00 * (1.0 - fy) + c10 * fy
    c1 = c01 * (1.0 - fy) + c11 * fy
    return c0 * (1.0 - fz) + c1 * fz


@njit(cache=True, nogil=True, inline="always")
def _clip_box(sx, sy, sz, dx, dy, dz, lo, hi):
    """Parameter interval (t0, t1) of the ray inside the box [lo, hi] (t0 ≥ t1: a miss)."""
    t0, t1 = 0.0, np.inf
    for a, s, d in ((0, sx, dx), (1, sy, dy), (2, sz, dz)):
        if abs(d) < 1e-12:
            if s < lo[a] or s > hi[a]:
                return 1.0, 0.0
        else:
            ta, tb = (lo[a] - s) / d, (hi[a] - s) / d
            t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
    return t0, t1


@njit(cache=True, nogil=True, inline="always")
def _exit(s, d, inv_d, b, r, shift, n):
    """Ray parameter where s + t·d (``inv_d`` = 1/d) leaves, along one axis, the cells of the
    bricks b − r + 1 … b + r − 1 (∞: never; the first and last bricks reach out to the clamped
    region beyond the grid)."""
    if d > 0.0:
        upper = (b + r) << shift
        return (upper - s) * inv_d if upper <= n - 2 else np.inf
    if d < 0.0:
        lower = b - r + 1
        return ((lower << shift) - s) * inv_d if lower > 0 else np.inf
    return np.inf
