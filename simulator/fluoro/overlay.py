"""What the procedure adds to a perspective image: the trocar (closed form) and the cement
(its sub-volume only), as ∫μ dl patches on the detector of a
:class:`~simulator.fluoro.geometry.Projection`.

* Trocar: a steel cylinder from the hub to the base of its diamond tip, then a cone to the
  point (``TIP_MM`` long); with the stylet out, a tube (outer minus inner cylinder) with a flat
  end, its lumen holding the cement the injection has pushed in from the hub (a cylinder of
  the inner radius, as long as the filled length, of the cement's μ); behind the hub a steel
  collar and a plastic handle (``HANDLE``). Each pixel's ray from the source is intersected
  with the solids exactly (quadratics), so the needle is right at any angle, down the barrel
  included (a dot, or a ring once the stylet is out).
* Cement: each voxel with cement deposits f · Δμ · v³ (f its volume fraction, Δμ cement minus
  the marrow it displaced, v the voxel size) spread bilinearly over the detector at twice the
  pixel pitch and divided by the pixel's footprint at that depth, (pitch / M)²: the sum over
  the detector of ∫Δμ dl × footprint is the cement's total Δμ·volume, whatever the pose.
  :func:`point_patch` splats cement given as points with volumes (mm³) the same way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.fluoro.geometry import Projection
from simulator.fluoro.needle_kernel import needle_kernel
from simulator.fluoro.zoom import zoom2

TIP_MM = 3.0
"""Length of the stylet's diamond (conical) point, mm (approx.; 11 G trocars)."""
HANDLE = (
    # (name, from, to along the axis behind the hub (mm), outer and inner radius (mm), μ (1/mm
    # or None: the trocar's steel)), approx.
    ("hub", 0.0, 8.0, 3.0, 2.2, None),  # the cannula's metal Luer hub: a short tube
    ("handle", 8.0, 33.0, 9.0, 0.0, 0.01),  # a hollow moulded grip: ≈ 6 mm of plastic a ray
)
"""The trocar's hub and handle behind the cannula, seen on an image only when the beam reaches
them: en face, the needle's dot inside the hub's ring, within a faint disc of the grip."""


def _band(proj: Projection, box, ends_rc, pad_px: float):
    """Pixel (rows, cols) of ``box`` within ``pad_px`` of the projected segment ``ends_rc``."""
    rr, cc = np.meshgrid(
        np.arange(box[0].start, box[0].stop, dtype=float),
        np.arange(box[1].start, box[1].stop, dtype=float),
        indexing="ij",
    )
    (r0, c0), (r1, c1) = ends_rc
    seg = np.array([r1 - r0, c1 - c0])
    len2 = float(seg @ seg)
    t = np.zeros_like(rr) if len2 < 1e-12 else ((rr - r0) * seg[0] + (cc - c0) * seg[1]) / len2
    t = np.clip(t, 0.0, 1.0)
    near = np.hypot(rr - (r0 + t * seg[0]), cc - (c0 + t * seg[1])) <= pad_px
    return rr[near], cc[near], near


def _bow_px(points_rc, ends_rc) -> float:
    """Largest distance (px) of image points from the straight segment between ``ends_rc``."""
    (r0, c0), (r1, c1) = ends_rc
    seg = np.array([r1 - r0, c1 - c0])
    len2 = float(seg @ seg)
    rel = points_rc - np.array([r0, c0])
    t = np.zeros(len(rel)) if len2 < 1e-12 else np.clip(rel @ seg / len2, 0.0, 1.0)
    return float(np.max(np.hypot(*(rel - t[:, None] * seg).T)))


def _rays(proj: Projection, rows, cols):
    """Source (3,) and unit ray directions (..., 3) of pixels (rows, cols)."""
    src = proj.source_mm
    d = proj.pixel_mm_world(rows, cols) - src
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


def needle_patch(needle, proj: Projection, *, steel_per_mm: float, backend: str = "numba"):
    """(row slice, col slice, ∫μ dl float32 patch) of the trocar, or None when off the field
    (``backend``: the compiled kernel, or ``"numpy"``, the reference)."""
    parts = needle_patches(needle, proj, steel_per_mm=steel_per_mm, backend=backend)
    return _sum_patches(parts) if parts else None


def needle_patches(needle, proj: Projection, *, steel_per_mm: float, backend: str = "numba"):
    """The trocar's ∫μ dl as a list of (row slice, col slice, float32 values): the cannula and
    stylet, the hub collar, the handle and the cement in the lumen, each where it is on the
    field (an empty list when none is)."""
    tip = np.asarray(needle.tip_mm, dtype=float)
    axis = np.asarray(needle.direction, dtype=float)
    axis = axis / np.linalg.norm(axis)
    hub = tip - needle.length_mm * axis
    ends = np.stack([hub, tip])
    mag = float(np.max(proj.magnification_at(ends)))
    pad = needle.outer_radius_mm * mag / proj.pixel_mm + 2.0
    ends_rc = proj.project(ends)
    if proj.distortion:  # the pincushion bends the shaft's image: widen by how far it bows
        along = proj.project(hub + np.linspace(0.0, 1.0, 17)[:, None] * (tip - hub))
        pad += _bow_px(along, ends_rc)
    box = _bbox(proj, ends, pad)
    if backend == "numba":
        parts = _tube_patches(proj, hub, axis, needle, steel_per_mm)
        if box is not None:
            values = _needle_compiled(needle, proj, box, ends_rc, pad, steel_per_mm)
            parts.insert(0, (box[0], box[1], values))
        return parts
    handle = []  # the numpy reference of _tube_patches
    for ends, hbox, pad_h, radius, inner, length, mu in _tube_parts(proj, hub, axis, needle):
        hr, hc, hnear = _band(proj, hbox, proj.project(ends), pad_h)
        hsrc, hd = _rays(proj, hr, hc)
        chord = _cylinder_chord(hsrc - ends[0], hd, axis, radius, length)
        if inner > 0:
            chord = chord - _cylinder_chord(hsrc - ends[0], hd, axis, inner, length)
        values = np.zeros(hnear.shape, dtype=np.float32)
        values[hnear] = (mu or steel_per_mm) * chord
        handle.append((hbox[0], hbox[1], values))
    if box is None:
        return handle
    rows, cols, near = _band(proj, box, ends_rc, pad)
    src, d = _rays(proj, rows, cols)
    r = needle.outer_radius_mm
    if needle.stylet_in:
        shaft = needle.length_mm - TIP_MM
        path = _cylinder_chord(src - hub, d, axis, r, shaft)
        path = path + _cone_chord(src - tip, d, axis, r, TIP_MM)
    else:
        path = _cylinder_chord(src - hub, d, axis, r, needle.length_mm)
        path = path - _cylinder_chord(src - hub, d, axis, needle.inner_radius_mm, needle.length_mm)
    patch = np.zeros(near.shape, dtype=np.float32)
    patch[near] = steel_per_mm * path
    return [(box[0], box[1], patch), *handle]


def _tube_parts(proj: Projection, hub, axis, needle):
    """The tubes beside the shaft that reach the field: the collar and the grip behind the hub
    (``HANDLE``) and, with the stylet out, the cement in the lumen (a solid cylinder of the
    inner radius from the hub, ``needle.lumen_cement_mm`` toward the tip). Each as (ends (2,
    3) mm, its start then its end along ``axis``, box, pad px, outer and inner radius, length
    mm, μ (1/mm) or None for steel)."""
    tubes = []
    for _, start, stop, radius, inner, mu in HANDLE:
        near_end = hub - start * axis
        ends = np.stack([near_end - (stop - start) * axis, near_end])
        tubes.append((ends, radius, inner, stop - start, mu))
    filled = needle.lumen_cement_mm
    if not needle.stylet_in and filled > 0.0 and needle.cement_mu_per_mm > 0.0:
        ends = np.stack([hub, hub + filled * axis])
        tubes.append((ends, needle.inner_radius_mm, 0.0, filled, needle.cement_mu_per_mm))
    for ends, radius, inner, length, mu in tubes:
        mag = float(np.max(proj.magnification_at(ends)))
        pad = radius * mag / proj.pixel_mm + 2.0
        box = _bbox(proj, ends, pad)
        if box is not None:
            yield ends, box, pad, radius, inner, length, mu


def _tube_patches(proj: Projection, hub, axis, needle, steel_per_mm: float) -> list:
    """The patches (compiled) of :func:`_tube_parts`: the collar's, the grip's and the lumen's
    cement, as (row slice, col slice, values)."""
    from simulator.fluoro.projection import NeedleRender

    out = []
    for ends, box, pad, radius, inner, length, mu in _tube_parts(proj, hub, axis, needle):
        solid = NeedleRender(
            tip_mm=tuple(ends[1]),
            direction=tuple(axis),
            length_mm=length,
            outer_radius_mm=radius,
            inner_radius_mm=inner,
            stylet_in=False,
        )
        values = _needle_compiled(solid, proj, box, proj.project(ends), pad, mu or steel_per_mm)
        out.append((box[0], box[1], values))
    return out


def _sum_patches(patches: list):
    """One patch over the union of the boxes of ``patches`` (row slice, col slice, values)."""
    if len(patches) == 1:
        return patches[0]
    r0 = min(p[0].start for p in patches)
    r1 = max(p[0].stop for p in patches)
    c0 = min(p[1].start for p in patches)
    c1 = max(p[1].stop for p in patches)
    total = np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
    for rs, cs, values in patches:
        total[rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0] += values
    return slice(r0, r1), slice(c0, c1), total


def _needle_compiled(needle, proj: Projection, box, ends_rc, pad: float, steel_per_mm: float):
    """The trocar's ∫μ dl over ``box`` by :func:`needle_kernel` (same solids as the numpy)."""
    tip = np.asarray(needle.tip_mm, dtype=float)
    axis = np.asarray(needle.direction, dtype=float)
    axis = axis / np.linalg.norm(axis)
    hub = tip - needle.length_mm * axis
    basis = np.concatenate([proj.ray_basis, axis[None, :]])
    solid = np.array(
        [
            *hub,
            *tip,
            needle.outer_radius_mm,
            needle.inner_radius_mm,
            needle.length_mm,
            TIP_MM,
            1.0 if needle.stylet_in else 0.0,
        ]
    )
    optics = np.array([(proj.size_px - 1) / 2.0, proj.size_px / 2.0, proj.distortion])
    out = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), dtype=np.float64)
    origin = np.array([box[0].start, box[1].start], dtype=np.float64)
    needle_kernel(origin, np.asarray(ends_rc, dtype=np.float64), pad, optics, basis, solid, out)
    return (steel_per_mm * out).astype(np.float32)


def cement_patch(cement, proj: Projection, *, delta_mu_per_mm: float, grid):
    """(row slice, col slice, ∫Δμ dl float32 patch) of the cement, or None when there is none
    on the field (``grid``: the phantom's, whose voxels the cement fills)."""
    n = proj.size_px
    m = (n + 1) // 2
    acc = np.zeros((m + 1, m + 1), dtype=np.float64)
    off = np.array([s.start for s in cement.slices], dtype=np.float64)
    origin = np.asarray(grid.origin_mm, dtype=np.float64) + grid.voxel_mm * off
    frac = np.ascontiguousarray(cement.fraction, dtype=np.float32)
    mat = proj.detector_from_world[:3].astype(np.float64)
    scale = delta_mu_per_mm * grid.voxel_mm**3 / (2.0 * proj.pixel_mm) ** 2
    found = _splat(
        frac,
        origin,
        float(grid.voxel_mm),
        mat,
        (proj.beam.sid_mm, proj.pixel_mm, (n - 1) / 2.0, n / 2.0, proj.distortion),
        scale,
        acc,
    )
    return _fine_patch(acc, n) if found else None


def point_patch(points_mm, volumes_mm3, proj: Projection, *, delta_mu_per_mm: float):
    """(row slice, col slice, ∫Δμ dl float32 patch) of cement given as points, or None when
    none lands on the field.

    ``points_mm`` (N, 3): anatomy-frame positions (mm); ``volumes_mm3`` (N,): the cement's
    volume at each (mm³); ``delta_mu_per_mm``: cement minus the tissue it displaced (1/mm).
    The same splat as :func:`cement_patch` (a voxel centre with volume f·v³ gives the voxel's
    deposit): Σ patch × (pixel_mm / M)² × the pincushion's area stretch = Δμ · Σ volumes.
    """
    pts = np.ascontiguousarray(points_mm, dtype=np.float64).reshape(-1, 3)
    vol = np.ascontiguousarray(volumes_mm3, dtype=np.float64).reshape(-1)
    if pts.shape[0] != vol.shape[0]:
        raise ValueError(f"{pts.shape[0]} points but {vol.shape[0]} volumes")
    if pts.shape[0] == 0:
        return None
    n = proj.size_px
    m = (n + 1) // 2
    acc = np.zeros((m + 1, m + 1), dtype=np.float64)
    found = _splat_points(
        pts,
        vol,
        proj.detector_from_world[:3].astype(np.float64),
        (proj.beam.sid_mm, proj.pixel_mm, (n - 1) / 2.0, n / 2.0, proj.distortion),
        delta_mu_per_mm / (2.0 * proj.pixel_mm) ** 2,
        acc,
    )
    return _fine_patch(acc, n) if found else None


def _fine_patch(acc: np.ndarray, n: int):
    """The coarse accumulator (pitch two pixels) zoomed to detector pixels over the box of
    what landed on it: (row slice, col slice, float32 values) clipped to the ``n``×``n``
    detector, or None when nothing did."""
    m = acc.shape[0] - 1
    rows = np.flatnonzero(acc.any(axis=1))
    cols = np.flatnonzero(acc.any(axis=0))
    if rows.size == 0:
        return None
    a0, a1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, m + 1)
    b0, b1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, m + 1)
    fine = zoom2(acc[a0:a1, b0:b1])  # ndimage.zoom × 2, linear, compiled (.zoom)
    r0, c0 = 2 * a0, 2 * b0
    r1, c1 = min(r0 + fine.shape[0], n), min(c0 + fine.shape[1], n)
    if r1 <= r0 or c1 <= c0:
        return None
    return slice(r0, r1), slice(c0, c1), fine[: r1 - r0, : c1 - c0].astype(np.float32)


@njit(cache=True, nogil=True)
def _splat(frac, origin, voxel, mat, optics, scale, acc):  # pragma: no cover
    """Deposit each voxel's f · scale · M² bilinearly on the coarse grid ``acc`` (pitch two
    pixels, cell centres at fine 0.5, 2.5, …) by :func:`_deposit`; True when anything
    landed."""
    nx, ny, nz = frac.shape
    found = False
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                f = frac[i, j, k]
                if f <= 1e-6:
                    continue
                x = origin[0] + voxel * i
                y = origin[1] + voxel * j
                z = origin[2] + voxel * k
                found |= _deposit(x, y, z, f * scale, mat, optics, acc)
    return found


@njit(cache=True, nogil=True)
def _splat_points(points, volumes, mat, optics, scale, acc):  # pragma: no cover
    """:func:`_splat` for arbitrary points: each point's volume · scale · M² (scale = Δμ /
    (coarse cell pitch)², mm⁻³) by :func:`_deposit`; True when anything landed."""
    found = False
    for p in range(points.shape[0]):
        if volumes[p] > 0.0:
            x, y, z = points[p, 0], points[p, 1], points[p, 2]
            found |= _deposit(x, y, z, volumes[p] * scale, mat, optics, acc)
    return found


@njit(cache=True, nogil=True, inline="always")
def _deposit(x, y, z, amount, mat, optics, acc):  # pragma: no cover
    """Put ``amount`` · M² at the image of the point (x, y, z) (mm), bilinearly on the
    coarse grid ``acc``; True when any of it landed. ``optics`` = (SID mm, pixel mm, centre
    px, field radius px, pincushion k): a pincushion moves the point out to r (1 + k r²) and
    spreads it over the larger area, (1 + k r²)(1 + 3 k r²). A point at or behind the focal
    spot, far off the detector or not finite deposits nothing."""
    sid, pixel, centre, radius, pincushion = optics
    m = acc.shape[0] - 1
    u = mat[0, 0] * x + mat[0, 1] * y + mat[0, 2] * z + mat[0, 3]
    v = mat[1, 0] * x + mat[1, 1] * y + mat[1, 2] * z + mat[1, 3]
    w = mat[2, 0] * x + mat[2, 1] * y + mat[2, 2] * z + mat[2, 3]
    if not w + sid > 0.0:
        return False
    mag = sid / (w + sid)
    qr, qc = v * mag / pixel / radius, u * mag / pixel / radius
    r2 = qr * qr + qc * qc
    grow = 1.0 + pincushion * r2
    row = qr * grow * radius + centre
    col = qc * grow * radius + centre
    cr, cc = (row + 0.5) / 2.0 - 0.5, (col + 0.5) / 2.0 - 0.5
    if not (cr > -2.0 and cr < m + 1.0 and cc > -2.0 and cc < m + 1.0):
        return False
    r0, c0 = int(np.floor(cr)), int(np.floor(cc))
    fr, fc = cr - r0, cc - c0
    val = amount * mag * mag / (grow * (1.0 + 3.0 * pincushion * r2))
    found = False
    for dr in range(2):
        rr = r0 + dr
        if rr < 0 or rr > m:
            continue
        wr = fr if dr else 1.0 - fr
        for dc in range(2):
            ccol = c0 + dc
            if ccol < 0 or ccol > m:
                continue
            acc[rr, ccol] += val * wr * (fc if dc else 1.0 - fc)
            found = True
    return found
