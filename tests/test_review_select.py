"""Which logs review counts and how it sums them (issue 16): copies of one log count once, a
trainee is one trainee however the name is spelt, the filters, trends within a scenario, and
per scenario and metric n, median, IQR and the expert's figure."""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest

from simulator.cli import main
from simulator.errors import UserError
from simulator.review import run_review
from simulator.review.collect import find_log_files, load_attempts
from simulator.review.select import make_filters
from simulator.review.stats import by_scenario
from simulator.review.summary import summarise
from tests.test_review import real_log


def write(folder, name: str, log: dict) -> None:
    (folder / name).write_text(json.dumps(log), encoding="utf-8")


def variant(base: dict, *, trainee: str, scenario="first_case_l1", when: str, total: float):
    log = copy.deepcopy(base)
    log["trainee"], log["started_at"] = trainee, when
    log["scenario"]["id"] = scenario
    log["score"]["total"] = total
    log["metrics"]["fluoro_time_s"] = total / 2.0
    return log


@pytest.fixture
def cohort(tmp_path):
    """Six logs: Ann Lee under three spellings (one a byte copy of another), Bo, a script."""
    base = real_log()
    logs = {
        "a1.json": variant(base, trainee="Ann Lee", when="2026-03-01T09:00:00+00:00", total=50),
        "a2.json": variant(base, trainee="ann  lee ", when="2026-03-02T09:00:00+00:00", total=70),
        "a3.json": variant(
            base, trainee="ANN LEE", scenario="venous_risk_l2", when="2026-03-03T09:00:00", total=60
        ),
        "b1.json": variant(base, trainee="Bo", when="2026-03-02T10:00:00+00:00", total=90),
    }
    logs["b1.json"]["origin"] = {
        "actions": "script",
        "hints": False,
        "display": {"invert": False},
        "simulator_version": "0.6.0",
        "station": "lab",
    }
    for name, log in logs.items():
        write(tmp_path, name, log)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "a2_copy.json").write_bytes((tmp_path / "a2.json").read_bytes())
    return tmp_path


def test_a_copied_log_counts_once_and_is_listed(cohort):
    dups: list = []
    attempts, _ = load_attempts(find_log_files([str(cohort)]), duplicates=dups)
    assert len(attempts) == 4
    assert [(d.file.rsplit("/", 1)[-1], d.of.rsplit("/", 1)[-1]) for d in dups] == [
        ("a2_copy.json", "a2.json")
    ]
    out = io.StringIO()
    run_review([str(cohort)], csv_path=None, html_path=None, out=out)
    assert "Duplicates: 1 files repeat an earlier log, counted once:" in out.getvalue()


def test_a_trainee_is_one_trainee_however_the_name_is_spelt(cohort):
    names: dict = {}
    attempts, _ = load_attempts(find_log_files([str(cohort)]), names=names)
    ann = [a for a in attempts if a.trainee == "Ann Lee"]
    assert len(ann) == 3 and [a.attempt_no for a in ann] == [1, 2, 3]
    assert [a.scenario_attempt_no for a in ann] == [1, 2, 1]
    assert names == {"Ann Lee": ["ANN LEE", "ann  lee "]}
    out = io.StringIO()
    run_review([str(cohort)], csv_path=None, html_path=None, out=out)
    assert "4 attempts by 2 trainees on 2 scenarios" in out.getvalue()


def test_a_tampered_log_takes_no_attempt_number(cohort):
    from simulator.review.collect import number_attempts

    attempts, _ = load_attempts(find_log_files([str(cohort)]))
    ann = [a for a in attempts if a.trainee == "Ann Lee"]
    ann[1].verification = "tampered"
    number_attempts(attempts)
    assert [a.attempt_no for a in ann] == [1, 0, 2]
    assert [a.scenario_attempt_no for a in ann] == [1, 0, 1]
    ann[1].verification, ann[2].replay = "unsigned", "differs"  # review --replay refused it
    number_attempts(attempts)
    assert [a.attempt_no for a in ann] == [1, 2, 0]


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({"trainees": ["  ann lee"]}, {"a1", "a2", "a3"}),
        ({"scenarios": ["venous_risk_l2"]}, {"a3"}),
        ({"origins": ["script"]}, {"b1"}),
        ({"origins": ["unknown"]}, {"a1", "a2", "a3"}),
        ({"since": "2026-03-02"}, {"a2", "a3", "b1"}),
        ({"until": "2026-03-02"}, {"a1", "a2", "b1"}),  # a date alone: the whole day
        ({"since": "2026-03-02T09:30", "until": "2026-03-02T23:00"}, {"b1"}),
    ],
)
def test_filters_keep_what_was_asked_and_numbers_stay(cohort, filters, kept):
    f = make_filters(**filters)
    attempts, _ = load_attempts(find_log_files([str(cohort)]))
    chosen = [a for a in attempts if f.keep(a)]
    assert {a.file.rsplit("/", 1)[-1].removesuffix(".json") for a in chosen} == kept
    if "since" in filters and "until" not in filters:  # numbered before the filter
        assert {a.attempt_no for a in chosen if a.trainee == "Ann Lee"} == {2, 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--origin", "robot"],
            "--origin: 'robot' is not one of window, script, recovered, unknown",
        ),
        (["--since", "yesterday"], "--since: 'yesterday' is not a date"),
        (["--since", "2026-03-03", "--until", "2026-03-01"], "--until: 2026-03-01 is before"),
    ],
)
def test_a_bad_filter_is_one_message_and_exit_2(cohort, capsys, args, message):
    assert main(["review", str(cohort), "--no-expert", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_filter_that_keeps_nothing_says_so(cohort):
    out = io.StringIO()
    run_review(
        [str(cohort)], csv_path=None, html_path=None, out=out, filters=make_filters(trainees=["Cy"])
    )
    assert "No attempt matches the filters (4 left out)." in out.getvalue()
    with pytest.raises(UserError):
        make_filters(until="13/03/2026")


def test_per_scenario_metric_statistics_are_numpys(cohort):
    attempts, _ = load_attempts(find_log_files([str(cohort)]))
    first = by_scenario(attempts)["first_case_l1"]
    scores = [50.0, 70.0, 90.0]
    assert first["score"].n == 3 and first["score"].median == 70.0
    assert (first["score"].q1, first["score"].q3) == tuple(np.percentile(scores, [25, 75]))
    assert first["fluoro_time_s"].median == 35.0
    assert by_scenario(attempts)["venous_risk_l2"]["score"].n == 1


def test_a_trainees_trend_is_within_each_scenario():
    """Ann improves by 10 points of fluoro time per attempt on each case, but tries the
    harder case (higher times) later: pooled, she would look worse; within cases, better."""
    from simulator.review.collect import Attempt

    def a(n_case, case, t):
        return Attempt(
            file=f"{case}{n_case}", trainee="Ann", scenario_id=case, scenario_sha256="",
            started_at="", seed=1, simulator_version="0.6.0", signed=False,
            metrics={"fluoro_time_s": t}, score=None, scenario_attempt_no=n_case,
        )  # fmt: skip

    attempts = [a(1, "easy", 40), a(2, "easy", 30), a(1, "hard", 90), a(2, "hard", 80)]
    for i, x in enumerate(attempts, 1):
        x.attempt_no = i
    t = summarise("Ann", attempts, by_scenario=False).fluoro_s
    assert t.last < t.first and t.word == "↓ improving"
    assert t.last - t.first == pytest.approx(-10.0)


@pytest.mark.usefixtures("shared_phantoms")
def test_the_expert_reference_is_the_expert_persona_run_on_the_case(cohort, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = io.StringIO()
    f = make_filters(scenarios=["first_case_l1"])
    run_review([str(cohort)], csv_path=None, html_path=None, out=out, filters=f, expert=True)
    row = next(line for line in out.getvalue().splitlines() if "score (0–100)" in line)
    expert_score = float(row.split()[-1])
    from simulator.actions import parse_script
    from simulator.personas import build
    from simulator.procedure import Procedure
    from simulator.scenario import load_scenario

    script = build("first_case_l1")["expert"]
    proc = Procedure(load_scenario("first_case_l1"), render_images=False)
    proc.run(parse_script(json.dumps(script).encode(), path="expert"))
    from simulator.records.log import attempt_log

    assert expert_score == round(attempt_log(proc, trainee="x")["score"]["total"], 1)
    assert list((tmp_path / "cache" / "vsim" / "expert").glob("first_case_l1_*.json"))
