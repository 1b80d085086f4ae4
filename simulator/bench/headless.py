"""The bench's headless attempts: the expert persona on the default case, and an attempt that
waits for its cement (the jumps over idle ticks)."""

from __future__ import annotations

import json
import time

from simulator.anatomy.build import build_phantom
from simulator.scenario import load_scenario

DEFAULT_SCENARIO = "first_case_l1"


def bench_headless(repeat: int) -> dict:
    """The expert persona on the default scenario, headless, phantom build included:
    simulated seconds per wall-clock second (budget ≥ 50)."""
    from simulator.actions import parse_script
    from simulator.personas import build
    from simulator.procedure import Procedure

    script = build(DEFAULT_SCENARIO)["expert"]
    actions = parse_script(json.dumps(script).encode(), path="expert")
    best, sim_s = float("inf"), 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        scenario = load_scenario(DEFAULT_SCENARIO)
        proc = Procedure(scenario, render_images=False).run(actions)
        best = min(best, time.perf_counter() - t0)
        sim_s = proc.t_s
    return {
        "headless_attempt_wall_s": round(best, 4),
        "headless_attempt_sim_s": round(sim_s, 3),
        "headless_realtime_factor": round(sim_s / best, 1),
        **_bench_wait(actions, repeat),
    }


WAIT_S = 300.0
"""The cement wait of :func:`_bench_wait` (s)."""


def _bench_wait(expert_actions, repeat: int) -> dict:
    """An attempt that waits :data:`WAIT_S` for its cement: the expert's placement and images,
    the mix, the wait, the finish; headless, its phantom built beforehand: simulated seconds
    per wall-clock second (issue 17's budget ≥ 2000: the idle ticks are jumped over)."""
    from simulator.actions import make_action
    from simulator.procedure import Procedure

    placement = []
    for a in expert_actions:
        placement.append(a)
        if a.do == "mix":
            break
    actions = [*placement, make_action(placement[-1].t + WAIT_S, "finish")]
    scenario = load_scenario(DEFAULT_SCENARIO)
    phantom = build_phantom(scenario)
    best, sim_s = float("inf"), 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = Procedure(scenario, phantom=phantom, render_images=False).run(actions)
        best = min(best, time.perf_counter() - t0)
        sim_s = proc.t_s
    return {
        "headless_wait_attempt_sim_s": round(sim_s, 3),
        "headless_wait_realtime_factor": round(sim_s / best, 1),
    }
