"""Cone-beam geometry of a C-arm at any pose: where the source is, where the detector is, and
where a world point lands on it (pinhole projection).

Frames (all millimetres):

* world — the table's LPS frame (+x patient's left, +y posterior, +z superior): the anatomy
  frame of a patient lying straight (see :class:`PatientFrame`).
* detector — origin at the centre of the detector plane; ``u`` along the image columns
  (left → right on the monitor), ``v`` along the rows (top → bottom), ``w`` along the central
  ray (source → detector). The source sits at ``w = −SID`` on the detector's axis.

Pose convention (a prone patient, tube under the table):

* ``rotation_deg`` about the patient's long axis (+z). 0° is the frontal beam (PA through the
  prone patient: source anterior, under the table, beam along +y, detector above the back),
  drawn like today's ``ap`` view: columns along +x (the patient's right on the viewer's
  left), rows along −z (head up). Positive rotation swings the tube toward the patient's left:
  at +90° the source is on the patient's left, the beam runs along −x and the columns follow
  +y (anterior on the left), today's ``lateral`` view. At −90° the beam runs along +x and the
  raw image is the mirror image of it; ``mirror=True`` (the monitor's left–right image reverse,
  as on a real C-arm) shows it like today's lateral.
* ``tilt_deg`` toward the head (+, cranial: the central ray heads toward +z, the source moves
  toward the feet) or the feet (−, caudal); a rotation about the detector's ``u`` axis.
* ``isocentre_mm`` — the point the central ray passes through, ``SOD`` from the source, in the
  world (table) frame.

The patient (:class:`PatientFrame`) may lie rotated on the table: the world (table) frame is
the anatomy frame turned about a pivot (the treated body's centre). The C-arm's pose is in the
world frame; a :class:`Projection` maps *anatomy-frame* points (the phantom's, the needle's,
the cement's), so everything downstream works in one frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from simulator.assets import load_table


@dataclass(frozen=True, kw_only=True)
class CArmPose:
    """Where the C-arm points: angles in degrees, isocentre in LPS mm (see module docstring)."""

    rotation_deg: float = 0.0
    tilt_deg: float = 0.0
    isocentre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mirror: bool = False


@dataclass(frozen=True, kw_only=True)
class PatientFrame:
    """How the patient lies on the table: the anatomy frame turned about ``pivot_mm`` (anatomy
    LPS mm) by ``axial_rotation_deg`` about the long axis (right-handed about +z: positive
    turns the patient's left side, +x, toward posterior, +y) then ``sagittal_tilt_deg`` about
    the left–right axis (right-handed about +x: positive moves the head end anterior, toward
    the table of a prone patient). Zero angles: the world frame is the anatomy frame."""

    axial_rotation_deg: float = 0.0
    sagittal_tilt_deg: float = 0.0
    pivot_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def world_from_anatomy(self) -> np.ndarray:
        """Rotation (3, 3) taking anatomy directions to world directions."""
        a, t = np.radians(self.axial_rotation_deg), np.radians(self.sagittal_tilt_deg)
        rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0, 0, 1.0]])
        rx = np.array([[1.0, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
        return rx @ rz

    def to_world(self, points_mm) -> np.ndarray:
        """World (table) mm of anatomy points (..., 3) mm."""
        piv = np.asarray(self.pivot_mm, dtype=float)
        return (np.asarray(points_mm, dtype=float) - piv) @ self.world_from_anatomy.T + piv

    def to_anatomy(self, points_mm) -> np.ndarray:
        """Anatomy mm of world (table) points (..., 3) mm."""
        piv = np.asarray(self.pivot_mm, dtype=float)
        return (np.asarray(points_mm, dtype=float) - piv) @ self.world_from_anatomy + piv


def beam_direction(rotation_deg: float, tilt_deg: float) -> np.ndarray:
    """World unit vector of the central ray (source → detector) at a pose (degrees)."""
    return beam_axes(rotation_deg, tilt_deg)[2]


def pose_for_beam(direction_world) -> tuple[float, float]:
    """The (rotation_deg, tilt_deg) whose central ray runs along ``direction_world`` (a world
    vector, source → detector): the inverse of :func:`beam_direction`."""
    d = np.asarray(direction_world, dtype=float)
    d = d / np.linalg.norm(d)
    tilt = float(np.degrees(np.arcsin(np.clip(d[2], -1.0, 1.0))))
    rotation = float(np.degrees(np.arctan2(-d[0], d[1])))
    return rotation, tilt


def angle_between_lines_deg(a, b) -> float:
    """Angle (degrees, 0–90) between the lines along vectors ``a`` and ``b`` (sign-blind)."""
    a = np.asarray(a, dtype=float) / np.linalg.norm(a)
    b = np.asarray(b, dtype=float) / np.linalg.norm(b)
    return float(np.degrees(np.arccos(np.clip(abs(float(a @ b)), 0.0, 1.0))))


@dataclass(frozen=True, kw_only=True)
class ConeBeam:
    """The device's fixed geometry: source–image and source–isocentre distances (mm) and the
    detector-plane field diameters (mm) of its magnification modes (``[geometry]`` of
    ``assets/fluoro.toml``)."""

    sid_mm: float
    sod_mm: float
    field_modes_mm: dict[str, float] = field(hash=False)

    @classmethod
    def from_table(cls, table: dict | None = None) -> ConeBeam:
        """From the ``[geometry]`` table (default: ``assets/fluoro.toml``)."""
        geo = (table or load_table("fluoro"))["geometry"]
        return cls(
            sid_mm=float(geo["source_image_distance_mm"]),
            sod_mm=float(geo["source_isocentre_distance_mm"]),
            field_modes_mm={k: float(v) for k, v in geo["field_modes_mm"].items()},
        )

    @property
    def magnification(self) -> float:
        """Magnification of an object at the isocentre: SID / SOD."""
        return self.sid_mm / self.sod_mm


def beam_axes(rotation_deg: float, tilt_deg: float, mirror: bool = False) -> np.ndarray:
    """World directions (3, 3) of the detector's (u, v, w) axes as rows: columns, rows, beam."""
    a, t = np.radians(rotation_deg), np.radians(tilt_deg)
    horizontal = np.array([-np.sin(a), np.cos(a), 0.0])  # R_z(a) · (0, 1, 0)
    up = np.array([0.0, 0.0, 1.0])
    w = np.cos(t) * horizontal + np.sin(t) * up
    v = np.sin(t) * horizontal - np.cos(t) * up
    u = np.cross(v, w)  # = R_z(a) · (1, 0, 0): +x at rotation 0, +y at +90°
    if mirror:
        u = -u
    return np.stack([u, v, w])


@dataclass(frozen=True, kw_only=True)
class Projection:
    """One pose of one device with an N×N-pixel detector of diameter ``field_mm``.

    Pixel (row, col) centres sit at ``v, u = (index − (N − 1)/2) · pixel_mm`` in the detector
    frame, so the central ray hits the middle of the image.
    """

    pose: CArmPose
    beam: ConeBeam
    field_mm: float
    size_px: int
    patient: PatientFrame = PatientFrame()
    distortion: float = 0.0
    """An image intensifier's pincushion: a point at fraction r of the field's radius on the
    input plane shows at r · (1 + k r²), k this coefficient (0: a flat panel, pinhole only)."""

    @classmethod
    def make(
        cls,
        pose: CArmPose,
        *,
        size_px: int,
        mode: str = "mag1",
        beam: ConeBeam | None = None,
        patient: PatientFrame | None = None,
        distortion: float = 0.0,
    ) -> Projection:
        """The projection of ``pose`` in the named field mode (``normal``, ``mag1``, ``mag2``)
        of a patient lying as ``patient`` says (default: straight), with the detector's
        pincushion ``distortion`` (0: none)."""
        beam = beam or ConeBeam.from_table()
        return cls(
            pose=pose,
            beam=beam,
            field_mm=beam.field_modes_mm[mode],
            size_px=size_px,
            patient=patient or PatientFrame(),
            distortion=float(distortion),
        )

    @property
    def pixel_mm(self) -> float:
        """Pixel pitch on the detector plane (mm)."""
        return self.field_mm / self.size_px

    @property
    def pixel_mm_at_isocentre(self) -> float:
        """Pixel pitch back-projected to the isocentre (mm): ``pixel_mm / magnification``."""
        return self.pixel_mm / self.beam.magnification

    @functools.cached_property
    def axes(self) -> np.ndarray:
        """Anatomy-frame directions of (u, v, w) as rows (3, 3)."""
        p = self.pose
        return beam_axes(p.rotation_deg, p.tilt_deg, p.mirror) @ self.patient.world_from_anatomy

    @functools.cached_property
    def source_mm(self) -> np.ndarray:
        """The focal spot (anatomy LPS mm): SOD before the isocentre along the central ray."""
        iso = self.patient.to_anatomy(self.pose.isocentre_mm)
        return iso - self.beam.sod_mm * self.axes[2]

    @functools.cached_property
    def detector_centre_mm(self) -> np.ndarray:
        """Centre of the detector plane (LPS mm), SID from the source."""
        return self.source_mm + self.beam.sid_mm * self.axes[2]

    @functools.cached_property
    def world_from_detector(self) -> np.ndarray:
        """4×4 homogeneous transform: detector-frame mm (u, v, w, 1) → anatomy LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.axes.T
        m[:3, 3] = self.detector_centre_mm
        return m

    @functools.cached_property
    def detector_from_world(self) -> np.ndarray:
        """4×4 homogeneous transform: anatomy LPS mm → detector-frame mm (the inverse)."""
        r = self.axes
        m = np.eye(4)
        m[:3, :3] = r
        m[:3, 3] = -r @ self.detector_centre_mm
        return m

    def to_detector(self, points_mm) -> np.ndarray:
        """Detector-frame (u, v, w) mm of LPS points (..., 3) mm."""
        p = np.asarray(points_mm, dtype=float)
        m = self.detector_from_world
        return p @ m[:3, :3].T + m[:3, 3]

    def magnification_at(self, points_mm) -> np.ndarray:
        """SID over each point's distance from the source along the central ray (...,)."""
        w = self.to_detector(points_mm)[..., 2]
        return self.beam.sid_mm / (w + self.beam.sid_mm)

    def project(self, points_mm) -> np.ndarray:
        """Image (row, col) in pixels (floats, (..., 2)) of LPS points (..., 3) in mm: the
        pinhole projection from the source onto the detector plane, then the pincushion."""
        d = self.to_detector(points_mm)
        scale = self.beam.sid_mm / (d[..., 2] + self.beam.sid_mm)
        c = (self.size_px - 1) / 2.0
        rc = np.stack(
            [d[..., 1] * scale / self.pixel_mm + c, d[..., 0] * scale / self.pixel_mm + c], axis=-1
        )
        return self.distort(rc) if self.distortion else rc

    def distort(self, rc) -> np.ndarray:
        """Image (row, col) where the pincushion shows the undistorted pixel position ``rc``."""
        rc = np.asarray(rc, dtype=float)
        c, radius = (self.size_px - 1) / 2.0, self.size_px / 2.0
        q = (rc - c) / radius
        r2 = np.sum(q * q, axis=-1, keepdims=True)
        return c + q * (1.0 + self.distortion * r2) * radius

    def undistort(self, rc) -> np.ndarray:
        """The undistorted pixel position (row, col) shown at image position ``rc``."""
        rc = np.asarray(rc, dtype=float)
        if not self.distortion:
            return rc
        c, radius = (self.size_px - 1) / 2.0, self.size_px / 2.0
        q = (rc - c) / radius
        rd = np.sqrt(np.sum(q * q, axis=-1, keepdims=True))
        ru = rd.copy()
        for _ in range(5):  # r_u (1 + k r_u²) = r_d: contracts by ≈ 2k r² per pass (k ≈ 0.04)
            ru = rd / (1.0 + self.distortion * ru * ru)
        scale = np.divide(ru, rd, out=np.ones_like(rd), where=rd > 0)
        return c + q * scale * radius

    @functools.cached_property
    def ray_grid(self) -> np.ndarray:
        """(size, size, 2) float64: the undistorted pixel position (row, col) each image pixel
        looks through (the identity grid without distortion): the ray caster's map."""
        idx = np.arange(self.size_px, dtype=float)
        grid = np.stack(np.meshgrid(idx, idx, indexing="ij"), axis=-1)
        return np.ascontiguousarray(self.undistort(grid))

    def pixel_mm_world(self, rows, cols) -> np.ndarray:
        """LPS mm (..., 3) of the points on the detector plane that image pixels (row, col)
        (floats, broadcast) look at (through the pincushion, if any)."""
        if self.distortion:
            rows, cols = np.moveaxis(
                self.undistort(np.stack(np.broadcast_arrays(rows, cols), axis=-1)), -1, 0
            )
        return self.plane_mm(rows, cols)

    @functools.cached_property
    def ray_basis(self) -> np.ndarray:
        """(4, 3) anatomy mm: the source, the detector point of undistorted pixel (0, 0) and
        the steps of one row and one column (with :attr:`ray_grid`, every pixel's ray)."""
        corner = self.plane_mm(0.0, 0.0)
        return np.stack(
            [
                self.source_mm,
                corner,
                self.plane_mm(1.0, 0.0) - corner,
                self.plane_mm(0.0, 1.0) - corner,
            ]
        )

    def plane_mm(self, rows, cols) -> np.ndarray:
        """LPS mm (..., 3) of undistorted pixel positions (row, col) on the detector plane (a
        linear map: the ray caster's basis, with :attr:`ray_grid`)."""
        c = (self.size_px - 1) / 2.0
        r = (np.asarray(rows, dtype=float) - c) * self.pixel_mm
        k = (np.asarray(cols, dtype=float) - c) * self.pixel_mm
        u, v, _ = self.axes
        return self.detector_centre_mm + k[..., None] * u + r[..., None] * v
