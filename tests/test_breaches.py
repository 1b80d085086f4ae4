"""Each breach kind is detected when a needle is driven through that wall."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from simulator.actions import make_action
from simulator.materials import tissues
from simulator.planning import _skin_point, path_points, plan_trajectory
from simulator.procedure import Procedure
from simulator.units import angles_from_direction, direction_from_angles
from tests.conftest import scenario_and_phantom


@functools.cache
def setting():
    s, ph = scenario_and_phantom("first_case_l1")
    plan = plan_trajectory(ph, s, "left")
    pts = path_points(plan.skin_point_mm, plan.target_mm, 0.25)
    bone = np.isin(ph.label_at(pts), tissues().ids("posterior_bone", "pedicle_cancellous"))
    pedicle_entry = pts[int(np.argmax(bone))]
    isthmus = np.asarray(ph.landmarks.pedicle_axes["left"].isthmus_mm)
    return s, ph, plan, {"entry": pedicle_entry, "isthmus": isthmus}


def drive(pivot: str, d_medial: float, d_caudal: float, extra_mm: float = 0.0) -> list[str]:
    """Aim through a point of the left pedicle with the plan's angles changed, push in."""
    s, ph, plan, pivots = setting()
    medial, caudal = plan.medial_deg + d_medial, plan.caudal_deg + d_caudal
    d = direction_from_angles("left", medial, caudal)
    skin = _skin_point(ph, pivots[pivot], d)
    actions = [
        make_action(
            0.0,
            "aim",
            side="left",
            entry_mm=[float(skin[0]), float(skin[2])],
            medial_deg=medial,
            caudal_deg=caudal,
        ),
        make_action(0.1, "advance", mm=plan.depth_mm + extra_mm),
        make_action(300.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    return [e.details["kind"] for e in proc.events if e.kind == "breach"]


@pytest.mark.parametrize(
    ("pivot", "d_medial", "d_caudal", "extra", "first"),
    [
        ("entry", 15.0, 0.0, 0.0, "medial_pedicle_wall"),
        # from the entry, aimed laterally: out of the pedicle's side behind the body (the
        # measured-shape pedicle flares into the body's posterolateral corner, so a needle
        # through the isthmus itself enters the body and leaves by its side wall instead)
        ("entry", -25.0, 0.0, 0.0, "lateral_pedicle_wall"),
        ("entry", 0.0, -30.0, 0.0, "superior_pedicle_wall"),
        ("entry", 0.0, 30.0, 0.0, "inferior_pedicle_wall"),
        ("entry", 0.0, -15.0, 0.0, "disc"),
        ("entry", 0.0, 0.0, 30.0, "anterior_cortex"),
        ("isthmus", -40.0, 0.0, 0.0, "lateral_body_wall"),
    ],
)
def test_breach_kind(pivot, d_medial, d_caudal, extra, first):
    assert drive(pivot, d_medial, d_caudal, extra)[0] == first


def test_going_on_through_the_front_reaches_the_great_vessels():
    assert drive("entry", 5.0, 0.0, 40.0) == ["anterior_cortex", "great_vessel"]


def test_a_needle_into_the_neural_foramen():
    s, ph, _, _ = setting()
    t = tissues()
    root = np.argwhere(ph.labels == t.id("nerve_root"))
    xs = ph.grid.axis_mm(0)[root[:, 0]]
    left = root[xs > 0]
    target = np.array([ph.grid.axis_mm(a)[left[len(left) // 2, a]] for a in range(3)])
    skin_guess = np.array([target[0] + 25.0, ph.skin_y_mm(target[0] + 25.0), target[2] + 12.0])
    d = (target - skin_guess) / np.linalg.norm(target - skin_guess)
    medial, caudal = angles_from_direction("left", d)
    depth = float(np.linalg.norm(target - skin_guess)) + 1.0
    actions = [
        make_action(
            0.0,
            "aim",
            side="left",
            entry_mm=[skin_guess[0], skin_guess[2]],
            medial_deg=medial,
            caudal_deg=caudal,
        ),
        make_action(0.1, "advance", mm=depth),
        make_action(200.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    assert "neural_foramen" in [e.details["kind"] for e in proc.events if e.kind == "breach"]
