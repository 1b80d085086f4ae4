"""Jittered injection attempts: the batch that sets and checks the leak model's calibration.

A population is one case and one product; each attempt aims the needle on the case's planned
left trajectory with the skin entry moved by (dx, dz) and the depth by dd (each uniform in
±4 mm), mixes at 60 s and injects 2.5 ml at 2 ml/min after a wait drawn uniformly in the
product's window, headless. The draws come from one seeded generator and are shared by every
population, so that two populations differ only by what they are meant to compare. This is
the batch of ``tests/test_cement.py::test_relative_risk_of_any_leak_high_versus_low_viscosity``
(seed 11, 30 attempts per product in ``venous_risk_l2``). Not part of ``run_sim.py bench`` (it
takes minutes): ``docs/calibrate_leaks.py`` runs it on more populations and prints the figures
of ``docs/CALIBRATION.md``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from simulator.actions import Action, make_action
from simulator.anatomy.build import build_phantom
from simulator.planning import plan_trajectory
from simulator.procedure import Procedure
from simulator.scenario import load_scenario

SEED = 11
"""The generator seed of the draws (the test's)."""
JITTER_MM = 4.0
"""Half-width of the uniform jitter of the entry point (x, z) and of the depth (mm)."""
WINDOWS_S = {
    "pmma_low": (120.0, 330.0),
    "pmma_high": (60.0, 300.0),
    "pmma_medium": (120.0, 420.0),
}
"""Wait between mixing and injecting (s), drawn uniformly in these windows: low viscosity
from 2 min to the end of its runny phase (6 min), high viscosity from 1 to 5 min (the test's);
medium from 2 to 7 min, across the end of its liquid phase at 5.1 min (model choice)."""
MIX_AT_S = 60.0
INJECT_ML = 2.5
RATE_ML_MIN = 2.0
FINISH_AFTER_S = 100.0
"""The attempt ends this long after the injection starts (2.5 ml at 2 ml/min take 75 s)."""


@dataclass(frozen=True, kw_only=True)
class Draw:
    """One attempt's random part."""

    jitter_mm: tuple[float, float, float]
    """Added to the planned entry [x, z] and to the planned depth (mm)."""
    timing: float
    """Where in the product's window the injection starts, in [0, 1)."""


@dataclass(frozen=True, kw_only=True)
class Population:
    """A case and a product. ``without`` names a defect kind taken out of the case (its
    other fields, the seed and so the bone, unchanged): the matched control of a risk factor."""

    name: str
    scenario: str
    product: str
    without: str | None = None


def draws(n: int, *, seed: int = SEED) -> tuple[Draw, ...]:
    """The first ``n`` draws of the seeded generator (the same for every population; the
    first 30 are the test's)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        jitter = rng.uniform(-JITTER_MM, JITTER_MM, 3)
        out.append(Draw(jitter_mm=tuple(float(v) for v in jitter), timing=float(rng.uniform(0, 1))))
    return tuple(out)


@functools.lru_cache(maxsize=2)
def case(scenario: str, without: str | None = None):
    """(scenario, phantom, left plan) of a shipped case, with the defects of kind ``without``
    removed; the last two built are kept (a batch runs its populations one after another)."""
    s = load_scenario(scenario)
    if without is not None:
        kept = tuple(d for d in s.defects if d.kind != without)
        if len(kept) == len(s.defects):
            raise ValueError(f"{scenario} has no defect of kind {without!r}")
        s = dataclasses.replace(s, defects=kept)
    phantom = build_phantom(s)
    return s, phantom, plan_trajectory(phantom, s, "left")


def attempt_actions(plan, *, product: str, draw: Draw) -> list[Action]:
    """The actions of one attempt on ``plan`` (a :class:`~simulator.planning.Plan`)."""
    w0, w1 = WINDOWS_S[product]
    dx, dz, dd = draw.jitter_mm
    aim = plan.aim_action()
    aim.pop("do")
    aim["entry_mm"] = [aim["entry_mm"][0] + dx, aim["entry_mm"][1] + dz]
    wait = w0 + draw.timing * (w1 - w0)
    start = MIX_AT_S + wait
    return [
        make_action(0.0, "aim", **aim),
        make_action(0.1, "advance", mm=plan.depth_mm + dd),
        make_action(MIX_AT_S, "mix", cement=product),
        make_action(start, "inject", rate_ml_min=RATE_ML_MIN, ml=INJECT_ML),
        make_action(start + FINISH_AFTER_S, "finish"),
    ]


def run_attempt(population: Population, draw: Draw) -> dict:
    """The metrics of one headless attempt (``Procedure.metrics()``)."""
    s, phantom, plan = case(population.scenario, population.without)
    actions = attempt_actions(plan, product=population.product, draw=draw)
    return Procedure(s, phantom=phantom, render_images=False).run(actions).metrics()


def held_tip_injection(
    scenario, phantom, tip_mm, *, product: str, wait_s: float, rate_ml_min: float, ml: float,
    after_s: float = 10.0,
):  # fmt: skip
    """The cement model alone (release 0.5.0's), its tip held at ``tip_mm`` (mm): mix
    ``product``, wait ``wait_s`` (s), inject ``ml`` at ``rate_ml_min``, then ``after_s`` more,
    in 20 ms ticks; the balance is checked at every flow step. For the tests and the docs'
    pictures of fills and leaks."""
    from types import SimpleNamespace

    import numpy as np

    from simulator.cement.injection import CementInjection

    c = CementInjection(scenario, phantom, visible=True)
    needle = SimpleNamespace(tip_mm=np.asarray(tip_mm, dtype=float), placed=True, stylet_in=True)
    c.mix(0.0, product)
    t, dt = 0.0, 0.02
    while t < wait_s - 1e-9:
        c.step(dt, t, needle)
        t += dt
    c.inject(t, rate_ml_min, ml, needle)
    while t < wait_s + ml / rate_ml_min * 60.0 + after_s:
        c.step(dt, t, needle)
        t += dt
    return c
