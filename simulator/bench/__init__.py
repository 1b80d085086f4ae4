"""Performance figures for ``python run_sim.py bench``.

Figures so far: phantom build time (budget ≤ 2 s) for the default scenario and the slowest
shipped scenario, planning time, both fluoroscopy views rendered with needle and cement
(budget ≤ 5 ms, anatomy cached), one perspective anatomy image at a new C-arm pose
(``render_new_pose_ms`` p50 and ``_p90``, issue 13's budget ≤ 120 ms, target ≈ 100 ms; with
``raycast_before_after``: today's μ-volume caster against it on the same poses), and the
process's peak resident memory (budget ≤ 600 MB).
Later parts of the simulator add their own figures here; no test asserts a time.
"""

from __future__ import annotations

import platform
import resource
import time

from simulator.anatomy.build import build_phantom
from simulator.assets import PROJECT_ROOT
from simulator.bench.cement import bench_cement
from simulator.bench.headless import DEFAULT_SCENARIO, bench_headless
from simulator.planning import plan_trajectory
from simulator.scenario import list_scenarios, load_scenario

SKIPPABLE = ("adversarial", "verify", "cold", "raycast", "window", "startup")
"""Parts of the bench that ``--skip`` can leave out (the longest; each has tests of its own:
the adversarial scripts in tests/test_supplies.py, the batch verify in tests/test_batch.py,
a cold build (a fresh process) is an ordinary build, which most tests do; the ray casters in
tests/test_raycast.py; the window's frame times and the start-up in tests/test_cli.py, on
fewer frames and one start)."""


def run_bench(*, repeat: int = 3, skip: tuple[str, ...] = ()) -> dict:
    """Measure and return the figures (seconds, MB) as a JSON-safe dict; the ``skip`` parts
    (:data:`SKIPPABLE`) are left out."""
    per_scenario = {}
    for path in list_scenarios():
        scenario = load_scenario(path)
        best = min(_timed(lambda s=scenario: build_phantom(s)) for _ in range(repeat))
        per_scenario[scenario.id] = round(best, 4)
    scenario = load_scenario(DEFAULT_SCENARIO)
    phantom = build_phantom(scenario)
    plan_s = min(_timed(lambda: plan_trajectory(phantom, scenario, "left")) for _ in range(repeat))
    imaging = _bench_imaging(scenario, phantom)
    headless = bench_headless(repeat)
    cement = bench_cement()
    from simulator.ui.bench import ui_frame_ms  # window frame time: injecting, turning

    window = {} if "window" in skip else ui_frame_ms()
    startup = {} if "startup" in skip else bench_startup()
    cold = {} if "cold" in skip else bench_cold_build(sorted(per_scenario))
    attempt_mb = bench_attempt_memory()
    # the memory budget is the window's and one attempt's: read before the adversarial runs,
    # which build two more phantoms
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    # the cone-beam ray caster is not in the window yet: its memory (numba, the anatomy
    # volume) is reported on its own, before the comparison with today's μ-volume caster
    new_pose = _bench_new_pose(phantom)
    peak_rss_raycast_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    before_after = None if "raycast" in skip else raycast_before_after(phantom)
    adversarial = {} if "adversarial" in skip else run_adversarial()
    from simulator.bench.verify import bench_verify

    verify = {} if "verify" in skip else bench_verify()
    return {
        "phantom_build_s": per_scenario[DEFAULT_SCENARIO],
        "phantom_build_s_max": max(per_scenario.values()),
        "phantom_build_s_by_scenario": per_scenario,
        **cold,
        "phantom_voxels": int(phantom.labels.size),
        "phantom_mb": round(phantom.nbytes / 1e6, 1),
        "plan_s": round(plan_s, 4),
        **imaging,
        **new_pose,
        "raycast_before_after": before_after,
        **headless,
        **cement,
        **adversarial,
        **verify,  # verify_logs_per_s_1_worker, _2_workers, verify_cluster_start_s
        **window,  # ui_frame_ms_p50/p95: the worse of injecting and turning, and each
        **startup,
        "peak_rss_mb": peak_rss_mb,
        "peak_rss_attempt_mb": attempt_mb,
        "peak_rss_with_raycast_mb": peak_rss_raycast_mb,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _bench_imaging(scenario, phantom) -> dict:
    """Time one exposure of both views (the C-arm's home poses, perspective, 368²) with a
    needle and a cement bolus in place (the poses' anatomy cached), median of 50 after a
    warm-up; ``fluoro_cache_build_s``: the imager's set-up and the two poses' anatomy."""
    import numpy as np

    from simulator.fluoro import CementField, NeedleRender
    from simulator.fluoro.alignment import make_carm
    from simulator.fluoro.device import HOME
    from simulator.releases import ModelOptions

    t0 = time.perf_counter()
    imager = make_carm(scenario, phantom, seed=1, images=True, model=ModelOptions()).imager
    for pose in HOME.values():
        imager.prepare(pose)
    cache_s = time.perf_counter() - t0
    plan = plan_trajectory(phantom, scenario, "left")
    tip = np.asarray(plan.target_mm)
    d = tip - np.asarray(plan.skin_point_mm)
    needle = NeedleRender(
        tip_mm=tuple(tip),
        direction=tuple(d / np.linalg.norm(d)),
        length_mm=scenario.equipment.needle_length_mm,
        outer_radius_mm=1.5,
        inner_radius_mm=1.2,
        stylet_in=False,
    )
    box = phantom.grid.box(tip - 8.0, tip + 8.0)
    r2 = (box.X - tip[0]) ** 2 + (box.Y - tip[1]) ** 2 + (box.Z - tip[2]) ** 2
    cement = CementField(
        slices=box.slices,
        fraction=(r2 <= 49.0).astype(np.float32) * 0.9,
        barium_mass_fraction=0.3,
    )
    times = []
    for i in range(55):
        t = time.perf_counter()
        for view, pose in HOME.items():
            imager.render(view, pose, pulse_index=i, needle=needle, cement=cement)
        times.append(time.perf_counter() - t)
    return {
        "render_both_views_ms": round(1000.0 * float(np.median(times[5:])), 3),
        "render_both_views_ms_p95": round(1000.0 * float(np.percentile(times[5:], 95)), 3),
        "fluoro_cache_build_s": round(cache_s, 4),
    }


def body_centre_mm(phantom) -> tuple[float, float, float]:
    """The treated vertebral body's centre (LPS mm): midline, halfway between its anterior rim
    and posterior wall, mid-height of the posterior wall."""
    b = phantom.geometry.body
    return (0.0, 0.5 * (b.wall_y_mm + b.anterior_y_mm), 0.0)


def _new_poses(phantom, *, size_px: int, poses: int, seed: int = 0):
    """``poses`` projections never seen before (rotation −90…90°, tilt −30…30°, mag1 field,
    ``size_px``² detector), isocentre on the treated body's centre."""
    import numpy as np

    from simulator.fluoro.geometry import CArmPose, Projection

    rng = np.random.default_rng(seed)
    iso = body_centre_mm(phantom)
    return [
        Projection.make(
            CArmPose(
                rotation_deg=float(rng.uniform(-90, 90)),
                tilt_deg=float(rng.uniform(-30, 30)),
                isocentre_mm=iso,
            ),
            size_px=size_px,
            mode="mag1",
        )
        for _ in range(poses)
    ]


def _p50_p90_ms(times) -> tuple[float, float]:
    import numpy as np

    return round(1000.0 * float(np.median(times)), 1), round(
        1000.0 * float(np.percentile(times, 90)), 1
    )


def _bench_new_pose(phantom, *, size_px: int = 368, poses: int = 12) -> dict:
    """p50 and p90 (ms) of one perspective anatomy image (``anatomy_line_integrals``, its
    default step, ``size_px``² rays) at ``poses`` new poses (:func:`_new_poses`), after one
    warm-up, and the volume's build time (s)."""
    from simulator.fluoro.anatomy_cast import ANATOMY_STEP_MM, AnatomyVolume
    from simulator.fluoro.anatomy_cast import anatomy_line_integrals as cast

    t0 = time.perf_counter()
    vol = AnatomyVolume.from_phantom(phantom)
    build_s = time.perf_counter() - t0
    projections = _new_poses(phantom, size_px=size_px, poses=poses)
    cast(vol, projections[0])
    p50, p90 = _p50_p90_ms([_timed(lambda p=p: cast(vol, p)) for p in projections])
    return {
        "render_new_pose_ms": p50,
        "render_new_pose_ms_p90": p90,
        "render_new_pose_step_mm": ANATOMY_STEP_MM,
        "anatomy_volume_build_s": round(build_s, 3),
    }


def raycast_before_after(phantom, *, size_px: int = 368, poses: int = 12) -> dict:
    """Today's μ-volume caster (``raycast.line_integrals``, 1 mm) against the anatomy caster at
    1 and 0.5 mm on the same poses, interleaved pose by pose (same machine, same moment):
    p50 and p90 (ms) of each."""
    from simulator.fluoro.anatomy_cast import AnatomyVolume, anatomy_line_integrals
    from simulator.fluoro.raycast import MuVolume, line_integrals

    mu, vol = MuVolume.from_phantom(phantom), AnatomyVolume.from_phantom(phantom)
    runs = {
        "mu_volume_1mm": lambda p: line_integrals(mu, p, step_mm=1.0),
        "anatomy_1mm": lambda p: anatomy_line_integrals(vol, p, step_mm=1.0),
        "anatomy_0.5mm": lambda p: anatomy_line_integrals(vol, p, step_mm=0.5),
    }
    projections = _new_poses(phantom, size_px=size_px, poses=poses)
    for run in runs.values():
        run(projections[0])
    times = {k: [] for k in runs}
    for p in projections:
        for k, run in runs.items():
            times[k].append(_timed(lambda run=run, p=p: run(p)))
    out = {}
    for k, ts in times.items():
        out[f"{k}_ms_p50"], out[f"{k}_ms_p90"] = _p50_p90_ms(ts)
    return out


ADVERSARIAL = PROJECT_ROOT / "tests" / "data" / "adversarial"
"""Valid scripts written to make an attempt as expensive as possible, one folder per scenario
(``python -m tests.make_adversarial``)."""


def run_adversarial() -> dict:
    """Each adversarial script headless (phantom build excluded): wall seconds, simulated
    seconds and the worst wall time (no budget yet: a bounded attempt is the point)."""
    from simulator.actions import load_script
    from simulator.procedure import Procedure

    by_script = {}
    for folder in sorted(p for p in ADVERSARIAL.glob("*") if p.is_dir()):
        scenario = load_scenario(folder.name)
        phantom = build_phantom(scenario)
        for path in sorted(folder.glob("*.json")):
            actions = load_script(path)
            t0 = time.perf_counter()
            proc = Procedure(scenario, phantom=phantom, render_images=False).run(actions)
            by_script[f"{folder.name}/{path.stem}"] = {
                "wall_s": round(time.perf_counter() - t0, 3),
                "sim_s": round(proc.t_s, 3),
            }
    worst = max(by_script, key=lambda k: by_script[k]["wall_s"]) if by_script else None
    return {
        "adversarial_worst_wall_s": by_script[worst]["wall_s"] if worst else None,
        "adversarial_worst_script": worst,
        "adversarial_by_script": by_script,
    }


_STARTUP = """
import os, sys, tempfile
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "disk"
from pathlib import Path
from simulator.ui import screens
from simulator.ui.app import App, Settings
tmp = tempfile.mkdtemp()
app = App(Settings(logs_dir=Path(tmp), trainee="bench"), size=(1280, 720))
app.show("start")
app.frame(0.0)
print("start", flush=True)
from simulator.ui.screens.procedure import start_attempt
screen = start_attempt(app, sys.argv[1])
app.frame(0.0)
print("attempt", flush=True)
"""


def bench_startup(scenario_id: str = DEFAULT_SCENARIO, *, runs: int = 2) -> dict:
    """Wall time (s) from launching Python to the trainer's first frame (the start screen) and
    to the first frame of an attempt at ``scenario_id`` (its phantom built, its imager set
    up), in a fresh process with the JIT cache as it is (``runs`` times, the last reported:
    the first may compile and cache the kernels)."""
    import subprocess
    import sys

    out = {}
    for _ in range(runs):
        t0 = time.perf_counter()
        marks = {}
        with subprocess.Popen(  # closes its pipe
            [sys.executable, "-c", _STARTUP, scenario_id],
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        ) as proc:
            for line in proc.stdout:
                marks[line.strip()] = time.perf_counter() - t0
            proc.wait(timeout=120)
        out = {
            "startup_first_frame_s": round(marks.get("start", float("nan")), 3),
            "attempt_first_frame_s": round(marks.get("attempt", float("nan")), 3),
        }
    return out


_BUILD = """
import sys, time
from simulator.anatomy.build import build_phantom
from simulator.bench.cement import bench_cement
from simulator.bench.headless import DEFAULT_SCENARIO, bench_headless
from simulator.scenario import load_scenario
t0 = time.perf_counter()
build_phantom(load_scenario(sys.argv[1]))
wall = time.perf_counter() - t0
# VmHWM: this process's own peak resident memory (ru_maxrss is inherited across exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(wall, hwm / 1024.0)
"""


_ATTEMPT = """
from simulator.actions import load_script
from simulator.procedure import Procedure
from simulator.scenario import load_scenario
Procedure(load_scenario("first_case_l1")).run(load_script("tests/data/personas/expert.json"))
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def bench_attempt_memory() -> float:
    """Peak resident memory (MB) of one expert attempt with images in a fresh process (the
    phantom built, every exposure rendered): the budget's figure without the bench's own
    repeated builds, whose freed memory the allocator keeps."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _ATTEMPT],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
        check=True,
    )
    return round(int(out.stdout.split()[-1]) / 1024.0, 1)


def bench_cold_build(scenario_ids) -> dict:
    """The phantom build in a fresh process per scenario (the first in a process: the mean
    shape is filled, the compiled kernels load): the slowest wall time (s) and the largest
    peak resident memory (MB, the whole process) over ``scenario_ids``."""
    import subprocess
    import sys

    worst_s, worst_mb = 0.0, 0.0
    for sid in scenario_ids:
        out = subprocess.run(
            [sys.executable, "-c", _BUILD, sid],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=300,
            check=True,
        ).stdout.split()
        worst_s = max(worst_s, float(out[0]))
        worst_mb = max(worst_mb, float(out[1]))
    return {
        "phantom_build_cold_s_max": round(worst_s, 3),
        "phantom_build_peak_mb": round(worst_mb, 1),
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
