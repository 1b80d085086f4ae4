"""Scenario ids → files, over the search path of :func:`simulator.assets.scenario_dirs`
(``VSIM_SCENARIOS`` folders first, then the shipped ``scenarios/``).

An id found in two folders is an error naming both files: a log or a journal names its case
by id only, so one id must mean one file.
"""

from __future__ import annotations

from pathlib import Path

from simulator.assets import scenario_dirs
from simulator.errors import UserError
from simulator.scenario.values import did_you_mean


def _where(label: str, path: Path) -> str:
    return f"{path} ({label})" if label == "shipped" else str(path)


def catalog() -> dict[str, tuple[Path, str]]:
    """Every scenario file of the search path: id (file stem) → (path, folder label).

    Raises :class:`UserError` when an entry of ``VSIM_SCENARIOS`` is not a folder or an id is
    in two folders.
    """
    out: dict[str, tuple[Path, str]] = {}
    for folder, label in scenario_dirs():
        for path in sorted(folder.glob("*.toml")):
            if path.stem in out:
                first, first_label = out[path.stem]
                raise UserError(
                    f"{path.stem}: scenario: the id is in two places, "
                    f"{_where(first_label, first)} and {_where(label, path)}; "
                    "an id must name one file (rename one, or take its folder out of "
                    "VSIM_SCENARIOS)"
                )
            out[path.stem] = (path, label)
    return out


def list_scenarios() -> list[Path]:
    """The scenario files of the search path, sorted by id."""
    return [path for _, (path, _) in sorted(catalog().items())]


def find_scenario(scenario_id: str) -> Path:
    """The file of the scenario ``scenario_id``; raises :class:`UserError` listing the ids
    there are (the shipped ones and those of each ``VSIM_SCENARIOS`` folder) when none."""
    found = catalog()
    if scenario_id in found:
        return found[scenario_id][0]
    groups: dict[str, list[str]] = {}
    for sid, (_, label) in found.items():  # search order, each folder sorted
        groups.setdefault(label, []).append(sid)
    listed = "; ".join(
        f"{'shipped ids' if label == 'shipped' else 'ids in ' + label}: {', '.join(ids)}"
        for label, ids in groups.items()
    )
    raise UserError(
        f"{scenario_id}: scenario: no scenario with this id"
        f"{did_you_mean(scenario_id, found)}; {listed}"
    )
