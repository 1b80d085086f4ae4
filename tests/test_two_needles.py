"""Two needles (release 0.8.0): a needle per pedicle, each with its own path and breaches, the
cement through either cannula (one syringe), the fills meeting across the midline."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from scipy import ndimage

from simulator.actions import make_action
from simulator.materials import tissues
from simulator.planning import _skin_point, path_points, plan_trajectory
from simulator.procedure import Procedure
from simulator.releases import model_for_version
from simulator.units import direction_from_angles
from tests.conftest import scenario_and_phantom

CASE = "cleft_l1_grade3"  # a bipedicular case


def _aim(ph, s, side: str, medial_extra: float) -> dict:
    """``side``'s planned aim, turned ``medial_extra`` degrees more medial about the point
    where the plan enters bone (as the medial novice persona does)."""
    plan = plan_trajectory(ph, s, side)
    aim = plan.aim_action()
    aim.pop("do")
    if medial_extra:
        pts = path_points(np.asarray(plan.skin_point_mm), plan.target_mm, 0.25)
        pivot = pts[int(np.argmax(np.isin(ph.label_at(pts), tissues().group_ids("entry_bone"))))]
        aim["medial_deg"] = round(plan.medial_deg + medial_extra, 2)
        skin = _skin_point(
            ph, pivot, direction_from_angles(side, aim["medial_deg"], plan.caudal_deg)
        )
        aim["entry_mm"] = [round(float(skin[0]), 2), round(float(skin[2]), 2)]
    return {**aim, "entry_mm": list(aim["entry_mm"])}


def _placement(s, ph, *, medial_extra: dict | None = None) -> tuple[list, float]:
    """Both needles aimed on their plans and advanced to depth, one after the other
    (``medial_extra``: degrees a side's aim is turned medially); (actions, time after)."""
    actions, t = [], 0.0
    for side in ("left", "right"):
        depth = plan_trajectory(ph, s, side).depth_mm
        aim = _aim(ph, s, side, (medial_extra or {}).get(side, 0.0))
        actions += [make_action(t, "aim", **aim), make_action(t + 0.5, "advance", mm=depth)]
        t += 40.0
    return actions, t


@functools.cache
def _bipedicular(sides: tuple[str, ...], ml: float = 2.0) -> Procedure:
    """Both needles placed, the cement mixed and 300 s later ``ml`` injected through each of
    ``sides`` in turn at 2 ml/min, an AP after each."""
    s, ph = scenario_and_phantom(CASE)
    actions, t = _placement(s, ph)
    actions.append(make_action(t, "mix"))
    t += 300.0
    for side in sides:
        actions += [
            make_action(t, "inject", rate_ml_min=2.0, ml=ml, side=side),
            make_action(t + 65.0, "fluoro", view="ap"),
        ]
        t += 80.0
    actions.append(make_action(t, "finish"))
    return Procedure(s, phantom=ph, render_images=False).run(actions)


def _filled(proc) -> np.ndarray:
    """Body cells more than half full of cement, on the flow grid's shape."""
    g = proc.cement.grid
    return ((g.site == 0) & (proc.cement.flow.fill > 0.5)).reshape(g.shape)


@pytest.mark.slow
def test_cement_through_both_needles_meets_across_the_midline():
    """2 ml through each pedicle of the cleft case: through both, the cells more than half
    filled form one connected mass from one side of the midline to the other (with 1.5 ml each
    the two masses still stand 4 mm apart), and the balance of two cannulas and one syringe
    holds to 1e-9; the left's 2 ml alone stays on its side."""
    both = _bipedicular(("left", "right"))
    m = both.metrics()
    assert m["injected_ml"] == pytest.approx(4.0, abs=1e-9)
    assert m["crosses_midline"]
    assert both.cement.check_balance(both.t_s) <= 1e-9
    g = both.cement.grid
    x = g.centre_mm[:, 0].reshape(g.shape)
    labels, _ = ndimage.label(_filled(both))
    spans = [(x[labels == k].min(), x[labels == k].max()) for k in range(1, labels.max() + 1)]
    assert any(lo < -5.0 and hi > 5.0 for lo, hi in spans), spans  # one mass across x = 0
    for side, needle in both.needles.items():  # cement at each tip
        assert both.cement.flow.fill[g.cell_of(needle.state.tip_mm)] > 0.5, side
    one = _bipedicular(("left",))
    assert g.centre_mm[_filled(one).ravel(), 0].min() > -5.0  # the left's own side


@pytest.mark.slow
def test_each_needle_has_its_own_metrics_and_the_attempt_the_worse():
    """``needles`` holds each needle's own placement; the attempt's needle metrics are the
    worse needle's, its breaches both needles', its repositions their sum."""
    m = _bipedicular(("left", "right")).metrics()
    assert set(m["needles"]) == {"left", "right"}
    assert m["needle_side"] == "both"
    worse = max(m["needles"].values(), key=lambda own: own["tip_to_target_mm"])
    assert m["tip_to_target_mm"] == worse["tip_to_target_mm"]
    assert m["needle_tip_mm"] == worse["needle_tip_mm"]
    for side, own in m["needles"].items():
        assert own["needle_side"] == side and own["tip_zone"].endswith("_third")
        assert "carm_moves" not in own
    assert m["needle_repositions"] == sum(o["needle_repositions"] for o in m["needles"].values())
    assert m["in_cannula_ml"] > 1.5 * _bipedicular(("left",)).metrics()["in_cannula_ml"]


@pytest.mark.parametrize("bad", ["left", "right"])
def test_a_medial_breach_is_the_needle_of_its_own_side(bad):
    """One needle aimed 15° too medial breaches the medial wall of its pedicle into the
    canal; the other, on its plan, breaches nothing: each breach event and metric names the
    side it happened on, and the attempt's breaches are the bad needle's."""
    s, ph = scenario_and_phantom(CASE)
    actions, t = _placement(s, ph, medial_extra={bad: 15.0})
    proc = Procedure(s, phantom=ph, render_images=False).run([*actions, make_action(t, "finish")])
    m = proc.metrics()
    kinds = {b["kind"] for b in m["needles"][bad]["breaches"]}
    assert "medial_pedicle_wall" in kinds and "canal" in kinds
    good = "right" if bad == "left" else "left"
    assert m["needles"][good]["breaches"] == []
    assert {b["kind"] for b in m["breaches"]} == kinds
    breach_sides = {e.details["side"] for e in proc.events if e.kind == "breach"}
    assert breach_sides == {bad}


def test_actions_name_their_needle_and_are_refused_for_one_not_aimed():
    s, ph = scenario_and_phantom(CASE)
    proc = Procedure(s, phantom=ph, render_images=False).run(
        [
            make_action(0.0, "aim", **_aim(ph, s, "left", 0.0)),
            make_action(0.5, "advance", mm=10.0, side="right"),
            make_action(1.0, "advance", mm=10.0),  # no side: the one last aimed
            make_action(20.0, "finish"),
        ]
    )
    refused = [e.details for e in proc.events if e.kind == "refused"]
    assert refused == [{"do": "advance", "reason": "aim the right needle first"}]
    moved = [e.details for e in proc.events if e.kind == "advance"]
    assert moved == [{"mm": 10.0, "goal_mm": 10.0, "side": "left"}]
    assert proc.placed_sides() == ["left"]
    assert "right" not in proc.metrics()["needles"]


def test_one_syringe_injects_through_one_needle_at_a_time():
    s, ph = scenario_and_phantom(CASE)
    actions, t = _placement(s, ph)
    proc = Procedure(s, phantom=ph, render_images=False).run(
        [
            *actions,
            make_action(t, "mix"),
            make_action(t + 200.0, "inject", rate_ml_min=2.0, ml=0.2, side="left"),
            make_action(t + 201.0, "inject", rate_ml_min=2.0, ml=0.2, side="right"),
            make_action(t + 202.0, "finish"),
        ]
    )
    refused = [e.details for e in proc.events if e.kind == "refused"]
    assert refused == [{"do": "inject", "reason": "already injecting"}]
    assert proc.active_side == "left"  # a refused action does not move the selection


def test_before_two_needles_an_aim_at_the_other_side_re_aims_the_one_needle():
    """A 0.7.0 log: one needle; aiming at the right re-aims it (a reposition), and the metrics
    have no ``needles``; today the same script places a second needle."""
    s, ph = scenario_and_phantom(CASE)
    actions = [
        make_action(0.0, "aim", **_aim(ph, s, "left", 0.0)),
        make_action(10.0, "aim", **_aim(ph, s, "right", 0.0)),
        make_action(20.0, "finish"),
    ]
    old = Procedure(s, phantom=ph, render_images=False, model=model_for_version("0.7.0"))
    m_old = old.run(actions).metrics()
    assert "needles" not in m_old and m_old["needle_side"] == "right"
    assert m_old["needle_repositions"] == 1
    m_new = Procedure(s, phantom=ph, render_images=False).run(actions).metrics()
    assert set(m_new["needles"]) == {"left", "right"} and m_new["needle_repositions"] == 0


@pytest.mark.slow
def test_two_needles_jumped_and_stepped_are_identical():
    s, ph = scenario_and_phantom(CASE)
    actions, t = _placement(s, ph, medial_extra={"right": 15.0})
    actions += [
        make_action(t, "mix"),
        make_action(t + 250.0, "inject", rate_ml_min=3.0, ml=0.5, side="left"),
        make_action(t + 262.0, "withdraw", mm=30.0, side="right"),
        make_action(t + 270.0, "inject", rate_ml_min=3.0, ml=0.5, side="right"),
        make_action(t + 300.0, "finish"),
    ]
    runs = [
        Procedure(s, phantom=ph, render_images=False, jump_idle=j).run(actions)
        for j in (True, False)
    ]
    assert [e.as_json() for e in runs[0].events] == [e.as_json() for e in runs[1].events]
    assert runs[0].metrics() == runs[1].metrics()
    assert runs[0].steps < runs[1].steps


def _scored(case: str, actions) -> tuple[dict, dict]:
    from simulator.scoring.rules import score_attempt

    s, ph = scenario_and_phantom(case)
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    m = proc.metrics()
    return m, score_attempt(s, m, [e.as_json() for e in proc.events])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["cleft_l1_grade3", "endplate_crack_t12"])
def test_the_expert_places_both_needles_in_a_bipedicular_case_and_passes(case):
    """The expert persona of a bipedicular case places a needle through each pedicle (each
    after an en-face view of its own pedicle), injects 1.5 ml through each, and passes; the
    same placement through the left pedicle alone loses the rubric's unipedicular share of
    placement and is told so."""
    from simulator.actions import parse_script
    from simulator.personas import build
    from simulator.rubric import rubric_for

    script = build(case)["expert"]
    m, score = _scored(case, parse_script(json.dumps(script).encode(), path="expert"))
    assert set(m["needles"]) == {"left", "right"} and m["breaches"] == []
    assert score["passed"] and not score["critical"], score
    assert m["crosses_midline"]
    assert "one needle" not in " ".join(score["feedback"])
    r = rubric_for(scenario_and_phantom(case)[0])
    # through one pedicle: the left's placement, the cement through it
    s, ph = scenario_and_phantom(case)
    actions, t = _placement(s, ph)
    both = [*actions, make_action(t + 2.0, "finish")]
    one = [actions[0], actions[1], make_action(t + 2.0, "finish")]  # the left's aim, advance
    full = _scored(case, both)[1]["components"]["placement"]["points"]
    uni_m, uni = _scored(case, one)
    lost = r["unipedicular_share"] * r["placement_points"]
    assert lost > 0
    assert uni["components"]["placement"]["points"] == pytest.approx(full - lost, abs=0.02)
    said = [f for f in uni["feedback"] if "bipedicular" in f]
    assert said and "only the left needle" in said[0] and f"{lost:g} of the" in said[0]
    assert uni_m["needle_side"] == "left" and "right" not in uni_m["needles"]


def test_the_feedback_names_the_needle_it_speaks_of():
    """Both needles pushed to depth in one go: the blind-advance and wall-check sentences say
    which needle (the one whose advance was the longer, whose tip passed the wall unchecked)."""
    s, ph = scenario_and_phantom(CASE)
    actions, t = _placement(s, ph)
    m, score = _scored(CASE, [*actions, make_action(t, "finish")])
    longer = max(m["needles"], key=lambda k: m["needles"][k]["max_blind_advance_mm"])
    said = " ".join(score["feedback"])
    assert f"You pushed the {longer} needle {m['max_blind_advance_mm']:.0f} mm" in said
    assert "The left tip passed the posterior wall" in said  # the first unchecked
