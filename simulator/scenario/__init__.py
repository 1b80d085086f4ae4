"""Scenario files: declarations (``schema``), loading and validation (``load``), dataclasses."""

from simulator.scenario.catalog import find_scenario, list_scenarios
from simulator.scenario.docs import schema_markdown
from simulator.scenario.ids import ID_RULE, is_scenario_id
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
    "ID_RULE",
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
    "find_scenario",
    "is_scenario_id",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario_path",
    "schema_markdown",
]
