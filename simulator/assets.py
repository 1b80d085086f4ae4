"""Read-only access to the tables in ``assets/`` (materials, anatomy, cements, equipment, rubric).

The files are parsed once per process and returned as plain nested dicts; callers must not
mutate them. ``VSIM_ASSETS`` may point at another folder (tests use it to inject broken tables).
``VSIM_SCENARIOS`` is a search path of scenario folders (separated by ``os.pathsep``, as
``PATH`` is) looked in before the shipped ``scenarios/``.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

from simulator.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    """The folder holding the asset tables."""
    return Path(os.environ.get("VSIM_ASSETS", PROJECT_ROOT / "assets"))


SHIPPED_SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
"""The folder of the shipped scenarios (always searched, last)."""
SHIPPED_LABEL = "shipped"


def scenario_dirs() -> list[tuple[Path, str]]:
    """The folders where scenario ids are looked up, in search order, each with the name
    messages call it by: every folder of ``VSIM_SCENARIOS`` (an educator's own cases; several
    separated by ``os.pathsep``; empty entries are skipped) by its path, then the shipped
    ``scenarios/`` as "shipped".

    Raises :class:`UserError` when an entry of ``VSIM_SCENARIOS`` is not an existing folder.
    """
    out = []
    for entry in os.environ.get("VSIM_SCENARIOS", "").split(os.pathsep):
        if not entry.strip():
            continue
        folder = Path(entry)
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "no such folder"
            raise UserError(
                f"VSIM_SCENARIOS: {entry!r}: {what}; VSIM_SCENARIOS lists folders of "
                f"scenario files separated by {os.pathsep!r} (searched before the shipped cases)"
            )
        if all(folder.resolve() != f.resolve() for f, _ in out):
            out.append((folder, str(folder)))  # a folder listed twice is searched once
    shipped = Path(SHIPPED_SCENARIOS_DIR)
    out = [(f, label) for f, label in out if f.resolve() != shipped.resolve()]
    return [*out, (shipped, SHIPPED_LABEL)]


@functools.cache
def _load(name: str, folder: str) -> dict:
    with open(Path(folder) / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def load_table(name: str) -> dict:
    """The parsed ``assets/<name>.toml`` (cached)."""
    return _load(name, str(assets_dir()))
