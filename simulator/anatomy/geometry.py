"""Analytic shapes of the treated vertebra, in LPS millimetres.

These closed-form descriptions are shared by the voxel builder (``build.py``), the scenario
validator (is a vein or a defect where it claims to be?) and the tests (analytic volumes).

Body frame: x = 0 is the midline, y = 0 the middle of the AP depth (the ellipse centre), z = 0
the middle of the posterior wall's height. The body is an elliptic cylinder of semi-axes
``a`` (x) and ``b`` (y) whose posterior side is cut flat at ``y = y_wall`` (the posterior wall,
as wide as the canal). Its inferior endplate is at ``z = -H/2``; its superior endplate falls
linearly from ``+H/2`` at the posterior wall to ``-H/2 + H (1 - w)`` at the anterior rim
(anterior height loss ``w``, posterior wall intact). Both endplates are concave by a
paraboloid of depth ``c`` at the centre, ``c (1 - ρ²)`` with ρ² = (x/a)² + ((y − yc)/b')²,
where yc and b' centre the dish between the anterior rim and the flat posterior wall so that
it meets both rims at ρ = 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np


@dataclass(frozen=True, kw_only=True)
class BodyShape:
    """The treated vertebral body (outer surface of the cortex)."""

    half_width_mm: float
    half_depth_mm: float
    height_mm: float
    wedge_fraction: float
    """Anterior height loss as a fraction of the posterior height (0–0.65)."""
    wall_y_mm: float
    concavity_superior_mm: float
    concavity_inferior_mm: float

    @property
    def anterior_y_mm(self) -> float:
        """y of the anterior rim (mm)."""
        return -self.half_depth_mm

    def height_at(self, y_mm):
        """Rim height of the body at AP position ``y_mm`` (mm), before concavity."""
        frac = (np.asarray(y_mm, dtype=float) - self.anterior_y_mm) / (
            self.wall_y_mm - self.anterior_y_mm
        )
        frac = np.clip(frac, 0.0, 1.0)
        return self.height_mm * (1.0 - self.wedge_fraction * (1.0 - frac))

    def rho2(self, x_mm, y_mm):
        """Squared normalised plan radius (x/a)² + (y/b)²."""
        return (np.asarray(x_mm) / self.half_width_mm) ** 2 + (
            np.asarray(y_mm) / self.half_depth_mm
        ) ** 2

    def dish2(self, x_mm, y_mm):
        """Squared normalised radius of the endplate dish (1 on the anterior and posterior rims
        at the midline)."""
        yc = 0.5 * (self.wall_y_mm + self.anterior_y_mm)
        bd = 0.5 * (self.wall_y_mm - self.anterior_y_mm)
        return (np.asarray(x_mm) / self.half_width_mm) ** 2 + ((np.asarray(y_mm) - yc) / bd) ** 2

    def bottom_z(self, x_mm, y_mm):
        """z of the inferior endplate surface (mm)."""
        dip = self.concavity_inferior_mm * np.clip(1.0 - self.dish2(x_mm, y_mm), 0.0, 1.0)
        return -self.height_mm / 2.0 + dip

    def top_z(self, x_mm, y_mm):
        """z of the superior endplate surface (mm)."""
        dip = self.concavity_superior_mm * np.clip(1.0 - self.dish2(x_mm, y_mm), 0.0, 1.0)
        return -self.height_mm / 2.0 + self.height_at(y_mm) - dip

    def in_plan(self, x_mm, y_mm, *, inset_mm: float = 0.0):
        """True where (x, y) lies inside the axial outline shrunk by ``inset_mm``."""
        a = self.half_width_mm - inset_mm
        b = self.half_depth_mm - inset_mm
        x = np.asarray(x_mm)
        y = np.asarray(y_mm)
        return ((x / a) ** 2 + (y / b) ** 2 <= 1.0) & (y <= self.wall_y_mm - inset_mm)

    def contains(self, x_mm, y_mm, z_mm, *, inset_mm: float = 0.0):
        """True where the point lies inside the body shrunk by ``inset_mm`` on every side."""
        z = np.asarray(z_mm)
        return (
            self.in_plan(x_mm, y_mm, inset_mm=inset_mm)
            & (z >= self.bottom_z(x_mm, y_mm) + inset_mm)
            & (z <= self.top_z(x_mm, y_mm) - inset_mm)
        )

    def half_width_at(self, y_mm: float) -> float:
        """Half-width of the axial outline at ``y_mm`` (mm); 0 outside."""
        if y_mm > self.wall_y_mm or abs(y_mm) >= self.half_depth_mm:
            return 0.0
        return self.half_width_mm * math.sqrt(1.0 - (y_mm / self.half_depth_mm) ** 2)

    def plan_radius(self, x_mm: float, y_mm: float) -> float:
        """Normalised plan radius ρ = sqrt((x/a)² + (y/b)²): 1 on the curved outline."""
        return math.sqrt(float(self.rho2(x_mm, y_mm)))


@dataclass(frozen=True, kw_only=True)
class CanalShape:
    """The spinal canal in the axial plane: a half-ellipse behind the flat posterior wall."""

    wall_y_mm: float
    half_width_mm: float
    depth_mm: float

    def contains_plan(self, x_mm, y_mm):
        """True where (x, y) lies inside the canal outline (every z)."""
        x = np.asarray(x_mm)
        y = np.asarray(y_mm)
        return (y >= self.wall_y_mm) & (
            (x / self.half_width_mm) ** 2 + ((y - self.wall_y_mm) / self.depth_mm) ** 2 <= 1.0
        )


@dataclass(frozen=True, kw_only=True)
class PedicleShape:
    """One pedicle: an elliptic cylinder along ``axis`` (unit, pointing anteromedially).

    ``isthmus_mm`` is the centre of the pedicle's narrowest part, on the axis. The cylinder
    runs ``into_body_mm`` from the isthmus along ``axis`` (anterior, into the body) and
    ``behind_mm`` against it (posterior, into the lamina and facets).
    """

    side: str
    isthmus_mm: tuple[float, float, float]
    axis: tuple[float, float, float]
    half_width_mm: float
    half_height_mm: float
    into_body_mm: float
    behind_mm: float


def skin_y_mm(x_mm, *, skin_y0_mm: float, groove_mm: float = 3.0):
    """y (mm) of the posterior skin of a prone patient at lateral offset ``x_mm``.

    ``skin_y0_mm`` is the skin over the paraspinal muscles beside the midline; the back falls
    away gently laterally (x²/1500) and dips by ``groove_mm`` along the midline furrow over the
    spinous processes.
    """
    x = np.asarray(x_mm, dtype=float)
    return skin_y0_mm - x * x / 1500.0 - groove_mm * np.exp(-((x / 14.0) ** 2))


def _reach_into_body(body: BodyShape, start, axis) -> float:
    """Distance (mm) along ``axis`` from ``start`` to 1.5 mm inside the body's outline."""
    for t in np.arange(0.0, 80.0, 0.25):
        x = start[0] + t * axis[0]
        y = start[1] + t * axis[1]
        if body.in_plan(x, y, inset_mm=1.5):
            return float(t)
    return 80.0


def wall_y(half_width_mm: float, half_depth_mm: float, canal_half_width_mm: float) -> float:
    """y of the flat posterior wall: where the ellipse is as wide as the canal (mm)."""
    ratio = min(canal_half_width_mm / half_width_mm, 0.95)
    return half_depth_mm * math.sqrt(1.0 - ratio * ratio)


def pedicle_shape(
    *,
    side: str,
    body: BodyShape,
    canal: CanalShape,
    width_mm: float,
    height_mm: float,
    transverse_angle_deg: float,
) -> PedicleShape:
    """Place a pedicle: medial wall against the canal, just behind the posterior wall.

    The isthmus sits 35 % of the canal depth behind the posterior wall, its medial wall
    overlapping the canal's bony ring by 1 mm; its centre height is in the upper half of the
    body (pedicles join the cranial part of the body), 2 mm below the rim where possible. It
    reaches forward until it is 3 mm past the body's outline along its axis, so it always joins
    the body whatever the proportions.
    """
    s = 1.0 if side == "left" else -1.0
    theta = math.radians(transverse_angle_deg)
    half_w = width_mm / 2.0
    dy = 0.35 * canal.depth_mm
    # canal half-width at that depth, then clear it by the pedicle's own half-width
    canal_hw = canal.half_width_mm * math.sqrt(max(0.0, 1.0 - (dy / canal.depth_mm) ** 2))
    x_c = s * (canal_hw + half_w / math.cos(theta) - 0.5)
    z_c = max(0.0, body.height_mm / 2.0 - height_mm / 2.0 - 2.0)
    axis = (-s * math.sin(theta), -math.cos(theta), 0.0)
    isthmus = (x_c, body.wall_y_mm + dy, z_c)
    return PedicleShape(
        side=side,
        isthmus_mm=isthmus,
        axis=axis,
        half_width_mm=half_w,
        half_height_mm=height_mm / 2.0,
        into_body_mm=_reach_into_body(body, isthmus, axis) + 3.0,
        behind_mm=0.3 * canal.depth_mm + 2.0,
    )


@dataclass(frozen=True, kw_only=True)
class VertebraGeometry:
    """All analytic shapes of the treated vertebra, derived from the scenario's dimensions."""

    body: BodyShape
    canal: CanalShape
    pedicles: Mapping[str, PedicleShape]

    @property
    def target_mm(self) -> tuple[float, float, float]:
        """Ideal tip for a single-side approach: midline, anterior third, mid-height (mm).

        docs/SOURCES.md: "ideal final tip: anterior third of the body on the lateral view, near the
        midline on AP". We take 22 % of the depth behind the anterior rim (inside the anterior
        third, clear of the anterior cortex) and halfway between the endplates there.
        """
        b = self.body
        y = b.anterior_y_mm + 0.22 * 2.0 * b.half_depth_mm
        z = 0.5 * (float(b.bottom_z(0.0, y)) + float(b.top_z(0.0, y)))
        return (0.0, y, z)


def make_geometry(
    *,
    body_height_mm: float,
    body_depth_mm: float,
    body_width_mm: float,
    wedge_percent: float,
    pedicle_width_mm: float,
    pedicle_height_mm: float,
    pedicle_transverse_angle_deg: float,
    canal_depth_mm: float,
    canal_width_mm: float,
    concavity_superior_mm: float = 1.5,
    concavity_inferior_mm: float = 0.7,
    depth_to_wall: bool = False,
) -> VertebraGeometry:
    """Build the analytic geometry from dimensions in mm (wedge in percent).

    ``depth_to_wall`` (the measured-shape phantom of release 0.4.0 on): the body's depth from
    the anterior rim to the flat posterior wall is ``body_depth_mm`` (the ellipse is deepened
    to make room for the cut); otherwise the ellipse is ``body_depth_mm`` deep and the cut
    shortens it (releases ≤ 0.3.0).
    """
    a = body_width_mm / 2.0
    b = body_depth_mm / 2.0
    if depth_to_wall:
        ratio = min(canal_width_mm / 2.0 / a, 0.95)
        b = body_depth_mm / (1.0 + math.sqrt(1.0 - ratio * ratio))
    yw = wall_y(a, b, canal_width_mm / 2.0)
    body = BodyShape(
        half_width_mm=a,
        half_depth_mm=b,
        height_mm=body_height_mm,
        wedge_fraction=wedge_percent / 100.0,
        wall_y_mm=yw,
        concavity_superior_mm=concavity_superior_mm,
        concavity_inferior_mm=concavity_inferior_mm,
    )
    canal = CanalShape(wall_y_mm=yw, half_width_mm=canal_width_mm / 2.0, depth_mm=canal_depth_mm)
    pedicles = {
        side: pedicle_shape(
            side=side,
            body=body,
            canal=canal,
            width_mm=pedicle_width_mm,
            height_mm=pedicle_height_mm,
            transverse_angle_deg=pedicle_transverse_angle_deg,
        )
        for side in ("left", "right")
    }
    return VertebraGeometry(body=body, canal=canal, pedicles=MappingProxyType(pedicles))
