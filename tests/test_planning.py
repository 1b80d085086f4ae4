"""Planned trajectories: inside the pedicle, ending in the target zone, as an aim action."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.cli import main
from simulator.materials import tissues
from simulator.planning import path_points, plan_trajectory
from simulator.units import angles_from_direction, direction_from_angles
from tests.conftest import SHIPPED, scenario_and_phantom

T = tissues()
FORBIDDEN = T.ids("pedicle_cortex", "epidural_fat", "thecal_sac", "epidural_vein", "nerve_root")


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("name", SHIPPED)
def test_plan_stays_inside_the_pedicle_and_ends_in_the_target_zone(name, side):
    scenario, ph = scenario_and_phantom(name)
    plan = plan_trajectory(ph, scenario, side)
    # rebuild the line from the aim action alone, as the needle will
    d = direction_from_angles(side, plan.medial_deg, plan.caudal_deg)
    skin = np.asarray(plan.skin_point_mm)
    assert skin[[0, 2]] == pytest.approx(plan.entry_mm)
    tip = skin + plan.depth_mm * d
    assert tip == pytest.approx(plan.target_mm, abs=1e-6)
    labels = ph.label_at(path_points(skin, tip, 0.1))
    assert not np.isin(labels, FORBIDDEN).any(), sorted({T.names[i] for i in labels})
    assert (labels == T.id("pedicle_cancellous")).sum() > 20  # it goes through the pedicle
    assert labels[-1] == T.id("cancellous")
    assert ph.landmarks.targets[side].contains(tip)
    assert plan.within_needle_length
    assert 0 <= plan.caudal_deg < 30 and -5 < plan.medial_deg < 40


def test_unipedicular_plan_aims_near_the_midline_bipedicular_at_its_half():
    s, ph = scenario_and_phantom("first_case_l1")
    assert abs(plan_trajectory(ph, s, "left").target_mm[0]) <= 5.0
    s, ph = scenario_and_phantom("cleft_l1_grade3")
    a = ph.geometry.body.half_width_mm
    assert plan_trajectory(ph, s, "left").target_mm[0] == pytest.approx(a / 3, abs=5.0)
    assert plan_trajectory(ph, s, "right").target_mm[0] == pytest.approx(-a / 3, abs=5.0)


def test_plans_are_mirror_images_for_a_symmetric_vertebra():
    s, ph = scenario_and_phantom("first_case_l1")
    left, right = plan_trajectory(ph, s, "left"), plan_trajectory(ph, s, "right")
    assert left.medial_deg == pytest.approx(right.medial_deg)
    assert left.entry_mm[0] == pytest.approx(-right.entry_mm[0])


@pytest.mark.parametrize("side", ["left", "right"])
def test_angle_convention_round_trips(side, rng):
    for _ in range(50):
        medial, caudal = rng.uniform(-20, 45), rng.uniform(-30, 30)
        d = direction_from_angles(side, medial, caudal)
        assert np.linalg.norm(d) == pytest.approx(1.0)
        assert angles_from_direction(side, d) == pytest.approx((medial, caudal))
    d = direction_from_angles(side, 20.0, 10.0)
    sign = 1 if side == "left" else -1
    assert sign * d[0] < 0  # medial: toward the midline from that side
    assert d[2] < 0  # caudal: toward the feet
    assert d[1] < 0  # anterior


@pytest.mark.usefixtures("shared_phantoms")
def test_plan_command_prints_the_aim_action_as_json(capsys):
    assert main(["plan", "first_case_l1", "--side", "left", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("side", "entry_mm", "medial_deg", "caudal_deg", "depth_mm"):
        assert key in data
    assert data["side"] == "left" and len(data["entry_mm"]) == 2


def test_plan_command_rejects_a_bad_side(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", "first_case_l1", "--side", "up"])
    assert exc.value.code == 2
    assert "invalid choice: 'up'" in capsys.readouterr().err


def test_plan_gives_both_pedicles_in_one_call(capsys):
    """Without ``--side`` the plan is of both pedicles (a bipedicular case's two needles): the
    text has a block per side, the JSON a plan per side, each the one ``--side`` gives."""
    import json

    from simulator.cli import main

    assert main(["plan", "cleft_l1_grade3"]) == 0
    text = capsys.readouterr().out
    assert "left pedicle (bipedicular)" in text and "right pedicle (bipedicular)" in text
    assert main(["plan", "cleft_l1_grade3", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert set(both) == {"left", "right"}
    assert main(["plan", "cleft_l1_grade3", "--side", "right", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == both["right"]
