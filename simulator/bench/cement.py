"""Cement figures for ``python run_sim.py bench``: the injection's cost per tick, its speed
against real time, and the cement's image per exposure."""

from __future__ import annotations

import time

from simulator.scenario import load_scenario

DEFAULT_SCENARIO = "first_case_l1"


def bench_cement() -> dict:
    """A 3 ml injection at 2 ml/min by the expert in the default scenario: wall time per
    20 ms tick while injecting (budget: a fraction of a 16.7 ms frame), simulated seconds
    of injection per wall-clock second (budget ≥ 30), and ``cement_image_ms`` (budget ≤ 5):
    the cement as the image needs it (the voxel fill and the veins' points) made anew and
    projected on both home poses, median over the injection's second half."""
    import numpy as np

    from simulator.actions import make_action
    from simulator.cement.solver import blas_single_thread
    from simulator.personas import build, placement
    from simulator.procedure import Procedure

    scenario = load_scenario(DEFAULT_SCENARIO)
    proc = Procedure(scenario, render_images=False)
    acts = placement(build(DEFAULT_SCENARIO)["expert"]["actions"])
    for a in acts:
        proc.submit(
            make_action(a["t"], a["do"], **{k: v for k, v in a.items() if k not in ("t", "do")})
        )
    t0 = acts[-1]["t"] + 1.0
    proc.submit(make_action(t0, "mix"))
    proc.submit(make_action(t0 + 240.0, "inject", rate_ml_min=2.0, ml=3.0))
    while proc.t_s < t0 + 240.0 + 0.02:
        proc.step()
    ticks, images, aside = [], [], 0.0
    with blas_single_thread():  # as the procedure and the window run it
        start_sim, start_wall = proc.t_s, time.perf_counter()
        while proc.cement.injecting:
            t = time.perf_counter()
            proc.step()
            ticks.append(time.perf_counter() - t)
            aside += _cement_images(proc, images, len(ticks))
        wall = time.perf_counter() - start_wall - aside
    return {
        "cement_step_ms": round(1000.0 * float(np.median(ticks)), 3),
        "cement_step_ms_p95": round(1000.0 * float(np.percentile(ticks, 95)), 3),
        "cement_step_ms_max": round(1000.0 * float(np.max(ticks)), 3),
        "injection_realtime_factor": round((proc.t_s - start_sim) / wall, 1),
        "injection_ml": round(proc.cement.metrics()["injected_ml"], 3),
        "cement_image_ms": round(1000.0 * float(np.median(images[len(images) // 2 :])), 3),
    }


def _cement_images(proc, out: list, tick: int) -> float:
    """Every 50th tick: time the cement field made anew and projected on both home poses
    (appended to ``out``, s); returns the time spent (s), not the injection's."""
    if tick % 50 or proc.cement.field() is None:
        return 0.0
    from simulator.fluoro.device import HOME
    from simulator.fluoro.overlay import cement_patch, point_patch
    from simulator.fluoro.visibility import ImagingGeometry, cement_delta_mu_per_mm

    geo = ImagingGeometry.of_carm(proc.carm)
    projections = [geo.projection(pose) for pose in HOME.values()]
    t = time.perf_counter()
    proc.cement._field = None  # made anew, as after a flow step
    field = proc.cement.field()
    mu = cement_delta_mu_per_mm(field.barium_mass_fraction)
    for proj in projections:
        if field.fraction is not None:
            cement_patch(field, proj, delta_mu_per_mm=mu, grid=proc.phantom.grid)
        if field.points_mm3 is not None and field.points_mm3.size:
            point_patch(field.points_mm, field.points_mm3, proj, delta_mu_per_mm=mu)
    spent = time.perf_counter() - t
    out.append(spent)
    return spent
