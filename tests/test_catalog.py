"""Scenario ids and where they are found: one id rule (loader, journal, log reader) and the
``VSIM_SCENARIOS`` search path in front of the shipped cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from simulator.actions import load_script
from simulator.procedure import Procedure
from simulator.records.journal import AttemptRecorder
from simulator.records.log import read_log
from simulator.scenario import find_scenario, is_scenario_id, load_scenario
from tests.conftest import DATA, ROOT_SCENARIOS
from tests.make_personas import LOGS, TEST_KEY

ROOT = DATA.parent.parent
SHORT = load_script(DATA / "personas" / "shallow_novice.json")[:6]
"""Aim, images and a first advance: a short attempt, enough for a journal and a log."""


def cli(*args, folders=()):
    env = {**os.environ, "VSIM_LOG_KEY": TEST_KEY.decode()}
    env.pop("VSIM_SCENARIOS", None)
    if folders:
        env["VSIM_SCENARIOS"] = os.pathsep.join(str(f) for f in folders)
    return subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def custom_case(folder, sid: str, source: str = "first_case_l1"):
    """A copy of a shipped case under another id, in ``folder``."""
    folder.mkdir(exist_ok=True)
    text = (ROOT_SCENARIOS / f"{source}.toml").read_text(encoding="utf-8")
    path = folder / f"{sid}.toml"
    path.write_text(text.replace(f'id = "{source}"', f'id = "{sid}"'), encoding="utf-8")
    return path


def test_one_id_rule():
    assert is_scenario_id("my-case") and is_scenario_id("first_case_l1")
    assert is_scenario_id("a" * 64)
    for bad in ("a" * 65, "My-case", "-case", "_case", "", "case.v2", None):
        assert not is_scenario_id(bad), bad


def test_a_hyphenated_case_is_journaled_recovered_and_verified(tmp_path, monkeypatch):
    folder = tmp_path / "cases"
    custom_case(folder, "my-case")
    monkeypatch.setenv("VSIM_SCENARIOS", str(folder))
    proc = Procedure(load_scenario("my-case"), render_images=False)
    rec = AttemptRecorder(proc, trainee="educator", logs_dir=tmp_path / "logs")
    for action in SHORT:
        rec.submit(action)
    rec.close()  # the program dies here: the journal stays
    r = cli("recover", str(rec.journal_path), folders=[folder])
    assert r.returncode == 0, r.stderr
    log = read_log(rec.log_path)
    assert log["recovered"] and log["scenario"]["id"] == "my-case"
    r = cli("verify", str(rec.log_path), folders=[folder])
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_too_long_id_is_refused_with_one_message(tmp_path):
    sid = "x" * 65
    path = custom_case(tmp_path, sid)
    r = cli("validate", str(path))
    assert r.returncode == 2
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    assert "scenario.id" in lines[0] and "1 to 64" in lines[0] and "65 characters" in lines[0]
    assert "Traceback" not in r.stderr


def test_custom_folders_are_searched_before_the_shipped_cases(tmp_path):
    folder = tmp_path / "cases"
    custom_case(folder, "my-case")
    script = tmp_path / "short.json"
    script.write_text(
        json.dumps({"format": "vsim-script/1", "actions": [a.as_json() for a in SHORT]})
    )
    r = cli("validate", "my-case", "first_case_l1", folders=[folder])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": ok (") == 2
    log = tmp_path / "custom.json"
    r = cli("run", "--scenario", "my-case", "--script", str(script), "--log", str(log),
            folders=[folder])  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = cli("verify", str(log), str(LOGS / "expert.json"), folders=[folder])
    assert r.returncode == 0, r.stdout + r.stderr


def test_unknown_id_lists_shipped_and_custom_ids(tmp_path, monkeypatch):
    from simulator.errors import UserError

    folder = tmp_path / "cases"
    custom_case(folder, "my-case")
    monkeypatch.setenv("VSIM_SCENARIOS", str(folder))
    with pytest.raises(UserError) as err:
        find_scenario("nope")
    text = str(err.value)
    assert f"ids in {folder}: my-case" in text
    assert "shipped ids: " in text and "first_case_l1" in text


def test_the_start_screen_lists_custom_and_shipped_cases(tmp_path, monkeypatch):
    from simulator.ui.screens.start import list_scenarios

    folder = tmp_path / "cases"
    custom_case(folder, "my-case")
    monkeypatch.setenv("VSIM_SCENARIOS", str(folder))
    ids = {s.id for s in list_scenarios()}
    assert {"my-case", "first_case_l1", "narrow_pedicles_t11"} <= ids


def test_an_id_in_two_places_is_an_error_naming_both(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    custom_case(one, "my-case")
    custom_case(two, "my-case")
    custom_case(two, "first_case_l1")
    r = cli("play", "--scenario", "my-case", folders=[one, two])  # refused before any window
    assert r.returncode == 2
    assert str(one / "my-case.toml") in r.stderr and str(two / "my-case.toml") in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = cli("validate", "venous_risk_l2", folders=[two])
    assert r.returncode == 2
    assert "first_case_l1.toml (shipped)" in r.stdout, r.stdout


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_bad_search_path_entry_is_a_clear_error(tmp_path, kind):
    entry = tmp_path / "nowhere"
    if kind == "file":
        entry.write_text("")
    r = cli("plan", "first_case_l1", "--side", "left", folders=[entry])
    assert r.returncode == 2
    assert r.stderr.startswith("error: VSIM_SCENARIOS: ") and str(entry) in r.stderr
    assert "folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1
