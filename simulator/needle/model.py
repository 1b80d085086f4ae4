"""The trocar: a straight rigid needle, its motion through tissue, and the breaches it makes.

Pose. ``aim`` puts the tip on the skin at ``entry_mm`` [x, z] (y from the skin surface) and
points it along ``direction_from_angles(side, medial_deg, caudal_deg)``. The tip is at
``skin + inserted_mm · direction``.

Motion. ``advance``/``withdraw`` move a goal depth; each tick the tip moves toward it at the
speed of the tissue it is in (``assets/equipment.toml [needle_speed_mm_s]``), so pushing
through cortex takes time. The goal is clamped to [0, needle length].

Engaged. The needle is engaged in bone when any point of its inserted shaft lies in bone; it
cannot be re-aimed then (withdraw first).

Breaches (kind, depth along the needle past the wall, time), detected as the tip moves:
``medial_pedicle_wall``, ``lateral_pedicle_wall``, ``superior_pedicle_wall``,
``inferior_pedicle_wall`` (tip leaves a pedicle other than backwards into the posterior
elements or forwards into the body; which wall from the tip's position in the pedicle's
cross-section), ``canal``, ``neural_foramen``, ``anterior_cortex`` (tip leaves the front of the
body), ``lateral_body_wall``, ``disc``, ``great_vessel``. A breach stays active until the tip is
back in legitimate tissue; its depth is the furthest the tip went past the point of breach.

Wall contact (``simulator.needle.walls``, the definition the planner and ``validate`` use): when the
tip passes from the pedicle into the body without a breach since the last ``aim``, and the
needle's outer surface along the shaft touches the pedicle cortex or the canal, a
``wall_contact`` event (side, depth, tip) is recorded, once per aim. It is not a breach (the
tip stayed in the pedicle) and is not scored.

Repositions (documented rule): every accepted ``aim`` after the first, and every withdrawal
that brings the tip back out of bone after it had been in bone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.materials import tissues
from simulator.needle.walls import shaft_points, surface_touches_wall
from simulator.units import direction_from_angles

GROUPS = {"bone": "needle_bone", "body": "body", "pedicle": "pedicle", "canal": "canal"}
"""The needle's tissue sets → their group in ``assets/materials.toml``."""


@dataclass
class Breach:
    """One breach: ``depth_mm`` grows while the tip stays past the wall."""

    kind: str
    t_s: float
    depth_mm: float = 0.0
    start_inserted_mm: float = 0.0
    active: bool = True

    def as_metric(self) -> dict:
        """The ``breaches`` metric entry (``assets/metrics.toml``)."""
        return {"kind": self.kind, "depth_mm": round(self.depth_mm, 3), "t_s": round(self.t_s, 3)}


@dataclass
class NeedleState:
    """The mutable needle of one attempt (mm, s)."""

    length_mm: float
    outer_radius_mm: float
    inner_radius_mm: float
    side: str | None = None
    skin_mm: np.ndarray | None = None
    direction: np.ndarray | None = None
    inserted_mm: float = 0.0
    goal_mm: float = 0.0
    stylet_in: bool = True
    aims: int = 0
    repositions: int = 0
    breaches: list[Breach] = field(default_factory=list)
    last_label: int = -1
    clean_pass: bool = True
    """No breach and no wall contact yet since the last aim (a contact is looked for)."""

    @property
    def placed(self) -> bool:
        """True once the needle has been aimed."""
        return self.direction is not None

    @property
    def tip_mm(self) -> np.ndarray | None:
        """Tip position (LPS mm), or None before the first aim."""
        if not self.placed:
            return None
        return self.skin_mm + self.inserted_mm * self.direction

    @property
    def moving(self) -> bool:
        """True while the tip is on its way to the goal depth."""
        return self.placed and abs(self.goal_mm - self.inserted_mm) > 1e-9


class NeedleModel:
    """Moves a :class:`NeedleState` through a phantom and records what happens."""

    def __init__(
        self, phantom: Phantom, *, gauge: int, length_mm: float, wall_contact_events: bool = True
    ):
        """``wall_contact_events``: record ``wall_contact`` (release 0.1.0 did not)."""
        self.phantom = phantom
        self.wall_contact_events = wall_contact_events
        t = tissues()
        self.t = t
        g = load_table("equipment")["gauges"][str(gauge)]
        speeds = load_table("equipment")["needle_speed_mm_s"]
        self.speed_by_label = np.array(
            [speeds.get(name, speeds["default"]) for name in t.names], dtype=float
        )
        self.withdraw_speed = float(speeds["withdraw"])
        self.ids = {name: set(t.group_ids(group)) for name, group in GROUPS.items()}
        self.state = NeedleState(
            length_mm=length_mm,
            outer_radius_mm=g["outer_diameter_mm"] / 2,
            inner_radius_mm=g["inner_diameter_mm"] / 2,
        )

    # ----- queries -------------------------------------------------------------------------
    def tip_zone(self) -> str:
        """Where the tip is: ``anterior_third``/``middle_third``/``posterior_third`` of the
        body (by AP position), else the tissue group it is in, ``not_placed`` before aiming."""
        s = self.state
        if not s.placed:
            return "not_placed"
        t = self.t
        name = t.names[self.label_at_tip()]
        if name in t.group("body"):
            body = self.phantom.geometry.body
            frac = (s.tip_mm[1] - body.anterior_y_mm) / (body.wall_y_mm - body.anterior_y_mm)
            return ("anterior_third", "middle_third", "posterior_third")[
                min(2, max(0, int(frac * 3)))
            ]
        for group in ("pedicle", "canal"):
            if name in t.group(group):
                return group
        return "outside" if name == "air" else name

    def label_at_tip(self) -> int:
        """Tissue id at the tip (air before the first aim)."""
        tip = self.state.tip_mm
        return self.t.id("air") if tip is None else int(self.phantom.label_at(tip))

    def engaged_in_bone(self) -> bool:
        """True when any part of the inserted shaft lies in bone."""
        s = self.state
        if not s.placed or s.inserted_mm <= 0:
            return False
        n = max(2, math.ceil(s.inserted_mm / 0.25) + 1)
        pts = s.skin_mm + np.linspace(0.0, s.inserted_mm, n)[:, None] * s.direction
        return bool(np.isin(self.phantom.label_at(pts), list(self.ids["bone"])).any())

    # ----- commands --------------------------------------------------------------------------
    def aim(self, side: str, entry_mm, medial_deg: float, caudal_deg: float) -> str | None:
        """Place the needle on the skin; returns a refusal reason or None when accepted."""
        if self.engaged_in_bone():
            return "the needle is engaged in bone; withdraw it before re-aiming"
        s = self.state
        x, z = (float(v) for v in entry_mm)
        y = float(self.phantom.skin_y_mm(x))
        s.side = side
        s.skin_mm = np.array([x, y, z])
        s.direction = direction_from_angles(side, medial_deg, caudal_deg)
        s.inserted_mm = s.goal_mm = 0.0
        s.aims += 1
        if s.aims > 1:
            s.repositions += 1
        for b in s.breaches:
            b.active = False
        s.last_label = self.label_at_tip()
        s.clean_pass = True
        return None

    def move_goal(self, delta_mm: float) -> None:
        """Shift the goal depth by ``delta_mm`` (positive: advance), clamped to the needle."""
        s = self.state
        s.goal_mm = float(np.clip(s.goal_mm + delta_mm, 0.0, s.length_mm))

    # ----- time --------------------------------------------------------------------------------
    def next_change_s(self, t_s: float) -> float:
        """``t_s`` while the tip moves toward its goal, else never (inf): at rest the needle
        changes only by an action."""
        return t_s if self.state.moving else math.inf

    def step(self, dt_s: float, t_s: float) -> list[tuple[str, dict]]:
        """Move the tip for ``dt_s`` seconds; returns new events ``(kind, details)``."""
        s = self.state
        if not s.moving:
            return []
        label = self.label_at_tip()
        gap = s.goal_mm - s.inserted_mm
        speed = self.speed_by_label[label] if gap > 0 else self.withdraw_speed
        step = math.copysign(min(abs(gap), speed * dt_s), gap)
        s.inserted_mm += step
        events = self._after_move(t_s, withdrawing=step < 0)
        if not s.moving:
            events.append(
                (
                    "needle_stopped",
                    {
                        "inserted_mm": round(s.inserted_mm, 3),
                        "tissue": self.t.names[self.label_at_tip()],
                    },
                )
            )
        return events

    def _after_move(self, t_s: float, *, withdrawing: bool) -> list[tuple[str, dict]]:
        s = self.state
        label = self.label_at_tip()
        events: list[tuple[str, dict]] = []
        for b in s.breaches:
            if b.active and s.inserted_mm < b.start_inserted_mm - 1e-9:
                b.active = False  # withdrawn back behind the wall it broke
            if b.active:
                b.depth_mm = max(b.depth_mm, s.inserted_mm - b.start_inserted_mm)
        if label != s.last_label:
            events.append(
                (
                    "tip_enters",
                    {"tissue": self.t.names[label], "inserted_mm": round(s.inserted_mm, 3)},
                )
            )
            kinds = self._breach_kinds(s.last_label, label)
            if kinds:
                s.clean_pass = False
            elif self.wall_contact_events and self._wall_contact(s.last_label, label):
                s.clean_pass = False
                events.append(("wall_contact", self._contact_details()))
            for kind in kinds:
                if any(b.active and b.kind == kind for b in s.breaches):
                    continue
                s.breaches.append(Breach(kind=kind, t_s=t_s, start_inserted_mm=s.inserted_mm))
                wall_y = self.phantom.geometry.body.wall_y_mm
                details = {
                    "kind": kind,
                    "inserted_mm": round(s.inserted_mm, 3),
                    "tip_mm": [round(float(v), 3) for v in s.tip_mm],
                    # +y is posterior: is the tip still behind the body's posterior wall?
                    "behind_posterior_wall": bool(s.tip_mm[1] > wall_y),
                }
                events.append(("breach", details))
            if withdrawing and s.last_label in self.ids["bone"] and label not in self.ids["bone"]:
                s.repositions += 1  # backed out of bone to redirect
            s.last_label = label
        return events

    def _wall_contact(self, prev: int, label: int) -> bool:
        """True when the tip's move from the pedicle into the body ends a pass without a
        breach whose outer surface touched a wall (:mod:`simulator.needle.walls`)."""
        s = self.state
        if not (s.clean_pass and prev in self.ids["pedicle"] and label in self.ids["body"]):
            return False
        pts = shaft_points(s.skin_mm, s.direction, s.inserted_mm)
        return surface_touches_wall(self.phantom, pts, s.direction, s.outer_radius_mm, s.side)

    def _contact_details(self) -> dict:
        s = self.state
        return {
            "side": s.side,
            "inserted_mm": round(s.inserted_mm, 3),
            "tip_mm": [round(float(v), 3) for v in s.tip_mm],
        }

    def _breach_kinds(self, prev: int, label: int) -> list[str]:
        """Breaches made by the tip's move from tissue ``prev`` into ``label`` (in order)."""
        name = self.t.names[label]
        tip = self.state.tip_mm
        kinds = []
        if (
            prev in self.ids["pedicle"]
            and label not in self.ids["pedicle"]
            and not (label in self.ids["body"] or name == "posterior_bone")
        ):
            kinds.append(self._pedicle_wall(tip))
        if label in self.ids["canal"]:
            kinds.append("canal")
        elif name == "nerve_root":
            kinds.append("neural_foramen")
        elif name == "disc":
            kinds.append("disc")
        elif name == "great_vessel":
            kinds.append("great_vessel")
        elif prev in self.ids["body"] and name in ("soft_tissue", "segmental_vein"):
            body = self.phantom.geometry.body
            front = tip[1] < 0.5 * body.anterior_y_mm
            kinds.append("anterior_cortex" if front else "lateral_body_wall")
        return kinds

    def _pedicle_wall(self, tip: np.ndarray) -> str:
        side = "left" if tip[0] >= 0 else "right"
        ped = self.phantom.geometry.pedicles[side]
        ax = np.asarray(ped.axis)
        lat = np.array([ax[1], -ax[0], 0.0])  # toward the patient's right on the left side
        r = tip - np.asarray(ped.isthmus_mm)
        v = float(r @ lat) / ped.half_width_mm
        w = float(r[2]) / ped.half_height_mm
        if abs(v) >= abs(w):
            toward_midline = (v * lat[0]) * (1 if side == "left" else -1) < 0
            return "medial_pedicle_wall" if toward_midline else "lateral_pedicle_wall"
        return "superior_pedicle_wall" if w > 0 else "inferior_pedicle_wall"
