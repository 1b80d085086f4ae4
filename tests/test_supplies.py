"""Finite supplies and a clock that pulses occupy: the kit's cement batch, exposures that take
time, and the model of an earlier release kept for its logs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simulator import __version__
from simulator.actions import make_action
from simulator.assets import load_table
from simulator.planning import plan_trajectory
from simulator.procedure import Procedure
from simulator.releases import RELEASED_MODELS, ModelOptions, model_for_version
from tests.conftest import scenario_and_phantom

PULSE_RATE_HZ = float(load_table("fluoro")["beam"]["pulse_rate_hz"])


def placed(scenario, phantom) -> list:
    """Aim and advance to the planned target (left)."""
    plan = plan_trajectory(phantom, scenario, "left")
    aim = plan.aim_action()
    aim.pop("do")
    return [make_action(0.0, "aim", **aim), make_action(0.1, "advance", mm=plan.depth_mm)]


def with_batch(scenario, ml: float):
    return dataclasses.replace(scenario, cement=dataclasses.replace(scenario.cement, batch_ml=ml))


def test_the_shipped_kits_hold_the_products_batch():
    s, _ = scenario_and_phantom("first_case_l1")
    product = load_table("cements")["products"][s.cement.product]
    assert s.cement.batch_ml == product["batch_ml"] == 10.0


def test_an_open_ended_injection_ends_when_the_batch_is_used_up():
    """An ``inject`` without ``ml`` (which once ran until the cement set, 272 ml in one
    script) stops at the kit's volume with a ``cement_used_up`` event; a new ``inject`` is
    refused."""
    s, ph = scenario_and_phantom("venous_risk_l2")
    s = with_batch(s, 1.5)
    actions = [
        *placed(s, ph),
        make_action(60.0, "mix"),
        make_action(200.0, "inject", rate_ml_min=20.0),
        make_action(400.0, "inject", rate_ml_min=2.0),
        make_action(420.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    used = [e for e in proc.events if e.kind == "cement_used_up"]
    assert len(used) == 1 and used[0].details["injected_ml"] == pytest.approx(1.5, abs=1e-6)
    assert proc.metrics()["injected_ml"] == pytest.approx(1.5, abs=1e-6)
    refused = [e for e in proc.events if e.kind == "refused"]
    assert refused and "used up" in refused[-1].details["reason"]
    assert used[0].t_s == pytest.approx(200.0 + 1.5 / (20.0 / 60.0), abs=0.2)  # no stall here


def test_the_release_0_1_model_has_no_batch():
    s, ph = scenario_and_phantom("first_case_l1")
    s = with_batch(s, 0.5)
    actions = [
        *placed(s, ph),
        make_action(60.0, "mix"),
        make_action(200.0, "inject", rate_ml_min=6.0, ml=1.0),
        make_action(300.0, "finish"),
    ]
    old = Procedure(s, phantom=ph, render_images=False, model=model_for_version("0.1.0"))
    assert old.run(actions).metrics()["injected_ml"] == pytest.approx(1.0, abs=1e-6)
    new = Procedure(s, phantom=ph, render_images=False).run(actions)
    assert new.metrics()["injected_ml"] == pytest.approx(0.5, abs=1e-6)


def test_pulses_occupy_the_clock():
    """600 pulses at t = 0, twice, then finish at t = 0: the exposures take 2 × 80 s, the
    second waits for the first and the finish for both."""
    s, ph = scenario_and_phantom("first_case_l1")
    actions = [
        make_action(0.0, "fluoro", view="ap", pulses=600),
        make_action(0.0, "fluoro", view="lateral", pulses=600),
        make_action(0.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    m = proc.metrics()
    assert m["fluoro_time_s"] == pytest.approx(1200 / PULSE_RATE_HZ)
    assert m["procedure_time_s"] == pytest.approx(1200 / PULSE_RATE_HZ, abs=0.021)
    shots = [e.t_s for e in proc.events if e.kind == "fluoro"]
    assert shots[0] == 0.0 and shots[1] == pytest.approx(600 / PULSE_RATE_HZ, abs=0.021)


def test_an_advance_waits_for_the_exposure_but_the_needle_moves_during_one():
    s, ph = scenario_and_phantom("first_case_l1")
    first = placed(s, ph)
    actions = [
        first[0],
        make_action(0.1, "advance", mm=20.0),
        make_action(0.2, "fluoro", view="lateral", pulses=75),  # 10 s
        make_action(1.0, "advance", mm=5.0),
        make_action(60.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    advances = [e for e in proc.events if e.kind == "advance"]
    assert advances[0].t_s == pytest.approx(0.1, abs=0.021)
    assert advances[1].t_s == pytest.approx(0.2 + 10.0, abs=0.021)  # waited for the pulses
    stopped = [e for e in proc.events if e.kind == "needle_stopped"]
    assert stopped and stopped[0].t_s < 10.0  # the first 20 mm went on under the beam


def test_pulses_took_no_time_in_release_0_1():
    s, ph = scenario_and_phantom("first_case_l1")
    actions = [make_action(0.0, "fluoro", view="ap", pulses=600), make_action(0.0, "finish")]
    proc = Procedure(s, phantom=ph, render_images=False, model=model_for_version("0.1.0"))
    assert proc.run(actions).metrics()["procedure_time_s"] == 0.0


def test_model_for_version():
    assert model_for_version(__version__) == ModelOptions()
    old = model_for_version("0.1.0")
    assert old == RELEASED_MODELS[(0, 1, 0)] and old != ModelOptions()
    assert not (old.pulse_clock or old.finite_batch or old.conservative_cement)
    for bad in ("9.0.0", "x.y", "0.0.1", "0.1.5", " 0.2.0\n", "٠.٢.٠", "0.2", "9" * 5000):
        with pytest.raises(ValueError):
            model_for_version(bad)


def test_a_log_of_a_newer_release_is_refused_by_verify(tmp_path):
    """The committed logs were written by release 0.1.0 and verify (tests/test_records.py)
    under its model; a log that names a newer release cannot be re-simulated here."""
    import json
    import os
    import subprocess
    import sys

    from simulator.records.signing import sign
    from tests.make_personas import LOGS, TEST_KEY

    log = json.loads((LOGS / "expert.json").read_text())
    assert log["simulator_version"] == "0.1.0"
    log.pop("signature")
    log["simulator_version"] = "9.0.0"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(sign(log, TEST_KEY)))
    env = {**os.environ, "VSIM_LOG_KEY": TEST_KEY.decode()}
    root = LOGS.parents[3]
    r = subprocess.run(
        [sys.executable, str(root / "run_sim.py"), "verify", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "simulator_version" in r.stderr + r.stdout and "Traceback" not in r.stderr


ADVERSARIAL = sorted((Path(__file__).parent / "data" / "adversarial").glob("*/*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("path", ADVERSARIAL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_adversarial_scripts_end_within_their_bounds(path):
    """Each script written to make an attempt long and costly ends by itself, within the
    scenario's time limit, with no more cement than the kit holds and its balance kept."""
    from simulator.actions import load_script

    s, ph = scenario_and_phantom(path.parent.name)
    proc = Procedure(s, phantom=ph, render_images=False).run(load_script(path))
    m = proc.metrics()
    assert proc.finished and proc.t_s <= s.scenario.time_limit_s + 1e-9
    assert m["injected_ml"] <= s.cement.batch_ml + 1e-9
    if proc.cement.flow is not None:
        assert proc.cement.check_balance(proc.t_s) <= 1e-9
    if path.stem == "open_ended_inject":  # once 272 ml until the cement set
        assert m["injected_ml"] == pytest.approx(s.cement.batch_ml, abs=1e-6)
        assert [e.kind for e in proc.events].count("cement_used_up") == 1
    if path.stem == "pulse_flood":  # once 8 million seconds of fluoroscopy in a 0 s attempt
        assert m["fluoro_time_s"] == pytest.approx(6000 / PULSE_RATE_HZ)
        assert m["procedure_time_s"] == pytest.approx(6000 / PULSE_RATE_HZ, abs=0.021)


LEGACY = sorted((Path(__file__).parent / "data" / "personas" / "legacy").glob("*.json"))


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.stem)
def test_release_0_1_logs_whose_needle_touched_a_wall_still_verify(path):
    """Logs written by release 0.1.0 (its expert personas on two more cases) whose needle's
    surface touched a pedicle wall: today's needle adds a ``wall_contact`` event there, the
    0.1.0 model did not, so they verify only under their own release's model."""
    import dataclasses

    from simulator.records.log import read_log, script_actions
    from simulator.records.verify import verify_log
    from simulator.scenario import load_scenario
    from tests.make_personas import TEST_KEY

    assert verify_log(path, key=TEST_KEY) == []
    log = read_log(path)
    scenario = load_scenario(log["scenario"]["id"])
    today = dataclasses.replace(model_for_version("0.1.0"), wall_contact_events=True)
    proc = Procedure(scenario, seed=log["seed"], render_images=False, model=today)
    proc.run(script_actions(log))
    assert "wall_contact" in [e.kind for e in proc.events]


def test_a_held_pedal_keeps_pace_and_other_actions_wait_at_most_a_pulse():
    """The window sends a pulse every 1/7.5 s while the pedal is held; each exposure starts
    where the one before ended, so the pulses keep pace (none queue up) and an advance sent
    meanwhile applies within one pulse."""
    from simulator.ui.session import LiveSession

    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    sess = LiveSession(proc, max_frame_s=100.0)
    sess.choose_entry("left", (43.8, 15.7))
    sess.pedal_down("lateral")
    for k in range(30):  # 60 s: an advance every 2 s, frames of 1/60 s
        sess.advance(1.0)
        for _ in range(120):
            sess.update(1.0 / 60.0)
        assert len(proc._queue) <= 2, (k, [a.do for a in proc._queue])
    held_s = proc.t_s
    sess.pedal_up()
    sess.update(0.5)
    m = proc.metrics()
    assert m["fluoro_time_s"] == pytest.approx(held_s, abs=0.2)  # the beam on all along
    submitted = {round(a.t, 6) for a in proc._queue}
    assert not submitted
    lags = [a["tick"] * 0.02 - a["t"] for a in proc.applied if a["do"] == "advance"]
    assert max(lags) <= 1.0 / PULSE_RATE_HZ + 0.021, max(lags)


def test_an_exposure_stops_at_the_time_limit():
    s, ph = scenario_and_phantom("first_case_l1")
    limit = s.scenario.time_limit_s
    actions = [make_action(limit - 5.0, "fluoro", view="ap", pulses=600)]
    proc = Procedure(s, phantom=ph, render_images=False).run(actions)
    shot = next(e for e in proc.events if e.kind == "fluoro")
    assert shot.details["pulses"] == int(5.0 * PULSE_RATE_HZ)
    assert shot.details["cut_by_time_limit_from"] == 600
    assert proc.metrics()["fluoro_time_s"] == pytest.approx(5.0, abs=1.0 / PULSE_RATE_HZ)


@pytest.mark.slow
@pytest.mark.parametrize(("visible", "share"), [(False, 0.9), (True, 0.85)])
def test_a_kit_larger_than_the_body_fills_it_and_the_rest_is_forced_out(visible, share):
    """A small L1 (18 × 24 × 30 mm, ≈ 8.5 ml of pores in the flow grid's body cells with the
    measured shape) and the default 10 ml kit pushed in at 6 ml/min: the body fills (92 % of
    its pores with the measured, textured shape; the analytic one filled ≥ 95 %), the cement
    then leaves through the openings its yield stress held shut (a leak), and the balance holds
    (once a CementBalanceError, a traceback). With the vein network (0.5.0 on) a vein the
    cement has entered no longer fills up and stops it: it keeps taking cement while the body
    fills, so the body ends less full (89 %)."""
    from simulator.actions import load_script
    from simulator.releases import ModelOptions
    from simulator.scenario import load_scenario

    folder = Path(__file__).parent / "data" / "full_body"
    s = load_scenario(folder / "small_l1.toml")
    model = ModelOptions(visible_cement=visible)
    script = load_script(folder / "small_inj.json")
    proc = Procedure(s, render_images=False, model=model).run(script)
    m = proc.metrics()
    grid = proc.cement.grid
    body_pores_ml = float(grid.pore_m3[grid.site == 0].sum() * 1e6)
    assert m["injected_ml"] == pytest.approx(s.cement.batch_ml, abs=1e-6)
    assert share * body_pores_ml <= m["in_body_ml"] <= body_pores_ml + 1e-9  # full
    # what the full body could not take
    assert sum(m["leak_ml"].values()) > 0.9 * (s.cement.batch_ml - body_pores_ml) > 1.0
    assert proc.cement.check_balance(proc.t_s) <= 1e-9
