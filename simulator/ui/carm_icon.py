"""The C-arm's own display of where each arm points: a small orientation icon beside its
monitor and the angles in the radiographer's words.

Words (a prone patient, the tube under the table, the detector over the back; the geometry of
:mod:`simulator.fluoro.geometry`). An oblique is named, as in radiography, by the patient's
surface nearest the image receptor:

* ``rotation_deg`` > 0 swings the tube toward the patient's left (under the table), so the
  detector comes over the patient's *right* back: **RPO** (right posterior oblique);
  ``rotation_deg`` < 0 brings the detector over the left back: **LPO**. The en-face view of a
  left pedicle is an LPO ("ipsilateral oblique"). 0° is the **AP** (beam anterior → posterior),
  ±90° a lateral: ``R LAT`` (the tube on the patient's left, the right side against the
  detector) or ``L LAT``.
* ``tilt_deg`` > 0 sends the central ray toward the head (the detector toward the head, the
  tube toward the feet): **CRAN**; < 0: **CAUD**.

So ``RPO 20° / CRAN 5°`` is rotation +20°, tilt +5°. These are the arm's angles, shown on a
real C-arm's display; the needle's angles are not shown (only with training hints, in the HUD).

The icon: the patient's cross-section seen from the feet (a circle; prone, so the back is up
and the patient's left is on the viewer's left), the tube (amber block) and the detector (a
bar across the beam) at the arm's rotation joined by the C; beside it a side view (head to the
right) whose bar leans with the tilt.
"""

from __future__ import annotations

import math

import pygame

from simulator.fluoro.poses import ArmPose
from simulator.ui import render as r

TUBE = (236, 184, 72)
DETECTOR = (170, 200, 240)
BODY = (60, 62, 66)


def rotation_words(rotation_deg: float) -> str:
    """``AP``, ``RPO 20°``, ``LPO 20°``, at 90° ``R LAT`` / ``L LAT``, past it ``RAO 82°`` /
    ``LAO 82°`` (named, as a radiographer does, by the surface against the detector; whole
    degrees)."""
    deg = round(abs(rotation_deg))
    if deg == 0:
        return "AP"
    side = "R" if rotation_deg > 0 else "L"
    if deg == 90:
        return f"{side} LAT"
    if deg > 90:  # past the lateral: the detector comes over that side's front
        return f"{side}AO {180 - deg}°"
    return f"{side}PO {deg}°"


def tilt_words(tilt_deg: float) -> str:
    """``CRAN 5°``, ``CAUD 5°`` or ``no tilt`` (whole degrees)."""
    deg = round(abs(tilt_deg))
    if deg == 0:
        return "no tilt"
    return f"{'CRAN' if tilt_deg > 0 else 'CAUD'} {deg}°"


def pose_words(pose: ArmPose) -> str:
    """An arm's angles as its display reads, e.g. ``RPO 20° / CRAN 5°`` (``AP`` alone when
    square, the tilt left out when 0°)."""
    rot = rotation_words(pose.rotation_deg)
    if round(abs(pose.tilt_deg)) == 0:
        return rot
    return f"{rot} / {tilt_words(pose.tilt_deg)}"


def _arm(surf: pygame.Surface, centre, radius: float, pose: ArmPose, *, dim: bool) -> None:
    """The tube, detector and C of one rotation (``dim``: the pose the arm turns to)."""
    cx, cy = centre
    a = math.radians(pose.rotation_deg)
    # the central ray (x, y) = (−sin a, cos a) seen from the feet, prone: screen (−x, −y)
    sx, sy = math.sin(a), -math.cos(a)
    reach = radius * 1.55
    tube = (cx - sx * reach, cy - sy * reach)
    det = (cx + sx * reach, cy + sy * reach)
    tube_c, det_c, c_c = (
        ((96, 84, 50), (70, 84, 104), (56, 58, 62)) if dim else (TUBE, DETECTOR, r.FRAME)
    )
    # the C: a half circle from the tube round to the detector
    start = math.atan2(cy - tube[1], tube[0] - cx)
    box = pygame.Rect(0, 0, round(2 * reach), round(2 * reach))
    box.center = (round(cx), round(cy))
    pygame.draw.arc(surf, c_c, box, start, start + math.pi, 2)
    pygame.draw.line(surf, (110, 96, 52) if not dim else (60, 56, 40), tube, det, 1)
    px, py = -sy * radius * 0.75, sx * radius * 0.75  # across the beam
    pygame.draw.line(surf, det_c, (det[0] - px, det[1] - py), (det[0] + px, det[1] + py), 4)
    pygame.draw.circle(surf, tube_c, tube, max(3, round(radius * 0.28)))


def _tilt_bar(surf: pygame.Surface, centre, length: float, tilt_deg: float) -> None:
    """Side view, head to the right, back up: the beam's bar leans toward the head when
    cranial."""
    cx, cy = centre
    t = math.radians(tilt_deg)
    dx, dy = math.sin(t) * length, math.cos(t) * length
    pygame.draw.line(surf, BODY, (cx - length, cy), (cx + length, cy), 4)  # the patient
    pygame.draw.line(surf, (110, 96, 52), (cx - dx, cy + dy), (cx + dx, cy - dy), 1)
    pygame.draw.line(
        surf,
        DETECTOR,
        (cx + dx - dy * 0.4, cy - dy - dx * 0.4),
        (cx + dx + dy * 0.4, cy - dy + dx * 0.4),
        3,
    )
    pygame.draw.circle(surf, TUBE, (round(cx - dx), round(cy + dy)), 3)
    r.text(surf, "H", (cx + length + 3, cy), size=16, color=r.DIM, anchor="midleft")


def draw_arm_icon(
    surf: pygame.Surface, rect: pygame.Rect, pose: ArmPose, *, target: ArmPose | None = None
) -> None:
    """The icon of one arm at ``pose`` (and, while it turns, the ``target`` dimmed) in
    ``rect`` (window pixels; ~140 × 80 fits), on a see-through dark plate: on the left the
    cross-section from the feet with tube and detector (L and R: the patient's sides), on the
    right the tilt's side view."""
    plate = pygame.Surface(rect.size, pygame.SRCALPHA)
    plate.fill((*r.BG, 150))
    surf.blit(plate, rect)
    radius = rect.height / 5.0
    centre = (rect.left + rect.height / 2.0, rect.centery)
    if target is not None:
        _arm(surf, centre, radius, target, dim=True)
    pygame.draw.circle(surf, BODY, centre, radius)
    pygame.draw.circle(surf, r.DIM, centre, radius, 1)
    for letter, side in (("L", -1), ("R", 1)):  # seen from the feet, prone: left on the left
        at = (centre[0] + side * radius * 0.5, centre[1])
        r.text(surf, letter, at, size=15, color=r.TEXT, anchor="center")
    y_table = centre[1] + radius + 2  # the table under the prone patient's front
    pygame.draw.line(surf, r.FRAME, (centre[0] - radius, y_table), (centre[0] + radius, y_table))
    _arm(surf, centre, radius, pose, dim=False)
    side_view = (rect.left + rect.height + (rect.width - rect.height) / 2.0 - 6, rect.centery)
    _tilt_bar(surf, side_view, rect.height * 0.28, pose.tilt_deg)
