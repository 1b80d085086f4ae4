"""Shared fixtures. The window tests run with SDL's dummy drivers (no display, no sound)."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "disk")
os.environ.setdefault("MPLBACKEND", "Agg")

import functools
from pathlib import Path

import numpy as np
import pytest

from simulator.anatomy.build import build_phantom
from simulator.assets import SHIPPED_SCENARIOS_DIR
from simulator.scenario import load_scenario

DATA = Path(__file__).parent / "data"
ROOT_SCENARIOS = SHIPPED_SCENARIOS_DIR
SHIPPED = sorted(p.stem for p in SHIPPED_SCENARIOS_DIR.glob("*.toml"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator for tests that need random numbers."""
    return np.random.default_rng(20261122)


@functools.cache
def scenario_and_phantom(ref: str, seed: int | None = None):
    """(scenario, phantom) built once per test session."""
    scenario = load_scenario(ref)
    return scenario, build_phantom(scenario, seed=seed)
