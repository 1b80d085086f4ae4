"""Wall defect placement messages: off the wall (by how much, and where the wall is at that
height) is told apart from reaching an endplate."""

from __future__ import annotations

import pytest

from simulator.errors import ScenarioError
from simulator.scenario import parse_scenario
from tests.conftest import ROOT_SCENARIOS


def with_defect(source: str, kind: str, position, size_mm: float):
    """The shipped case ``source`` with one defect added; the problems, or [] when valid."""
    text = (ROOT_SCENARIOS / f"{source}.toml").read_text(encoding="utf-8")
    text += f'\n[[defects]]\nkind = "{kind}"\nposition_mm = {list(position)}\nsize_mm = {size_mm}\n'
    try:
        parse_scenario(text.encode(), path="case.toml")
    except ScenarioError as err:
        return err.problems
    return []


def test_a_lateral_defect_off_the_wall_says_how_far_and_where_the_wall_is():
    # T11: the body is 38 mm wide, its side wall at y = 0 is at x = ±19
    problems = with_defect("narrow_pedicles_t11", "lateral_wall", [10.0, 0.0, 0.0], 3.0)
    assert len(problems) == 1
    field, message = problems[0]
    assert field == "defects[0].position_mm"
    assert "endplate" not in message
    assert "at y = 0, z = 0 the wall is at x = ±19.0" in message
    assert "9.0 mm inside it" in message


def test_a_defect_just_past_the_side_wall_at_mid_height_is_on_it():
    # the example: 1 mm outside the T11 wall at mid-height, within the 3 mm tolerance
    assert with_defect("narrow_pedicles_t11", "lateral_wall", [20.0, 0.0, 0.0], 3.0) == []


def test_a_posterior_defect_off_the_wall_gives_the_wall_position():
    problems = with_defect("first_case_l1", "posterior_wall", [0.0, 5.0, 0.0], 4.0)
    (_, message), = problems  # fmt: skip
    assert "the wall is at y = 13.6" in message and "8.6 mm in front of it" in message
    assert "endplate" not in message


@pytest.mark.parametrize(
    ("kind", "position", "which"),
    [
        ("lateral_wall", [21.0, 0.0, 8.0], "superior"),  # the wedge: top at z 9.9 there
        ("lateral_wall", [-21.0, 0.0, -11.0], "inferior"),
        ("posterior_wall", [0.0, 13.6, -11.0], "inferior"),
    ],
)
def test_a_defect_on_its_wall_that_reaches_an_endplate_says_so(kind, position, which):
    problems = with_defect("first_case_l1", kind, position, 4.0)
    (_, message), = problems  # fmt: skip
    assert f"reaches the {which} endplate" in message, message
    assert "1 mm clear of both endplates" in message
