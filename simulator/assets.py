"""Read-only access to the tables in ``assets/`` (materials, anatomy, cements, equipment, rubric).

The files are parsed once per process and returned as plain nested dicts; callers must not
mutate them. ``VSIM_ASSETS`` may point at another folder (tests use it to inject broken tables);
``VSIM_SCENARIOS`` at another folder of scenarios.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    """The folder holding the asset tables."""
    return Path(os.environ.get("VSIM_ASSETS", PROJECT_ROOT / "assets"))


def scenarios_dir() -> Path:
    """The folder where scenario ids are looked up: ``VSIM_SCENARIOS`` if set (an educator's
    own folder), else the shipped ``scenarios/``."""
    return Path(os.environ.get("VSIM_SCENARIOS", PROJECT_ROOT / "scenarios"))


@functools.cache
def _load(name: str, folder: str) -> dict:
    with open(Path(folder) / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def load_table(name: str) -> dict:
    """The parsed ``assets/<name>.toml`` (cached)."""
    return _load(name, str(assets_dir()))
