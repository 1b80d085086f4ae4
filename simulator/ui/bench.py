"""Window frame time while injecting (the budget: 60 frames/s median, ≥ 30 at the 5th
percentile), for ``python run_sim.py bench``.

SDL's dummy video driver, a 1280×720 window, the procedure screen of the default scenario with
the needle placed by the expert persona's placement actions (up to its mixing), the cement
mixed, 300 s of curing, then an injection at 2 ml/min held on. Each frame is the app's normal
frame (input, model advanced by the real time elapsed, drawing, flip), paced at 60 frames/s
like the interactive loop; the time from the start of a frame to the end of its flip is
measured (the pacing sleep is not).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from simulator.actions import make_action

SCENARIO = "first_case_l1"
WAIT_AFTER_MIX_S = 300.0
RATE_ML_MIN = 2.0


def ui_frame_ms(n_frames: int = 300) -> dict:
    """Median and 95th percentile of the frame time (ms) over ``n_frames`` frames."""
    old = os.environ.get("SDL_VIDEODRIVER")
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    try:
        return _measure(n_frames)
    finally:
        if old is None:
            os.environ.pop("SDL_VIDEODRIVER", None)
        else:
            os.environ["SDL_VIDEODRIVER"] = old


def _measure(n_frames: int) -> dict:
    import pygame

    from simulator.personas import build
    from simulator.procedure import Procedure
    from simulator.scenario import load_scenario
    from simulator.ui.app import FPS, App, Settings
    from simulator.ui.screens.procedure import ProcedureScreen
    from simulator.ui.session import LiveSession

    with tempfile.TemporaryDirectory() as tmp:
        app = App(Settings(logs_dir=Path(tmp), trainee="bench"), size=(1280, 720))
        proc = Procedure(load_scenario(SCENARIO))
        session = LiveSession(proc)
        placement = []
        for a in build(SCENARIO)["expert"]["actions"]:
            if a["do"] in ("mix", "inject", "finish"):
                break
            placement.append(a)
        for a in placement:
            fields = {k: v for k, v in a.items() if k not in ("t", "do")}
            proc.submit(make_action(a["t"], a["do"], **fields))
        t_mix = placement[-1]["t"] + 1.0
        while proc.t_s < t_mix - 1e-9:
            session.tick()
        session.mix()
        while proc.t_s < t_mix + WAIT_AFTER_MIX_S - 1e-9:
            session.tick()
        screen = ProcedureScreen(app, session)
        app.show(screen)
        session.rate_ml_min = RATE_ML_MIN
        screen.do("inject_down")
        times = []
        period = 1.0 / FPS
        last = time.perf_counter()
        for _ in range(n_frames + 30):
            start = time.perf_counter()
            app.frame(start - last)
            last = start
            times.append(time.perf_counter() - start)
            rest = period - (time.perf_counter() - start)
            if rest > 0:
                time.sleep(rest)
        pygame.quit()
    ms = 1000.0 * np.asarray(times[30:])  # the first frames warm caches up
    return {
        "ui_frame_ms_p50": round(float(np.percentile(ms, 50)), 3),
        "ui_frame_ms_p95": round(float(np.percentile(ms, 95)), 3),
    }
