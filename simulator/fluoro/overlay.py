"""What the procedure adds to a perspective image: the trocar (closed form) and the cement
(its sub-volume only), as ∫μ dl patches on the detector of a
:class:`~simulator.fluoro.geometry.Projection`.

* Trocar: a steel cylinder from the hub to the base of its diamond tip, then a cone to the
  point (``TIP_MM`` long); with the stylet out, a tube (outer minus inner cylinder) with a flat
  end. Each pixel's ray from the source is intersected with the solids exactly (quadratics),
  so the needle is right at any angle, down the barrel included (a dot, or a ring once the
  stylet is out).
* Cement: each voxel with cement deposits f · Δμ · v³ (f its volume fraction, Δμ cement minus
  the marrow it displaced, v the voxel size) spread bilinearly over the detector at twice the
  pixel pitch and divided by the pixel's footprint at that depth, (pitch / M)²: the sum over
  the detector of ∫Δμ dl × footprint is the cement's total Δμ·volume, whatever the pose.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from simulator.fluoro.geometry import Projection

TIP_MM = 3.0
"""Length of the stylet's diamond (conical) point, mm (approx.; 11 G trocars)."""


def _rays(proj: Projection, rows: slice, cols: slice):
    """Source (3,) and unit ray directions (r, c, 3) of a block of pixels."""
    rr, cc = np.meshgrid(
        np.arange(rows.start, rows.stop, dtype=float),
        np.arange(cols.start, cols.stop, dtype=float),
        indexing="ij",
    )
    src = proj.source_mm
    d = proj.pixel_mm_world(rr, cc) - src
    return src, d / np.linalg.norm(d, axis=-1, keepdims=True)


def _cylinder_chord(w, d, axis, radius, length):
    """Chord (mm) of rays ``w + t·d`` (w: origin relative to the axis start) through a finite
    cylinder of ``radius`` from 0 to ``length`` along unit ``axis``."""
    da = d @ axis
    wa = w @ axis
    dp = d - da[..., None] * axis
    wp = w - wa * axis
    a = np.einsum("...i,...i->...", dp, dp)
    b = 2.0 * (dp @ wp)
    c = float(wp @ wp) - radius * radius
    disc = b * b - 4.0 * a * c
    ok = (disc > 0) & (a > 1e-12)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    a_safe = np.where(ok, a, 1.0)
    t0, t1 = (-b - sq) / (2 * a_safe), (-b + sq) / (2 * a_safe)
    # along the axis the rays parallel to it: inside when the ray's offset is within the radius
    par = a <= 1e-12
    t0 = np.where(par & (c <= 0), -np.inf, np.where(ok, t0, 0.0))
    t1 = np.where(par & (c <= 0), np.inf, np.where(ok, t1, 0.0))
    s0, s1 = _slab(wa, da, 0.0, length)
    return np.clip(np.minimum(t1, s1) - np.maximum(t0, s0), 0.0, None)


def _slab(wa, da, lo, hi):
    """Ray parameters where the axial coordinate ``wa + t·da`` lies in [lo, hi]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (lo - wa) / da, (hi - wa) / da
    inside = (wa >= lo) & (wa <= hi)
    small = np.abs(da) < 1e-12
    s0 = np.where(small, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb))
    s1 = np.where(small, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb))
    return s0, s1


def _cone_chord(q0, d, axis, radius, length):
    """Chord (mm) of rays ``q0 + t·d`` (q0: origin relative to the apex) through a cone with
    its apex at 0, opening back along −``axis`` to ``radius`` at ``length``."""
    k = 1.0 + (radius / length) ** 2
    da = d @ axis
    qa = float(q0 @ axis)
    a = 1.0 - k * da * da
    b = 2.0 * (d @ q0 - k * qa * da)
    c = float(q0 @ q0) - k * qa * qa
    disc = b * b - 4.0 * a * c
    sq = np.sqrt(np.clip(disc, 0.0, None))
    a_safe = np.where(np.abs(a) > 1e-12, a, 1e-12)
    r0, r1 = np.sort(np.stack([(-b - sq) / (2 * a_safe), (-b + sq) / (2 * a_safe)]), axis=0)
    s0, s1 = _slab(-qa, -da, 0.0, length)  # depth behind the apex along −axis
    inner = np.clip(np.minimum(r1, s1) - np.maximum(r0, s0), 0.0, None)
    before = np.clip(np.minimum(r0, s1) - s0, 0.0, None)
    after = np.clip(s1 - np.maximum(r1, s0), 0.0, None)
    chord = np.where(a > 0, inner, before + after)
    return np.where(disc > 0, chord, 0.0)


def _bbox(proj: Projection, points, pad_px: float):
    """Row and column slices (clipped to the detector) around projected points, or None."""
    rc = proj.project(points)
    n = proj.size_px
    lo = np.floor(rc.min(axis=0) - pad_px).astype(int)
    hi = np.ceil(rc.max(axis=0) + pad_px).astype(int) + 1
    lo, hi = np.clip(lo, 0, n), np.clip(hi, 0, n)
    if lo[0] >= hi[0] or lo[1] >= hi[1]:
        return None
    return slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))


def needle_patch(needle, proj: Projection, *, steel_per_mm: float):
    """(row slice, col slice, ∫μ dl float32 patch) of the trocar, or None when off the field."""
    tip = np.asarray(needle.tip_mm, dtype=float)
    axis = np.asarray(needle.direction, dtype=float)
    axis = axis / np.linalg.norm(axis)
    hub = tip - needle.length_mm * axis
    mag = float(np.max(proj.magnification_at(np.stack([hub, tip]))))
    pad = needle.outer_radius_mm * mag / proj.pixel_mm + 2.0
    box = _bbox(proj, np.stack([hub, tip]), pad)
    if box is None:
        return None
    src, d = _rays(proj, *box)
    r = needle.outer_radius_mm
    if needle.stylet_in:
        shaft = needle.length_mm - TIP_MM
        path = _cylinder_chord(src - hub, d, axis, r, shaft)
        path = path + _cone_chord(src - tip, d, axis, r, TIP_MM)
    else:
        path = _cylinder_chord(src - hub, d, axis, r, needle.length_mm)
        path = path - _cylinder_chord(src - hub, d, axis, needle.inner_radius_mm, needle.length_mm)
    return box[0], box[1], (steel_per_mm * path).astype(np.float32)


def cement_patch(cement, proj: Projection, *, delta_mu_per_mm: float, grid):
    """(row slice, col slice, ∫Δμ dl float32 patch) of the cement, or None when there is none
    on the field (``grid``: the phantom's, whose voxels the cement fills)."""
    idx = np.nonzero(cement.fraction > 1e-6)
    if idx[0].size == 0:
        return None
    f = cement.fraction[idx].astype(float)
    off = np.array([s.start for s in cement.slices], dtype=float)
    pts = np.asarray(grid.origin_mm) + grid.voxel_mm * (np.stack(idx, axis=-1) + off)
    rc = proj.project(pts)
    mag = proj.magnification_at(pts)
    n = proj.size_px
    # splat on a grid of twice the pitch (cement voxels are 1.7 pixels apart on the detector)
    coarse = (rc - (-0.5)) / 2.0 - 0.5  # coarse pixel centres at fine 0.5, 2.5, …
    weight = f * delta_mu_per_mm * grid.voxel_mm**3 * (mag / (2.0 * proj.pixel_mm)) ** 2
    m = (n + 1) // 2
    i0 = np.floor(coarse).astype(int)
    fr = coarse - i0
    acc = np.zeros((m + 1) * (m + 1))
    for di in (0, 1):
        for dj in (0, 1):
            w = weight * np.where(di, fr[:, 0], 1 - fr[:, 0]) * np.where(dj, fr[:, 1], 1 - fr[:, 1])
            ii, jj = i0[:, 0] + di, i0[:, 1] + dj
            ok = (ii >= 0) & (ii <= m) & (jj >= 0) & (jj <= m)
            acc += np.bincount(ii[ok] * (m + 1) + jj[ok], weights=w[ok], minlength=acc.size)
    acc = acc.reshape(m + 1, m + 1)
    nz = np.argwhere(acc != 0)
    if nz.size == 0:
        return None
    (a0, b0), (a1, b1) = nz.min(axis=0), nz.max(axis=0) + 1
    a0, b0 = max(a0 - 1, 0), max(b0 - 1, 0)
    a1, b1 = min(a1 + 1, m + 1), min(b1 + 1, m + 1)
    fine = ndimage.zoom(acc[a0:a1, b0:b1], 2.0, order=1, grid_mode=True, mode="nearest")
    r0, c0 = 2 * a0, 2 * b0
    r1, c1 = min(r0 + fine.shape[0], n), min(c0 + fine.shape[1], n)
    if r1 <= r0 or c1 <= c0:
        return None
    return slice(r0, r1), slice(c0, c1), fine[: r1 - r0, : c1 - c0].astype(np.float32)
