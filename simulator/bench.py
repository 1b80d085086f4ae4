"""Performance figures for ``python run_sim.py bench`` (DESIGN §6).

Figures so far: phantom build time (budget ≤ 2 s) for the default scenario and the slowest
shipped scenario, planning time, and the process's peak resident memory (budget ≤ 600 MB).
Later parts of the simulator add their own figures here; no test asserts a time.
"""

from __future__ import annotations

import platform
import resource
import time

from simulator.anatomy.build import build_phantom
from simulator.assets import scenarios_dir
from simulator.planning import plan_trajectory
from simulator.scenario import load_scenario

DEFAULT_SCENARIO = "first_case_l1"


def run_bench(*, repeat: int = 3) -> dict:
    """Measure and return the figures (seconds, MB) as a JSON-safe dict."""
    per_scenario = {}
    for path in sorted(scenarios_dir().glob("*.toml")):
        scenario = load_scenario(path)
        best = min(_timed(lambda s=scenario: build_phantom(s)) for _ in range(repeat))
        per_scenario[scenario.id] = round(best, 4)
    scenario = load_scenario(DEFAULT_SCENARIO)
    phantom = build_phantom(scenario)
    plan_s = min(_timed(lambda: plan_trajectory(phantom, scenario, "left")) for _ in range(repeat))
    return {
        "phantom_build_s": per_scenario[DEFAULT_SCENARIO],
        "phantom_build_s_max": max(per_scenario.values()),
        "phantom_build_s_by_scenario": per_scenario,
        "phantom_voxels": int(phantom.labels.size),
        "phantom_mb": round(phantom.nbytes / 1e6, 1),
        "plan_s": round(plan_s, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
