"""Rubric 2 (release 0.7.0): the image-guidance metrics, the technique component, radiation and
time that never reward skipped images or the cement's wait, and the reckless novice."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from simulator.actions import make_action, parse_script
from simulator.materials import tissues
from simulator.needle.guidance import GuidanceWatch
from simulator.personas import build
from simulator.planning import path_points, plan_trajectory
from simulator.procedure import Procedure
from simulator.releases import RELEASED_MODELS, ModelOptions, model_for_version
from simulator.rubric import rubric_for, rubric_problems
from simulator.scoring.rules import score_attempt
from simulator.scoring.technique import expert_wait_s, required_wait_s, technique_parts
from tests.conftest import phantoms_shared, scenario_and_phantom


def _attempt(ref: str, actions: list) -> Procedure:
    s, ph = scenario_and_phantom(ref)
    return Procedure(s, phantom=ph, render_images=False).run(actions)


def _aim(plan) -> dict:
    a = plan.aim_action()
    a.pop("do")
    return a


def _bone_entry_mm(ph, plan) -> float:
    """Depth along the planned path (mm from the skin) where it first meets bone."""
    pts = path_points(np.asarray(plan.skin_point_mm), plan.target_mm, 0.1)
    bone = np.isin(ph.label_at(pts), tissues().group_ids("needle_bone"))
    return float(np.argmax(bone)) * 0.1


@pytest.fixture(scope="module")
def first_case():
    s, ph = scenario_and_phantom("first_case_l1")
    return s, ph, plan_trajectory(ph, s, "left")


def test_a_push_to_depth_without_images_is_one_blind_advance_through_bone(first_case):
    _, ph, plan = first_case
    proc = _attempt(
        "first_case_l1",
        [
            make_action(0.0, "aim", **_aim(plan)),
            make_action(0.5, "fluoro", view="lateral"),
            make_action(1.0, "advance", mm=plan.depth_mm),
        ],
    )
    m = proc.metrics()
    in_bone = plan.depth_mm - _bone_entry_mm(ph, plan)
    assert in_bone > 30.0  # the pedicle and most of the body
    assert m["max_blind_advance_mm"] == pytest.approx(in_bone, abs=1.0)
    assert m["max_blind_advance_from_s"] == pytest.approx(0.5)
    assert m["medial_wall_checked"] is False  # only a lateral, before the needle moved
    assert m["entered_bone_s"] < m["passed_wall_s"] <= m["max_blind_advance_until_s"]


def test_images_between_steps_cut_the_blind_advance_and_check_the_medial_wall(first_case):
    plan = first_case[2]
    acts, t = [make_action(0.0, "aim", **_aim(plan))], 1.0
    done = 0.0
    while done < plan.depth_mm - 1e-9:
        step = min(8.0, plan.depth_mm - done)
        done += step
        acts.append(make_action(t, "advance", mm=step))
        acts.append(make_action(t + 10.0, "fluoro", view="ap"))
        acts.append(make_action(t + 11.0, "fluoro", view="lateral"))
        t += 12.0
    m = _attempt("first_case_l1", acts).metrics()
    assert 0.0 < m["max_blind_advance_mm"] <= 8.0 + 1e-6
    assert m["medial_wall_checked"] is True


def test_travel_before_bone_is_not_blind_and_a_shallow_tip_never_judges_the_wall(first_case):
    _, ph, plan = first_case
    short = _bone_entry_mm(ph, plan) - 3.0
    m = _attempt(
        "first_case_l1",
        [make_action(0.0, "aim", **_aim(plan)), make_action(1.0, "advance", mm=short)],
    ).metrics()
    assert m["max_blind_advance_mm"] == 0.0 and m["max_blind_advance_from_s"] is None
    assert m["medial_wall_checked"] is None and m["passed_wall_s"] is None


class _Needle:
    """A needle stub for the watch: never placed, never in bone."""

    class state:  # noqa: N801
        placed = False

    @staticmethod
    def engaged_in_bone():
        return False


def test_the_most_cement_between_two_images_counts_what_came_after_the_last():
    w = GuidanceWatch(_Needle(), wall_y_mm=0.0)
    w.imaged(10.0, frontal=False, injected_ml=0.0)
    w.imaged(20.0, frontal=False, injected_ml=0.4)
    w.imaged(30.0, frontal=False, injected_ml=1.5)  # 1.1 ml unseen
    assert w.metrics(1.8)["max_unwatched_injection_ml"] == pytest.approx(1.1)
    assert w.metrics(3.0)["max_unwatched_injection_ml"] == pytest.approx(1.5)  # after the last


# ----- the rubric ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs():
    """Today's expert and reckless novice on the first case (metrics, events, score)."""
    s = scenario_and_phantom("first_case_l1")[0]
    out = {}
    with phantoms_shared():
        scripts = build("first_case_l1")
    for name, script in scripts.items():
        if name in ("expert", "reckless_novice"):
            proc = _attempt("first_case_l1", parse_script(json.dumps(script).encode(), path=name))
            m, ev = proc.metrics(), [e.as_json() for e in proc.events]
            out[name] = (m, ev, score_attempt(s, m, ev))
    return out


def _uncapped(score: dict) -> float:
    return sum(c["points"] for c in score["components"].values())


def test_the_expert_passes_with_the_technique_earned(runs):
    m, _, s = runs["expert"]
    assert s["rubric_version"] == 3 and s["passed"] and s["total"] >= 85
    tech = s["components"]["technique"]
    assert tech["points"] >= 0.9 * tech["max"], tech
    assert m["medial_wall_checked"] is True and m["max_blind_advance_mm"] <= 15.0 + 1e-6


def test_the_reckless_novice_fails_and_is_told_what_was_skipped_and_when(runs):
    m, _, s = runs["reckless_novice"]
    assert not s["passed"] and s["total"] < 60
    assert "blind_advance" in s["critical"]
    assert _uncapped(s) < 60  # it would fail without the critical error's cap too
    assert s["components"]["radiation"]["points"] == 0  # few images earn no dose points
    assert s["components"]["efficiency"]["points"] == 0  # nor a quick finish
    fb = " ".join(s["feedback"])
    blind = m["max_blind_advance_mm"]
    assert f"You pushed the needle {blind:.0f} mm through bone without a fresh image" in fb
    assert "no AP image taken since the needle entered bone" in fb
    assert "while it was still liquid" in fb


def test_the_reckless_novice_fails_on_another_case(shared_phantoms):
    s = scenario_and_phantom("venous_risk_l2")[0]
    script = build("venous_risk_l2")["reckless_novice"]
    proc = _attempt("venous_risk_l2", parse_script(json.dumps(script).encode(), path="r"))
    m, ev = proc.metrics(), [e.as_json() for e in proc.events]
    score = score_attempt(s, m, ev)
    assert not score["passed"] and score["total"] < 60 and _uncapped(score) < 60


def test_skipped_images_never_earn_radiation_or_time(runs):
    s = scenario_and_phantom("first_case_l1")[0]
    m = dict(runs["expert"][0])
    base = score_attempt(s, m, [])
    fewer = dict(m, fluoro_shots=4, fluoro_time_s=1.0, procedure_time_s=m["procedure_time_s"] / 2)
    assert (
        score_attempt(s, fewer, [])["components"]["radiation"]["points"]
        >= (base["components"]["radiation"]["points"])
    )
    r = rubric_for(s)
    blind = dict(fewer, max_blind_advance_mm=r["blind_zero_mm"])
    got = score_attempt(s, blind, [])["components"]
    assert got["radiation"]["points"] == 0 and got["efficiency"]["points"] == 0
    half = dict(fewer, max_blind_advance_mm=(r["blind_full_mm"] + r["blind_zero_mm"]) / 2)
    got = score_attempt(s, half, [])["components"]
    fewer_points = score_attempt(s, fewer, [])["components"]["radiation"]["points"]
    assert got["radiation"]["points"] == pytest.approx(fewer_points / 2)


def test_waiting_for_the_cement_as_the_case_asks_costs_no_time_points(runs):
    s = scenario_and_phantom("first_case_l1")[0]
    m = runs["expert"][0]
    liquid = expert_wait_s(s)
    assert m["injection_start_after_mix_s"] >= liquid  # the expert waits out the liquid phase
    assert required_wait_s(s, m) == pytest.approx(liquid)
    # a careful trainee waits until the cement is doughy; a hasty one injects it liquid at
    # 60 s and is otherwise just as quick (slower than the expert, both)
    careful = dict(m, injection_start_after_mix_s=liquid, procedure_time_s=900.0)
    hasty = dict(m, injection_start_after_mix_s=60.0, procedure_time_s=900.0 - (liquid - 60.0))

    def points(x, version):
        return score_attempt(s, x, [], rubric_version=version)["components"]["efficiency"]

    assert 0 < points(careful, 2)["points"] == pytest.approx(points(hasty, 2)["points"])
    assert points(careful, 1)["points"] < points(hasty, 1)["points"]  # rubric 1 counted it
    assert "without the cement's wait" in points(careful, 2)["notes"][0]


def test_a_leak_that_went_on_growing_after_it_showed_costs_the_reaction_share(runs):
    s = scenario_and_phantom("first_case_l1")[0]
    r = rubric_for(s)
    m = dict(runs["expert"][0])
    sites = dict.fromkeys(m["injected_after_leak_seen_ml"])
    grew = dict(m, injected_after_leak_seen_ml={**sites, "vein": 1.0})
    grew["leak_growth_after_seen_ml"] = {**sites, "vein": 0.2}
    assert technique_parts(grew, r, s.expert)["reaction_share"] == 0.0
    sealed = dict(grew, leak_growth_after_seen_ml={**sites, "vein": 0.01})
    assert technique_parts(sealed, r, s.expert)["reaction_share"] == 1.0
    fb = " ".join(score_attempt(s, grew, [])["feedback"])
    assert "You injected 1.00 ml more after a leak showed on the image, and the leak grew" in fb


def test_a_frontal_view_never_used_costs_the_view_share_and_is_said(runs):
    s = scenario_and_phantom("first_case_l1")[0]
    m = dict(runs["expert"][0], fluoro_shots_ap=0)
    parts = technique_parts(m, rubric_for(s), s.expert)
    assert parts["view_share"] == pytest.approx(0.5)
    assert any("You took 0 AP shots" in f for f in score_attempt(s, m, [])["feedback"])


def test_rubric_2_ranges_are_checked_in_a_scenarios_overrides():
    problems = rubric_problems({"blind_full_mm": 30.0, "blind_zero_mm": 20.0})
    assert ("scoring.blind_zero_mm", "must be greater than blind_full_mm (30), got 20") in problems
    shares = rubric_problems({"blind_share": 0.9})
    assert any(f == "scoring.blind_share" and "add up to 1" in msg for f, msg in shares)


def test_earlier_releases_are_scored_with_their_rubric():
    assert ModelOptions().rubric_version == 3
    assert model_for_version("0.7.0").rubric_version == 2
    before = {v: m for v, m in RELEASED_MODELS.items() if v != (0, 7, 0)}
    assert all(m.rubric_version == 1 for m in before.values())
    assert model_for_version("0.6.0").rubric_version == 1
    s = scenario_and_phantom("first_case_l1")[0]
    with pytest.raises(ValueError, match="rubric version 4"):
        rubric_for(s, version=4)
    v1 = rubric_for(s, version=1)
    assert v1["cement_points"] == 35 and v1["efficiency_points"] == 15
    over = replace(s, scoring=MappingProxyType({"pass_mark": 70.0}))
    assert rubric_for(over, version=1)["pass_mark"] == 70.0  # overrides apply to both
