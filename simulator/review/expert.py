"""The expert's figures per scenario, for review's per-metric table: the shipped expert
persona (:func:`simulator.personas.build`) run headless on the case, its metrics kept.

An expert attempt takes a few seconds (the phantom, then the attempt), so each scenario's
figures are cached as JSON under ``$XDG_CACHE_HOME/vsim/expert/`` (``~/.cache``), named by the
scenario's id, its file's sha256 and the simulator's version: a changed case or a new
release makes them anew. A scenario that cannot be loaded (an educator's case not on
``VSIM_SCENARIOS``) or planned has no expert figures (shown as –).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simulator import __version__
from simulator.errors import UserError
from simulator.review.collect import Attempt
from simulator.review.stats import METRICS, value


def cache_folder() -> Path:
    """Where the expert figures are cached."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vsim" / "expert"


def expert_reference(scenario_ids: list[str]) -> dict[str, dict[str, float]]:
    """{scenario id: {metric key: the expert's value}} for the scenarios that have one."""
    out = {}
    for sid in scenario_ids:
        figures = _figures(sid)
        if figures:
            out[sid] = figures
    return out


def _figures(sid: str) -> dict[str, float] | None:
    from simulator.scenario import load_scenario

    try:
        scenario = load_scenario(sid)
    except UserError:
        return None
    cached = cache_folder() / f"{sid}_{scenario.sha256[:16]}_{__version__}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    figures = _run_expert(scenario)
    if figures is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(figures), encoding="utf-8")
        except OSError:
            pass  # a read-only cache: the figures are made anew next time
    return figures


def _run_expert(scenario) -> dict[str, float] | None:
    from simulator.actions import parse_script
    from simulator.personas import build
    from simulator.procedure import Procedure
    from simulator.records.log import attempt_log

    try:
        script = build(scenario.id)["expert"]
    except (UserError, ValueError):
        return None
    actions = parse_script(json.dumps(script).encode(), path=f"{scenario.id} expert")
    proc = Procedure(scenario, render_images=False).run(actions)
    log = attempt_log(proc, trainee="expert", started_at="2000-01-01T00:00:00+00:00")
    a = Attempt(
        file="",
        trainee="expert",
        scenario_id=scenario.id,
        scenario_sha256=scenario.sha256,
        started_at=log["started_at"],
        seed=proc.seed,
        simulator_version=__version__,
        signed=False,
        metrics=log["metrics"],
        score=log["score"],
    )
    return {key: v for key, _, _ in METRICS if (v := value(a, key)) is not None}
