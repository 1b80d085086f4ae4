"""``sweep``: a scenario's persona variants over seeds, on the batch path, and the difficulty
report an educator calibrates a new case with before residents meet it.

Each job is one headless attempt: a persona's script (:mod:`simulator.personas`, planned once
here for the scenario) on the scenario's phantom with another seed (the bone heterogeneity,
so the cement's spread and leaks, changes with it). The jobs run on
:class:`simulator.batch.Batch` (this process, local processes, or a Dask cluster); a worker
keeps the scenario's phantom and re-seeds it (:func:`~simulator.anatomy.build.reseeded`). The
report (:func:`summarize`) gives per persona the pass rate with its 95 % interval, the score's
distribution and the leak risk by site with intervals; :mod:`simulator.sweep.report` writes it
as text, CSV and HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from simulator.errors import UserError

PERSONAS = (
    "expert",
    "medial_novice",
    "shallow_novice",
    "anterior_novice",
    "fluoro_heavy_novice",
    "reckless_novice",
    "misaligned_novice",
)
"""The persona variants a sweep can run (``--personas``; default: all)."""

MAX_SEEDS = 1000
"""The most seeds per persona one sweep runs (bounded work)."""

SITES = ("canal", "disc", "vein", "paravertebral", "needle_tract")


@dataclass(frozen=True)
class Job:
    """One attempt of a sweep: the scenario file, a persona's script, a seed."""

    scenario_path: str
    persona: str
    seed: int
    script: str
    """The ``vsim-script/1`` JSON."""


def persona_names(text: str | None) -> list[str]:
    """``--personas``'s names (comma-separated; None: all), in :data:`PERSONAS` order;
    ``UserError`` naming the option and the allowed names otherwise."""
    if text is None:
        return list(PERSONAS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in PERSONAS]
    if bad or not names:
        raise UserError(
            f"--personas: unknown persona {bad[0]!r:.40}; allowed: {', '.join(PERSONAS)}"
            if bad
            else f"--personas: name at least one of {', '.join(PERSONAS)}"
        )
    return [p for p in PERSONAS if p in names]


def seed_count(text: str) -> int:
    """``--seeds``'s number (1–:data:`MAX_SEEDS`); ``UserError`` otherwise."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_SEEDS:
        raise UserError(f"--seeds: must be a whole number from 1 to {MAX_SEEDS}, got {text!r:.20}")
    return int(text)


def jobs_for(scenario, personas: list[str], seeds: int) -> list[Job]:
    """The sweep's jobs: each persona's script planned for ``scenario`` once, run with the
    seeds ``scenario.seed``, ``+1`` … (the first is the case's own attempt)."""
    from simulator.personas import build, misaligned_novice

    scripts = {k: v for k, v in build(scenario.path).items() if k in personas}
    if "misaligned_novice" in personas:
        scripts["misaligned_novice"] = misaligned_novice(scenario.path)
    first = scenario.scenario.seed
    return [
        Job(scenario.path, name, first + k, json.dumps(scripts[name]))
        for name in personas
        for k in range(seeds)
    ]


_CACHE: dict[str, tuple] = {}


def run_job(job: Job) -> dict:
    """One attempt of the sweep (on a worker): its score and leaks, as a row."""
    from simulator.actions import parse_script
    from simulator.anatomy.build import build_phantom, reseeded
    from simulator.procedure import Procedure
    from simulator.scenario import load_scenario
    from simulator.scoring.rules import score_attempt

    if job.scenario_path not in _CACHE:
        _CACHE.clear()  # one scenario's phantom kept per process
        scenario = load_scenario(job.scenario_path)
        _CACHE[job.scenario_path] = (scenario, build_phantom(scenario))
    scenario, base = _CACHE[job.scenario_path]
    phantom = reseeded(base, scenario, job.seed)
    actions = parse_script(job.script.encode(), path=f"{job.persona} persona")
    proc = Procedure(scenario, seed=job.seed, phantom=phantom, render_images=False)
    proc.run(actions)
    m = proc.metrics()
    s = score_attempt(scenario, m, [e.as_json() for e in proc.events])
    return {
        "persona": job.persona,
        "seed": job.seed,
        "total": s["total"],
        "passed": s["passed"],
        "critical": list(s["critical"]),
        "components": {k: c["points"] for k, c in s["components"].items()},
        "leak_ml": {site: float(m["leak_ml"][site]) for site in SITES},
        "in_body_ml": m["in_body_ml"],
        "max_blind_advance_mm": m.get("max_blind_advance_mm"),
    }


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion ``k``/``n`` (scipy's)."""
    from scipy.stats import binomtest

    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def summarize(rows: list[dict], *, leak_visible_ml: float) -> dict[str, dict]:
    """Per persona (in order of appearance): ``n``, ``passed``, ``pass_rate`` with its
    interval, the score's ``median``/``q1``/``q3``/``min``/``max``, the critical errors
    counted, and per leak site the attempts with a visible leak there (≥ ``leak_visible_ml``)
    with their rate and interval."""
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r["persona"] for r in rows):
        mine = [r for r in rows if r["persona"] == name]
        n, k = len(mine), sum(r["passed"] for r in mine)
        totals = np.asarray([r["total"] for r in mine], dtype=float)
        q1, med, q3 = np.percentile(totals, [25, 50, 75])
        critical: dict[str, int] = {}
        for r in mine:
            for c in r["critical"]:
                critical[c] = critical.get(c, 0) + 1
        leaks = {}
        for site in SITES:
            hit = sum(r["leak_ml"][site] >= leak_visible_ml for r in mine)
            leaks[site] = {"n": hit, "rate": hit / n, "ci": wilson(hit, n)}
        out[name] = {
            "n": n,
            "passed": k,
            "pass_rate": k / n,
            "pass_ci": wilson(k, n),
            "median": float(med),
            "q1": float(q1),
            "q3": float(q3),
            "min": float(totals.min()),
            "max": float(totals.max()),
            "critical": critical,
            "leaks": leaks,
        }
    return out


def run_sweep(
    scenario, personas: list[str], seeds: int, *, workers=1, scheduler=None, err=None
) -> list[dict]:
    """Every job's row, in order (personas, then seeds), on the batch path."""
    from simulator.batch import Batch, Progress, on_terminal

    jobs = jobs_for(scenario, personas, seeds)
    bar = Progress(err, len(jobs), "sweeping", enabled=err is not None and on_terminal(err))
    with Batch(workers=workers, scheduler=scheduler) as batch:
        rows = batch.map(run_job, jobs, progress=bar)
    bar.close()
    return rows
