"""The procedure jumps over the ticks in which nothing changes (``next_change_s`` of the needle,
the C-arm and the cement), with the same events, metrics and score as stepping every tick."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simulator.actions import load_script, make_action
from simulator.procedure import Procedure
from simulator.scoring.rules import score_attempt
from tests.conftest import scenario_and_phantom

DATA = Path(__file__).parent / "data"
PERSONAS = sorted(p.stem for p in (DATA / "personas").glob("*.json"))


def _single_arm(scenario):
    return dataclasses.replace(
        scenario, equipment=dataclasses.replace(scenario.equipment, c_arm="single")
    )


def _both(scenario, phantom, actions):
    """(jumped, stepped) runs of ``actions``: their events, metrics, score and steps."""
    out = []
    for jump in (True, False):
        proc = Procedure(scenario, phantom=phantom, render_images=False, jump_idle=jump)
        proc.run(actions)
        m = proc.metrics()
        score = score_attempt(scenario, m, [e.as_json() for e in proc.events])
        out.append(([e.as_json() for e in proc.events], m, score, proc.steps))
    return out


CASES = [("first_case_l1", f"personas/{p}") for p in PERSONAS] + [
    ("single_arm", "personas/expert"),
    ("cleft_l1_grade3", "adversarial/cleft_l1_grade3/fuzz_11"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "script"), CASES)
def test_jumped_and_stepped_runs_are_identical(case, script):
    """Each persona script (and the expert on a single C-arm, whose shots wait for its turns,
    and a fuzzed script of valid random actions) gives the same events, metrics and score
    jumping over idle ticks as stepping all of them, in far fewer steps."""
    s, ph = scenario_and_phantom("first_case_l1" if case == "single_arm" else case)
    if case == "single_arm":
        s = _single_arm(s)
    (ev_j, m_j, score_j, steps_j), (ev_s, m_s, score_s, steps_s) = _both(
        s, ph, load_script(DATA / f"{script}.json")
    )
    assert ev_j == ev_s
    assert m_j == m_s
    assert score_j == score_s
    assert steps_s >= round(m_s["procedure_time_s"] / 0.02)  # the reference steps every tick
    assert steps_j < steps_s


def test_turns_and_exposures_are_jumped_over():
    """A single C-arm turning for 8 s for a held 13-second run of pulses, then the needle at
    rest: the procedure steps only the ticks at which something happens (an action, the turn's
    end, the exposure's end), not the 900 ticks between them."""
    s, ph = scenario_and_phantom("first_case_l1")
    single = _single_arm(s)
    actions = [
        make_action(0.0, "fluoro", view="lateral", pulses=100),  # turns 90° first: 8 s
        make_action(9.0, "fluoro", view="lateral"),  # waits for the exposure (13.3 s at 7.5/s)
        make_action(30.0, "finish"),
    ]
    proc = Procedure(single, phantom=ph, render_images=False).run(actions)
    assert proc.t_s == pytest.approx(30.0)
    shots = [e for e in proc.events if e.kind == "fluoro"]
    assert [e.t_s for e in shots] == pytest.approx([8.0, 8.0 + 100 / 7.5], abs=0.02)  # a tick
    assert proc.steps < 20, proc.steps
    stepped = Procedure(single, phantom=ph, render_images=False, jump_idle=False).run(actions)
    assert [e.as_json() for e in stepped.events] == [e.as_json() for e in proc.events]
    assert stepped.steps >= 1500


def test_the_cement_only_curing_is_jumped_to_its_set():
    """Mixed and left: the procedure steps a few ticks around the mix and the set, and the set
    lands on the tick the fixed steps give."""
    s, ph = scenario_and_phantom("first_case_l1")
    actions = [make_action(1.0, "mix"), make_action(1500.0, "finish")]
    runs = [
        Procedure(s, phantom=ph, render_images=False, jump_idle=j).run(actions)
        for j in (True, False)
    ]
    assert [e.as_json() for e in runs[0].events] == [e.as_json() for e in runs[1].events]
    assert "cement_set" in [e.kind for e in runs[0].events]
    assert runs[0].steps < 10 < runs[1].steps
    assert runs[0].cement.grid is None  # never injected: the flow grid is never built
    assert runs[0].metrics() == runs[1].metrics()
