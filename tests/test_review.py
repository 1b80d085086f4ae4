"""The assessor review (``simulator.review``): tables, CSV and HTML over 1,000 logs.

The logs are one real headless attempt (expert persona, first case, with its final lateral
and AP images) copied 1,000 times with trainee, scenario, start time, metrics and score varied
by a seeded generator; the expected numbers are computed here directly from what was written.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from simulator.actions import load_script
from simulator.errors import UserError
from simulator.procedure import Procedure
from simulator.records.log import attempt_log
from simulator.review import COLUMNS, run_review
from simulator.review.export_csv import METRIC_COLUMNS, flat_metrics
from simulator.review.summary import trend
from tests.conftest import DATA, SHIPPED, scenario_and_phantom

N_LOGS = 1000
TRAINEES = [f"trainee_{i:02d}" for i in range(12)]
SITES = ("canal", "disc", "vein", "paravertebral", "needle_tract")
CRITICAL = ("needle_in_canal", "cement_in_canal", "anterior_cortex_perforation", "venous_leak")


@functools.cache
def _real_log() -> str:
    scenario, phantom = scenario_and_phantom("first_case_l1")
    proc = Procedure(scenario, phantom=phantom, render_images=True)
    proc.run(load_script(DATA / "personas" / "expert.json"))
    log = attempt_log(proc, trainee="expert", started_at="2026-01-05T08:00:00+00:00", key=None)
    return json.dumps(log)


def real_log() -> dict:
    """The (unsigned) log of a real headless attempt with its final lateral and AP images;
    the attempt runs once per session."""
    log = json.loads(_real_log())
    assert all(log["images"].values()), "the expert's log should hold both final images"
    return log


def _score(rng: np.random.Generator, total: float, critical: list[str]) -> dict:
    parts = {"placement": 25, "cement": 35, "radiation": 25, "efficiency": 15}
    points = {k: round(m * total / 100, 2) for k, m in parts.items()}
    return {
        "total": round(sum(points.values()), 2),
        "passed": not critical and total >= 60,
        "critical": critical,
        "components": {k: {"points": p, "max": parts[k], "notes": []} for k, p in points.items()},
        "feedback": ["Keep the needle in the anterior third."],
        "rubric_version": 1,
    }


def make_logs(base: dict, folder: Path, rng: np.random.Generator, n: int) -> list[dict]:
    """``n`` varied copies of ``base`` written under ``folder`` (in per-trainee sub-folders);
    returns them in the order written."""
    logs = []
    seen = defaultdict(int)
    for i in range(n):
        log = copy.deepcopy(base)
        trainee = TRAINEES[int(rng.integers(len(TRAINEES)))]
        k = seen[trainee]  # this trainee's attempt index: skill grows with practice
        seen[trainee] += 1
        log["trainee"] = trainee
        log["scenario"]["id"] = SHIPPED[int(rng.integers(len(SHIPPED)))]
        day, minute = divmod(i, 24 * 60)
        log["started_at"] = f"2026-02-{1 + day:02d}T{minute // 60:02d}:{minute % 60:02d}:00+00:00"
        log["seed"] = int(rng.integers(2**31))
        m = log["metrics"]
        m["fluoro_time_s"] = round(float(6.0 * np.exp(-k / 30) + rng.uniform(1.0, 2.0)), 3)
        m["fluoro_shots"] = int(40 * np.exp(-k / 30) + rng.integers(8, 14))
        m["injected_ml"] = round(float(rng.uniform(1, 3)), 3)
        m["leak_ml"] = {
            s: round(float(rng.uniform(0.02, 0.4)), 3) if rng.random() < p else 0.0
            for s, p in zip(SITES, (0.03, 0.1, 0.25, 0.05, 0.08), strict=True)
        }
        if rng.random() < 0.2:
            m["breaches"] = [{"kind": "medial_wall", "depth_mm": 1.5, "t_s": 20.0}]
        critical = [CRITICAL[int(rng.integers(len(CRITICAL)))]] if rng.random() < 0.12 else []
        total = float(np.clip(35 + 50 * (1 - np.exp(-k / 25)) + rng.normal(0, 8), 0, 100))
        if rng.random() < 0.03:
            log.pop("score", None)  # an unscored log (from before scoring existed)
        else:
            log["score"] = _score(rng, total, critical)
        if rng.random() < 0.5:
            log["signature"] = {"algorithm": "HMAC-SHA256", "value": f"{i:064x}"}
        path = folder / trainee / f"attempt_{i:04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(log), encoding="utf-8")
        logs.append(log)
    return logs


BAD_FILES = {
    "truncated.json": lambda good: good[: len(good) // 2],
    "random.json": None,  # random bytes
    "foreign.json": lambda good: json.dumps({"format": "vsim-script/1", "actions": []}),
    "list.json": lambda good: "[1, 2, 3]",
    "empty.json": lambda good: "",
    "scenario.json": lambda good: '[scenario]\nid = "first_case_l1"\n',
}


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """1,000 generated logs plus corrupt files, reviewed once with CSV and HTML."""
    tmp = tmp_path_factory.mktemp("review")
    logs_dir = tmp / "logs"
    rng = np.random.default_rng(20260214)
    logs = make_logs(real_log(), logs_dir, rng, N_LOGS)
    good = (logs_dir / TRAINEES[0]).glob("*.json").__next__().read_text(encoding="utf-8")
    bad_dir = logs_dir / "incoming"
    bad_dir.mkdir()
    for name, make in BAD_FILES.items():
        if make is None:
            (bad_dir / name).write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
        else:
            (bad_dir / name).write_text(make(good), encoding="utf-8")
    (bad_dir / "a.journal.jsonl").write_text("{}\n", encoding="utf-8")  # not a log: ignored
    out, err = io.StringIO(), io.StringIO()
    csv_path, html_path = tmp / "out" / "all.csv", tmp / "out" / "report.html"
    csv_path.parent.mkdir()
    code = run_review(
        [str(logs_dir)], csv_path=str(csv_path), html_path=str(html_path), out=out, err=err
    )
    return {
        "code": code,
        "logs": logs,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "csv": csv_path,
        "html": html_path,
    }


def test_exit_0_and_every_bad_file_listed_with_a_reason(reviewed):
    assert reviewed["code"] == 0
    text = reviewed["out"]
    assert f"Skipped {len(BAD_FILES)} files:" in text
    tail = text.split("Skipped", 1)[1]
    for name in BAD_FILES:
        line = next(ln for ln in tail.splitlines() if name in ln)
        assert len(line.split(name, 1)[1].strip(": ")) > 3, line  # a reason follows the name
    assert "journal" not in text
    assert reviewed["err"] == ""  # not a terminal: no progress bar


def _table_row(text: str, title: str, name: str) -> list[str]:
    section = text.split(title, 1)[1]
    line = next(ln for ln in section.splitlines() if ln.startswith(name + " "))
    return re.split(r"\s{2,}", line.strip())


def test_trainee_numbers_match_a_direct_computation(reviewed):
    logs, text = reviewed["logs"], reviewed["out"]
    for who in (TRAINEES[3], TRAINEES[11]):
        mine = [g for g in logs if g["trainee"] == who]
        scored = [g["score"] for g in mine if "score" in g]
        totals = [s["total"] for s in scored]
        row = _table_row(text, "Scores by trainee", who)
        assert row[1:7] == [
            str(len(mine)),
            str(len(scored)),
            f"{sum(s['passed'] for s in scored) / len(scored):.0%}",
            f"{max(totals):.1f}",
            f"{np.mean(totals):.1f}",
            str(sum(len(s["critical"]) for s in scored)),
        ]
        leaks = _table_row(text, "attempts with a leak, by trainee", who)
        expected = [str(sum(g["metrics"]["leak_ml"][s] >= 0.02 for g in mine)) for s in SITES]
        assert leaks[-5:] == expected
        # fluoroscopy falls with practice in the generated data; the table must say so
        assert "↓ improving" in leaks[1] and "↓ improving" in leaks[2]
    assert f"{N_LOGS} attempts by {len(TRAINEES)} trainees" in text


def test_tables_fit_in_100_columns(reviewed):
    tables = reviewed["out"].split("Skipped", 1)[0]  # skipped files: a path and a reason
    assert max(len(ln) for ln in tables.splitlines()) <= 100


def test_csv_one_row_per_attempt_with_the_fixed_header(reviewed):
    with reviewed["csv"].open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == N_LOGS + 1
    assert all(len(r) == len(COLUMNS) for r in rows)
    assert [p.name for p in reviewed["csv"].parent.iterdir()] != []
    assert not [p for p in reviewed["csv"].parent.iterdir() if p.suffix == ".tmp"]
    by_file = {r[COLUMNS.index("file")]: dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]}
    for i in (0, 1, 500, 999):
        log = reviewed["logs"][i]
        row = next(v for k, v in by_file.items() if k.endswith(f"attempt_{i:04d}.json"))
        m = log["metrics"]
        assert row["trainee"] == log["trainee"]
        assert row["scenario_id"] == log["scenario"]["id"]
        signed = log["signature"]["algorithm"] == "HMAC-SHA256"
        assert row["signed"] == ("true" if signed else "false")
        assert float(row["leak_ml_vein"]) == m["leak_ml"]["vein"]
        assert float(row["needle_tip_mm_x"]) == m["needle_tip_mm"][0]
        assert row["breach_kinds"] == ";".join(b["kind"] for b in m["breaches"])
        assert row["endplate_contact_superior"] in ("true", "false")
        if "score" in log:
            assert float(row["score_total"]) == log["score"]["total"]
            assert row["score_critical"] == ";".join(log["score"]["critical"])
            points = log["score"]["components"]["radiation"]["points"]
            assert float(row["score_radiation_points"]) == points
        else:
            assert row["score_total"] == row["score_passed"] == ""


def test_every_metric_of_a_real_log_has_a_csv_column():
    """A metric added to the log (more may come) must get a declared column."""
    metrics = real_log()["metrics"]
    nested = {"needle_tip_mm", "breaches", "leak_ml", "endplate_contact"}
    nested |= {"leak_first_seen_s", "injected_after_leak_seen_ml"}  # per site (0.5.0 on)
    nested |= {"leak_growth_after_seen_ml"}  # per site (0.7.0 on)
    nested |= {"needles"}  # per needle (0.8.0 on)
    plain = set(metrics) - nested
    assert plain <= set(METRIC_COLUMNS), plain - set(METRIC_COLUMNS)
    assert set(flat_metrics(metrics)) <= set(METRIC_COLUMNS)


def test_html_embeds_plots_and_the_latest_images_and_nothing_external(reviewed):
    page = reviewed["html"].read_text(encoding="utf-8")
    thumbs = re.findall(r'<img class="thumb" alt="(lateral|ap) image" src="data:image/png', page)
    assert len(thumbs) == 2 * 200  # the latest 200 attempts, both views
    figures = re.findall(r'<img class="fig" [^>]*src="data:image/png;base64,', page)
    scenarios = {log["scenario"]["id"] for log in reviewed["logs"]}
    curves = re.findall(r'<img class="fig" alt="learning curves, ([a-z0-9_]+)"', page)
    assert sorted(curves) == sorted(scenarios)  # one per scenario: never pooled
    assert len(figures) == len(scenarios) + 3
    assert re.findall(r'src="(?!data:image/png;base64,)', page) == []
    outside_data = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert "http" not in outside_data and "<script" not in outside_data
    assert "<link" not in outside_data and "url(" not in outside_data
    assert "Only the latest 200 of 1000 attempts" in page
    assert "truncated.json" in page
    assert len(page) < 6_000_000  # thumbnails, not full images


def test_trainee_names_are_escaped_in_the_html(tmp_path):
    base = real_log()
    for i, name in enumerate(("<script>alert(1)</script>", "Dr $x^2$ O'Neil & co")):
        log = copy.deepcopy(base)
        log["trainee"] = name
        log["score"] = _score(np.random.default_rng(i), 70.0, [])
        (tmp_path / f"{i}.json").write_text(json.dumps(log), encoding="utf-8")
    html_path = tmp_path / "r.html"
    out = io.StringIO()
    assert run_review([str(tmp_path)], csv_path=None, html_path=str(html_path), out=out) == 0
    page = html_path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "O&#x27;Neil &amp; co" in page


def test_a_missing_path_is_a_user_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "log.json"
    with pytest.raises(UserError, match=re.escape(str(missing))):
        run_review([str(missing)], csv_path=None, html_path=None, out=io.StringIO())


def test_an_output_in_a_missing_folder_is_a_user_error(tmp_path):
    bad = tmp_path / "no" / "x.csv"
    with pytest.raises(UserError, match="--csv"):
        run_review([str(tmp_path)], csv_path=str(bad), html_path=None, out=io.StringIO())


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path):
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    err = io.StringIO()
    run_review([str(tmp_path)], csv_path=None, html_path=None, out=io.StringIO(), err=err)
    assert err.getvalue() == ""
    run_review(
        [str(tmp_path)], csv_path=None, html_path=None, out=io.StringIO(), err=err, progress=True
    )
    assert "reading logs" in err.getvalue() and "1/1" in err.getvalue()


def test_trend_reads_the_fitted_line():
    t = trend([1, 2, 3, 4], [10.0, 8.0, 6.0, 4.0])
    assert (t.first, t.last, t.word) == (pytest.approx(10.0), pytest.approx(4.0), "↓ improving")
    assert trend([1, 2], [5.0, 5.1]).word == "→ steady"
    assert trend([1, 2], [5.0, 9.0]).word == "↑ worse"
    assert trend([3], [1.0]) is None


def test_csv_cells_never_start_a_formula():
    from simulator.review.export_csv import cell

    assert cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert cell("@SUM(A1)").startswith("'") and cell("Ann") == "Ann" and cell(-1.5) == "-1.5"


def test_learning_curve_ticks_are_whole_attempts():
    """Attempt numbers are integers: no tick at 1.5 or 2.5 on a short learning curve."""
    from simulator.review.collect import Attempt
    from simulator.review.plots import learning_curves_figure

    def attempt(no: int, total: float) -> Attempt:
        return Attempt(
            file=f"a{no}.json",
            trainee="Tess",
            scenario_id="first_case_l1",
            scenario_sha256="0" * 64,
            started_at="",
            seed=1,
            simulator_version="0",
            signed=True,
            metrics={},
            score={"total": total, "passed": total >= 70},
            attempt_no=no,
        )

    fig = learning_curves_figure([attempt(1, 40.0), attempt(2, 55.0), attempt(3, 71.0)])
    ticks = fig.axes[0].get_xticks()
    lo, hi = fig.axes[0].get_xlim()
    shown = [t for t in ticks if lo <= t <= hi]
    assert len(shown) >= 2
    assert all(float(t).is_integer() for t in shown), shown


def test_the_csv_columns_of_earlier_releases_keep_their_places():
    """Release 0.6.0's header (tests/data/csv_columns_0_6_0.txt) is the start of today's; the
    image-guidance metrics and the technique points come after it."""
    from simulator.review.export_csv import LATER_COLUMNS

    old = (DATA / "csv_columns_0_6_0.txt").read_text(encoding="utf-8").split()
    assert list(COLUMNS[: len(old)]) == old
    assert COLUMNS[len(old) :] == LATER_COLUMNS
    assert "max_blind_advance_mm" in LATER_COLUMNS and "score_technique_points" in LATER_COLUMNS
