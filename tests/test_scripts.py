"""Bad scripts: one line naming the action index and field, exit 2, no log written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.actions import ScriptError, make_action
from simulator.cli import main
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
BROKEN = DATA / "broken_scripts"
EXPECTED = {
    "bad_json": "file",
    "unknown_action": "actions[1].do",
    "missing_field": "actions[0].medial_deg",
    "wrong_type": "actions[2].mm",
    "decreasing_time": "actions[2].t",
    "negative_mm": "actions[2].mm",
    "unknown_view": "actions[1].view",
    "unknown_side": "actions[0].side",
    "wrong_format": "format",
    "unknown_field": "actions[2].speed",
    "pulses_float": "actions[1].pulses",
    "entry_not_pair": "actions[0].entry_mm",
}


def test_every_broken_script_is_listed():
    assert sorted(p.stem for p in BROKEN.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_script_exit_2_one_line_no_log(name, tmp_path, capsys):
    log = tmp_path / "out.json"
    path = str(BROKEN / f"{name}.json")
    code = main(["run", "--scenario", "first_case_l1", "--script", path, "--log", str(log)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}: {EXPECTED[name]}: "), err
    assert not log.exists() and list(tmp_path.iterdir()) == []


def test_messages_say_what_is_allowed(capsys):
    main(["run", "--scenario", "first_case_l1", "--script", str(BROKEN / "unknown_action.json")])
    assert "did you mean 'fluoro'" in capsys.readouterr().err
    main(["run", "--scenario", "first_case_l1", "--script", str(BROKEN / "unknown_view.json")])
    assert "'lateral', 'ap'" in capsys.readouterr().err
    main(["run", "--scenario", "first_case_l1", "--script", str(BROKEN / "decreasing_time.json")])
    assert "must not decrease" in capsys.readouterr().err


def test_bad_script_in_a_fresh_process_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_sim.py"),
            "run",
            "--scenario",
            "first_case_l1",
            "--script",
            str(BROKEN / "negative_mm.json"),
            "--log",
            str(tmp_path / "x.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_missing_script_and_bad_log_folder(tmp_path, capsys):
    assert main(["run", "--scenario", "first_case_l1", "--script", str(tmp_path / "no.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    script = str(DATA / "personas" / "expert.json")
    assert (
        main(
            [
                "run",
                "--scenario",
                "first_case_l1",
                "--script",
                script,
                "--log",
                str(tmp_path / "missing" / "x.json"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_make_action_validates():
    with pytest.raises(ScriptError, match=r"action\.mm"):
        make_action(0.0, "advance", mm=-1.0)
    assert make_action(1.0, "fluoro", view="ap").args["pulses"] == 1
