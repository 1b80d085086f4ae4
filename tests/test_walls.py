"""Wall contact: ``validate``, ``plan`` and a headless run of the plan agree (one definition,
``simulator.needle.walls``)."""

from __future__ import annotations

import json

import pytest

from simulator.anatomy.build import build_phantom
from simulator.cli import main
from simulator.planning import plan_trajectory
from simulator.procedure import Procedure
from simulator.scenario import load_scenario
from tests.conftest import ROOT_SCENARIOS

SOURCE = ROOT_SCENARIOS / "narrow_pedicles_t11.toml"


def narrow_case(folder, width_mm: float):
    """The shipped narrow-pedicle case (13 G, bipedicular) with pedicles ``width_mm`` wide."""
    sid = f"narrow_{width_mm:g}".replace(".", "_")
    text = SOURCE.read_text(encoding="utf-8")
    text = text.replace('id = "narrow_pedicles_t11"', f'id = "{sid}"')
    text = text.replace("width_mm = 5.5", f"width_mm = {width_mm}")
    path = folder / f"{sid}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def plan_script(path, tmp_path, build=build_phantom):
    """A script that follows the left plan to its depth, then finishes (the phantom from
    ``build``)."""
    scenario = load_scenario(path)
    plan = plan_trajectory(build(scenario), scenario, "left")
    actions = [
        {"t": 0.0, **plan.aim_action()},
        {"t": 1.0, "do": "advance", "mm": round(plan.depth_mm, 3)},
        {"t": 120.0, "do": "finish"},
    ]
    out = tmp_path / "plan.json"
    out.write_text(json.dumps({"format": "vsim-script/1", "actions": actions}))
    return out


@pytest.mark.parametrize(("width_mm", "contact"), [(4.0, True), (5.5, False)])
def test_validate_plan_and_run_agree_on_wall_contact(
    tmp_path, capsys, width_mm, contact, shared_phantoms
):
    # the three commands and the script's plan read one build of the case (tests/conftest.py)
    path = narrow_case(tmp_path, width_mm)

    code = main(["validate", str(path)])
    said = capsys.readouterr().out
    assert (code == 2) is contact, said
    assert ("touches a pedicle wall" in said) is contact, said

    assert main(["plan", str(path), "--side", "left"]) == 0
    said = capsys.readouterr().out
    assert ("touches a pedicle wall" in said) is contact, said

    script = plan_script(path, tmp_path, shared_phantoms)
    assert main(["run", "--scenario", str(path), "--script", str(script)]) == 0
    said = capsys.readouterr().out
    assert "breaches: none" in said, said  # the tip stays in the pedicle: no breach
    assert ("wall contact: left pedicle" in said) is contact, said


def test_a_contact_is_an_event_once_per_pass_and_not_a_breach(tmp_path, shared_phantoms):
    from simulator.actions import load_script

    path = narrow_case(tmp_path, 4.0)
    script = plan_script(path, tmp_path, shared_phantoms)  # the attempt reads the same build
    proc = Procedure(load_scenario(path), render_images=False)
    proc.run(load_script(script))
    contacts = [e for e in proc.events if e.kind == "wall_contact"]
    assert len(contacts) == 1 and contacts[0].details["side"] == "left"
    assert not [e for e in proc.events if e.kind == "breach"]
    assert proc.metrics()["breaches"] == []
