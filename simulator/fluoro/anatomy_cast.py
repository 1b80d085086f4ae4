"""Perspective anatomy line integrals ∫μ dl: the trunk in closed form plus the phantom's
departures from it, ray-cast with empty-space skipping.

Split of the attenuation: μ = μ_soft · [inside the torso] + Δμ, with the :class:`Torso` solid
(``simulator.fluoro.torso``) and Δμ = μ − μ_soft · [voxel centre inside the torso] on the
phantom grid. Then ∫μ dl = μ_soft · chord + ∫Δμ dl: the chord of the ray through the torso is
closed-form and Δμ is zero in most of the phantom (the soft tissue inside the torso, the air
behind the skin outside it), so only bone, vessels, fat, the skin's edge … are sampled.

Storage: a uint8 *code* per voxel (the tissue label, plus ``n_labels`` where the voxel centre
lies outside the torso) and a float32 lookup table ``delta_lut[code]`` = Δμ (1/mm). Trilinear
interpolation of the LUT values at the 8 corner codes equals trilinear interpolation of Δμ,
and reads 8 bytes per sample instead of 32.

Sampling (as in ``simulator.fluoro.raycast``): each ray is clipped to the box of non-zero Δμ
(plus the interpolation's one-voxel reach), split into equal steps of at most ``step_mm`` and
sampled at the steps' midpoints, Δμ interpolated trilinearly between voxel centres (clamped at
the grid's edge).

Empty-space skipping: the grid is cut into bricks of ``BRICK``³ voxels; a brick is empty when
no sample whose trilinear cell starts in it can read a non-zero Δμ (its voxels and the one-voxel
layer beyond its upper faces are all zero). A sample landing in an empty brick jumps to the
first lattice sample past the brick's exit (slab test on the brick's box), so the samples taken
are exactly those of uniform stepping that can be non-zero: the result equals uniform sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from scipy import ndimage

from simulator.fluoro.geometry import Projection
from simulator.fluoro.raycast import _cast_numpy, _rays
from simulator.fluoro.torso import Torso, _chord, chords, skin_plane_index
from simulator.materials import tissues

BRICK = 8
"""Edge of an occupancy brick (voxels)."""

ANATOMY_STEP_MM = 1.0
"""Default sampling step of Δμ along the rays (mm), two voxels of the phantom (see ``bench``)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class AnatomyVolume:
    """The phantom's attenuation as torso + Δμ, ready for :func:`anatomy_line_integrals`.

    ``codes``: uint8 C-ordered ``[x, y, z]``; ``delta_lut``: float32 Δμ (1/mm) per code;
    ``occupancy``: uint8 per brick (1 = may hold a non-zero sample); ``box_lo``/``box_hi``:
    voxel-unit box of non-zero Δμ; ``mu_soft_per_mm``: the torso's μ (1/mm). Voxel ``[i, j, k]``
    is centred at ``origin_mm + voxel_mm · (i, j, k)`` (LPS mm).
    """

    codes: np.ndarray
    delta_lut: np.ndarray
    reach: np.ndarray
    origin_mm: tuple[float, float, float]
    voxel_mm: float
    box_lo: tuple[float, float, float]
    box_hi: tuple[float, float, float]
    torso: Torso
    mu_soft_per_mm: float
    brick: int = BRICK

    @classmethod
    def from_phantom(cls, phantom, torso: dict | None = None, brick: int = BRICK) -> AnatomyVolume:
        """The phantom's tissues (``tissues().mu_per_mm[labels]``) inside the trunk
        ``torso`` (``width_mm``, ``depth_mm``; default ``[torso]`` of ``assets/fluoro.toml``),
        placed by :meth:`Torso.fit` on the phantom's skin plane and lateral faces."""
        from simulator.assets import load_table

        torso = torso or load_table("fluoro")["torso"]
        t = tissues()
        g = phantom.grid
        j_skin = skin_plane_index(phantom.labels, t.id("air"))
        skin_y = phantom.skin_y0_mm if j_skin is None else g.origin_mm[1] + j_skin * g.voxel_mm
        x0 = g.origin_mm[0] - 0.5 * g.voxel_mm
        x1 = g.origin_mm[0] + (g.shape[0] - 0.5) * g.voxel_mm
        solid = Torso.fit(
            width_mm=torso["width_mm"],
            depth_mm=torso["depth_mm"],
            skin_y_mm=skin_y,
            half_span_x_mm=max(abs(x0), abs(x1)),
        )
        return cls.from_labels(
            phantom.labels,
            mu_per_mm=t.mu_per_mm,
            mu_soft_per_mm=float(t.mu_per_mm[t.id("soft_tissue")]),
            torso=solid,
            origin_mm=g.origin_mm,
            voxel_mm=g.voxel_mm,
            brick=brick,
        )

    @classmethod
    def from_labels(
        cls,
        labels,
        *,
        mu_per_mm,
        mu_soft_per_mm: float,
        torso: Torso,
        origin_mm,
        voxel_mm,
        brick: int = BRICK,
    ) -> AnatomyVolume:
        """From uint8 ``labels`` ``[x, y, z]`` with μ (1/mm) per label, the trunk's μ and solid;
        voxel [0, 0, 0] is centred at ``origin_mm`` (LPS mm)."""
        labels = np.asarray(labels)
        mu = np.asarray(mu_per_mm, dtype=np.float64)
        n_labels = len(mu)
        if labels.ndim != 3 or min(labels.shape) < 2:
            raise ValueError(f"labels: need a 3-D grid at least 2 voxels wide, got {labels.shape}")
        if brick < 1 or brick & (brick - 1):
            raise ValueError(f"brick: must be a power of two, got {brick}")
        if 2 * n_labels > 256:
            raise ValueError(f"mu_per_mm: at most 128 labels fit a uint8 code, got {n_labels}")
        h = float(voxel_mm)
        axes = [origin_mm[a] + h * np.arange(labels.shape[a]) for a in range(3)]
        x, y = axes[0][:, None], axes[1][None, :]
        inside = torso.contains(np.stack(np.broadcast_arrays(x, y, np.zeros_like(x * y)), -1))
        codes = labels.astype(np.uint8) + np.where(inside, 0, n_labels).astype(np.uint8)[..., None]
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        lut = np.concatenate([mu - mu_soft_per_mm, mu]).astype(np.float32)
        nonzero = lut[codes] != 0.0
        lo, hi = _occupied_box(nonzero)
        return cls(
            codes=codes,
            delta_lut=lut,
            reach=brick_reach(brick_occupancy(nonzero, brick)),
            origin_mm=tuple(float(v) for v in origin_mm),
            voxel_mm=h,
            box_lo=lo,
            box_hi=hi,
            torso=torso,
            mu_soft_per_mm=float(mu_soft_per_mm),
            brick=int(brick),
        )

    @property
    def delta_mu(self) -> np.ndarray:
        """Δμ (1/mm, float32 ``[x, y, z]``): the LUT applied to the codes."""
        return self.delta_lut[self.codes]

    @property
    def nbytes(self) -> int:
        """Memory held by the volume (bytes)."""
        return self.codes.nbytes + self.reach.nbytes + self.delta_lut.nbytes


def _occupied_box(nonzero: np.ndarray):
    """Voxel-unit box of the non-zero voxels plus the interpolation's one-voxel reach, within
    the half voxel past the edge centres that the clamped interpolation fills."""
    occ = [np.nonzero(nonzero.any(axis=tuple(b for b in range(3) if b != a)))[0] for a in range(3)]
    if any(o.size == 0 for o in occ):
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    lo = tuple(float(max(o[0] - 1.0, -0.5)) for o in occ)
    hi = tuple(float(min(o[-1] + 1.0, n - 0.5)) for o, n in zip(occ, nonzero.shape, strict=True))
    return lo, hi


def brick_reach(occupied: np.ndarray) -> np.ndarray:
    """uint8 per brick: the Chebyshev distance (bricks) to the nearest occupied brick, capped
    at 255 (0: occupied). Every brick within ``reach − 1`` of an empty brick is empty too."""
    occupied = np.asarray(occupied, dtype=bool)
    if not occupied.any():
        return np.full(occupied.shape, 255, dtype=np.uint8)
    dist = ndimage.distance_transform_cdt(~occupied, metric="chessboard")
    return np.minimum(dist, 255).astype(np.uint8)


def brick_occupancy(nonzero: np.ndarray, brick: int) -> np.ndarray:
    """uint8 per brick: 1 where a trilinear cell starting in the brick reads a non-zero voxel.

    A sample's cell starts at i = min(⌊x⌋, n − 2) per axis (clamped) and reads voxels i, i + 1;
    brick b holds the cells i ∈ [b·brick, (b + 1)·brick), so it reads voxels
    [b·brick, (b + 1)·brick] (the mask dilated by one voxel toward + on each axis).
    """
    m = np.asarray(nonzero, dtype=bool)
    for a in range(3):
        n_cells = m.shape[a] - 1
        n_bricks = (n_cells - 1) // brick + 1
        out = np.zeros((*m.shape[:a], n_bricks, *m.shape[a + 1 :]), dtype=bool)
        for b in range(n_bricks):
            lo, hi = b * brick, min((b + 1) * brick, n_cells) + 1
            sl = [slice(None)] * 3
            sl[a] = slice(lo, hi)
            idx = [slice(None)] * 3
            idx[a] = b
            out[tuple(idx)] = m[tuple(sl)].any(axis=a)
        m = out
    return m.astype(np.uint8)


def anatomy_line_integrals(
    volume: AnatomyVolume,
    proj: Projection,
    *,
    step_mm: float = ANATOMY_STEP_MM,
    backend: str = "numba",
    skip: bool = True,
) -> np.ndarray:
    """∫μ dl (dimensionless, float32, detector (rows, cols)) from the source to each pixel of
    ``proj``: μ_soft × the chord through the torso + ∫Δμ dl sampled every ≤ ``step_mm`` mm.

    ``backend``: ``"numba"`` (the kernel; ``skip`` turns the empty-space skipping off, for the
    tests) or ``"numpy"`` (the reference: every sample of uniform stepping, same lattice).
    """
    source, corner, d_row, d_col = _rays(volume, proj)
    lo, hi = np.asarray(volume.box_lo), np.asarray(volume.box_hi)
    step = step_mm / volume.voxel_mm
    torso = volume.torso.params(volume.origin_mm, volume.voxel_mm)
    n = proj.size_px
    if backend == "numba":
        out = np.zeros((n, n), dtype=np.float32)
        _anatomy_kernel(
            volume.codes,
            volume.delta_lut,
            volume.reach,
            volume.brick.bit_length() - 1 if skip else -1,
            source,
            corner,
            d_row,
            d_col,
            lo,
            hi,
            step,
            torso,
            volume.mu_soft_per_mm,
            volume.voxel_mm,
            out,
        )
        return out
    if backend != "numpy":
        raise ValueError(f"unknown backend {backend!r}")
    delta = _cast_numpy(volume.delta_mu, source, corner, d_row, d_col, lo, hi, step, n)
    rc = np.arange(n, dtype=float)
    px = corner + rc[:, None, None] * d_row + rc[None, :, None] * d_col
    d = (px - source).reshape(-1, 3)
    length = np.linalg.norm(d, axis=1)
    chord = chords(source, d / length[:, None], length, torso).reshape(n, n)
    total = delta.astype(np.float64) + volume.mu_soft_per_mm * chord
    return (total * volume.voxel_mm).astype(np.float32)


@njit(parallel=True, cache=True, nogil=True)
def _anatomy_kernel(
    codes, lut, reach, shift, source, corner, d_row, d_col, lo, hi, step, torso, mu_soft, h_mm, out
):  # pragma: no cover
    """Fill ``out`` (rows, cols) with (μ_soft · chord + Σ Δμ · h) · voxel_mm per pixel's ray
    (voxel units inside; ``shift`` −1: no skipping). See the module docstring."""
    n_rows, n_cols = out.shape
    nx, ny, nz = codes.shape
    sx, sy, sz = source[0], source[1], source[2]
    for r in prange(n_rows):
        for c in range(n_cols):
            dx = corner[0] + r * d_row[0] + c * d_col[0] - sx
            dy = corner[1] + r * d_row[1] + c * d_col[1] - sy
            dz = corner[2] + r * d_row[2] + c * d_col[2] - sz
            length = math.sqrt(dx * dx + dy * dy + dz * dz)
            dx, dy, dz = dx / length, dy / length, dz / length
            total = mu_soft * _chord(sx, sy, dx, dy, length, torso)
            t0, t1 = _clip_box(sx, sy, sz, dx, dy, dz, lo, hi)
            if t1 > t0:
                total += _delta_integral(
                    codes, lut, reach, shift, sx, sy, sz, dx, dy, dz, t0, t1, step, nx, ny, nz
                )
            out[r, c] = total * h_mm


@njit(cache=True, nogil=True, inline="always")
def _delta_integral(codes, lut, reach, shift, sx, sy, sz, dx, dy, dz, t0, t1, step, nx, ny, nz):
    """Σ Δμ · h over the midpoint samples of [t0, t1] (voxel units), jumping over the empty
    bricks (``reach``; ``shift`` = log2 of the brick edge, −1: no skipping)."""
    n_steps = math.ceil((t1 - t0) / step)
    h = (t1 - t0) / n_steps
    inv_h = 1.0 / h
    ix = 1.0 / dx if dx != 0.0 else np.inf
    iy = 1.0 / dy if dy != 0.0 else np.inf
    iz = 1.0 / dz if dz != 0.0 else np.inf
    acc = 0.0
    s = 0
    while s < n_steps:
        t = t0 + (s + 0.5) * h
        x = min(max(sx + t * dx, 0.0), nx - 1.0)
        y = min(max(sy + t * dy, 0.0), ny - 1.0)
        z = min(max(sz + t * dz, 0.0), nz - 1.0)
        i, j, k = min(int(x), nx - 2), min(int(y), ny - 2), min(int(z), nz - 2)
        if shift >= 0:
            bi, bj, bk = i >> shift, j >> shift, k >> shift
            r = np.int64(reach[bi, bj, bk])
            if r > 0:
                t_exit = min(
                    _exit(sx, dx, ix, bi, r, shift, nx),
                    _exit(sy, dy, iy, bj, r, shift, ny),
                    _exit(sz, dz, iz, bk, r, shift, nz),
                )
                if t_exit == np.inf:
                    break
                s = max(math.ceil((t_exit - t0) * inv_h - 0.5), s + 1)
                continue
        fx, fy, fz = x - i, y - j, z - k
        c000 = lut[codes[i, j, k]]
        c001 = lut[codes[i, j, k + 1]]
        c010 = lut[codes[i, j + 1, k]]
        c011 = lut[codes[i, j + 1, k + 1]]
        c100 = lut[codes[i + 1, j, k]]
        c101 = lut[codes[i + 1, j, k + 1]]
        c110 = lut[codes[i + 1, j + 1, k]]
        c111 = lut[codes[i + 1, j + 1, k + 1]]
        c00 = c000 * (1.0 - fx) + c100 * fx
        c10 = c010 * (1.0 - fx) + c110 * fx
        c01 = c001 * (1.0 - fx) + c101 * fx
        c11 = c011 * (1.0 - fx) + c111 * fx
        c0 = c00 * (1.0 - fy) + c10 * fy
        c1 = c01 * (1.0 - fy) + c11 * fy
        acc += c0 * (1.0 - fz) + c1 * fz
        s += 1
    return acc * h


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
