"""Shared fixtures. The window tests run with SDL's dummy drivers (no display, no sound)."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "disk")
os.environ.setdefault("MPLBACKEND", "Agg")

import contextlib
import functools
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (its BLAS loaded, so that the limit below reaches it)
from threadpoolctl import threadpool_limits

import simulator.cement.solver  # noqa: F401  (pyamg and scipy.sparse: their BLAS too)
from simulator.anatomy.build import build_phantom
from simulator.assets import SHIPPED_SCENARIOS_DIR
from simulator.scenario import load_scenario

# BLAS on one thread in every test process, as the procedure and the window run the model
# (simulator.cement.solver.blas_single_thread): under xdist each worker's BLAS threads
# otherwise spin for the same cores as the other worker (tests that drive the flow solver
# directly ran 10x slower, 211 s of CPU instead of 29 s, with another job on the machine)
threadpool_limits(limits=1, user_api="blas")

DATA = Path(__file__).parent / "data"
ROOT_SCENARIOS = SHIPPED_SCENARIOS_DIR
SHIPPED = sorted(p.stem for p in SHIPPED_SCENARIOS_DIR.glob("*.toml"))


LONGEST = {
    "tests/test_cli.py::test_bench_json_has_the_build_figures": 90.0,
    "tests/test_cement.py::test_relative_risk_of_any_leak_high_versus_low_viscosity": 75.0,
    "tests/test_anatomy_properties.py::test_invariants_over_the_documented_ranges": 50.0,
    **{
        f"tests/test_stability.py::test_a_personas_pass_or_fail_holds_over_ten_seeds[{p}]": s
        for p, s in (("fluoro_heavy_novice", 35.0), ("expert", 30.0), ("shallow_novice", 22.0))
    },
}
"""The longest tests and their rough seconds on a 2-core machine (``--durations``), for
:func:`pytest_collection_modifyitems`; the rest take 15 s or less."""


def pytest_collection_modifyitems(config, items):
    """Start each xdist worker's share of the tests with some of :data:`LONGEST`.

    ``--dist worksteal`` gives each of the n workers an equal run of the collection in order
    and later moves tests from the end of a busy worker's queue to an idle one: a long test
    stays where its share put it. In file order all three longest tests fall in the first
    share, and one worker ran them one after the other while the other worked through the
    rest. Here each goes to the front of the share with the least of them so far (longest
    first); the order is otherwise kept, and is the same in every worker. Without xdist
    nothing moves."""
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    long_ = sorted((it for it in items if it.nodeid in LONGEST), key=lambda it: -LONGEST[it.nodeid])
    if n < 2 or not long_:
        return
    rest = [it for it in items if it.nodeid not in LONGEST]
    heads: list[list] = [[] for _ in range(n)]
    load = [0.0] * n
    for it in long_:
        k = load.index(min(load))
        heads[k].append(it)
        load[k] += LONGEST[it.nodeid]
    # worksteal's first shares: len(pending) // nodes_remaining tests each, in order
    ordered, left = [], len(items)
    for k in range(n):
        size = left // (n - k)
        take = size - len(heads[k])
        ordered += heads[k] + rest[:take]
        rest = rest[take:]
        left -= size
    items[:] = ordered + rest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator for tests that need random numbers."""
    return np.random.default_rng(20261122)


@functools.cache
def scenario_and_phantom(ref: str, seed: int | None = None):
    """(scenario, phantom) built once per test session."""
    scenario = load_scenario(ref)
    return scenario, build_phantom(scenario, seed=seed)


@functools.cache
def _shipped(ref: str):
    """The shipped scenario ``ref`` as loaded (to compare with)."""
    return load_scenario(ref)


def shared_build(scenario, *, seed: int | None = None, model=None, built=None):
    """``build_phantom(scenario, seed=seed, model=model)``, taken from
    :func:`scenario_and_phantom` when it is that very phantom: a shipped scenario exactly as
    shipped, its own seed (or None), today's anatomy. Anything else is built anew, or taken
    from ``built`` (a list of ``(arguments, phantom)``) when built there before with the
    same arguments, and added to it."""
    own_seed = seed is None or int(seed) == scenario.scenario.seed
    mesh = model is None or model.mesh_anatomy  # all that build_phantom reads of the model
    ref = scenario.scenario.id
    if ref in SHIPPED and mesh and own_seed and scenario == _shipped(ref):
        return scenario_and_phantom(ref)[1]
    key = (scenario, None if own_seed else int(seed), mesh)
    for done, phantom in built if built is not None else ():
        if done == key:
            return phantom
    phantom = build_phantom(scenario, seed=seed, model=model)
    if built is not None:
        built.append((key, phantom))
    return phantom


@contextlib.contextmanager
def phantoms_shared():
    """Within it, attempts, personas and in-process commands take their phantoms from
    :func:`shared_build` instead of building them (1–1.5 s each): a shipped one from the
    session's cache, any other from those built before within it. A phantom is read-only
    and its build deterministic (tests/test_anatomy.py), so what a test checks is unchanged;
    tests about the build itself do not use this. Yields the shared build function
    (``build(scenario, seed=None, model=None)``)."""
    import simulator.anatomy.build
    import simulator.personas
    import simulator.procedure

    built: list = []

    def build(scenario, *, seed=None, model=None):
        return shared_build(scenario, seed=seed, model=model, built=built)

    patch = pytest.MonkeyPatch()
    for module in (simulator.anatomy.build, simulator.personas, simulator.procedure):
        patch.setattr(module, "build_phantom", build)
    try:
        yield build
    finally:
        patch.undo()


@pytest.fixture
def shared_phantoms():
    """:func:`phantoms_shared` for one test; yields the shared build function."""
    with phantoms_shared() as build:
        yield build


def pytest_terminal_summary(terminalreporter):
    """Show the score spreads the seed-stability tests recorded (``score_spread``)."""
    lines = [
        value
        for report in terminalreporter.stats.get("passed", [])
        + terminalreporter.stats.get("failed", [])
        if report.when == "call"
        for key, value in report.user_properties
        if key == "score_spread"
    ]
    if lines:
        terminalreporter.section("seed stability (tests/test_stability.py)")
        for line in sorted(lines):
            terminalreporter.write_line(line)
