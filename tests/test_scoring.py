"""Scoring: persona scores, the golden score table, rubric overrides and feedback sentences.

The golden table (tests/data/personas/expected_scores.tsv) holds the expected metrics and scores
of the recorded persona logs, with tolerances; ``python -m tests.make_personas`` rewrites it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from types import MappingProxyType

import pytest

from simulator.actions import load_script
from simulator.records.log import read_log, script_actions
from simulator.scenario import load_scenario
from simulator.scoring.rules import critical_errors, ramp, rubric_for, score_attempt
from tests.conftest import DATA
from tests.make_personas import LOGS, TABLE, lookup

PERSONAS = ("expert", "medial_novice", "shallow_novice", "anterior_novice", "fluoro_heavy_novice")


@pytest.fixture(scope="module")
def logs():
    return {name: read_log(LOGS / f"{name}.json") for name in PERSONAS}


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("first_case_l1")


def rescore(scenario, log):
    """The 0.1.0 logs re-scored as their release scored them (rubric 1; rubric 2's rules
    have their own tests, tests/test_technique.py)."""
    return score_attempt(scenario, log["metrics"], log["events"], rubric_version=1)


def test_expert_with_a_good_injection_scores_85_or_more_and_passes(scenario, logs):
    s = rescore(scenario, logs["expert"])
    assert s["total"] >= 85 and s["passed"] and s["critical"] == []


@pytest.mark.parametrize("name", [p for p in PERSONAS if p != "expert"])
def test_every_novice_scores_below_70(scenario, logs, name):
    assert rescore(scenario, logs[name])["total"] < 70


def test_medial_novice_fails_with_the_canal_named(scenario, logs):
    s = rescore(scenario, logs["medial_novice"])
    assert not s["passed"] and "needle_in_canal" in s["critical"]
    first = s["feedback"][1]
    assert "medial pedicle wall" in first and "spinal canal" in first
    assert "before its tip had passed the posterior wall" in first
    assert "AP view" in first and "01:18" in first


def test_golden_score_table_recomputed_from_the_logs(scenario, logs):
    rows = list(csv.DictReader(TABLE.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    assert {r["persona"] for r in rows} == set(PERSONAS)
    for r in rows:
        log = dict(logs[r["persona"]])
        log["score"] = rescore(scenario, log)  # recomputed, not read back
        got = lookup(log, r["quantity"]) if r["quantity"] != "score.critical" else None
        where = f"{r['persona']} {r['quantity']}"
        if r["quantity"] == "score.critical":
            assert ";".join(log["score"]["critical"]) == r["expected"], where
        elif r["quantity"] == "score.passed":
            assert str(got) == r["expected"], where
        else:
            assert got == pytest.approx(float(r["expected"]), abs=float(r["tolerance"])), where


def test_component_points_stay_within_their_maxima(scenario, logs):
    for log in logs.values():
        s = rescore(scenario, log)
        assert 0 <= s["total"] <= 100
        for c in s["components"].values():
            assert 0 <= c["points"] <= c["max"]
        assert sum(c["max"] for c in s["components"].values()) == pytest.approx(100)


def test_ramp_is_linear_between_full_and_zero():
    assert ramp(5, 5, 20) == 1 and ramp(20, 5, 20) == 0 and ramp(12.5, 5, 20) == 0.5
    assert ramp(0, 5, 20) == 1 and ramp(30, 5, 20) == 0


def test_critical_errors_follow_the_rubric_limits(scenario, logs):
    r = rubric_for(scenario, version=1)
    m = json.loads(json.dumps(logs["expert"]["metrics"]))
    assert critical_errors(m, r) == []
    m["leak_ml"]["vein"] = r["venous_leak_limit_ml"] + 0.01
    m["leak_ml"]["canal"] = r["canal_leak_limit_ml"] + 0.01
    m["breaches"] = [{"kind": "anterior_cortex", "depth_mm": 2.5, "t_s": 80.0}]
    assert critical_errors(m, r) == [
        "cement_in_canal",
        "anterior_cortex_perforation",
        "venous_leak",
    ]
    m["breaches"][0]["depth_mm"] = 1.5  # within the limit: not critical
    assert "anterior_cortex_perforation" not in critical_errors(m, r)


def test_scenario_scoring_overrides_change_the_score(scenario, logs):
    log = logs["fluoro_heavy_novice"]
    base = rescore(scenario, log)
    lenient = replace(scenario, scoring=MappingProxyType({"radiation_zero_ratio": 10.0}))
    assert (
        rescore(lenient, log)["components"]["radiation"]["points"]
        > (base["components"]["radiation"]["points"])
    )
    strict = replace(scenario, scoring=MappingProxyType({"pass_mark": 99.0}))
    assert rescore(strict, logs["expert"])["passed"] is False


def test_feedback_tells_when_and_where_a_leak_shows(scenario, logs):
    fb = " ".join(rescore(scenario, logs["shallow_novice"])["feedback"])
    assert "Cement leaked back along the needle tract at 03:11" in fb
    assert "while it was still liquid" in fb
    assert "posterior third" in fb


def test_stored_logs_match_the_scripts(logs):
    # the stored logs are release 0.1.0's; the expert's script has since gained the C-arm
    # set-up (true views, en face), the novices' were unchanged up to release 0.3.0 (kept in
    # release_0_3_0/: 0.4.0's anatomy moved every entry point)
    for name, log in logs.items():
        assert log["simulator_version"] == "0.1.0"
        script = load_script(DATA / "personas" / "release_0_3_0" / f"{name}.json")
        if name == "expert":  # the same aim and advances, after the set-up

            def moves(actions):
                return [(a.do, dict(a.args)) for a in actions if a.do in ("aim", "advance")]

            assert moves(script_actions(log)) == moves(script)
            assert [a.do for a in script].count("carm") == 3
        else:
            assert script_actions(log) == script, name


def test_radiation_and_time_count_only_for_a_completed_procedure(scenario, logs):
    # placing the needle well and stopping there must not pass (nor must doing nothing)
    m = json.loads(json.dumps(logs["expert"]["metrics"]))
    m.update(injected_ml=0.0, in_body_ml=0.0, cement_product=None)
    m["injection_start_after_mix_s"] = None
    s = score_attempt(scenario, m, [], rubric_version=1)
    assert s["components"]["radiation"]["points"] == 0
    assert s["components"]["efficiency"]["points"] == 0
    assert not s["passed"] and s["total"] == pytest.approx(25.0)
    m.update(needle_tip_mm=None, tip_to_target_mm=None, tip_zone="not_placed", breaches=[])
    assert score_attempt(scenario, m, [], rubric_version=1)["total"] == 0


def test_a_repeated_breach_counts_at_its_deepest(scenario, logs):
    r = rubric_for(scenario, version=1)
    m = json.loads(json.dumps(logs["expert"]["metrics"]))
    m["breaches"] = [
        {"kind": "anterior_cortex", "depth_mm": 4.0, "t_s": 80.0},
        {"kind": "anterior_cortex", "depth_mm": 0.5, "t_s": 95.0},
    ]
    assert critical_errors(m, r) == ["anterior_cortex_perforation"]


def test_bipedicular_cases_say_only_one_side_is_scored(logs):
    s = score_attempt(
        load_scenario("endplate_crack_t12"), logs["expert"]["metrics"], [], rubric_version=1
    )
    assert any("bipedicular" in f for f in s["feedback"])


# ----- leaks seen on the images (release 0.5.0 metrics) ------------------------------------
SITES = ("canal", "disc", "vein", "paravertebral", "needle_tract")


def _ev(t_s: float, kind: str, **details) -> dict:
    return {"t_s": t_s, "kind": kind, "details": details}


def _leak_metrics(leak_ml: dict, seen: dict, after: dict) -> dict:
    return {
        "leak_ml": {**dict.fromkeys(SITES, 0.0), **leak_ml},
        "leak_first_seen_s": {**dict.fromkeys(SITES), **seen},
        "injected_after_leak_seen_ml": {**dict.fromkeys(SITES), **after},
    }


def test_a_leak_that_showed_names_when_it_filled_the_image_and_the_ml_after_it():
    from simulator.scoring.feedback import leak_sentences

    events = [
        _ev(54.0, "inject", rate_ml_min=3.0),
        _ev(60.0, "fluoro", view="lateral", pulses=1),
        _ev(66.0, "leak", site="vein", ml=0.02),
        _ev(69.0, "fluoro", view="lateral", pulses=1),
        _ev(75.0, "fluoro", view="ap", pulses=1),
    ]
    m = _leak_metrics({"vein": 0.35}, {"vein": 69.0}, {"vein": 0.8})
    assert leak_sentences(m, events) == [
        "A vein filled at 01:06, 12 s into that injection, and first showed on your lateral "
        "image at 01:09; you pushed 0.8 ml more after it (0.35 ml leaked there in the end)."
    ]
    # both arms at once; nothing pushed after the image
    both = [*events[:3], _ev(69.0, "fluoro", view="ap", pulses=1), events[3]]
    m = _leak_metrics({"vein": 0.05}, {"vein": 69.0}, {"vein": 0.0})
    (sentence,) = leak_sentences(m, both)
    assert "on your AP and lateral image at 01:09; you pushed no more after it" in sentence


def test_a_leak_never_seen_says_why_no_image_or_none_that_showed_it():
    from simulator.scoring.feedback import leak_sentences

    events = [
        _ev(54.0, "inject", rate_ml_min=3.0),
        _ev(60.0, "fluoro", view="lateral", pulses=1),
        _ev(66.0, "leak", site="disc", ml=0.02),
    ]
    m = _leak_metrics({"disc": 0.12}, {}, {})
    (unseen,) = leak_sentences(m, events)
    assert unseen.startswith("Cement entered the disc at 01:06, 12 s into that injection, but")
    assert "it was not seen because you took no image after it; 0.12 ml leaked" in unseen
    assert unseen.endswith("It would show on the lateral view, beyond the endplate.")
    looked = [*events, _ev(70.0, "fluoro", view="ap", pulses=1)]
    (hidden,) = leak_sentences(m, looked)
    assert "it did not show on the 1 image you took after it (too little cement" in hidden


def test_a_leak_seen_before_its_event_and_one_without_an_event_are_told():
    from simulator.scoring.feedback import leak_sentences

    events = [
        _ev(10.0, "inject", rate_ml_min=3.0),
        _ev(20.0, "fluoro", view="lateral", pulses=1),
        _ev(30.0, "leak", site="canal", ml=0.02),
    ]
    m = _leak_metrics({"canal": 0.03, "disc": 0.01}, {"canal": 20.0, "disc": 20.0}, {})
    canal, disc = leak_sentences(m, events)
    assert "had already shown on your lateral image at 00:20, while smaller" in canal
    assert disc == (
        "A little cement leaked into the disc and showed on your lateral image at 00:20; "
        "0.01 ml in the end."
    )


def test_logs_before_0_5_keep_their_leak_sentences(scenario, logs):
    """A log without leak_first_seen_s (releases ≤ 0.4.0) is told as it was."""
    fb = " ".join(rescore(scenario, logs["shallow_novice"])["feedback"])
    assert "It shows on the lateral view, along the cannula." in fb
    assert "first showed" not in fb
