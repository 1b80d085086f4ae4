"""The command line as a user meets it: help, exit codes, preview output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for command in (
        "play", "run", "validate", "plan", "preview", "verify", "review", "replay", "recover",
        "bench",
    ):  # fmt: skip
        assert command in proc.stdout
    # no command opens the window: tests/test_ui.py checks it without a display


def test_python_dash_m_works():
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("vsim ")


def test_unknown_command_is_exit_2_without_traceback():
    proc = run("fly")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "invalid choice" in proc.stderr


@pytest.mark.usefixtures("shared_phantoms")
def test_preview_writes_a_png_sheet(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    out = tmp_path / "sub" / "prev.png"
    assert main(["preview", "cleft_l1_grade3", "--out", str(out)]) == 0
    img = imread(out)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1800
    assert float(np.std(img[..., :3])) > 0.05  # not a blank sheet
    assert [p.name for p in out.parent.iterdir()] == ["prev.png"]  # no temp file left


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("prev.jpg", "use a .png file name"),
        (".", "is a folder"),
    ],
)
def test_preview_rejects_a_bad_output_name(out, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if out == ".":
        (tmp_path / "d.png").mkdir()
        out = "d.png"
    assert main(["preview", "first_case_l1", "--out", out]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "prev.jpg").exists()


def test_preview_of_a_broken_scenario_writes_nothing(tmp_path, capsys):
    out = tmp_path / "p.png"
    broken = ROOT / "tests" / "data" / "broken_scenarios" / "wedge_80.toml"
    assert main(["preview", str(broken), "--out", str(out)]) == 2
    assert "vertebra.wedge_percent" in capsys.readouterr().err
    assert not out.exists()


def test_bench_json_has_the_build_figures():
    # the adversarial scripts (tests/test_supplies.py), the batch verify (tests/test_batch.py),
    # the cold builds and the ray casters' comparison are tested on their own: 3.5 of the
    # bench's 4.5 minutes; the window and the start-up below, on fewer frames and one start
    skip = "adversarial,verify,cold,raycast,window,startup"
    proc = run("bench", "--json", "--repeat", "1", "--skip", skip)
    assert proc.returncode == 0, proc.stderr
    import json

    figures = json.loads(proc.stdout)
    assert figures["phantom_build_s"] > 0
    assert figures["render_both_views_ms"] > 0
    assert figures["headless_realtime_factor"] > 0
    assert figures["injection_realtime_factor"] > 0
    assert set(figures["phantom_build_s_by_scenario"]) >= {"first_case_l1"}
    assert "ui_frame_ms_p95" not in figures and "startup_first_frame_s" not in figures


def test_bench_window_frames_and_start_up_are_measured():
    """The bench's window part (frames while injecting and while the arm turns) and its
    start-up part (a fresh process to the first frame of the start screen and of an
    attempt), as ``bench`` runs them, on 20 frames and one start."""
    from simulator.bench import bench_startup
    from simulator.ui.bench import ui_frame_ms

    frames = ui_frame_ms(n_frames=20)
    for situation in ("injecting", "turning"):
        assert 0 < frames[f"ui_frame_ms_p50_{situation}"] <= frames[f"ui_frame_ms_p95_{situation}"]
    assert frames["ui_frame_ms_p95"] >= frames["ui_frame_ms_p95_injecting"]
    start = bench_startup(runs=1)
    assert 0 < start["startup_first_frame_s"] < start["attempt_first_frame_s"]


def test_the_run_summary_counts_refused_actions(tmp_path):
    script = tmp_path / "refused.json"
    script.write_text(
        '{"format": "vsim-script/1", "actions": [{"t": 0, "do": "inject", "rate_ml_min": 2},'
        ' {"t": 1, "do": "stop"}, {"t": 2, "do": "finish"}]}'
    )
    r = run("run", "--scenario", "first_case_l1", "--script", str(script))
    assert r.returncode == 0, r.stderr
    assert "2 actions refused (mix the cement first ×1; no injection is running ×1)" in r.stdout


def test_bench_refuses_an_unknown_part_to_skip(capsys):
    from simulator.cli import main

    assert main(["bench", "--skip", "adversarial,everything"]) == 2
    assert (
        "--skip: one or more of adversarial, verify, cold, raycast, window, startup"
        in capsys.readouterr().err
    )
