"""Scenario files: shipped ones validate, broken ones give one clear line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.scenario import load_scenario, parse_scenario, schema_markdown
from simulator.scenario.keys import SECTIONS
from tests.conftest import DATA, SHIPPED

ROOT = Path(__file__).resolve().parent.parent
BROKEN = DATA / "broken_scenarios"

# file → the field its single error line must name
EXPECTED_FIELD = {
    "bad_syntax": "file",
    "empty": "file",
    "binary": "file",
    "not_utf8": "file",
    "wrong_type_wedge": "vertebra.wedge_percent",
    "wedge_80": "vertebra.wedge_percent",
    "negative_vein_diameter": "veins[0].diameter_mm",
    "unknown_key": "vertebra.wedge_percnt",
    "missing_level": "scenario.level",
    "defect_outside_body": "defects[0].position_mm",
    "defect_off_wall": "defects[0].position_mm",
    "vein_misses_body": "veins[0].position_mm",
    "unknown_cement": "cement.product",
    "bad_schema_version": "schema_version",
    "missing_schema_version": "schema_version",
    "unknown_section": "vertebrae",
    "bad_level": "scenario.level",
    "fill_min_above_max": "targets.fill_ml_max",
    "bad_gauge": "equipment.needle_gauge",
    "id_mismatch": "scenario.id",
    "vector_too_short": "veins[0].position_mm",
    "unknown_scoring_key": "scoring.placement_pts",
    "veins_not_array": "veins",
    "negative_seed": "scenario.seed",
    "float_seed": "scenario.seed",
    "unknown_vein_kind": "veins[0].kind",
    "missing_required_in_array": "veins[0].diameter_mm",
    "huge_number": "vertebra.body_height_mm",
    "nested_too_deep": "file",
    "schema_version_float": "schema_version",
    "title_too_long": "scenario.title",
    "too_flat": "vertebra.wedge_percent",
    "defect_reaches_endplate": "defects[0].position_mm",
    "cleft_too_big": "defects[0].position_mm",
    "no_path": "pedicles",
    "scoring_ramp_backwards": "scoring.radiation_zero_ratio",
    "scoring_shares_over_one": "scoring.target_share",
}


def test_every_broken_file_is_listed():
    assert sorted(p.stem for p in BROKEN.glob("*.toml")) == sorted(EXPECTED_FIELD)
    assert len(EXPECTED_FIELD) >= 15


@pytest.mark.usefixtures("shared_phantoms")
def test_shipped_scenarios_validate(capsys):
    paths = [str(ROOT / "scenarios" / f"{s}.toml") for s in SHIPPED]
    assert len(paths) >= 6
    assert main(["validate", *paths]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in out] == [f"{p}: ok" for p in paths]
    assert all("posterior wall" in line for line in out)  # educators need the wall's y


@pytest.mark.parametrize("name", sorted(EXPECTED_FIELD))
def test_broken_file_gives_one_line_naming_file_and_field(name, capsys):
    path = str(BROKEN / f"{name}.toml")
    assert main(["validate", path]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {EXPECTED_FIELD[name]}: "), lines[0]
    assert "Traceback" not in captured.out + captured.err


def test_validate_in_a_fresh_process_prints_no_traceback():
    """End to end, as a user runs it: every broken file at once, exit 2, one line each."""
    paths = sorted(str(p) for p in BROKEN.glob("*.toml"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), "validate", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines, strict=True):
        assert line.startswith(f"{path}: {EXPECTED_FIELD[Path(path).stem]}: ")


def test_messages_name_allowed_values():
    def first_line(name):
        with pytest.raises(ScenarioError) as err:
            load_scenario(BROKEN / f"{name}.toml")
        return str(err.value)

    assert "from 0 to 65 %" in first_line("wedge_80")
    assert "contraindication" in first_line("wedge_80")
    assert "did you mean 'wedge_percent'" in first_line("unknown_key")
    assert "pmma_low, pmma_medium, pmma_high" in first_line("unknown_cement")
    assert "'T10', 'T11'" in first_line("bad_level")
    assert "did you mean 'basivertebral'" in first_line("unknown_vein_kind")


def test_several_problems_are_all_reported():
    text = (BROKEN / "wedge_80.toml").read_text().replace("seed = 1", "seed = -1")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text.encode(), path="x.toml", stem="wedge_80")
    fields = [field for field, _ in err.value.problems]
    assert fields == ["scenario.seed", "vertebra.wedge_percent"]


def test_level_defaults_and_overrides():
    s = load_scenario("narrow_pedicles_t11")
    assert s.pedicles.width_mm == 5.5  # overridden in the file
    assert s.pedicles.height_mm == 16.0  # T11 default from assets/anatomy.toml
    assert s.vertebra.body_depth_mm == 30.0
    assert s.equipment.needle_gauge == 13


def test_scenario_is_frozen_and_hashed():
    s = load_scenario("first_case_l1")
    with pytest.raises(AttributeError):
        s.vertebra.wedge_percent = 10.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.scoring["pass_mark"] = 1.0  # type: ignore[index]
    raw = (ROOT / "scenarios" / "first_case_l1.toml").read_bytes()
    import hashlib

    assert s.sha256 == hashlib.sha256(raw).hexdigest()


def test_unknown_scenario_id_is_a_user_error(capsys):
    assert main(["plan", "first_case_l9", "--side", "left"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'first_case_l1'" in err
    assert err.count("\n") == 1


def test_readme_documents_every_key_exactly_as_declared():
    """scenarios/README.md carries the tables rendered from the schema, unchanged."""
    readme = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
    assert schema_markdown() in readme
    for sec in SECTIONS:
        for key in sec.keys:
            assert f"| `{key.name}` |" in readme


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_have_teaching_content(name):
    s = load_scenario(name)
    assert len(s.scenario.description) > 150
    assert s.targets.fill_ml_min <= s.targets.fill_ml_max
    assert s.expert.fluoro_shots > 0
    assert any(v.kind == "basivertebral" for v in s.veins)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    text = (ROOT / "scenarios" / "first_case_l1.toml").read_bytes()
    path = tmp_path / "first_case_l1.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text)
    assert load_scenario(path).id == "first_case_l1"


def test_a_folder_is_named_as_such(capsys):
    assert main(["validate", str(ROOT / "scenarios")]) == 2
    assert "is a folder" in capsys.readouterr().out
