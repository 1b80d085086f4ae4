"""Persona scripts built from the planner (DESIGN §4.3 actions): an expert and four typical
novices (too medial, too shallow, too deep, too much fluoroscopy).

They drive the tests (``tests/data/personas/*.json`` are these scripts for the first case;
``python -m tests.make_personas`` rewrites them and a test checks they still match) and the
``bench`` command's headless attempt.
"""

from __future__ import annotations

import numpy as np

from simulator.anatomy.build import build_phantom
from simulator.materials import tissues
from simulator.planning import _skin_point, path_points, plan_trajectory
from simulator.scenario import load_scenario
from simulator.units import direction_from_angles

SCENARIO = "first_case_l1"
STEP_MM = 15.0
PAUSE_S = 12.0  # time allowed for one advance step before the next shots


def _aim(plan_or_dict) -> dict:
    a = plan_or_dict if isinstance(plan_or_dict, dict) else plan_or_dict.aim_action()
    return {"t": 0.0, **{k: v for k, v in a.items()}}


def _stepwise(
    aim: dict, depth_mm: float, *, shots_per_step=("lateral", "ap"), extra_shots: int = 0
) -> list[dict]:
    acts = [
        aim,
        {"t": 1.0, "do": "fluoro", "view": "lateral"},
        {"t": 2.0, "do": "fluoro", "view": "ap"},
    ]
    t, done = 3.0, 0.0
    while done < depth_mm - 1e-9:
        step = round(min(STEP_MM, depth_mm - done), 3)
        done += step
        acts.append({"t": t, "do": "advance", "mm": step})
        t += PAUSE_S
        for view in shots_per_step:
            acts.append({"t": t, "do": "fluoro", "view": view})
            t += 1.0
    for i in range(extra_shots):
        acts.append({"t": t, "do": "fluoro", "view": ("lateral", "ap")[i % 2]})
        t += 2.0
    acts.append({"t": t, "do": "finish"})
    return acts


def build(scenario_ref: str = SCENARIO) -> dict[str, dict]:
    """The persona scripts (``vsim-script/1`` dicts) by name, for one scenario."""
    scenario = load_scenario(scenario_ref)
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")
    body = phantom.geometry.body
    d = direction_from_angles("left", plan.medial_deg, plan.caudal_deg)
    skin = np.asarray(plan.skin_point_mm)

    scripts = {}
    scripts["expert"] = _stepwise(_aim(plan), round(plan.depth_mm, 3))

    # medial novice: enters the pedicle where the expert does, but 15° too medial
    pts = path_points(skin, plan.target_mm, 0.25)
    bone = np.isin(phantom.label_at(pts), tissues().ids("posterior_bone", "pedicle_cancellous"))
    pivot = pts[int(np.argmax(bone))]
    d_med = direction_from_angles("left", plan.medial_deg + 15.0, plan.caudal_deg)
    skin_med = _skin_point(phantom, pivot, d_med)
    aim_med = {
        "do": "aim",
        "side": "left",
        "entry_mm": [round(float(skin_med[0]), 2), round(float(skin_med[2]), 2)],
        "medial_deg": round(plan.medial_deg + 15.0, 2),
        "caudal_deg": round(plan.caudal_deg, 2),
    }
    scripts["medial_novice"] = _stepwise(_aim(aim_med), round(plan.depth_mm, 3))

    # shallow novice: stops in the posterior third of the body
    y_stop = body.wall_y_mm - (body.wall_y_mm - body.anterior_y_mm) / 6.0
    depth_shallow = (y_stop - skin[1]) / d[1]
    scripts["shallow_novice"] = _stepwise(_aim(plan), round(float(depth_shallow), 3))

    # anterior novice: 15 mm past the target, through the anterior cortex
    scripts["anterior_novice"] = _stepwise(_aim(plan), round(plan.depth_mm + 15.0, 3))

    # fluoro-heavy novice: the expert's path, a shot of each view after every 5 mm, then
    # more until 60 shots
    heavy = _stepwise(_aim(plan), round(plan.depth_mm, 3))
    n = sum(1 for a in heavy if a["do"] == "fluoro")
    scripts["fluoro_heavy_novice"] = _stepwise(
        _aim(plan), round(plan.depth_mm, 3), extra_shots=60 - n
    )
    return {
        name: {
            "format": "vsim-script/1",
            "description": f"{name} persona, {scenario.id}",
            "actions": acts,
        }
        for name, acts in scripts.items()
    }
