"""The C-arm as a device: its arms and their poses, turning, the pending shot, the dose ledger
and the images each monitor holds.

A biplane set-up has a ``frontal`` arm (home: rotation 0°, the AP) and a ``lateral`` arm (home:
+90°); ``fluoro view=ap`` shoots with the frontal arm, ``view=lateral`` with the lateral one,
each at its own pose. A single C-arm has one arm; it remembers the last pose it held for each
view (home: 0° and +90°) and a shot of the other view first turns it there. Its images are
labelled by where it points: ``lateral`` when it is turned 45° or more from the frontal beam.

Turning takes the radiographer's time, ``setup_s + max(Δrotation / rotate_deg_per_s, Δtilt /
tilt_deg_per_s)`` (``assets/equipment.toml [c_arm]``); a shot asked for while its arm turns
waits for it (one pending shot per arm). The arm's pose changes when the turn ends: until
then its monitor keeps the last image (last-image-hold).

Every shot's pose is kept (:attr:`CArm.shots`) for the alignment metrics. Images are made
lazily: :meth:`CArm.held` renders the last exposure of a view when first asked, and
:meth:`CArm.held_ready` never waits (the window), rendering a new pose in the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.assets import load_table
from simulator.fluoro.chain import DisplaySettings
from simulator.fluoro.dose import line_chord_mm
from simulator.fluoro.geometry import PatientFrame, beam_direction
from simulator.fluoro.poses import LATERAL_FROM_DEG, ArmPose

ARMS = ("frontal", "lateral")
ARM_OF_VIEW = {"ap": "frontal", "lateral": "lateral"}
HOME = {
    "ap": ArmPose(rotation_deg=0.0, tilt_deg=0.0),
    "lateral": ArmPose(rotation_deg=90.0, tilt_deg=0.0),
}
SINGLE = "single"
ABC_RATE = 0.5
"""Fraction of the way the brightness control moves toward its target per pulse (it settles in
a few pulses, approx.)."""


@dataclass(frozen=True, kw_only=True)
class CArmLimits:
    """The arm's travel (±degrees) and the radiographer's turning speed (°/s, s)."""

    rotation_deg: float
    tilt_deg: float
    rotate_deg_per_s: float
    tilt_deg_per_s: float
    setup_s: float
    legacy_rotate_s: float

    @classmethod
    def from_table(cls, table: dict | None = None) -> CArmLimits:
        """From ``[c_arm]`` of ``assets/equipment.toml``."""
        c = (table or load_table("equipment"))["c_arm"]
        return cls(
            rotation_deg=float(c["rotation_limit_deg"]),
            tilt_deg=float(c["tilt_limit_deg"]),
            rotate_deg_per_s=float(c["rotate_deg_per_s"]),
            tilt_deg_per_s=float(c["tilt_deg_per_s"]),
            setup_s=float(c["setup_s"]),
            legacy_rotate_s=float(c["rotate_s"]),
        )

    def turn_s(self, a: ArmPose, b: ArmPose) -> float:
        """Seconds to turn an arm from pose ``a`` to pose ``b`` (0 when they are the same)."""
        d_rot = abs(b.rotation_deg - a.rotation_deg)
        d_tilt = abs(b.tilt_deg - a.tilt_deg)
        if d_rot < 1e-9 and d_tilt < 1e-9:
            return 0.0
        return self.setup_s + max(d_rot / self.rotate_deg_per_s, d_tilt / self.tilt_deg_per_s)


@dataclass
class Arm:
    """One arm: where it points, and (while turning) where it goes and when it gets there."""

    name: str
    pose: ArmPose
    ready_s: float = 0.0
    target: ArmPose | None = None

    def settle(self, t_s: float) -> bool:
        """Finish a turn whose time has come; True when one just ended."""
        if self.target is not None and t_s >= self.ready_s - 1e-9:
            self.pose, self.target = self.target, None
            return True
        return False


@dataclass(frozen=True, kw_only=True)
class Shot:
    """One exposure: when, which view, the arm's pose, its central ray and its focal spot
    (anatomy frame, mm)."""

    t_s: float
    view: str
    pose: ArmPose
    beam: tuple[float, float, float]
    source: tuple[float, float, float]
    pulses: int


@dataclass
class _Request:
    """An exposure whose image is made when first shown."""

    view: str
    pose: ArmPose
    pulse_index: int
    needle: object
    cement: object
    dose_factor: float
    brightness: float = 0.0
    patches: list | None = None
    image: object = None


@dataclass
class CArm:
    """The C-arm of one attempt (mutable). ``imager`` None: headless (no images)."""

    single: bool
    patient: PatientFrame
    sod_mm: float
    limits: CArmLimits
    ledger: object
    imager: object = None
    torso: object = None
    legacy: bool = False
    settings: DisplaySettings = field(default_factory=DisplaySettings)
    arms: dict = field(default_factory=dict)
    remembered: dict = field(default_factory=dict)
    single_view: str = "ap"
    pending: dict = field(default_factory=dict)
    """Arm name → (ready_s, view, pulses) of the shot waiting for that arm's turn."""
    shots: list = field(default_factory=list)
    moves: int = 0
    pulses_total: int = 0
    _requests: dict = field(default_factory=dict)
    _shown: dict = field(default_factory=dict)
    _brightness: dict = field(default_factory=dict)
    _shown_pose: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.single:
            self.arms = {SINGLE: Arm(SINGLE, HOME["ap"])}
            self.remembered = dict(HOME)
        else:
            self.arms = {ARM_OF_VIEW[v]: Arm(ARM_OF_VIEW[v], HOME[v]) for v in HOME}

    # ----- poses ---------------------------------------------------------------------------
    def arm_name(self, view: str) -> str:
        """The arm that takes ``view``'s images."""
        return SINGLE if self.single else ARM_OF_VIEW[view]

    def settle(self, t_s: float) -> None:
        """Finish the turns whose time has come."""
        for arm in self.arms.values():
            if arm.settle(t_s) and self.single:
                self.single_view = view_of_pose(arm.pose)
                self.remembered[self.single_view] = arm.pose

    def pose_of(self, view: str) -> ArmPose:
        """The pose a shot of ``view`` is taken at once its arm is there."""
        if self.single and view != self.single_view:
            return self.remembered[view]
        return self.arms[self.arm_name(view)].pose

    def turning(self, view: str, t_s: float) -> bool:
        """True while the arm of ``view`` is turning."""
        return t_s < self.arms[self.arm_name(view)].ready_s - 1e-9

    def beam(self, pose: ArmPose) -> np.ndarray:
        """Anatomy-frame central ray of ``pose``."""
        world = beam_direction(pose.rotation_deg, pose.tilt_deg)
        return self.patient.world_from_anatomy.T @ world

    def kerma_per_pulse_mgy(self, pose: ArmPose) -> float:
        """Entrance air kerma per pulse (mGy) the exposure control sets at ``pose``: it grows
        with the trunk's thickness along the central ray (:meth:`BeamModel.kerma_for_path`)."""
        return self.ledger.beam.kerma_for_path(self.path_mm(pose))

    def path_mm(self, pose: ArmPose) -> float:
        """The trunk's thickness (mm) along the central ray of ``pose`` (it passes the
        isocentre, the patient's pivot)."""
        return line_chord_mm(self.torso, self.patient.pivot_mm, self.beam(pose))

    def move(self, arm_name: str, pose: ArmPose, t_s: float) -> tuple[str | None, dict]:
        """Turn an arm to ``pose`` (a ``carm`` action): (refusal or None, event details)."""
        arm = self.arms.get(arm_name)
        if arm is None:
            return f"no {arm_name} arm on this C-arm", {}
        self.settle(t_s)  # a turn ending this tick: the next one starts from where it ended
        pose = ArmPose(  # to the 0.01° of the log, the events and the image cache
            rotation_deg=round(pose.rotation_deg, 2) + 0.0, tilt_deg=round(pose.tilt_deg, 2) + 0.0
        )
        if self.turning_any(arm_name, t_s):
            return "the C-arm is turning", {}
        for what, value, lim in (
            ("rotation_deg", pose.rotation_deg, self.limits.rotation_deg),
            ("tilt_deg", pose.tilt_deg, self.limits.tilt_deg),
        ):
            if abs(value) > lim + 1e-9:
                return f"{what} {value:g} is beyond the C-arm's ±{lim:g}°", {}
        ready = t_s + self.limits.turn_s(arm.pose, pose)
        if ready > t_s:
            arm.target, arm.ready_s = pose, ready
            self.moves += 1
        details = {"arm": arm_name, **pose.as_json(), "ready_s": round(ready, 6)}
        return None, details

    def next_change_s(self, t_s: float) -> float:
        """The next time (s) the C-arm changes by itself: the earliest end of a turn under way
        (its pose settles; a shot waiting for it is taken), never (inf) at rest."""
        ends = [arm.ready_s for arm in self.arms.values() if arm.target is not None]
        ends += [ready for ready, _, _ in self.pending.values()]
        return max(min(ends), t_s) if ends else math.inf

    def turning_any(self, arm_name: str, t_s: float) -> bool:
        """True while ``arm_name`` turns or a shot waits for it."""
        arm = self.arms[arm_name]
        return t_s < arm.ready_s - 1e-9 or arm_name in self.pending

    # ----- shots ---------------------------------------------------------------------------
    def request_shot(self, view: str, pulses: int, t_s: float, *, continued: bool):
        """Ask for a shot: ``("now", None)``, ``("wait", details)`` (the arm turns first; the
        shot is pending) or ``("refused", reason)``. On a single C-arm a shot during a turn
        waits for it when the turn ends at a pose of that view, and is refused otherwise."""
        name = self.arm_name(view)
        if name in self.pending:
            return "refused", "the C-arm is turning"
        self.settle(t_s)  # a turn that has ended: its pose and (single arm) its view
        arm = self.arms[name]
        turning = t_s < arm.ready_s - 1e-9
        if self.single and turning:
            if continued or view_of_pose(arm.target) != view:
                return "refused", "the C-arm is turning"
            self.pending[name] = (arm.ready_s, view, pulses)
            return "wait", None
        if self.single and view != self.single_view:
            if continued:
                return "refused", f"the C-arm is in {self.single_view}"
            target = self.remembered[view]
            turn = (
                self.limits.legacy_rotate_s if self.legacy else self.limits.turn_s(arm.pose, target)
            )
            arm.target, arm.ready_s = target, t_s + turn
            self.moves += 1
            self.pending[name] = (arm.ready_s, view, pulses)
            details = {"to": view, "ready_s": round(arm.ready_s, 6)}
            if not self.legacy:
                details.update(target.as_json())
            return "wait", details
        if turning:
            if continued:
                return "refused", "the C-arm is turning"
            self.pending[name] = (arm.ready_s, view, pulses)
            return "wait", None
        return "now", None

    def due(self, t_s: float) -> list[tuple[str, int]]:
        """The pending shots whose arms have arrived, (view, pulses) each, taken off the
        queue (frontal first)."""
        self.settle(t_s)
        out = []
        for name in sorted(self.pending):
            ready, view, pulses = self.pending[name]
            if ready <= t_s + 1e-9:
                del self.pending[name]
                out.append((view, pulses))
        return out

    def expose(
        self, view: str, pulses: int, t_s: float, *, continued=False, needle=None, cement=None
    ) -> ArmPose:
        """Take a shot of ``view`` now (its arm is in place): book the dose, keep the pose,
        queue the image. Returns the pose."""
        self.settle(t_s)
        pose = self.pose_of(view)
        kerma = None if self.legacy else self.kerma_per_pulse_mgy(pose)
        self.ledger.record(view, pulses, continued=continued, kerma_mgy=kerma)
        self.pulses_total += pulses
        beam = self.beam(pose)
        source = np.asarray(self.patient.pivot_mm) - self.sod_mm * beam
        self.shots.append(
            Shot(
                t_s=t_s,
                view=view,
                pose=pose,
                beam=tuple(float(v) for v in beam),
                source=tuple(float(v) for v in source),
                pulses=pulses,
            )
        )
        if self.imager is not None:
            req = _Request(view, pose, self.pulses_total, needle, cement, 1.0)
            if not self.legacy:  # the scene's patches, once: the brightness control and image
                req.patches = self.imager.scene_patches(pose, needle=needle, cement=cement)
                req.brightness = self._settle_brightness(view, pose, pulses, req.patches)
            self._requests[view] = req
        return pose

    def _settle_brightness(self, view: str, pose: ArmPose, pulses: int, patches) -> float:
        """The brightness control's gain (log units) for this exposure: it moves toward what
        the trocar and cement (their ``patches``) take from its measuring field by
        ``ABC_RATE`` per pulse, so the image brightens over a few pulses when cement comes in
        (per view; its own monitor)."""
        wanted = self.imager.brightness_shortfall(pose, patches=patches)
        old = self._brightness.get(view, 0.0)
        new = old + (1.0 - (1.0 - ABC_RATE) ** pulses) * (wanted - old)
        self._brightness[view] = new
        return new

    def warm(self) -> None:
        """Start casting the arms' current poses in the background (the window, at the start
        of an attempt: the first shot then shows at once)."""
        if self.imager is not None and not self.legacy:
            for arm in self.arms.values():
                self.imager.prepare_async(arm.pose)

    # ----- images --------------------------------------------------------------------------
    def held(self, view: str):
        """The image ``view``'s monitor shows (its last exposure, made now if need be), or
        None before the first exposure or without an imager."""
        req = self._requests.get(view)
        if req is None:
            return None
        if req.image is None:
            req.image = self._render(req)
        return req.image

    def held_ready(self, view: str):
        """Like :meth:`held` but never waits: while a new pose's anatomy is computed in the
        background, the previous image is returned (or None)."""
        req = self._requests.get(view)
        if req is None:
            return None
        if req.image is None:
            if not self.legacy and not self.imager.ready(req.pose):
                self.imager.prepare_async(req.pose)
                return self._shown.get(view)
            req.image = self._render(req)
        self._shown[view] = req.image
        self._shown_pose[view] = req.pose
        return req.image

    def shown_pose(self, view: str) -> ArmPose | None:
        """The pose the image :meth:`held_ready` last returned for ``view`` was taken at
        (None before it returned one): the window maps clicks through it."""
        return self._shown_pose.get(view)

    def _render(self, req: _Request):
        kwargs = {
            "pulse_index": req.pulse_index,
            "needle": req.needle,
            "cement": req.cement,
            "settings": self.settings,
        }
        if self.legacy:
            return self.imager.render(req.view, **kwargs)
        return self.imager.render(
            req.view, req.pose, brightness=req.brightness, patches=req.patches, **kwargs
        )


def view_of_pose(pose: ArmPose) -> str:
    """The view a single C-arm's images are labelled with at ``pose``."""
    return "lateral" if abs(pose.rotation_deg) >= LATERAL_FROM_DEG else "ap"
