"""Wall contact: the one definition shared by the planner, ``validate`` and the needle.

A clinician's reading of a transpedicular pass:

- **wall contact**: the needle's *outer surface* (its full cross-section, not just the axis)
  touches or runs through the pedicle cortex or the canal contents beside it while the tip
  stays inside the pedicle. The needle is scraping the wall: in a real patient a medial-wall
  contact is how a breach starts. The planner calls such a path "touches a pedicle wall"
  (clearance −0.5 mm), ``validate`` refuses a case whose best path touches a wall, and the
  needle reports it as a ``wall_contact`` event.
- **breach**: the *tip* (the trocar) leaves the pedicle other than forward into the body or
  back into the posterior elements (``simulator.needle``). A breach supersedes a contact.

The surface is sampled on a ring of :data:`RING_DIRECTIONS` points around the axis every
``step`` along the shaft; the first :data:`ENTRY_CAP_MM` past the pedicle's posterior cap do
not count (the needle enters the pedicle through its cortex there, on purpose).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.materials import tissues

WALL_TISSUES = "plan_wall"
"""Group (``assets/materials.toml``) of the tissues the needle's outer surface must not touch
inside the pedicle."""
RING_DIRECTIONS = 12
ENTRY_CAP_MM = 3.0
"""Length (mm) of the pedicle's posterior entry that is not a wall."""
STEP_MM = 0.25


def _ring(direction) -> np.ndarray:
    """Unit vectors (RING_DIRECTIONS, 3) perpendicular to ``direction``."""
    d = np.asarray(direction, dtype=float)
    u = np.cross(d, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    ang = np.linspace(0, 2 * np.pi, RING_DIRECTIONS, endpoint=False)
    return np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v


def shaft_points(start_mm, direction, length_mm: float, step_mm: float = STEP_MM) -> np.ndarray:
    """Points (n, 3) of the axis every ``step_mm`` from ``start_mm`` over ``length_mm`` (mm)."""
    n = max(math.ceil(length_mm / step_mm), 1) + 1
    d = np.asarray(direction, dtype=float)
    return np.asarray(start_mm, dtype=float) + np.linspace(0.0, length_mm, n)[:, None] * d


def past_entry(phantom, points: np.ndarray, side: str) -> np.ndarray:
    """The axis points past the pedicle's entry cap of ``side`` (where walls count)."""
    ped = phantom.geometry.pedicles[side]
    u = (points - np.asarray(ped.isthmus_mm)) @ np.asarray(ped.axis)
    return points[u >= -ped.behind_mm + ENTRY_CAP_MM]


def surface_touches_wall(phantom, points, direction, radius_mm: float, side: str) -> bool:
    """True when a needle of outer radius ``radius_mm`` (mm) along the axis ``points`` (n, 3),
    pointing along ``direction``, touches a wall tissue past the entry cap of ``side``."""
    pts = past_entry(phantom, np.asarray(points, dtype=float), side)
    if not len(pts):
        return False
    probe = pts[:, None, :] + radius_mm * _ring(direction)[None, :, :]
    return bool(np.isin(phantom.label_at(probe), tissues().group_ids(WALL_TISSUES)).any())


def wall_margin_mm(phantom, points, direction, radius_mm: float, side: str) -> float:
    """The planner's clearance (mm, 0.5 mm steps): −0.5 when the surface touches a wall
    (:func:`surface_touches_wall`), else the largest tested margin (0 … 2 mm) by which the
    surface could grow and stay clear."""
    for extra in np.arange(0.0, 2.01, 0.5):
        if surface_touches_wall(phantom, points, direction, radius_mm + extra, side):
            return float(extra) - 0.5
    return 2.0
