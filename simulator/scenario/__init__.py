"""Scenario files: declarations (``schema``), loading and validation (``load``), dataclasses."""

from simulator.scenario.docs import schema_markdown
from simulator.scenario.load import load_scenario, parse_scenario, resolve_scenario_path
from simulator.scenario.model import (
    Canal,
    Cement,
    Defect,
    Equipment,
    Expert,
    Pedicles,
    Scenario,
    ScenarioInfo,
    Targets,
    Vein,
    Vertebra,
)
from simulator.scenario.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Canal",
    "Cement",
    "Defect",
    "Equipment",
    "Expert",
    "Pedicles",
    "Scenario",
    "ScenarioInfo",
    "Targets",
    "Vein",
    "Vertebra",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario_path",
    "schema_markdown",
]
