"""The ideal transpedicular trajectory for one side.

A straight line is drawn through a point of the pedicle's isthmus and a point of the target
zone, then extended back to the skin. The ideal is the line through the isthmus centre to the
zone's ideal point; when the pedicle is too narrow or too steep for that line, nearby
isthmus points and target points are tried and the line that keeps the needle's whole
cross-section furthest from the pedicle walls and the canal wins, ties going to the line
closest to the ideal. The plan is expressed as an ``aim`` action plus the depth
from the skin to the target.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.errors import UserError
from simulator.materials import tissues
from simulator.needle.walls import wall_margin_mm
from simulator.units import angles_from_direction, side_sign

STEP_MM = 0.25

CENTRELINE_FORBIDDEN = "plan_forbidden"
"""Group (``assets/materials.toml``) of the tissues the planned centreline may not touch (the
small intraosseous veins it may cross, but the tip itself must end in cancellous bone)."""
WALL_TISSUES = "plan_wall"
"""Group of the tissues whose distance from the needle's surface is the plan's clearance."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A planned trajectory (LPS mm, degrees)."""

    side: str
    entry_mm: tuple[float, float]
    """[x, z] of the skin entry point (the ``aim`` action's field)."""
    medial_deg: float
    caudal_deg: float
    depth_mm: float
    """Straight-line distance from the skin entry to the target point."""
    skin_point_mm: tuple[float, float, float]
    target_mm: tuple[float, float, float]
    isthmus_point_mm: tuple[float, float, float]
    clearance_mm: float
    """Least distance between the needle's outer surface and a pedicle wall or the canal,
    sampled (0.5 mm resolution): −0.5 when the surface touches one (a wall contact,
    :mod:`simulator.needle.walls`), −1 when the centreline itself crosses a forbidden tissue."""
    in_target_zone: bool
    within_needle_length: bool

    @property
    def touches_wall(self) -> bool:
        """True when the planned needle touches a pedicle wall or the canal (a wall
        contact, or worse: the centreline crosses one)."""
        return self.clearance_mm < 0.0

    def aim_action(self) -> dict:
        """The ``aim`` action that places the needle on this plan."""
        return {
            "do": "aim",
            "side": self.side,
            "entry_mm": [round(v, 2) for v in self.entry_mm],
            "medial_deg": round(self.medial_deg, 2),
            "caudal_deg": round(self.caudal_deg, 2),
        }

    def as_json(self) -> dict:
        """JSON-safe dict: the ``aim`` keys plus depth and the plan's checks."""
        d = asdict(self)
        d.update(self.aim_action())
        d.pop("do")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def plan_trajectory(phantom: Phantom, scenario, side: str) -> Plan:
    """The best straight trajectory for ``side`` ('left' or 'right') in ``phantom``."""
    side_sign(side)
    axis = phantom.landmarks.pedicle_axes[side]
    zone = phantom.landmarks.targets[side]
    gauge = load_table("equipment")["gauges"][str(scenario.equipment.needle_gauge)]
    radius = gauge["outer_diameter_mm"] / 2.0
    isthmus0 = np.asarray(axis.isthmus_mm)
    target0 = np.asarray(zone.point_mm)
    ax = np.asarray(axis.direction)
    lat = np.array([ax[1], -ax[0], 0.0])
    up = np.array([0.0, 0.0, 1.0])
    s = float(side_sign(side))
    tt_canc = tissues().id("cancellous")
    cands = []
    for du, dv, dz, tx, tz in itertools.product(
        (0.0, -3.0, 3.0),
        (0.0, -0.75, 0.75, -1.5, 1.5),
        (0.0, -1.5, 1.5),
        (0.0, 1.5, 3.0, 4.5),
        (0.0, -1.5, 1.5),
    ):
        via = isthmus0 + du * ax + dv * lat + dz * up
        target = target0 + np.array([s * tx, 0.0, tz])
        if zone.contains(target) and phantom.label_at(target) == tt_canc:
            cost = float(np.linalg.norm(target - target0)) + abs(dv) + abs(dz) + 0.1 * abs(du)
            cands.append((cost, via, target))
    cands.sort(key=lambda c: c[0])
    best = None
    for cost, via, target in cands:
        clearance = _clearance(phantom, via, target, radius, axis)
        key = (min(clearance, 0.5), -cost)
        if best is None or key > best[0]:
            best = (key, via, target, clearance)
        if clearance >= 0.5:
            break  # candidates come cheapest first: nothing later can beat this one
    if best is None:  # the validator keeps the zone non-empty; guard all the same
        raise UserError(f"{scenario.id}: targets: the {side} target zone is empty")
    _, via, target, clearance = best
    d = (target - via) / np.linalg.norm(target - via)
    skin = _skin_point(phantom, via, d)
    medial, caudal = angles_from_direction(side, d)
    depth = float(np.linalg.norm(target - skin))
    return Plan(
        side=side,
        entry_mm=(float(skin[0]), float(skin[2])),
        medial_deg=medial,
        caudal_deg=caudal,
        depth_mm=depth,
        skin_point_mm=tuple(float(v) for v in skin),
        target_mm=tuple(float(v) for v in target),
        isthmus_point_mm=tuple(float(v) for v in via),
        clearance_mm=float(clearance),
        in_target_zone=zone.contains(target),
        within_needle_length=depth <= scenario.equipment.needle_length_mm,
    )


def path_points(start_mm, end_mm, step_mm: float = STEP_MM) -> np.ndarray:
    """Points (n, 3) every ``step_mm`` from start to end inclusive."""
    a = np.asarray(start_mm, dtype=float)
    b = np.asarray(end_mm, dtype=float)
    n = max(math.ceil(np.linalg.norm(b - a) / step_mm), 1) + 1
    return a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)


def _clearance(phantom: Phantom, via, target, radius: float, axis) -> float:
    """Clearance (mm, in 0.5 mm steps) between the needle surface and the wall tissues along
    the line via → target and back to the skin: -1 when the centreline touches a forbidden
    tissue, else :func:`simulator.needle.walls.wall_margin_mm` (−0.5: a wall contact)."""
    d = (target - via) / np.linalg.norm(target - via)
    skin = _skin_point(phantom, via, d)
    pts = path_points(skin, target)
    if np.isin(phantom.label_at(pts), tissues().group_ids(CENTRELINE_FORBIDDEN)).any():
        return -1.0
    return wall_margin_mm(phantom, pts, d, radius, axis.side)


def _skin_point(phantom: Phantom, via, d) -> np.ndarray:
    """Where the line through ``via`` along ``d`` (anterior) leaves the skin, going back."""
    lo, hi = 0.0, 400.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        q = via - mid * d
        if q[1] > phantom.skin_y_mm(q[0]):
            hi = mid
        else:
            lo = mid
    return via - lo * d  # the last point found inside the skin


def approach_problems(scenario, phantom: Phantom) -> list[tuple[str, str]]:
    """``(field, message)`` problems of a case whose approach has no usable path: a side the
    approach needs (bipedicular: both; unipedicular: at least one) whose best plan touches a
    pedicle wall or the canal (:mod:`simulator.needle.walls`) or ends beyond the needle's length."""
    plans = {side: plan_trajectory(phantom, scenario, side) for side in ("left", "right")}
    ok = {s: not p.touches_wall and p.within_needle_length for s, p in plans.items()}
    need_both = scenario.targets.approach == "bipedicular"
    if (need_both and all(ok.values())) or (not need_both and any(ok.values())):
        return []
    why = []
    for side in (s for s, good in ok.items() if not good):
        p = plans[side]
        if not p.within_needle_length:
            why.append(
                f"{side}: the target is {p.depth_mm:.0f} mm deep, beyond the "
                f"{scenario.equipment.needle_length_mm:g} mm needle"
            )
        elif p.clearance_mm >= -0.5:
            why.append(
                f"{side}: the best path's {scenario.equipment.needle_gauge} G needle touches "
                f"a pedicle wall (clearance {p.clearance_mm:g} mm): the pedicle is too narrow "
                "for it"
            )
        else:
            why.append(
                f"{side}: every straight path through the pedicle crosses its wall or the canal"
            )
    return [
        (
            "pedicles",
            "no usable transpedicular path (" + "; ".join(why) + "); widen the "
            "pedicles, change their angle or the approach, use a thinner or a longer needle",
        )
    ]


def plan_lines(scenario, side: str, plan: Plan, poses: dict) -> list[str]:
    """One pedicle's ``plan`` as the ``plan`` command prints it (``poses``: the C-arm's
    poses of :func:`simulator.fluoro.alignment.plan_poses`)."""
    target = ", ".join(f"{v:.1f}" for v in plan.target_mm)
    out = [f"{scenario.id}, {side} pedicle ({scenario.targets.approach}):"]
    out.append(
        f"  aim   entry_mm [x, z] = [{plan.entry_mm[0]:.1f}, {plan.entry_mm[1]:.1f}], "
        f"medial {plan.medial_deg:.1f}°, caudal {plan.caudal_deg:.1f}°"
    )
    out.append(
        f"  depth {plan.depth_mm:.1f} mm from the skin to the target "
        f"(needle {scenario.equipment.needle_length_mm:g} mm)"
    )
    out.append(f"  target [{target}] mm; clearance to the pedicle walls {plan.clearance_mm:g} mm")
    out.append(
        "  C-arm "
        + ", ".join(
            f"{name.replace('_', ' ')} {p['rotation_deg']:+.1f}°/{p['tilt_deg']:+.1f}°"
            for name, p in poses.items()
        )
        + " (rotation/tilt)"
    )
    if plan.touches_wall:
        what = "the canal or a pedicle wall" if plan.clearance_mm < -0.5 else "a pedicle wall"
        out.append(f"  warning: no path keeps the whole needle clear; this one touches {what}")
    return out
