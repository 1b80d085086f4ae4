"""The cases as the window lists them (the ``VSIM_SCENARIOS`` folders, then the shipped ones):
every scenario that loads, with a difficulty label derived from the case (scenarios carry no
difficulty key)."""

from __future__ import annotations

from simulator.errors import UserError
from simulator.scenario import list_scenarios as scenario_files
from simulator.scenario import load_scenario

ORDER = {"introductory": 0, "intermediate": 1, "advanced": 2}


def difficulty(scenario) -> str:
    """A difficulty label derived from the case (scenarios carry no difficulty key): points
    for the wedge (Genant grade), each defect, each vein beyond the basivertebral one, narrow
    pedicles (< 7 mm: little room for the 11 G needle), a single C-arm and a low-viscosity
    cement (leaks more easily)."""
    points = scenario.vertebra.wedge_percent / 20.0
    points += 2.0 * len(scenario.defects)
    points += sum(1.0 for v in scenario.veins if v.kind != "basivertebral")
    points += 2.0 if scenario.pedicles.width_mm < 7.0 else 0.0
    points += 1.0 if scenario.equipment.c_arm == "single" else 0.0
    points += 1.0 if scenario.cement.product == "pmma_low" else 0.0
    if points < 2.0:
        return "introductory"
    return "intermediate" if points < 3.5 else "advanced"


def list_scenarios() -> list:
    """Every scenario of the search path that loads, sorted introductory first, then by id."""
    out = []
    for path in scenario_files():
        try:
            out.append(load_scenario(path))
        except UserError:
            continue  # a broken file is reported by `validate`, not here
    return sorted(out, key=lambda s: (ORDER[difficulty(s)], s.id))
