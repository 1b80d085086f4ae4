"""``python -m tests.make_adversarial`` rewrites the adversarial scripts under
tests/data/adversarial/<scenario>/: valid scripts written to make an attempt as long and as
expensive as the action vocabulary allows. ``bench`` reports the worst wall time over them and
``tests/test_supplies.py`` runs them to their (bounded) end.

The placement comes from the planner, so the needle is in the body and the cement flows; the
``fuzz_*`` scripts are random 37-action scripts (seeded) that were among the slowest found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simulator.actions import ACTIONS
from simulator.anatomy.build import build_phantom
from simulator.planning import plan_trajectory
from simulator.scenario import load_scenario

OUT = Path(__file__).parent / "data" / "adversarial"


def placement(scenario_id: str) -> list[dict]:
    """Aim at the planned entry and advance to the target (left)."""
    s = load_scenario(scenario_id)
    plan = plan_trajectory(build_phantom(s), s, "left")
    aim = plan.aim_action()
    return [{"t": 0.0, **aim}, {"t": 0.5, "do": "advance", "mm": plan.depth_mm}]


def open_ended_inject(place: list[dict]) -> list[dict]:
    """Runny cement pushed fast with no volume given (once: 272 ml until it set)."""
    return [
        *place,
        {"t": 1.0, "do": "mix", "cement": "pmma_low"},
        {"t": 2.0, "do": "inject", "rate_ml_min": 20.0},
    ]


def pulse_flood(place: list[dict]) -> list[dict]:
    """The largest exposures, back to back, at t = 0 (once: 8 million seconds of fluoro)."""
    return [{"t": 0.0, "do": "fluoro", "view": v, "pulses": 600} for v in ("ap", "lateral") * 5]


def inject_toggle(place: list[dict]) -> list[dict]:
    """Start and stop every second: each start is a new rate, so a new pressure field."""
    out = [*place, {"t": 1.0, "do": "mix"}]
    for k in range(240):
        t = 120.0 + k
        out.append({"t": t, "do": "inject", "rate_ml_min": 20.0 if k % 2 else 0.05})
        out.append({"t": t + 0.5, "do": "stop"})
    return out


def needle_sweep(place: list[dict]) -> list[dict]:
    """Cement in, then the tip moved back and forth through the body while injecting."""
    out = [*place, {"t": 1.0, "do": "mix"}, {"t": 150.0, "do": "inject", "rate_ml_min": 6.0}]
    for k in range(60):
        out.append({"t": 151.0 + 2 * k, "do": "withdraw" if k % 2 else "advance", "mm": 8.0})
    return out


def fuzz(seed: int, place: list[dict], n: int = 37) -> list[dict]:
    """A random valid script after the placement (as a fuzzer would write it)."""
    rng = np.random.default_rng(seed)
    t, out = 1.0, list(place)
    for _ in range(n):
        t += float(rng.choice([0.0, rng.uniform(0, 5), rng.uniform(0, 120)]))
        do = str(rng.choice(list(ACTIONS)))
        a: dict = {"t": round(t, 3), "do": do}
        if do == "aim":
            a.update(
                side=str(rng.choice(["left", "right"])),
                entry_mm=[float(rng.uniform(-60, 60)), float(rng.uniform(-30, 30))],
                medial_deg=float(rng.uniform(-45, 60)),
                caudal_deg=float(rng.uniform(-45, 45)),
            )
        elif do in ("advance", "withdraw"):
            a["mm"] = float(rng.uniform(0.01, 250))
        elif do == "fluoro":
            a.update(view=str(rng.choice(["ap", "lateral"])), pulses=int(rng.integers(1, 601)))
        elif do == "inject":
            a["rate_ml_min"] = float(rng.uniform(0.05, 20))
            if rng.uniform() < 0.5:
                a["ml"] = float(rng.uniform(0.01, 10))
        if do == "finish" and rng.uniform() < 0.8:
            continue
        out.append(a)
    return out


CASES = {
    "venous_risk_l2": {
        "open_ended_inject": open_ended_inject,
        "pulse_flood": pulse_flood,
        "inject_toggle": inject_toggle,
        "needle_sweep": needle_sweep,
        "fuzz_8": lambda p: fuzz(8, p),
        "fuzz_24": lambda p: fuzz(24, p),
    },
    "cleft_l1_grade3": {"fuzz_8": lambda p: fuzz(8, p), "fuzz_11": lambda p: fuzz(11, p)},
}


def main() -> None:
    for scenario_id, cases in CASES.items():
        folder = OUT / scenario_id
        folder.mkdir(parents=True, exist_ok=True)
        place = placement(scenario_id)
        for name, make in cases.items():
            script = {
                "format": "vsim-script/1",
                "description": f"adversarial: {name} ({(make.__doc__ or 'fuzz').strip()})",
                "actions": make(place),
            }
            (folder / f"{name}.json").write_text(json.dumps(script, indent=1) + "\n")
            print(folder / f"{name}.json", len(script["actions"]), "actions")


if __name__ == "__main__":
    main()
