"""Air-holding solids of the trunk (lungs, bowel gas) in closed form, in LPS millimetres.

An :class:`AirSolid` is an axis-aligned ellipsoid E, cut by half-spaces n·p ≤ c, minus an
optional second ellipsoid M (the diaphragm's dome under a lung):

    S = E ∩ {n_k · p ≤ c_k for every k} \\ M.

Its attenuation is a departure Δμ (1/mm) from the trunk's soft tissue. Along a ray
p(t) = s + t·d (d a unit vector, 0 ≤ t ≤ L) the parameters inside E and the half-spaces form
one interval I (E and the half-spaces are convex), those inside M another, I_M; so the path
length through S is |I| − |I ∩ I_M|. A solid that the voxel grid also paints (``in_grid_label``
set) is counted by the grid's labels inside the grid's box B and in closed form outside it:
|I \\ M \\ B| = |I| − |I ∩ I_M| − |I ∩ I_B| + |I ∩ I_M ∩ I_B|, exact, every term one interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class AirSolid:
    """One solid of aerated tissue or gas (LPS mm; see the module docstring).

    ``planes``: half-spaces ``(nx, ny, nz, c)`` kept where n·p ≤ c (n need not be unit);
    ``minus_centre_mm``/``minus_semi_axes_mm``: the subtracted ellipsoid, or None;
    ``delta_mu_per_mm``: μ of the solid minus μ of soft tissue (1/mm, negative for air);
    ``in_grid_label``: the tissue name the voxel grid paints the solid with inside the grid
    (the closed form then leaves the grid's box out), or None when the grid does not paint
    it (the closed form counts its whole chord: it must lie where the grid holds soft tissue).
    """

    centre_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    delta_mu_per_mm: float
    planes: tuple[tuple[float, float, float, float], ...] = ()
    minus_centre_mm: tuple[float, float, float] | None = None
    minus_semi_axes_mm: tuple[float, float, float] | None = None
    in_grid_label: str | None = None

    def contains(self, x_mm, y_mm, z_mm) -> np.ndarray:
        """True where the (broadcast) point lies inside the solid."""
        x, y, z = (np.asarray(v, dtype=float) for v in (x_mm, y_mm, z_mm))
        inside = _in_ellipsoid(x, y, z, self.centre_mm, self.semi_axes_mm)
        for nx, ny, nz, c in self.planes:
            inside = inside & (nx * x + ny * y + nz * z <= c)
        if self.minus_centre_mm is not None:
            inside = inside & ~_in_ellipsoid(x, y, z, self.minus_centre_mm, self.minus_semi_axes_mm)
        return inside

    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) corners of the box around the ellipsoid E (mm)."""
        c, a = np.asarray(self.centre_mm, float), np.asarray(self.semi_axes_mm, float)
        return c - a, c + a

    def chord_mm(self, source_mm, d, length_mm, box_t=None) -> np.ndarray:
        """Path length (mm, (n,)) of the rays ``source + t·d`` (d (n, 3) unit, 0 ≤ t ≤
        ``length_mm`` (n,)) inside the solid; with ``box_t`` = (t0, t1) (n,) the rays'
        interval in the grid's box, only outside it (applied when ``in_grid_label`` is set)."""
        s = np.asarray(source_mm, dtype=float)
        t0, t1 = ellipsoid_interval(s, d, self.centre_mm, self.semi_axes_mm)
        t0, t1 = np.maximum(t0, 0.0), np.minimum(t1, length_mm)
        for nx, ny, nz, c in self.planes:
            t0, t1 = _clip_plane(t0, t1, s, d, np.array([nx, ny, nz]), c)
        out = _length(t0, t1)
        if self.minus_centre_mm is not None:
            m0, m1 = ellipsoid_interval(s, d, self.minus_centre_mm, self.minus_semi_axes_mm)
            m0, m1 = np.maximum(t0, m0), np.minimum(t1, m1)
            out = out - _length(m0, m1)
        if box_t is not None and self.in_grid_label is not None:
            b0, b1 = np.maximum(t0, box_t[0]), np.minimum(t1, box_t[1])
            out = out - _length(b0, b1)
            if self.minus_centre_mm is not None:
                out = out + _length(np.maximum(b0, m0), np.minimum(b1, m1))
        return np.maximum(out, 0.0)


def _in_ellipsoid(x, y, z, centre, semi) -> np.ndarray:
    return ((x - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2 + (
        (z - centre[2]) / semi[2]
    ) ** 2 <= 1.0


def _length(t0, t1) -> np.ndarray:
    return np.maximum(t1 - t0, 0.0)


def ellipsoid_interval(source, d, centre, semi) -> tuple[np.ndarray, np.ndarray]:
    """Parameters (t0, t1) (n,) where the lines ``source + t·d`` (d (n, 3)) cross the
    axis-aligned ellipsoid (t0 ≥ t1 where they miss it)."""
    inv2 = 1.0 / np.asarray(semi, dtype=float) ** 2
    o = np.asarray(source, dtype=float) - np.asarray(centre, dtype=float)
    qa = (d * d) @ inv2
    qb = d @ (2.0 * o * inv2)
    qc = float(o * o @ inv2) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    sq = np.sqrt(np.maximum(disc, 0.0))
    half = 0.5 / qa
    t0 = np.where(disc > 0.0, (-qb - sq) * half, 1.0)
    t1 = np.where(disc > 0.0, (-qb + sq) * half, 0.0)
    return t0, t1


def _clip_plane(t0, t1, source, d, n, c):
    """Clip (t0, t1) to the half-space n·p ≤ c."""
    nd = d @ n
    gap = c - float(n @ source)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hit = gap / nd
    t1 = np.where(nd > 0.0, np.minimum(t1, t_hit), t1)
    t0 = np.where(nd < 0.0, np.maximum(t0, t_hit), t0)
    t1 = np.where((nd == 0.0) & (gap < 0.0), -np.inf, t1)
    return t0, t1


def box_interval(source, d, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Parameters (t0, t1) (n,) of the lines ``source + t·d`` inside the box [lo, hi]
    (t0 ≥ t1 where they miss it)."""
    s = np.asarray(source, dtype=float)
    t0 = np.full(len(d), -np.inf)
    t1 = np.full(len(d), np.inf)
    for a in range(3):
        da = d[:, a]
        with np.errstate(divide="ignore", invalid="ignore"):
            ta, tb = (lo[a] - s[a]) / da, (hi[a] - s[a]) / da
        flat = da == 0.0
        ta, tb = np.where(flat, -np.inf, ta), np.where(flat, np.inf, tb)
        t0 = np.maximum(t0, np.minimum(ta, tb))
        t1 = np.minimum(t1, np.maximum(ta, tb))
        if s[a] < lo[a] or s[a] > hi[a]:  # a ray parallel to these faces misses the box
            t1 = np.where(flat, -np.inf, t1)
    return t0, t1
