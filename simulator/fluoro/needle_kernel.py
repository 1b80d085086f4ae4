"""The trocar's chords, pixel by pixel, compiled (the per-exposure budget): the same solids
and quadratics as the numpy reference in :mod:`simulator.fluoro.overlay` (a steel shaft, a
conical diamond point, or a tube), evaluated only within ``pad`` pixels of the shaft's image.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _slab(wa, da, lo, hi):
    """Ray parameters where the axial coordinate ``wa + t·da`` lies in [lo, hi]."""
    if abs(da) < 1e-12:
        if lo <= wa <= hi:
            return -np.inf, np.inf
        return np.inf, -np.inf
    ta, tb = (lo - wa) / da, (hi - wa) / da
    return min(ta, tb), max(ta, tb)


@njit(cache=True, nogil=True, inline="always")
def _cylinder(w, d, axis, radius, length):
    """Chord of the ray ``w + t·d`` (w relative to the axis start) through a cylinder."""
    da = d[0] * axis[0] + d[1] * axis[1] + d[2] * axis[2]
    wa = w[0] * axis[0] + w[1] * axis[1] + w[2] * axis[2]
    a = b = c = 0.0
    for i in range(3):
        dp = d[i] - da * axis[i]
        wp = w[i] - wa * axis[i]
        a += dp * dp
        b += 2.0 * dp * wp
        c += wp * wp
    c -= radius * radius
    if a <= 1e-12:
        if c > 0.0:
            return 0.0
        t0, t1 = -np.inf, np.inf
    else:
        disc = b * b - 4.0 * a * c
        if disc <= 0.0:
            return 0.0
        sq = math.sqrt(disc)
        t0, t1 = (-b - sq) / (2.0 * a), (-b + sq) / (2.0 * a)
    s0, s1 = _slab(wa, da, 0.0, length)
    return max(min(t1, s1) - max(t0, s0), 0.0)


@njit(cache=True, nogil=True, inline="always")
def _cone(q, d, axis, radius, length):
    """Chord of the ray ``q + t·d`` (q relative to the apex) through a cone opening back along
    −axis to ``radius`` at ``length``."""
    k = 1.0 + (radius / length) ** 2
    da = d[0] * axis[0] + d[1] * axis[1] + d[2] * axis[2]
    qa = q[0] * axis[0] + q[1] * axis[1] + q[2] * axis[2]
    a = 1.0 - k * da * da
    b = 2.0 * (d[0] * q[0] + d[1] * q[1] + d[2] * q[2] - k * qa * da)
    c = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] - k * qa * qa
    disc = b * b - 4.0 * a * c
    if disc <= 0.0:
        return 0.0
    sq = math.sqrt(disc)
    a_safe = a if abs(a) > 1e-12 else 1e-12
    r0, r1 = (-b - sq) / (2.0 * a_safe), (-b + sq) / (2.0 * a_safe)
    if r0 > r1:
        r0, r1 = r1, r0
    s0, s1 = _slab(-qa, -da, 0.0, length)
    if a > 0.0:
        return max(min(r1, s1) - max(r0, s0), 0.0)
    return max(min(r0, s1) - s0, 0.0) + max(s1 - max(r1, s0), 0.0)


@njit(cache=True, nogil=True)
def needle_kernel(origin_rc, ends_rc, pad, optics, basis, solid, out):  # pragma: no cover
    """Fill ``out`` (rows, cols; pixel (0, 0) of it is image ``origin_rc``) with the steel path
    (mm) of each pixel's ray within ``pad`` px of the segment ``ends_rc`` (2, 2).

    ``optics`` = (centre px, radius px, pincushion k); ``basis`` (5, 3): the source, the
    detector point of undistorted pixel (0, 0), the row and column steps (mm), the unit axis;
    ``solid`` = (hub x, y, z, tip x, y, z, outer radius, inner radius, length, point length,
    stylet in 1/0).
    """
    centre, radius, k = optics[0], optics[1], optics[2]
    src, corner, d_row, d_col, axis = basis[0], basis[1], basis[2], basis[3], basis[4]
    hub, tip = solid[0:3], solid[3:6]
    r_out, r_in, length, point, stylet = solid[6], solid[7], solid[8], solid[9], solid[10]
    r0, c0 = ends_rc[0, 0], ends_rc[0, 1]
    sr, sc = ends_rc[1, 0] - r0, ends_rc[1, 1] - c0
    len2 = sr * sr + sc * sc
    w = np.empty(3)
    q = np.empty(3)
    d = np.empty(3)
    n_cols = out.shape[1]
    for i in range(out.shape[0]):
        row = origin_rc[0] + i
        # the columns this row's band can reach: the segment's points within pad rows, ± pad
        if abs(sr) > 1e-9:
            ta, tb = (row - pad - r0) / sr, (row + pad - r0) / sr
            ta, tb = max(min(ta, tb), 0.0), min(max(ta, tb), 1.0)
            if ta > tb:
                continue
            ca, cb = c0 + ta * sc, c0 + tb * sc
            j0 = max(math.floor(min(ca, cb) - pad - origin_rc[1]), 0)
            j1 = min(math.ceil(max(ca, cb) + pad - origin_rc[1]) + 1, n_cols)
        else:
            j0, j1 = 0, n_cols
        for j in range(j0, j1):
            col = origin_rc[1] + j
            t = 0.0 if len2 < 1e-12 else ((row - r0) * sr + (col - c0) * sc) / len2
            t = min(max(t, 0.0), 1.0)
            if math.hypot(row - (r0 + t * sr), col - (c0 + t * sc)) > pad:
                continue
            ur, uc = row, col
            if k != 0.0:  # undo the pincushion: r_u (1 + k r_u²) = r_d
                qr, qc = (row - centre) / radius, (col - centre) / radius
                rd = math.hypot(qr, qc)
                ru = rd
                for _ in range(5):
                    ru = rd / (1.0 + k * ru * ru)
                s = ru / rd if rd > 0.0 else 1.0
                ur, uc = centre + qr * s * radius, centre + qc * s * radius
            norm = 0.0
            for a in range(3):
                d[a] = corner[a] + ur * d_row[a] + uc * d_col[a] - src[a]
                norm += d[a] * d[a]
            norm = math.sqrt(norm)
            for a in range(3):
                d[a] /= norm
                w[a] = src[a] - hub[a]
                q[a] = src[a] - tip[a]
            if stylet > 0.5:
                path = _cylinder(w, d, axis, r_out, length - point)
                path += _cone(q, d, axis, r_out, point)
            else:
                path = _cylinder(w, d, axis, r_out, length) - _cylinder(w, d, axis, r_in, length)
            out[i, j] = path
