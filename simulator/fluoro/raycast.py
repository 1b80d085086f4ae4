"""Line integrals ∫μ dl from the source to every detector pixel (perspective ray casting).

Each ray is clipped to the occupied box of the volume (the voxels with μ > 0, plus the one
voxel the interpolation reaches), split into equal steps of at most ``step_mm`` and sampled at
the steps' midpoints with trilinear interpolation of μ between voxel centres (clamped at the
volume's edge, so an axis-aligned ray through uniform voxels gives their plain sum). The sum
of μ × step is the integral (dimensionless). Two implementations with the same sampling: a
numba kernel (parallel over detector rows, compiled once and cached on disk) and a vectorised
numpy reference over all rays at once (used by the tests to check the kernel).

Index space: a voxel ``[i, j, k]`` is centred at ``origin_mm + voxel_mm · (i, j, k)`` (the
phantom's :class:`~simulator.anatomy.grid.Grid`); the kernels work in voxel units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from simulator.fluoro.geometry import Projection
from simulator.materials import tissues

DEFAULT_STEP_MM = 1.0
"""Sampling step along the rays (mm), two voxels of the phantom (see ``bench``)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class MuVolume:
    """μ (1/mm, float32, C-ordered ``[x, y, z]``) on a regular grid, with its occupied box."""

    mu: np.ndarray
    origin_mm: tuple[float, float, float]
    voxel_mm: float
    box_lo: tuple[float, float, float]
    box_hi: tuple[float, float, float]

    @classmethod
    def from_array(cls, mu, *, origin_mm, voxel_mm: float) -> MuVolume:
        """From a μ array (1/mm) whose voxel [0, 0, 0] is centred at ``origin_mm`` (LPS mm)."""
        mu = np.ascontiguousarray(mu, dtype=np.float32)
        occ = np.argwhere(mu > 0)
        if occ.size:
            # one voxel beyond the occupied centres (the interpolation's reach), within the
            # half voxel past the edge centres that the clamped interpolation fills
            lo = np.maximum(occ.min(axis=0) - 1.0, -0.5)
            hi = np.minimum(occ.max(axis=0) + 1.0, np.asarray(mu.shape) - 0.5)
        else:
            lo = hi = np.zeros(3)
        return cls(
            mu=mu,
            origin_mm=tuple(float(v) for v in origin_mm),
            voxel_mm=float(voxel_mm),
            box_lo=tuple(float(v) for v in lo),
            box_hi=tuple(float(v) for v in hi),
        )

    @classmethod
    def from_phantom(cls, phantom) -> MuVolume:
        """The phantom's tissue attenuation ``tissues().mu_per_mm[labels]``, the textured bone's
        from its ``bone_density`` when the phantom has one (``simulator.anatomy.texture``)."""
        g = phantom.grid
        if getattr(phantom, "bone_density", None) is not None:
            from simulator.anatomy.texture import textured_mu

            mu = textured_mu(phantom.labels, phantom.bone_density, tissues())
        else:
            mu = tissues().mu_per_mm[phantom.labels].astype(np.float32)
        return cls.from_array(mu, origin_mm=g.origin_mm, voxel_mm=g.voxel_mm)


def _rays(volume: MuVolume, proj: Projection):
    """Source (3,), pixel (0, 0) centre (3,) and the row and column pixel steps (3,), all in
    voxel units of ``volume``."""
    o, h = np.asarray(volume.origin_mm), volume.voxel_mm
    source = (proj.source_mm - o) / h
    corner = (proj.plane_mm(0.0, 0.0) - o) / h
    d_row = (proj.plane_mm(1.0, 0.0) - proj.plane_mm(0.0, 0.0)) / h
    d_col = (proj.plane_mm(0.0, 1.0) - proj.plane_mm(0.0, 0.0)) / h
    return source, corner, d_row, d_col


def line_integrals(
    volume: MuVolume, proj: Projection, *, step_mm: float = DEFAULT_STEP_MM, backend="numba"
) -> np.ndarray:
    """∫μ dl (float32, detector (rows, cols)) from the source to each pixel of ``proj``.

    ``backend``: ``"numba"`` (the kernel) or ``"numpy"`` (the reference, same sampling).
    """
    source, corner, d_row, d_col = _rays(volume, proj)
    lo, hi = np.asarray(volume.box_lo), np.asarray(volume.box_hi)
    step = step_mm / volume.voxel_mm
    if backend == "numba":
        out = np.zeros((proj.size_px, proj.size_px), dtype=np.float32)
        _cast_kernel(volume.mu, source, corner, d_row, d_col, lo, hi, step, out)
    elif backend == "numpy":
        out = _cast_numpy(volume.mu, source, corner, d_row, d_col, lo, hi, step, proj.size_px)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    return out * np.float32(volume.voxel_mm)


@njit(cache=True, inline="always")
def _trilinear(mu, x, y, z):
    """μ at voxel coordinates (x, y, z), clamped into the grid, interpolated trilinearly."""
    nx, ny, nz = mu.shape
    x = min(max(x, 0.0), nx - 1.0)
    y = min(max(y, 0.0), ny - 1.0)
    z = min(max(z, 0.0), nz - 1.0)
    i, j, k = min(int(x), nx - 2), min(int(y), ny - 2), min(int(z), nz - 2)
    fx, fy, fz = x - i, y - j, z - k
    c00 = mu[i, j, k] * (1.0 - fx) + mu[i + 1, j, k] * fx
    c10 = mu[i, j + 1, k] * (1.0 - fx) + mu[i + 1, j + 1, k] * fx
    c01 = mu[i, j, k + 1] * (1.0 - fx) + mu[i + 1, j, k + 1] * fx
    c11 = mu[i, j + 1, k + 1] * (1.0 - fx) + mu[i + 1, j + 1, k + 1] * fx
    c0 = c00 * (1.0 - fy) + c10 * fy
    c1 = c01 * (1.0 - fy) + c11 * fy
    return c0 * (1.0 - fz) + c1 * fz


@njit(cache=True, inline="always")
def _clip(s, d, lo, hi):
    """Parameter interval (t0, t1) of the ray s + t·d inside the box [lo, hi] (t0 ≥ t1: miss)."""
    t0, t1 = 0.0, np.inf
    for a in range(3):
        if abs(d[a]) < 1e-12:
            if s[a] < lo[a] or s[a] > hi[a]:
                return 1.0, 0.0
        else:
            ta, tb = (lo[a] - s[a]) / d[a], (hi[a] - s[a]) / d[a]
            t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
    return t0, t1


@njit(parallel=True, cache=True, fastmath=False)
def _cast_kernel(mu, source, corner, d_row, d_col, lo, hi, step, out):  # pragma: no cover
    """Fill ``out`` (rows, cols) with Σ μ·h (voxel units) along each pixel's ray (see module)."""
    n_rows, n_cols = out.shape
    for r in prange(n_rows):
        d = np.empty(3)
        for c in range(n_cols):
            for a in range(3):
                d[a] = corner[a] + r * d_row[a] + c * d_col[a] - source[a]
            norm = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
            for a in range(3):
                d[a] /= norm
            t0, t1 = _clip(source, d, lo, hi)
            if t1 <= t0:
                continue
            n_steps = int(np.ceil((t1 - t0) / step))
            h = (t1 - t0) / n_steps
            acc = 0.0
            for s in range(n_steps):
                t = t0 + (s + 0.5) * h
                acc += _trilinear(
                    mu, source[0] + t * d[0], source[1] + t * d[1], source[2] + t * d[2]
                )
            out[r, c] = acc * h


def _cast_numpy(mu, source, corner, d_row, d_col, lo, hi, step, n, *, grid=None) -> np.ndarray:
    """The reference: every ray at once, one midpoint sample per loop (same sampling);
    ``grid`` (n, n, 2): the (row, col) each pixel looks through (default: its own)."""
    if grid is None:
        rc = np.arange(n, dtype=float)
        px = corner + rc[:, None, None] * d_row + rc[None, :, None] * d_col  # (n, n, 3)
    else:
        px = corner + grid[..., :1] * d_row + grid[..., 1:] * d_col
    d = (px - source).reshape(-1, 3)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (lo - source) / d, (hi - source) / d
    parallel = np.abs(d) < 1e-12
    outside = (source < lo) | (source > hi)
    ta = np.where(parallel, np.where(outside, np.inf, -np.inf), ta)
    tb = np.where(parallel, np.where(outside, -np.inf, np.inf), tb)
    t0 = np.maximum(np.minimum(ta, tb).max(axis=1), 0.0)
    t1 = np.maximum(ta, tb).min(axis=1)
    hit = t1 > t0
    n_steps = np.where(hit, np.ceil(np.where(hit, t1 - t0, 0.0) / step), 0).astype(int)
    h = np.where(hit, (t1 - t0) / np.maximum(n_steps, 1), 0.0)
    acc = np.zeros(len(d))
    shape = np.asarray(mu.shape)
    flat = mu.ravel()
    for s in range(int(n_steps.max(initial=0))):
        live = np.nonzero(s < n_steps)[0]
        t = t0[live] + (s + 0.5) * h[live]
        p = np.clip(source + t[:, None] * d[live], 0.0, shape - 1.0)
        i = np.minimum(p.astype(int), shape - 2)
        f = p - i
        val = np.zeros(len(live))
        for corner_bits in range(8):
            o = np.array([(corner_bits >> a) & 1 for a in range(3)])
            w = np.prod(np.where(o, f, 1.0 - f), axis=1)
            idx = np.ravel_multi_index((i + o).T, mu.shape)
            val += w * flat[idx]
        acc[live] += val
    return (acc * h).reshape(n, n).astype(np.float32)
