"""Conventions shared by every module, and small geometry helpers.

Frames and units
----------------
Patient coordinates are LPS millimetres: +x toward the patient's left, +y posterior,
+z superior, origin at the centre of the vertebral body (mid-width, mid-depth of the
posterior wall's height). Volumes are indexed ``[x, y, z]``; images ``(row, col)``.

Needle angles (the ``aim`` action) are measured the way they are read off projections:

* ``medial_deg``: angle in the axial plane between the needle and the sagittal plane,
  positive when the tip points toward the midline as it goes anterior;
  ``tan(medial) = |dx| / |dy|``.
* ``caudal_deg``: angle in the sagittal projection between the needle and the axial plane,
  positive when the tip points toward the feet as it goes anterior;
  ``tan(caudal) = dz / dy`` (sign as above).

``side`` is the patient's side of the entry point: ``"left"`` is +x, ``"right"`` is -x.
"""

from __future__ import annotations

import math

import numpy as np

SIDES = ("left", "right")


def side_sign(side: str) -> int:
    """+1 for the patient's left (+x), -1 for the right (-x)."""
    if side == "left":
        return 1
    if side == "right":
        return -1
    raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def direction_from_angles(side: str, medial_deg: float, caudal_deg: float) -> np.ndarray:
    """Unit vector (LPS) the needle tip advances along, from the aim angles in degrees.

    The base direction is anterior (-y); ``medial_deg`` tilts it toward the midline,
    ``caudal_deg`` toward the feet (see the module docstring for the tangent convention).
    """
    s = side_sign(side)
    d = np.array(
        [-s * math.tan(math.radians(medial_deg)), -1.0, -math.tan(math.radians(caudal_deg))]
    )
    return d / np.linalg.norm(d)


def angles_from_direction(side: str, direction: np.ndarray) -> tuple[float, float]:
    """Inverse of :func:`direction_from_angles`: ``(medial_deg, caudal_deg)``.

    ``direction`` must point anterior (its y component negative).
    """
    dx, dy, dz = (float(v) for v in direction)
    if dy >= 0:
        raise ValueError("the needle direction must point anterior (dy < 0)")
    s = side_sign(side)
    medial = math.degrees(math.atan2(-s * dx, -dy))
    caudal = math.degrees(math.atan2(-dz, -dy))
    return medial, caudal


def mm3_to_ml(volume_mm3: float) -> float:
    """Cubic millimetres to millilitres (1 ml = 1000 mm³)."""
    return volume_mm3 / 1000.0


def clock(t_s: float) -> str:
    """Simulated seconds as ``mm:ss``."""
    t = max(0, round(t_s))
    return f"{t // 60:02d}:{t % 60:02d}"
