"""Attempt logs: signing, reading with validation, verify by replay (tamper tests), the
journal and recovery after a killed run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from simulator.actions import load_script, make_action
from simulator.errors import UserError
from simulator.procedure import Procedure
from simulator.records.journal import AttemptRecorder, read_journal, recover_journal
from simulator.records.log import LogError, attempt_log, read_log, script_actions
from simulator.records.signing import canonical, check_signature, sign
from simulator.scenario import load_scenario
from tests.conftest import DATA
from tests.make_personas import LOGS, TEST_KEY

ROOT = DATA.parent.parent

EXPERT_LOG = LOGS / "expert.json"

# attempts and replays take the shipped phantom from the session's cache (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_phantoms")


def cli(*args, env=None, cwd=None):
    full = {**os.environ, "VSIM_LOG_KEY": TEST_KEY.decode(), **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=300,
    )


def edited(tmp_path, change, name="edited.json"):
    log = json.loads(EXPERT_LOG.read_text())
    change(log)
    out = tmp_path / name
    out.write_text(json.dumps(log, indent=1))
    return out


# ----- signing ---------------------------------------------------------------------------------


def test_signature_covers_everything_but_itself():
    log = read_log(EXPERT_LOG)
    assert check_signature(log, TEST_KEY) is None
    assert "signature" not in json.loads(canonical(log))
    log2 = json.loads(json.dumps(log))
    log2["trainee"] = "someone else"
    assert "does not match" in check_signature(log2, TEST_KEY)
    assert "another key" in check_signature(log, b"other key")


def test_unsigned_logs_say_so():
    log = sign({"format": "vsim-attempt/1", "x": 1}, None)
    assert log["signature"]["algorithm"] == "none"
    assert "unsigned" in log["signature"]["note"]
    assert "unsigned" in check_signature(log, TEST_KEY)


# ----- verify (exit codes 0/1/2) --------------------------------------------------------------


def test_untouched_signed_log_verifies():
    r = cli("verify", str(EXPERT_LOG))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda log: log["score"].update(total=100.0), "score.total"),
        (lambda log: log["metrics"].update(fluoro_shots=3), "metrics.fluoro_shots"),
        (lambda log: log["actions"][3].update(mm=20.0), "events[3].details.goal_mm"),
    ],
    ids=["score", "metric", "action"],
)
def test_tampered_log_fails_naming_what_differs(tmp_path, change, named):
    r = cli("verify", str(edited(tmp_path, change)))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "signature does not match" in r.stdout
    assert named in r.stdout


def test_a_changed_scenario_file_fails_verify(tmp_path, monkeypatch):
    from simulator import assets
    from simulator.records.verify import verify_log

    folder = tmp_path / "scenarios"  # a copy of the shipped folder with one file edited
    shutil.copytree(ROOT / "scenarios", folder)
    edited_case = folder / "first_case_l1.toml"
    edited_case.write_text(edited_case.read_text().replace("porosity = ", "porosity =  "))
    monkeypatch.setattr(assets, "SHIPPED_SCENARIOS_DIR", folder)
    problems = verify_log(EXPERT_LOG, key=TEST_KEY)
    assert any("scenario: the file" in p and "differs" in p for p in problems), problems


def test_truncated_log_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "truncated.json"
    bad.write_bytes(EXPERT_LOG.read_bytes()[:4000])
    r = cli("verify", str(bad))
    assert r.returncode == 2
    assert "truncated or corrupt JSON" in r.stderr and "Traceback" not in r.stderr


def test_re_signed_forgery_is_caught_by_the_replay(tmp_path):
    # someone with the key edits the score and re-signs: the replay still tells
    log = json.loads(EXPERT_LOG.read_text())
    log["score"]["total"] = 100.0
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(sign(log, TEST_KEY)))
    r = cli("verify", str(forged))
    assert r.returncode == 1 and "score.total: log 100.0, replay 97.81" in r.stdout
    assert "signature" not in r.stdout


# ----- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "a log is a JSON object"),
        (b'{"format": "vsim-script/1", "actions": []}', "format: must be 'vsim-attempt/1'"),
    ],
)
def test_foreign_files_are_refused_by_name(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(LogError, match=message) as err:
        read_log(bad)
    assert str(bad) in str(err.value)


def test_a_log_missing_a_metric_is_refused(tmp_path):
    bad = edited(tmp_path, lambda log: log["metrics"].pop("in_body_ml"))
    with pytest.raises(LogError, match="metrics: missing in_body_ml"):
        read_log(bad)


def test_a_log_with_a_bad_action_names_it(tmp_path):
    bad = edited(tmp_path, lambda log: log["actions"][2].update(view="oblique"))
    with pytest.raises(LogError, match=r"actions\[2\]\.view"):
        read_log(bad)


# ----- journal and recovery ------------------------------------------------------------------

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from simulator.actions import load_script, make_action
    from simulator.records.journal import AttemptRecorder
    from simulator.procedure import Procedure
    from simulator.scenario import load_scenario

    logs, script, stop_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    proc = Procedure(load_scenario("first_case_l1"))
    rec = AttemptRecorder(proc, trainee="crash test", logs_dir=logs, key=None)
    for i, action in enumerate(load_script(script)):
        while proc.t_s < action.t:  # live: the clock runs up to each action
            proc.step()
            rec.heartbeat()
        rec.submit(action)
        if i == stop_after:
            for _ in range(150):  # 3 s more of the injection, then the crash
                proc.step()
                rec.heartbeat()
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no atexit, no flush by Python
    """
)


def test_a_killed_attempt_is_recovered_from_its_journal(tmp_path):
    script = DATA / "personas" / "expert.json"
    actions = load_script(script)
    stop_after = next(i for i, a in enumerate(actions) if a.do == "inject") + 3
    r = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), str(script), str(stop_after)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    journals = list(tmp_path.glob("*.journal.jsonl"))
    assert len(journals) == 1 and not list(tmp_path.glob("*.json"))
    header, journaled, last_s = read_journal(journals[0])
    assert header["trainee"] == "crash test"
    assert journaled == actions[: stop_after + 1]  # nothing lost
    assert last_s >= actions[stop_after].t + 2.0  # the heartbeats carry the clock on

    log = recover_journal(journals[0], key=TEST_KEY)
    assert log["recovered"] is True and check_signature(log, TEST_KEY) is None
    done = [*actions[: stop_after + 1], make_action(last_s, "finish")]
    assert script_actions(log) == done
    scenario = load_scenario("first_case_l1")
    headless = Procedure(scenario).run(done)
    expected = attempt_log(headless, trainee="crash test", started_at=header["started_at"])
    assert log["metrics"] == expected["metrics"] and log["events"] == expected["events"]
    assert log["metrics"]["injected_ml"] > 0


def test_recover_command_writes_the_log_beside_the_journal(tmp_path):
    scenario = load_scenario("first_case_l1")
    proc = Procedure(scenario, render_images=False)
    rec = AttemptRecorder(proc, trainee="cli", logs_dir=tmp_path)
    for a in load_script(DATA / "personas" / "shallow_novice.json")[:6]:
        rec.submit(a)
    rec.close()
    r = cli("recover", str(rec.journal_path))
    assert r.returncode == 0, r.stderr
    log = read_log(rec.log_path)
    assert log["recovered"] and log["trainee"] == "cli"
    assert cli("verify", str(rec.log_path)).returncode == 0


def test_a_finished_attempt_leaves_a_signed_log_and_no_journal(tmp_path):
    scenario = load_scenario("first_case_l1")
    proc = Procedure(scenario)
    rec = AttemptRecorder(proc, trainee="Ann", logs_dir=tmp_path, key=TEST_KEY)
    for a in load_script(DATA / "personas" / "anterior_novice.json"):
        rec.submit(a)
    while not proc.finished:
        proc.step()
    path = rec.finish()
    assert not rec.journal_path.exists()
    log = read_log(path)
    assert check_signature(log, TEST_KEY) is None
    assert log["images"]["lateral"] and log["images"]["ap"]
    assert log["metrics"] == Procedure(scenario).run(script_actions(log)).metrics()


def _header(**change) -> dict:
    from simulator.records.journal import chain_mac

    header = {
        "format": "vsim-journal/2",
        "scenario": {"id": "first_case_l1", "sha256": "0" * 64},
        "seed": 1,
        "trainee": "x",
        "started_at": "2026-01-01T00:00:00+00:00",
        "chain": "SHA-256",
        **change,
    }
    return {**header, "mac": chain_mac(None, "", header)}


def test_a_damaged_journal_header_is_refused_by_field(tmp_path):
    bad = tmp_path / "x.journal.jsonl"
    for change, field in (
        ({"seed": "abc"}, r"header\.seed"),
        ({"seed": -1}, r"header\.seed"),
        ({"seed": 2**40}, r"header\.seed"),
        ({"trainee": "a\rb"}, r"header\.trainee"),
        ({"format": "vsim-journal/1"}, r"header\.format"),
        ({"scenario": 1}, r"header\.scenario"),
        ({"chain": "md5"}, r"header\.chain"),
    ):
        bad.write_text(json.dumps(_header(**change)) + "\n")
        with pytest.raises(UserError, match=field):
            read_journal(bad)
    bad.write_text(json.dumps({**_header(), "seed": 2}) + "\n")  # edited after the MAC
    with pytest.raises(UserError, match="line 1"):
        read_journal(bad)


def test_run_writes_a_scored_signed_log(tmp_path):
    out = tmp_path / "a.json"
    r = cli(
        "run", "--scenario", "first_case_l1", "--script",
        str(DATA / "personas" / "medial_novice.json"), "--log", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "score 40.0 failed (critical: needle_in_canal)" in r.stdout
    assert check_signature(read_log(out), TEST_KEY) is None
    shutil.copy(out, tmp_path / "b.json")
    assert cli("verify", str(out), str(tmp_path / "b.json")).returncode == 0


def test_an_attempt_ended_by_the_clock_verifies(tmp_path):
    # the window's attempts have no finish action when time runs out: the log must still
    # replay to the same end
    from simulator.records.verify import verify_log

    scenario = load_scenario("first_case_l1")
    actions = [*load_script(DATA / "personas" / "expert.json")[:3], make_action(1900.0, "mix")]
    proc = Procedure(scenario).run(actions)
    assert proc.events[-1].details["reason"] == "time limit"
    out = tmp_path / "clock.json"
    out.write_text(json.dumps(attempt_log(proc, trainee="t", key=TEST_KEY)))
    assert verify_log(out, key=TEST_KEY) == []
