"""validate checks the painted anatomy: each vein and defect opens the path its kind says."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.anatomy.openings import opening_problems
from simulator.materials import tissues
from simulator.scenario.catalog import catalog
from tests.conftest import scenario_and_phantom

T = tissues()


@pytest.mark.parametrize("name", sorted(catalog()))
def test_every_shipped_vein_and_defect_opens_its_path(name):
    s, ph = scenario_and_phantom(name)
    assert opening_problems(s, ph) == []


def _without(ph, name: str, instead: str):
    """``ph`` with the ``name`` voxels relabelled ``instead`` (a copy: ``ph`` is shared)."""
    labels = ph.labels.copy()
    labels[labels == T.id(name)] = T.id(instead)
    return dataclasses.replace(ph, labels=labels)


def test_a_wall_defect_that_does_not_reach_the_canal_is_reported():
    s, ph = scenario_and_phantom("posterior_wall_l1")
    ph = _without(ph, "cortical_defect", "cortical")
    fields = [f for f, _ in opening_problems(s, ph)]
    assert fields == ["defects[0].position_mm"]


def test_a_vein_cut_off_from_the_plexus_is_reported():
    s, ph = scenario_and_phantom("first_case_l1")
    ph = _without(ph, "epidural_vein", "epidural_fat")
    problems = opening_problems(s, ph)
    assert [f for f, _ in problems] == ["veins[0].position_mm"]
    assert "epidural plexus" in problems[0][1]
    assert np.isin(ph.labels, T.ids("basivertebral_vein")).any()
