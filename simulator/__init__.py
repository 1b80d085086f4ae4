"""Vertebroplasty training simulator (headless model; the window lives in ``simulator.ui``).

Public API::

    from simulator import load_scenario, build_phantom, plan_trajectory
    scenario = load_scenario("first_case_l1")
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")

The three are imported when first asked for (PEP 562): the anatomy pulls in numba and
scipy (≈ 0.4 s), which a process that only signs, reads a key or prints its version does
not need.
"""

from simulator.releases import VERSION

__version__ = VERSION

_LAZY = {
    "build_phantom": "simulator.anatomy.build",
    "load_scenario": "simulator.scenario",
    "plan_trajectory": "simulator.planning",
}

__all__ = ["__version__", "build_phantom", "load_scenario", "plan_trajectory"]


def __getattr__(name: str):
    """The public functions of ``_LAZY``, imported on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
