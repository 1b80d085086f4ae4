"""The procedure engine and needle: personas, refusals, timing, logs, determinism."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from simulator import personas
from simulator.actions import load_script, make_action
from simulator.assets import load_table
from simulator.cli import main
from simulator.procedure import TICK_S, Procedure
from simulator.records.log import attempt_log
from tests.conftest import DATA, scenario_and_phantom

PERSONAS = DATA / "personas"


def run_persona(name: str) -> Procedure:
    scenario, phantom = scenario_and_phantom(personas.SCENARIO)
    actions = load_script(PERSONAS / f"{name}.json")
    return Procedure(scenario, phantom=phantom, render_images=False).run(actions)


def plan_depth_mm() -> float:
    """The left plan's depth on the persona scenario (the expert's script pushes this far)."""
    from simulator.planning import plan_trajectory

    scenario, phantom = scenario_and_phantom(personas.SCENARIO)
    return plan_trajectory(phantom, scenario, "left").depth_mm


def kinds(proc: Procedure, kind: str = "breach") -> list[str]:
    return [e.details["kind"] for e in proc.events if e.kind == kind]


@pytest.mark.usefixtures("shared_phantoms")
def test_persona_files_are_built_from_the_current_plan():
    for name, script in personas.build().items():
        on_disk = json.loads((PERSONAS / f"{name}.json").read_text())
        assert on_disk == json.loads(json.dumps(script)), (
            f"rerun python -m tests.make_personas ({name})"
        )


def test_expert_reaches_the_anterior_third_without_a_breach():
    proc = run_persona("expert")
    m = proc.metrics()
    assert kinds(proc) == [] and m["breaches"] == []
    assert m["tip_zone"] == "anterior_third"
    assert m["tip_to_target_mm"] < 5.0
    assert m["needle_repositions"] == 0
    # the set-up (a true lateral; en face before and after the aim, then the true AP: 3 AP),
    # a lateral and an AP after each advance step (the plan's depth in 15 mm steps: 8 on the
    # measured-shape body), then the injection screened on the lateral (six bursts and a
    # check) and a last AP
    script = json.loads((PERSONAS / "expert.json").read_text())["actions"]
    steps = sum(a["do"] == "advance" for a in script)
    assert steps == math.ceil(plan_depth_mm() / personas.STEP_MM)
    assert (m["fluoro_shots_lateral"], m["fluoro_shots_ap"]) == (1 + steps + 7, 3 + steps + 1)


def test_medial_novice_breaches_the_medial_wall_then_the_canal():
    proc = run_persona("medial_novice")
    assert kinds(proc)[:2] == ["medial_pedicle_wall", "canal"]
    breaches = {b["kind"]: b for b in proc.metrics()["breaches"]}
    assert breaches["canal"]["depth_mm"] > 5.0


def test_shallow_novice_stops_in_the_posterior_third():
    proc = run_persona("shallow_novice")
    assert proc.metrics()["tip_zone"] == "posterior_third"
    assert kinds(proc) == []


def test_anterior_novice_perforates_the_anterior_cortex():
    proc = run_persona("anterior_novice")
    breaches = proc.metrics()["breaches"]
    assert [b["kind"] for b in breaches] == ["anterior_cortex"]
    assert 5.0 < breaches[0]["depth_mm"] < 15.0


def test_fluoro_heavy_novice_takes_sixty_shots():
    m = run_persona("fluoro_heavy_novice").metrics()
    expert = run_persona("expert").metrics()
    assert m["fluoro_shots"] == 60
    assert m["dose_dap_mgycm2"] > 3 * expert["dose_dap_mgycm2"]
    assert m["tip_zone"] == "anterior_third"


def test_cli_run_writes_a_log_and_the_same_actions_give_the_same_log(tmp_path, capsys):
    logs = []
    for i in range(2):
        out = tmp_path / f"log{i}.json"
        assert (
            main(
                [
                    "run",
                    "--scenario",
                    "first_case_l1",
                    "--script",
                    str(PERSONAS / "medial_novice.json"),
                    "--log",
                    str(out),
                ]
            )
            == 0
        )
        logs.append(json.loads(out.read_text()))
    line = capsys.readouterr().out.splitlines()[0]
    assert "medial_pedicle_wall" in line and "canal" in line
    a, b = logs
    for log in logs:
        log.pop("started_at")
        log.pop("signature")  # covers the start time
    assert a == b
    assert a["format"] == "vsim-attempt/1"
    assert a["scenario"]["id"] == "first_case_l1" and len(a["scenario"]["sha256"]) == 64
    assert a["score"]["critical"] == ["needle_in_canal"] and not a["score"]["passed"]
    assert a["metrics"]["cement_product"] == "pmma_medium"
    for key in (
        "procedure_time_s",
        "fluoro_time_s",
        "fluoro_shots",
        "fluoro_shots_lateral",
        "fluoro_shots_ap",
        "dose_dap_mgycm2",
        "needle_tip_mm",
        "tip_zone",
        "tip_to_target_mm",
        "needle_repositions",
        "breaches",
    ):
        assert key in a["metrics"], key
    assert [act["tick"] for act in a["actions"]] == sorted(act["tick"] for act in a["actions"])


def proc_for(name="first_case_l1") -> Procedure:
    scenario, phantom = scenario_and_phantom(name)
    return Procedure(scenario, phantom=phantom, render_images=False)


def plan_aim(proc: Procedure, t: float = 0.0):
    from simulator.planning import plan_trajectory

    plan = plan_trajectory(proc.phantom, proc.scenario, "left")
    a = plan.aim_action()
    a.pop("do")
    return make_action(t, "aim", **a), plan


def test_an_action_applies_at_the_first_tick_at_or_after_its_time():
    proc = proc_for()
    aim, _ = plan_aim(proc, t=0.013)
    proc.submit(aim)
    proc.step()
    assert proc.events == []  # tick 0 at t = 0 is too early
    proc.step()
    assert proc.events[0].kind == "aim" and proc.events[0].t_s == pytest.approx(TICK_S)


def test_refusals_are_events_not_exceptions():
    proc = proc_for()
    aim, plan = plan_aim(proc, t=1.0)
    actions = [
        make_action(0.0, "advance", mm=10.0),
        aim,
        make_action(2.0, "advance", mm=plan.depth_mm - 20.0),
        make_action(59.0, "inject", rate_ml_min=2.0),
        make_action(59.5, "stop"),
        make_action(60.0, "mix"),
        make_action(60.5, "mix"),
        make_action(  # the left needle, in bone (the right would be a second needle)
            62.0, "aim", side="left", entry_mm=[40.0, 10.0], medial_deg=20.0, caudal_deg=10.0
        ),
        make_action(63.0, "finish"),
    ]
    proc.run(actions)
    refused = [(e.details["do"], e.details["reason"]) for e in proc.events if e.kind == "refused"]
    assert refused == [
        ("advance", "aim the left needle first"),
        ("inject", "mix the cement first"),
        ("stop", "no injection is running"),
        ("mix", "the cement is already mixed"),
        ("aim", "the needle is engaged in bone; withdraw it before re-aiming"),
    ]
    assert proc.needle.state.side == "left"


def test_advancing_takes_longer_through_cortex_than_soft_tissue():
    proc = proc_for()
    aim, _ = plan_aim(proc)
    proc.run([aim, make_action(0.1, "advance", mm=140.0), make_action(200.0, "finish")])
    enters = [
        (e.t_s, e.details["inserted_mm"], e.details["tissue"])
        for e in proc.events
        if e.kind == "tip_enters"
    ]
    speeds = []
    for (t0, d0, tissue), (t1, d1, _) in itertools.pairwise(enters):
        if t1 - t0 > 0.2:
            speeds.append((tissue, (d1 - d0) / (t1 - t0)))
    by = dict(speeds)
    assert by["posterior_bone"] < by["cancellous"] < 10.0
    # the needle stops at its full length, hub at the skin
    assert proc.needle.state.inserted_mm == pytest.approx(proc.scenario.equipment.needle_length_mm)


def test_withdrawing_out_of_bone_and_re_aiming_count_as_repositions():
    proc = proc_for()
    aim, plan = plan_aim(proc)
    actions = [
        aim,
        make_action(0.1, "advance", mm=plan.depth_mm - 10.0),
        make_action(60.0, "withdraw", mm=plan.depth_mm),
        make_action(80.0, "aim", **{k: v for k, v in plan.aim_action().items() if k != "do"}),
        make_action(81.0, "finish"),
    ]
    proc.run(actions)
    assert proc.metrics()["needle_repositions"] == 2
    assert proc.needle.state.inserted_mm == 0.0


def test_time_limit_ends_the_attempt():
    scenario, phantom = scenario_and_phantom("first_case_l1")
    proc = Procedure(scenario, phantom=phantom, render_images=False)
    proc.run([make_action(5000.0, "fluoro", view="ap")])
    assert proc.events[-1].kind == "finish"
    assert proc.events[-1].details["reason"] == "time limit"
    assert proc.t_s == pytest.approx(scenario.scenario.time_limit_s)
    assert proc.metrics()["fluoro_shots"] == 0


def test_rendered_and_headless_runs_give_the_same_events():
    scenario, phantom = scenario_and_phantom(personas.SCENARIO)
    actions = load_script(PERSONAS / "expert.json")
    a = Procedure(scenario, phantom=phantom, render_images=True).run(actions)
    b = Procedure(scenario, phantom=phantom, render_images=False).run(actions)
    assert [e.as_json() for e in a.events] == [e.as_json() for e in b.events]
    assert a.metrics() == b.metrics()
    held = a.carm.held("lateral")
    size = load_table("fluoro")["geometry"]["detector_size_px"]
    assert held is not None and held.pixels.shape == (size, size)


def test_log_is_json_safe():
    proc = run_persona("anterior_novice")
    text = json.dumps(
        attempt_log(proc, trainee="t", started_at="2026-01-01T00:00:00+00:00"), allow_nan=False
    )
    assert math.isfinite(json.loads(text)["metrics"]["procedure_time_s"])
    assert np.isfinite(json.loads(text)["metrics"]["needle_tip_mm"]).all()
