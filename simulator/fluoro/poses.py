"""The C-arm poses a radiographer aims for at the treated level: the true AP, the true lateral
and the en-face ("bull's-eye") view down a pedicle, and how far a beam is from each.

Directions are central rays (source → detector) in the anatomy frame of the phantom; a pose is
the ``(rotation_deg, tilt_deg)`` of the arm whose central ray runs along one once the patient's
lie on the table (:class:`~simulator.fluoro.geometry.PatientFrame`) is applied.

* **True AP**: the beam in the plane that bisects the treated body's two endplates (a wedge
  fracture tilts the superior one forward by the wedge angle; the bisector is half of it) and
  square to the left–right axis: the endplates draw as (near) single lines, the spinous process
  midway between the pedicles.
* **True lateral**: the beam along the left–right axis: the posterior wall one line, the two
  pedicles superimposed. From either side; the side reachable nearer the arm's home is chosen.
* **En face**: the focal spot on the needle's line (the planned trajectory) extended forward,
  so that the ray through the pedicle runs down the needle and the needle projects to a dot
  inside the pedicle's ring. The arms turn about an isocentre on the body, so that ray is not
  the central one: the pose is the one whose source (SOD from the isocentre) lies on the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.fluoro.geometry import PatientFrame, angle_between_lines_deg, pose_for_beam

LATERAL_FROM_DEG = 45.0
"""An arm turned this far (or more) from the frontal beam takes lateral images: a single C-arm's
images are labelled ``lateral``, and one from the patient's right is shown mirrored."""
EN_FACE_TOLERANCE_DEG = 5.0
"""A beam within this angle of the pedicle axis counts as an en-face view (``en_face_used``)."""


@dataclass(frozen=True, kw_only=True)
class ArmPose:
    """Angles of one C-arm (degrees; see :mod:`simulator.fluoro.geometry`)."""

    rotation_deg: float
    tilt_deg: float

    def as_json(self) -> dict:
        """``{"rotation_deg": …, "tilt_deg": …}`` rounded to 0.01°."""
        return {
            "rotation_deg": round(self.rotation_deg, 2) + 0.0,  # no −0.0
            "tilt_deg": round(self.tilt_deg, 2) + 0.0,
        }


def wedge_angle_deg(body) -> float:
    """Angle (degrees) between the treated body's superior and inferior endplates."""
    return math.degrees(
        math.atan2(body.height_mm * body.wedge_fraction, body.wall_y_mm - body.anterior_y_mm)
    )


def true_ap_direction(body) -> np.ndarray:
    """Anatomy-frame central ray of the true AP (posterior-going, in the endplates' bisector)."""
    phi = math.radians(wedge_angle_deg(body) / 2.0)
    return np.array([0.0, math.cos(phi), math.sin(phi)])


LATERAL_DIRECTION = np.array([-1.0, 0.0, 0.0])
"""Anatomy-frame central ray of the true lateral from the patient's left (tube on the left)."""


def pose_of_direction(direction_anatomy, patient: PatientFrame) -> ArmPose:
    """The arm pose whose central ray runs along an anatomy-frame direction."""
    world = patient.world_from_anatomy @ np.asarray(direction_anatomy, dtype=float)
    rotation, tilt = pose_for_beam(world)
    return ArmPose(rotation_deg=rotation, tilt_deg=tilt)


def lateral_pose(patient: PatientFrame, *, home_rotation_deg: float = 90.0) -> ArmPose:
    """The true lateral pose from whichever side is nearer ``home_rotation_deg``."""
    options = [pose_of_direction(s * LATERAL_DIRECTION, patient) for s in (1.0, -1.0)]
    return min(options, key=lambda p: abs(p.rotation_deg - home_rotation_deg))


def en_face_source(point_mm, needle_direction, iso_mm, sod_mm: float) -> np.ndarray:
    """Where the focal spot must be (anatomy mm) to look down the line through ``point_mm``
    along ``needle_direction`` (skin → tip): on the line, in front of the tip, ``sod_mm`` from
    the isocentre ``iso_mm`` (anatomy mm)."""
    p = np.asarray(point_mm, dtype=float)
    d = np.asarray(needle_direction, dtype=float)
    d = d / np.linalg.norm(d)
    rel = p - np.asarray(iso_mm, dtype=float)
    b = float(d @ rel)
    c = float(rel @ rel) - sod_mm * sod_mm
    return p + (-b + math.sqrt(max(b * b - c, 0.0))) * d


def true_poses(
    body, patient: PatientFrame, *, needle_line=None, iso_mm=None, sod_mm: float = 0.0
) -> dict[str, ArmPose]:
    """``true_ap``, ``true_lateral`` and (with a ``needle_line`` ``(point, direction)``, the
    isocentre ``iso_mm`` and ``sod_mm``, anatomy mm) ``en_face`` poses."""
    out = {
        "true_ap": pose_of_direction(true_ap_direction(body), patient),
        "true_lateral": lateral_pose(patient),
    }
    if needle_line is not None:
        source = en_face_source(*needle_line, iso_mm, sod_mm)
        out["en_face"] = pose_of_direction(np.asarray(iso_mm) - source, patient)
    return out


def ap_error_deg(body, beam_anatomy) -> float:
    """Degrees between a central ray (anatomy frame) and the true AP's."""
    return angle_between_lines_deg(beam_anatomy, true_ap_direction(body))


def lateral_error_deg(beam_anatomy) -> float:
    """Degrees between a central ray (anatomy frame) and the true lateral's (either side)."""
    return angle_between_lines_deg(beam_anatomy, LATERAL_DIRECTION)


def ap_error_parts_deg(body, beam_anatomy) -> tuple[float, float]:
    """The AP error split as a radiographer reads it: (rotation about the long axis, the
    spinous process off the pedicles' midpoint; tilt, the endplates as ellipses), degrees,
    signed (positive: the beam's ray leans toward +x / more cranial than the true AP)."""
    d = np.asarray(beam_anatomy, dtype=float)
    d = d / np.linalg.norm(d)
    ref = true_ap_direction(body)
    if float(d @ ref) < 0.0:  # a beam the other way along the same line (an arm past 90°)
        d = -d
    rotation = math.degrees(math.atan2(d[0], math.hypot(d[1], d[2])))
    tilt = math.degrees(math.atan2(d[2], d[1]) - math.atan2(ref[2], ref[1]))
    tilt = (tilt + 180.0) % 360.0 - 180.0
    return rotation, tilt
