"""Vertebroplasty training simulator (headless model; the window lives in ``simulator.ui``).

Public API::

    from simulator import load_scenario, build_phantom, plan_trajectory
    scenario = load_scenario("first_case_l1")
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")
"""

from simulator.anatomy.build import build_phantom
from simulator.planning import plan_trajectory
from simulator.releases import VERSION

__version__ = VERSION
from simulator.scenario import load_scenario

__all__ = ["__version__", "build_phantom", "load_scenario", "plan_trajectory"]
