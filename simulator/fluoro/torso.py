"""The trunk around the phantom as a closed-form solid, and the chord of a ray through it.

The phantom spans only the vertebra's neighbourhood; the trunk on a ray's path is uniform soft
tissue filling a :class:`Torso`: an elliptic cylinder along z (semi-axes ``width_mm / 2`` in x,
``depth_mm / 2`` in y, ``[torso]`` of ``assets/fluoro.toml``) centred on the midline x = 0,
its back flattened by the half-space y ≤ ``skin_y_mm`` (the posterior skin plane, +y posterior).
The cylinder is infinite in z. A ray's path length through it (its *chord*) is closed-form:
the ray's parameter interval is clipped by the ellipse's quadratic and by the half-space.

:meth:`Torso.fit` places it on a phantom: the skin plane is where the first layer of air
voxels at the back begins, and the ellipse's centre sits far enough forward that the ellipse
reaches the skin plane at the phantom's lateral faces, so the flat back spans the whole phantom
and every phantom voxel in front of the skin lies inside the torso (its AP chord at the midline
is then ≈ 223 mm for first_case_l1, today's parallel AP path of phantom plus slab).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True, kw_only=True)
class Torso:
    """The trunk solid (LPS mm): ((x − centre_x)/a)² + ((y − centre_y)/b)² ≤ 1 and y ≤ skin_y."""

    half_width_mm: float
    half_depth_mm: float
    centre_y_mm: float
    skin_y_mm: float
    centre_x_mm: float = 0.0

    @classmethod
    def fit(cls, *, width_mm: float, depth_mm: float, skin_y_mm: float, half_span_x_mm: float):
        """The torso of ``width_mm`` × ``depth_mm`` whose ellipse meets the skin plane
        ``skin_y_mm`` at x = ±``half_span_x_mm`` (the phantom's lateral faces, mm)."""
        a, b = 0.5 * float(width_mm), 0.5 * float(depth_mm)
        reach = b * np.sqrt(max(1.0 - (float(half_span_x_mm) / a) ** 2, 0.0))
        return cls(
            half_width_mm=a,
            half_depth_mm=b,
            centre_y_mm=float(skin_y_mm) - float(reach),
            skin_y_mm=float(skin_y_mm),
        )

    def contains(self, points_mm) -> np.ndarray:
        """True where LPS points (..., 3) in mm lie inside the torso (boundary included)."""
        p = np.asarray(points_mm, dtype=float)
        ex = (p[..., 0] - self.centre_x_mm) / self.half_width_mm
        ey = (p[..., 1] - self.centre_y_mm) / self.half_depth_mm
        return (ex * ex + ey * ey <= 1.0) & (p[..., 1] <= self.skin_y_mm)

    def params(self, origin_mm, voxel_mm: float) -> np.ndarray:
        """(centre x, centre y, a, b, skin y) in voxel units of a grid (for the kernels)."""
        o, h = np.asarray(origin_mm, dtype=float), float(voxel_mm)
        return np.array(
            [
                (self.centre_x_mm - o[0]) / h,
                (self.centre_y_mm - o[1]) / h,
                self.half_width_mm / h,
                self.half_depth_mm / h,
                (self.skin_y_mm - o[1]) / h,
            ]
        )

    def chord_mm(self, source_mm, directions, length_mm) -> np.ndarray:
        """Path length (mm, (n,)) through the torso of the rays ``source + t · direction``,
        0 ≤ t ≤ ``length_mm`` (directions (n, 3) unit, lengths (n,) or scalar, mm)."""
        return chords(
            np.asarray(source_mm, dtype=float),
            np.atleast_2d(np.asarray(directions, dtype=float)),
            np.broadcast_to(np.asarray(length_mm, dtype=float), (len(np.atleast_2d(directions)),)),
            self.params((0.0, 0.0, 0.0), 1.0),
        )


def skin_plane_index(labels: np.ndarray, air_id: int) -> float | None:
    """y index (voxel units, between two layers) of the skin plane: half a voxel in front of
    the first y layer of ``labels`` holding air, or None when there is no air."""
    layers = np.nonzero((labels == air_id).any(axis=(0, 2)))[0]
    return float(layers[0]) - 0.5 if layers.size else None


def chords(source, d, length, torso) -> np.ndarray:
    """Vectorised chord (same units as the inputs) of rays ``source + t · d`` (d (n, 3) unit),
    0 ≤ t ≤ ``length`` (n,), through the torso ``params`` (see :func:`_chord`)."""
    cx, cy, a, b, ys = torso
    ox, oy = source[0] - cx, source[1] - cy
    qa = (d[:, 0] / a) ** 2 + (d[:, 1] / b) ** 2
    qb = 2.0 * (ox * d[:, 0] / (a * a) + oy * d[:, 1] / (b * b))
    qc = (ox / a) ** 2 + (oy / b) ** 2 - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(np.maximum(disc, 0.0))
        t_in = np.where(qa > 1e-300, (-qb - sq) / (2.0 * qa), -np.inf)
        t_out = np.where(qa > 1e-300, (-qb + sq) / (2.0 * qa), np.inf)
        t_plane = (ys - source[1]) / d[:, 1]
    miss = np.where(qa > 1e-300, disc <= 0.0, qc > 0.0)
    lo = np.maximum(t_in, 0.0)
    hi = np.minimum(t_out, length)
    lo = np.where(d[:, 1] < 0.0, np.maximum(lo, t_plane), lo)
    hi = np.where(d[:, 1] > 0.0, np.minimum(hi, t_plane), hi)
    miss |= (d[:, 1] == 0.0) & (source[1] > ys)
    return np.where(miss, 0.0, np.maximum(hi - lo, 0.0))


@njit(cache=True, nogil=True, inline="always")
def _chord(sx, sy, dx, dy, length, torso):
    """Chord of the ray (sx, sy, ·) + t (dx, dy, ·), 0 ≤ t ≤ length, through the torso given by
    ``params`` (centre x, centre y, a, b, skin y; one unit throughout, d a unit vector)."""
    cx, cy, a, b, ys = torso[0], torso[1], torso[2], torso[3], torso[4]
    ox, oy = sx - cx, sy - cy
    qa = (dx / a) ** 2 + (dy / b) ** 2
    qb = 2.0 * (ox * dx / (a * a) + oy * dy / (b * b))
    qc = (ox / a) ** 2 + (oy / b) ** 2 - 1.0
    lo, hi = 0.0, length
    if qa > 1e-300:
        disc = qb * qb - 4.0 * qa * qc
        if disc <= 0.0:
            return 0.0
        sq = np.sqrt(disc)
        lo = max(lo, (-qb - sq) / (2.0 * qa))
        hi = min(hi, (-qb + sq) / (2.0 * qa))
    elif qc > 0.0:
        return 0.0
    if dy > 0.0:
        hi = min(hi, (ys - sy) / dy)
    elif dy < 0.0:
        lo = max(lo, (ys - sy) / dy)
    elif sy > ys:
        return 0.0
    return max(hi - lo, 0.0)
