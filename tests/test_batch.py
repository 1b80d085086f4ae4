"""Batches on local processes or a Dask cluster (issue 16): ``verify --scheduler`` against a
local cluster started here (loopback only) prints what ``--workers 1`` prints, in input
order; a cluster of another version is refused; bad options are one message, exit 2."""

from __future__ import annotations

import io

import pytest

from simulator.batch import Batch, run_jobs
from simulator.cli import main
from simulator.errors import UserError
from simulator.records.verify import run_verify
from tests.make_personas import LOGS, TEST_KEY


def square(x: int) -> int:
    return x * x


def fails(x: int) -> int:
    raise ValueError(f"job {x} failed")


@pytest.fixture(scope="module")
def cluster():
    """A two-worker Dask cluster on 127.0.0.1 (single-threaded worker processes)."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as c:
        yield c


def test_jobs_come_back_in_input_order_on_a_cluster(cluster):
    seen = []
    out = run_jobs(
        square, list(range(40)), scheduler=cluster.scheduler_address, progress=seen.append
    )
    assert out == [x * x for x in range(40)]
    assert seen == list(range(1, 41))  # one tick per finished job
    assert run_jobs(square, [3, 1, 2]) == [9, 1, 4]  # one worker: in this process


def test_a_failing_job_raises_here(cluster):
    with pytest.raises(ValueError, match="job 2 failed"):
        run_jobs(fails, [2], scheduler=cluster.scheduler_address)


def _short_logs(folder, n: int) -> list:
    """``n`` signed logs of short attempts on the first case (the needle placed to a different
    depth each, two shots; no cement: a replay takes a fraction of a second), written to
    ``folder``."""
    from simulator.actions import make_action
    from simulator.planning import plan_trajectory
    from simulator.procedure import Procedure
    from simulator.records.log import attempt_log, write_json_atomic
    from tests.conftest import scenario_and_phantom

    s, ph = scenario_and_phantom("first_case_l1")
    plan = plan_trajectory(ph, s, "left")
    aim = plan.aim_action()
    aim.pop("do")
    paths = []
    for i in range(n):
        actions = [
            make_action(0.0, "aim", **aim),
            make_action(1.0, "advance", mm=20.0 + 3.0 * i),
            make_action(20.0, "fluoro", view="lateral"),
            make_action(21.0, "fluoro", view="ap"),
            make_action(22.0, "finish"),
        ]
        proc = Procedure(s, phantom=ph).run(actions)
        log = attempt_log(
            proc, trainee=f"t{i}", started_at="2026-12-01T09:00:00+00:00", key=TEST_KEY
        )
        paths.append(write_json_atomic(folder / f"{i:02d}.json", log))
    return paths


def test_verify_on_a_cluster_prints_what_one_worker_prints(cluster, tmp_path, monkeypatch):
    """20 logs (and a broken and an edited one) give the same verdicts, in the same order,
    on one local worker and on the cluster."""
    monkeypatch.setenv("VSIM_LOG_KEY", TEST_KEY.decode())
    paths = _short_logs(tmp_path, 20)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    edited = tmp_path / "edited.json"
    edited.write_text(paths[0].read_text().replace('"total": ', '"total": 1', 1), encoding="utf-8")
    names = [str(p) for p in (paths[0], broken, edited, *paths[1:])]
    results = []
    for kw in ({"workers": 1}, {"scheduler": cluster.scheduler_address}):
        out, err = io.StringIO(), io.StringIO()
        code = run_verify(names, out=out, err=err, **kw)
        results.append((code, out.getvalue(), err.getvalue()))
    assert results[0] == results[1]
    code, text, errors = results[0]
    assert code == 2 and "broken.json: file: truncated or corrupt JSON" in errors
    assert f"{edited}: MISMATCH" in text
    assert text.count(": ok (signature valid; replay matches)") == 20
    assert text.index(names[0]) < text.index(str(edited)) < text.index(names[-1])  # in order


def test_a_worker_of_another_version_is_refused(cluster, monkeypatch):
    import simulator

    monkeypatch.setattr(simulator, "__version__", "9.9.9")  # this side, not the workers
    monkeypatch.setattr("simulator.batch.__version__", "9.9.9")
    refused = pytest.raises(UserError, match=r"runs vsim 0\.\d+\.\d+, this is 9\.9\.9")
    with refused, Batch(scheduler=cluster.scheduler_address):
        pass


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be a whole number from 1 to 64, got '0'"),
        (["--workers", "two"], "--workers: must be a whole number from 1 to 64"),
        (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler: cannot reach a Dask scheduler"),
    ],
)
def test_bad_batch_options_are_one_message(capsys, monkeypatch, args, message):
    monkeypatch.setattr("simulator.batch.CONNECT_TIMEOUT_S", 2)  # nothing listens on port 9
    log = str(sorted(LOGS.glob("*.json"))[0])
    assert main(["verify", log, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_review_replay_catches_a_re_signed_edit(tmp_path, monkeypatch):
    """An edited log re-signed with the shared key passes the signature check; review's
    --replay re-simulates it, warns and leaves it out."""
    import json

    from simulator.records.signing import sign
    from simulator.review import run_review

    monkeypatch.setenv("VSIM_LOG_KEY", TEST_KEY.decode())
    good = json.loads((LOGS / "expert.json").read_text())
    forged = json.loads(json.dumps(good))
    forged["trainee"] = "forger"
    forged["score"]["total"] = 99.0
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "forged.json").write_text(json.dumps(sign(forged, TEST_KEY)))
    out = io.StringIO()
    csv = tmp_path / "r.csv"
    run_review([str(tmp_path)], csv_path=str(csv), html_path=None, out=out, replay=True)
    text = out.getvalue()
    assert "Signatures: 2 valid." in text and "Replays: 1 differs, 1 ok." in text
    assert "WARNING forged.json: replay differs (verify it)" in text
    assert "1 attempts by 1 trainees" in text  # the forgery is not counted
    import csv as csv_module

    rows = list(csv_module.DictReader(csv.read_text().splitlines()))
    assert sorted(r["replay"] for r in rows) == ["differs", "ok"]
