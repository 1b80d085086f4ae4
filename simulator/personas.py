"""Persona scripts built from the planner (``vsim-script/1`` actions): an expert, four typical
novices (too medial, too shallow, too deep, too much fluoroscopy) and a reckless one (the
needle pushed to depth blind, low-viscosity cement pushed fast, a quick finish:
:func:`reckless`), and a misaligned novice for a case whose patient lies rotated
(:func:`misaligned_novice`).

The expert aligns the C-arm first: the true AP and the true lateral of the plan's poses, then the
frontal arm down the pedicle (the en-face view) to place the entry on the skin, then back to the
true AP for the advance. The novices work at the C-arm's home poses.

Each persona places the needle and then injects. The expert mixes, waits until the cement has
left its liquid phase, injects 3 ml at 2 ml/min and screens a 2 s burst of lateral pulsed
fluoroscopy every 0.5 ml. The novices inject the way beginners do: 90 s after mixing (still
liquid), at 4 ml/min, with one lateral image in the middle; the fluoro-heavy novice screens
the whole injection continuously.

They drive the tests (``tests/data/personas/*.json`` are these scripts for the first case;
``python -m tests.make_personas`` rewrites them and a test checks they still match) and the
``bench`` command's headless attempt.
"""

from __future__ import annotations

import numpy as np

from simulator.anatomy.build import build_phantom
from simulator.cement.rheology import CementProduct
from simulator.fluoro.alignment import patient_frame, plan_poses
from simulator.materials import tissues
from simulator.planning import _skin_point, path_points, plan_trajectory
from simulator.scenario import load_scenario
from simulator.units import SIDES, angles_from_direction, direction_from_angles

SCENARIO = "first_case_l1"
STEP_MM = 15.0
PAUSE_S = 12.0  # time allowed for one advance step before the next shots
PULSE_HZ = 7.5  # pulsed fluoroscopy rate (assets/fluoro.toml [beam])
SINGLE_GAP_S = 9.0  # a single C-arm's 90° turn (8 s, assets/equipment.toml) and a second


def _aim(plan_or_dict) -> dict:
    a = plan_or_dict if isinstance(plan_or_dict, dict) else plan_or_dict.aim_action()
    return {"t": 0.0, **{k: v for k, v in a.items()}}


def _carm(t: float, single: bool, arm: str, pose: dict) -> dict:
    """A ``carm`` action turning ``arm`` (left out on a single C-arm) to ``pose``."""
    a = {"t": t, "do": "carm", **pose}
    if not single:
        a["arm"] = arm
    return a


def aligned_start(aim: dict, poses: dict, *, single: bool) -> list[dict]:
    """The expert's set-up: the true lateral and true AP, the en-face view to place the entry
    (one image with the needle on the skin: a dot in the pedicle's ring), back to the true AP.
    Times leave each turn (≤ 8 s) its time."""
    acts = [_carm(0.0, single, "lateral", poses["true_lateral"])]
    t = 9.0 if single else 0.0
    acts += [
        {"t": t, "do": "fluoro", "view": "lateral"},
        _carm(t + 1.0, single, "frontal", poses["en_face"]),
        {"t": t + 10.0, "do": "fluoro", "view": "ap"},
        {**aim, "t": t + 11.0},
        {"t": t + 12.0, "do": "fluoro", "view": "ap"},
        _carm(t + 13.0, single, "frontal", poses["true_ap"]),
        {"t": t + 22.0, "do": "fluoro", "view": "ap"},
    ]
    return acts


def _stepwise(
    aim: dict,
    depth_mm: float,
    *,
    injection: str,
    liquid_s: float,
    shots_per_step=("lateral", "ap"),
    extra_shots: int = 0,
    start: list[dict] | None = None,
    gap_s: float = 1.0,
) -> list[dict]:
    """The needle pushed in ``STEP_MM`` steps with shots of ``shots_per_step`` after each,
    ``gap_s`` apart (a single C-arm turns between the views: ``SINGLE_GAP_S``), then the
    injection."""
    acts = start or [
        aim,
        {"t": 1.0, "do": "fluoro", "view": "lateral"},
        {"t": 1.0 + gap_s, "do": "fluoro", "view": "ap"},
    ]
    acts = list(acts)
    t = _steps(acts, acts[-1]["t"] + 1.0, depth_mm, shots_per_step=shots_per_step, gap_s=gap_s)
    for i in range(extra_shots):
        acts.append({"t": t, "do": "fluoro", "view": ("lateral", "ap")[i % 2]})
        t += max(2.0, gap_s)
    acts += _injection(t, injection, liquid_s, gap_s=gap_s)
    acts.append({"t": acts[-1]["t"] + 5.0, "do": "finish"})
    return acts


def _steps(acts, t, depth_mm, *, shots_per_step=("lateral", "ap"), gap_s=1.0, side=None):
    """Append the advance to ``depth_mm`` in ``STEP_MM`` steps from ``t`` (s), with shots of
    ``shots_per_step`` after each (``side``: which needle, two needles); the time after."""
    done = 0.0
    while done < depth_mm - 1e-9:
        step = round(min(STEP_MM, depth_mm - done), 3)
        done += step
        acts.append({"t": t, "do": "advance", "mm": step, **({"side": side} if side else {})})
        t += PAUSE_S
        for view in shots_per_step:
            acts.append({"t": t, "do": "fluoro", "view": view})
            t += gap_s
    return t


def bipedicular_expert(plans: dict, poses: dict, *, single: bool, liquid_s: float, gap_s: float):
    """The expert in a bipedicular case: the left needle placed as in :func:`aligned_start` and
    :func:`_steps`; then the frontal arm to the right pedicle's en-face view, the right needle
    aimed on it, the true AP again and the right needle advanced the same way; then the cement
    mixed and 1.5 ml pushed through each needle in turn (2 ml/min once it has thickened, the
    lateral screened every 15 s, both views after each side)."""
    acts = aligned_start(_aim(plans["left"]), poses["left"], single=single)
    t = _steps(
        acts, acts[-1]["t"] + 1.0, round(plans["left"].depth_mm, 3), gap_s=gap_s, side="left"
    )
    right = poses["right"]
    acts += [
        _carm(t, single, "frontal", right["en_face"]),
        {"t": t + 9.0, "do": "fluoro", "view": "ap"},
        {**_aim(plans["right"]), "t": t + 10.0},
        {"t": t + 11.0, "do": "fluoro", "view": "ap"},
        _carm(t + 12.0, single, "frontal", right["true_ap"]),
        {"t": t + 21.0, "do": "fluoro", "view": "ap"},
    ]
    t = _steps(acts, t + 22.0, round(plans["right"].depth_mm, 3), gap_s=gap_s, side="right")
    acts.append({"t": t, "do": "mix"})
    if gap_s > 1.0:  # a single C-arm: turned to the lateral while the cement thickens
        acts.append({"t": t + 1.0, "do": "fluoro", "view": "lateral"})
    start = t + liquid_s + 20.0
    for side in ("left", "right"):
        acts.append({"t": round(start, 3), "do": "inject", "rate_ml_min": 2.0, "ml": 1.5,
                     "side": side})  # fmt: skip
        for k in range(3):
            acts += _burst(round(start + 1.0 + k * 15.0, 3), "lateral", 2.0)
        end = start + 45.0 + 2.0
        acts.append({"t": round(end, 3), "do": "fluoro", "view": "lateral"})
        acts.append({"t": round(end + gap_s, 3), "do": "fluoro", "view": "ap"})
        start = end + gap_s + 2.0
    acts.append({"t": acts[-1]["t"] + 5.0, "do": "finish"})
    return acts


def _burst(t: float, view: str, seconds: float) -> list[dict]:
    """The pedal held for ``seconds``: one shot and its continued pulses (7.5 per s)."""
    n = max(1, round(seconds * PULSE_HZ))
    return [{"t": t, "do": "fluoro", "view": view}] + [
        {"t": round(t + i / PULSE_HZ, 3), "do": "fluoro", "view": view, "continued": True}
        for i in range(1, n)
    ]


def _injection(t: float, style: str, liquid_s: float, *, gap_s: float = 1.0) -> list[dict]:
    """Mix at ``t`` and inject 3 ml in the given ``style`` (``expert``, ``novice``,
    ``screening``); ``liquid_s`` is when the cement leaves its liquid phase (s after mixing)."""
    acts = [{"t": t, "do": "mix"}]
    if gap_s > 1.0:  # a single C-arm: turned to the lateral while the cement thickens
        acts.append({"t": t + 1.0, "do": "fluoro", "view": "lateral"})
    if style == "expert":
        start, rate = t + liquid_s + 20.0, 2.0
    else:
        start, rate = t + 90.0, 4.0
    acts.append({"t": round(start, 3), "do": "inject", "rate_ml_min": rate, "ml": 3.0})
    duration = 3.0 / rate * 60.0
    if style == "expert":
        for k in range(6):
            acts += _burst(round(start + 1.0 + k * 15.0, 3), "lateral", 2.0)
    elif style == "novice":
        acts.append({"t": round(start + duration / 2, 3), "do": "fluoro", "view": "lateral"})
    else:
        acts += _burst(round(start + 1.0, 3), "lateral", duration)
    end = start + duration + 2.0
    acts.append({"t": round(end, 3), "do": "fluoro", "view": "lateral"})
    acts.append({"t": round(end + gap_s, 3), "do": "fluoro", "view": "ap"})
    return acts


def placement(actions: list[dict]) -> list[dict]:
    """A persona's actions before it mixes the cement (the needle placement alone)."""
    out = []
    for a in actions:
        if a["do"] in ("mix", "finish"):
            break
        out.append(a)
    return out


def build(scenario_ref: str = SCENARIO) -> dict[str, dict]:
    """The persona scripts (``vsim-script/1`` dicts) by name, for one scenario."""
    scenario = load_scenario(scenario_ref)
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")
    body = phantom.geometry.body
    d = direction_from_angles("left", plan.medial_deg, plan.caudal_deg)
    skin = np.asarray(plan.skin_point_mm)

    product = CementProduct.load(scenario.cement.product)
    liquid_s = product.liquid_end_s / product.clock_rate(scenario.cement.room_temperature_c)
    gap = SINGLE_GAP_S if scenario.equipment.c_arm == "single" else 1.0
    expert = {"injection": "expert", "liquid_s": liquid_s, "gap_s": gap}
    novice = {"injection": "novice", "liquid_s": liquid_s, "gap_s": gap}

    single = scenario.equipment.c_arm == "single"
    start = aligned_start(_aim(plan), plan_poses(plan, scenario, phantom), single=single)
    scripts = {}
    scripts["expert"] = _stepwise(_aim(plan), round(plan.depth_mm, 3), start=start, **expert)
    if scenario.targets.approach == "bipedicular":  # both pedicles (two needles, 0.8.0 on)
        plans = {s: plan if s == "left" else plan_trajectory(phantom, scenario, s) for s in SIDES}
        poses = {s: plan_poses(p, scenario, phantom) for s, p in plans.items()}
        scripts["expert"] = bipedicular_expert(
            plans, poses, single=single, liquid_s=liquid_s, gap_s=gap
        )

    # medial novice: enters the pedicle where the expert does, but 15° too medial
    pts = path_points(skin, plan.target_mm, 0.25)
    bone = np.isin(phantom.label_at(pts), tissues().group_ids("entry_bone"))
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
    scripts["medial_novice"] = _stepwise(_aim(aim_med), round(plan.depth_mm, 3), **novice)

    # shallow novice: stops in the posterior third of the body
    y_stop = body.wall_y_mm - (body.wall_y_mm - body.anterior_y_mm) / 6.0
    depth_shallow = (y_stop - skin[1]) / d[1]
    scripts["shallow_novice"] = _stepwise(_aim(plan), round(float(depth_shallow), 3), **novice)

    # anterior novice: 15 mm past the target, through the anterior cortex
    scripts["anterior_novice"] = _stepwise(_aim(plan), round(plan.depth_mm + 15.0, 3), **novice)

    # fluoro-heavy novice: the expert's path, a shot of each view after every 5 mm, then
    # more until 60 shots
    heavy = {"injection": "screening", "liquid_s": liquid_s, "gap_s": gap}
    acts = _stepwise(_aim(plan), round(plan.depth_mm, 3), **heavy)
    n = sum(1 for a in acts if a["do"] == "fluoro" and not a.get("continued"))
    scripts["fluoro_heavy_novice"] = _stepwise(
        _aim(plan), round(plan.depth_mm, 3), extra_shots=60 - n, **heavy
    )
    scripts["reckless_novice"] = reckless(_aim(plan), round(plan.depth_mm, 3))
    return {
        name: {
            "format": "vsim-script/1",
            "description": f"{name} persona, {scenario.id}",
            "actions": acts,
        }
        for name, acts in scripts.items()
    }


RUNNY = "pmma_low"
"""The low-viscosity cement the reckless novice mixes (``assets/cements.toml``)."""


def reckless(aim: dict, depth_mm: float) -> list[dict]:
    """The reckless novice: one lateral image, the needle pushed to depth in one go with no
    image on the way, the low-viscosity cement mixed and pushed fast at once (liquid, 6 ml/min), one
    image at the end and a quick finish: about 2 minutes (an expert takes 10 or more)."""
    return [
        aim,
        {"t": 0.5, "do": "fluoro", "view": "lateral"},
        {"t": 1.0, "do": "advance", "mm": depth_mm},
        {"t": 47.0, "do": "fluoro", "view": "lateral"},
        {"t": 48.0, "do": "mix", "cement": RUNNY},
        {"t": 60.0, "do": "inject", "rate_ml_min": 6.0, "ml": 3.0},
        {"t": 92.0, "do": "fluoro", "view": "lateral"},
        {"t": 125.0, "do": "fluoro", "view": "ap"},
        {"t": 127.0, "do": "finish"},
    ]


MISALIGNED_SCENARIO = "posterior_wall_l1"
"""A shipped case whose patient lies rotated on the table (``[patient]``)."""


def misaligned_novice(scenario_ref: str = MISALIGNED_SCENARIO) -> dict:
    """A novice who never turns the C-arm: on a rotated patient they read the home AP as if it
    were true and set the plan's angles against the table instead of the vertebra, so the
    needle runs off the pedicle axis by the patient's rotation and tilt (``vsim-script/1``)."""
    scenario = load_scenario(scenario_ref)
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")
    world = direction_from_angles("left", plan.medial_deg, plan.caudal_deg)
    d = patient_frame(scenario, phantom).world_from_anatomy.T @ world  # the table's angles
    medial, caudal = angles_from_direction("left", d)
    aim = {
        "do": "aim",
        "side": "left",
        "entry_mm": [round(v, 2) for v in plan.entry_mm],
        "medial_deg": round(medial, 2),
        "caudal_deg": round(caudal, 2),
    }
    product = CementProduct.load(scenario.cement.product)
    liquid_s = product.liquid_end_s / product.clock_rate(scenario.cement.room_temperature_c)
    gap = SINGLE_GAP_S if scenario.equipment.c_arm == "single" else 1.0
    acts = _stepwise(
        _aim(aim), round(plan.depth_mm, 3), injection="expert", liquid_s=liquid_s, gap_s=gap
    )
    return {
        "format": "vsim-script/1",
        "description": f"misaligned_novice persona, {scenario.id}",
        "actions": acts,
    }
