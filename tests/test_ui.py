"""The trainer window, driven through its own event loop with posted pygame events and a fake
clock (``App.run_frames``), under SDL's dummy video driver (see conftest).

The acceptance check: an attempt played through the window writes a log whose metrics and
score equal those of a headless run of the log's applied actions (determinism).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygame
import pytest

from simulator.actions import parse_script
from simulator.procedure import Procedure
from simulator.records.log import is_signed, read_log
from simulator.scenario import load_scenario
from tests.conftest import phantoms_shared

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "first_case_l1"

# the window's attempts take the shipped phantom from the session's cache (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_phantoms")


def _post(kind, **fields):
    pygame.event.post(pygame.event.Event(kind, **fields))


def _key(app, key, *, mod=0, n=1, frames=1, dt_s=0.1):
    for _ in range(n):
        _post(pygame.KEYDOWN, key=key, mod=mod)
    app.run_frames(frames, dt_s)


def _hold(app, key, *, frames, dt_s=0.1):
    _post(pygame.KEYDOWN, key=key, mod=0)
    app.run_frames(frames, dt_s)
    _post(pygame.KEYUP, key=key, mod=0)
    app.run_frames(1, dt_s)


def _new_app(tmp: Path):
    from simulator.ui.app import App, Settings

    return App(Settings(logs_dir=tmp, scenario_id=SCENARIO))


def _start(app, name="Tess"):
    from simulator.ui.screens.procedure import ProcedureScreen
    from simulator.ui.screens.start import StartScreen

    app.show(StartScreen(app))
    app.run_frames(1)
    for ch in name:
        _post(pygame.TEXTINPUT, text=ch)
    _key(app, pygame.K_DOWN)
    _key(app, pygame.K_UP)
    assert app.settings.trainee == name
    _key(app, pygame.K_RETURN)
    assert isinstance(app.screen, ProcedureScreen)
    return app.screen


def _click_entry(app, screen, x_mm, z_mm):
    """Click where the skin point of entry [x, z] shows on the frontal image."""
    from simulator.ui.coords import skin_point_mm

    pm = screen.monitors.panel_map("ap")
    x, y = pm.mm_to_screen(skin_point_mm((x_mm, z_mm), screen.session.proc.phantom.skin_y_mm))
    _post(pygame.MOUSEBUTTONDOWN, button=1, pos=(round(x), round(y)))
    app.run_frames(1)


@pytest.fixture(scope="module")
def attempt(tmp_path_factory):
    """One whole attempt through the window: (app, screen, log path, logs folder)."""
    tmp = tmp_path_factory.mktemp("ui_logs")
    mp = pytest.MonkeyPatch()
    mp.setenv("VSIM_LOG_KEY", "test-key-ui")  # never the user's key file
    with phantoms_shared():
        done = _attempt(tmp)
    yield done
    mp.undo()


def _attempt(tmp: Path):
    app = _new_app(tmp)
    screen = _start(app)
    s = screen.session
    _key(app, pygame.K_a)
    _hold(app, pygame.K_SPACE, frames=1)  # one AP pulse to see the pedicles
    _click_entry(app, screen, 43.8, 15.7)
    assert s.side == "left" and s.entry_mm is not None
    assert abs(s.entry_mm[0] - 43.8) <= 0.3 and abs(s.entry_mm[1] - 15.7) <= 0.3
    _key(app, pygame.K_RIGHT, n=9)  # 20° → 24.5° medial
    _key(app, pygame.K_DOWN, mod=pygame.KMOD_SHIFT, n=5)  # 0° → 10° caudal
    _key(app, pygame.K_DOWN, n=2)  # → 11°
    assert (s.medial_deg, s.caudal_deg) == (24.5, 11.0)
    assert not s.proc.needle.state.placed  # the aim is sent with the first advance
    for _ in range(14):
        _key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=20)
    assert s.proc.needle.state.placed and s.inserted_mm > 50.0
    _key(app, pygame.K_l)
    _hold(app, pygame.K_SPACE, frames=10)  # 1 s held: one shot, ~7 continued pulses
    _key(app, pygame.K_TAB)
    _hold(app, pygame.K_SPACE, frames=1)
    _key(app, pygame.K_F1)
    assert screen.overlay == "help"
    _key(app, pygame.K_ESCAPE)
    _key(app, pygame.K_m, frames=100)  # mix, 10 s of curing
    _key(app, pygame.K_EQUALS, n=8)  # 2 → 6 ml/min
    _hold(app, pygame.K_i, frames=120)  # 12 s of injection
    _hold(app, pygame.K_SPACE, frames=1)
    _key(app, pygame.K_p)
    t_paused = s.proc.t_s
    app.run_frames(10, 0.1)
    assert s.proc.t_s == t_paused  # the clock stops while paused
    _key(app, pygame.K_p)
    _key(app, pygame.K_f)
    assert screen.overlay == "finish"
    _key(app, pygame.K_RETURN, frames=2)
    return app, screen, s.log_path, tmp


def test_window_attempt_log_matches_headless_run(attempt):
    from simulator.scoring.rules import score_attempt
    from simulator.ui.screens.debrief import DebriefScreen

    app, _, log_path, _ = attempt

    assert isinstance(app.screen, DebriefScreen)
    assert log_path is not None and Path(log_path).exists()
    log = read_log(log_path)
    assert is_signed(log)
    assert not any(Path(log_path).parent.glob("*.journal*"))  # removed once the log is written
    kinds = [a["do"] for a in log["actions"]]
    assert kinds.count("aim") == 1 and "mix" in kinds and "inject" in kinds
    assert kinds[-1] == "finish"
    m = log["metrics"]
    assert m["fluoro_shots"] == 4 and m["fluoro_time_s"] > 4 / 7.5  # held pedal: more pulses
    assert m["injected_ml"] > 0.9
    # the applied actions, as a script, replayed headless
    script = {
        "format": "vsim-script/1",
        "actions": [{k: v for k, v in a.items() if k != "tick"} for a in log["actions"]],
    }
    actions = parse_script(json.dumps(script).encode(), path="from-log")
    scenario = load_scenario(log["scenario"]["id"])
    proc = Procedure(scenario, seed=log["seed"], render_images=False).run(actions)
    headless = json.loads(json.dumps(proc.metrics()))
    assert headless == m
    score = score_attempt(scenario, headless, [e.as_json() for e in proc.events])
    assert json.loads(json.dumps(score)) == log["score"]
    assert app.screen.score["total"] == score["total"]


def test_replay_seeks_changes_speed_and_reaches_the_logged_state(attempt):
    from simulator.ui.screens.replay import ReplayScreen

    app, _, log_path, _ = attempt
    log = read_log(log_path)
    screen = ReplayScreen(app, log_path)
    app.show(screen)
    app.run_frames(5, 0.1)
    proc0 = screen.replayer.proc
    _key(app, pygame.K_RIGHT, dt_s=0.0)  # +10 s
    assert screen.replayer.proc.t_s >= 10.0
    _key(app, pygame.K_RIGHT, n=2, dt_s=0.0)
    t = screen.replayer.proc.t_s
    _key(app, pygame.K_LEFT, dt_s=0.0)  # back: rebuilt and run ahead
    assert screen.replayer.proc is not proc0
    assert abs(screen.replayer.proc.t_s - (t - 10.0)) < 0.05
    _key(app, pygame.K_8)
    assert screen.speed == 8.0
    app.run_frames(400, 0.1)
    assert screen.replayer.proc.finished
    assert json.loads(json.dumps(screen.replayer.proc.metrics())) == log["metrics"]


def test_every_screen_draws(attempt, tmp_path):
    from simulator.ui.screens.procedure import start_attempt
    from simulator.ui.screens.replay import ReplayScreen
    from simulator.ui.screens.start import StartScreen

    app, _, log_path, _ = attempt
    for screen in (StartScreen(app), ReplayScreen(app, log_path)):
        app.show(screen)
        app.run_frames(2)
    _key(app, pygame.K_F1)  # replay help
    # single C-arm: one monitor; a shot in the other view turns the arm first
    base = load_scenario(SCENARIO)
    single = dataclasses.replace(
        base, equipment=dataclasses.replace(base.equipment, c_arm="single")
    )
    screen = start_attempt(app, SCENARIO, scenario=single)
    assert set(screen.monitors.layout["panels"]) == {"single"}
    _key(app, pygame.K_SPACE)
    _post(pygame.KEYUP, key=pygame.K_SPACE, mod=0)
    _key(app, pygame.K_l)
    _key(app, pygame.K_SPACE, dt_s=0.02)
    _post(pygame.KEYUP, key=pygame.K_SPACE, mod=0)
    app.run_frames(2, 0.02)
    assert any(e.kind == "carm_rotate" for e in screen.session.proc.events)
    assert screen.session.turning("lateral")
    app.run_frames(90, 0.1)  # the arm arrives (8 s); the shot is taken in the new view
    screen.session.proc.carm.held("lateral")  # its image made now (the window never waits)
    app.run_frames(1, 0.1)
    assert not screen.session.rotating and screen.monitors.shown_view("single") == "lateral"
    for overlay_key in (pygame.K_p, pygame.K_h):
        _key(app, overlay_key)
        _key(app, pygame.K_ESCAPE)
    app.screenshot(tmp_path / "shot.png")
    assert (tmp_path / "shot.png").stat().st_size > 1000
    screen.on_quit()  # closing the window mid-attempt finishes it and writes its log
    assert screen.session.proc.finished and screen.session.log_path.exists()


def test_click_maps_to_the_skin_entry_and_back():
    from simulator.fluoro import make_imager
    from simulator.ui.coords import PanelMap, entry_from_ap_click
    from tests.conftest import scenario_and_phantom

    scenario, phantom = scenario_and_phantom(SCENARIO)
    view = make_imager(scenario, phantom).views["ap"]
    pm = PanelMap(view=view, left=100, top=50, size=552)  # 3 screen px per detector px
    for x_mm, z_mm in ((30.0, 10.0), (-25.5, -4.0)):
        sx, sy = pm.mm_to_screen((x_mm, 0.0, z_mm))
        side, (ex, ez) = entry_from_ap_click(pm, sx, sy)
        assert side == ("left" if x_mm > 0 else "right")  # screen right = patient's left
        assert abs(ex - x_mm) <= 0.05 and abs(ez - z_mm) <= 0.05
    # the pixel centre of detector (0, 0) is half a pixel in from the rect's corner
    assert pm.detector_to_screen(0, 0) == (101.5, 51.5)


def test_no_display_gives_one_message_and_exit_2(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    }
    env["VSIM_LOGS_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "run_sim.py run" in lines[0] and "display" in lines[0]


def test_a_quick_tap_on_inject_stops_the_injection():
    # key down and up within one frame: the inject is still queued when the key is released
    from simulator.personas import build, placement
    from simulator.ui.session import LiveSession

    scenario = load_scenario(SCENARIO)
    proc = Procedure(scenario, render_images=False)
    acts = placement(build(SCENARIO)["expert"]["actions"])
    actions = parse_script(
        json.dumps({"format": "vsim-script/1", "actions": acts}).encode(), path="x"
    )
    for a in actions:
        proc.submit(a)
    while proc.t_s < actions[-1].t + 20.0:
        proc.step()
    s = LiveSession(proc, max_frame_s=100.0)
    s.mix()
    s.update(200.0)
    s.inject_down()
    s.inject_up()
    s.update(20.0)
    assert not proc.cement.injecting
    assert [a["do"] for a in proc.applied][-2:] == ["inject", "stop"]


def test_an_inverted_display_is_logged_and_verifies(tmp_path, monkeypatch):
    from simulator.records.verify import verify_log
    from simulator.ui.screens.procedure import start_attempt

    monkeypatch.setenv("VSIM_LOG_KEY", "test-key-ui")
    app = _new_app(tmp_path)
    app.settings.invert = True
    screen = start_attempt(app, SCENARIO)
    _key(app, pygame.K_a)
    _hold(app, pygame.K_SPACE, frames=1)
    screen.on_quit()
    log = read_log(screen.session.log_path)
    assert log["display"] == {"invert": True}
    assert verify_log(screen.session.log_path, key=b"test-key-ui") == []


def test_replay_refuses_a_changed_scenario_file(tmp_path, monkeypatch):
    from simulator import assets
    from simulator.errors import UserError
    from simulator.ui.screens.replay import Replayer
    from tests.make_personas import LOGS

    folder = tmp_path / "scenarios"  # a copy of the shipped folder with one file edited
    shutil.copytree(ROOT / "scenarios", folder)
    (folder / f"{SCENARIO}.toml").write_text(
        (ROOT / "scenarios" / f"{SCENARIO}.toml").read_text() + "\n# edited\n"
    )
    monkeypatch.setattr(assets, "SHIPPED_SCENARIOS_DIR", folder)
    with pytest.raises(UserError, match="sha256 differs"):
        Replayer(read_log(LOGS / "expert.json"), "expert.json")


def _drawn_text(monkeypatch, draw) -> list[tuple[str, pygame.Rect]]:
    """Every line of text ``draw()`` puts on the screen, with its rect."""
    from simulator.ui import render

    drawn: list[tuple[str, pygame.Rect]] = []
    real = render.text

    def spy(surf, s, pos, **kw):
        rect = real(surf, s, pos, **kw)
        drawn.append((s, rect))
        return rect

    monkeypatch.setattr(render, "text", spy)
    draw()
    return drawn


def _flat(s: str) -> str:
    return " ".join(s.split())


def test_debrief_shows_whole_notes_and_feedback(attempt, monkeypatch):
    app, screen, log_path, _ = attempt
    debrief = app.show("debrief", proc=screen.session.proc, log_path=log_path)
    long_note = "tip 9.3 mm from the target (anterior third, too close to the anterior cortex)"
    debrief.score = {
        "total": 41.0,
        "passed": False,
        "critical": ["needle_in_canal"],
        "components": {
            name: {"points": 1.0, "max": 25, "notes": [long_note, "2 breaches, one medial"]}
            for name in ("placement", "cement", "radiation", "efficiency")
        },
        "feedback": [f"Sentence {i}: " + "words that make a long line " * 4 for i in range(8)],
    }
    w, h = app.window.get_size()
    drawn = _drawn_text(monkeypatch, lambda: debrief.draw(app.window))
    screen_text = _flat(" ".join(s for s, _ in drawn))
    assert _flat(f"{long_note}; 2 breaches, one medial") in screen_text
    assert "…" not in screen_text
    for sentence in debrief.score["feedback"]:
        assert _flat("• " + sentence) in screen_text
    timeline_top = h - 108
    for s, rect in drawn:
        if "words that make" in s or long_note[:20] in s:
            assert rect.bottom <= timeline_top and rect.right <= w, s


def test_truth_slices_keep_red_for_leaks(attempt):
    from simulator.ui.screens.truth import GREAT_VESSEL_RGB, LABEL_RGB, LEAK_RGB

    app, screen, log_path, _ = attempt
    for name, rgb in LABEL_RGB.items():
        assert np.linalg.norm(np.subtract(rgb, LEAK_RGB)) > 100, name  # no tissue looks leaked
    debrief = app.show("debrief", proc=screen.session.proc, log_path=log_path)
    assert debrief.truth.vessels_shown  # the aorta is in the axial slice of this attempt
    assert ("great vessels", GREAT_VESSEL_RGB) in debrief.legend_items()


def test_screens_open_by_name(tmp_path):
    from simulator.ui.screens.start import StartScreen

    app = _new_app(tmp_path)
    assert isinstance(app.show("start"), StartScreen) and isinstance(app.screen, StartScreen)
    with pytest.raises(KeyError, match="no screen named"):
        app.show("nowhere")


def test_replay_shows_only_replay_controls(monkeypatch, tmp_path):
    from tests.make_personas import LOGS

    app = _new_app(tmp_path)
    replay = app.show("replay", log_path=LOGS / "expert.json")
    replay.set_speed(8.0)
    for t_s in (0.0, 60.0):
        replay.seek(t_s)
        drawn = " | ".join(s for s, _ in _drawn_text(monkeypatch, lambda: app.run_frames(1)))
        assert "click the skin entry point" not in drawn
        assert "time ×8" not in drawn and "T time x8" not in drawn
        assert "8× " in drawn and "1 2 4 8 speed" in drawn  # its own speed and keys


def test_a_reaim_in_soft_tissue_is_shown_and_the_hud_reads_the_model(tmp_path, monkeypatch):
    from simulator.ui.hud import needle_rows
    from simulator.ui.screens.procedure import start_attempt

    monkeypatch.setenv("VSIM_LOG_KEY", "test-key-ui")
    app = _new_app(tmp_path)
    screen = start_attempt(app, SCENARIO)
    s = screen.session
    needle = s.proc.needle
    _click_entry(app, screen, 43.8, 15.7)
    _key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=20)  # 5 mm: skin and muscle
    assert needle.state.inserted_mm > 4.0 and not needle.engaged_in_bone()

    def hud_inserted():
        return dict((label, value) for label, value, _ in needle_rows(s))["inserted"]

    assert hud_inserted() == f"{needle.state.inserted_mm:.1f} mm"
    _key(app, pygame.K_RIGHT, mod=pygame.KMOD_SHIFT, dt_s=0.0)  # a new angle, not yet sent
    assert ("new aim", "restarts at skin") in [(a, b) for a, b, _ in needle_rows(s)]
    _key(app, pygame.K_w, frames=1, dt_s=0.02)  # one tick: the re-aim applies, back at the skin
    assert needle.state.inserted_mm < 1.0  # the model's rule: a re-aim starts at the skin
    assert hud_inserted() == f"{needle.state.inserted_mm:.1f} mm"
    said = [m for _, m in s.messages]
    assert any(m.startswith("needle withdrawn to the skin (from 5.0 mm)") for m in said), said
    band = " | ".join(t for t, _ in _drawn_text(monkeypatch, lambda: app.run_frames(1)))
    assert "needle withdrawn to the skin" in band
    screen.on_quit()


def test_a_reaim_in_bone_is_refused_and_says_so(tmp_path, monkeypatch):
    from simulator.ui.hud import needle_rows
    from simulator.ui.screens.procedure import start_attempt

    monkeypatch.setenv("VSIM_LOG_KEY", "test-key-ui")
    app = _new_app(tmp_path)
    screen = start_attempt(app, SCENARIO)
    s = screen.session
    needle = s.proc.needle
    _click_entry(app, screen, 43.8, 15.7)
    s.medial_deg, s.caudal_deg = 24.5, 11.0
    for _ in range(20):
        _key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=20)
        if needle.engaged_in_bone():
            break
    assert needle.engaged_in_bone()
    depth = needle.state.inserted_mm
    _key(app, pygame.K_RIGHT, mod=pygame.KMOD_SHIFT, dt_s=0.0)
    assert ("new aim", "in bone: refused") in [(a, b) for a, b, _ in needle_rows(s)]
    _key(app, pygame.K_w, frames=2, dt_s=0.02)
    assert needle.state.aims == 1 and needle.state.inserted_mm >= depth  # refused: not pulled
    said = [m for _, m in s.messages]
    assert any("engaged in bone" in m for m in said), said
    assert not any("withdrawn to the skin" in m for m in said)
    assert s.medial_deg == 24.5  # the shown aim goes back to the needle's
    screen.on_quit()


def test_holding_inject_until_the_kit_is_empty_says_so():
    """The kit holds ``batch_ml``: with the key held the injection ends by itself there, the
    window says the syringe is empty, and a release sends no stray ``stop``."""
    import dataclasses

    from simulator.personas import build, placement
    from simulator.ui.session import LiveSession

    scenario = load_scenario(SCENARIO)
    scenario = dataclasses.replace(
        scenario, cement=dataclasses.replace(scenario.cement, batch_ml=1.0)
    )
    proc = Procedure(scenario, render_images=False)
    acts = placement(build(SCENARIO)["expert"]["actions"])
    for a in parse_script(
        json.dumps({"format": "vsim-script/1", "actions": acts}).encode(), path="x"
    ):
        proc.submit(a)
    while proc.t_s < acts[-1]["t"] + 20.0:
        proc.step()
    s = LiveSession(proc, max_frame_s=100.0)
    s.mix()
    s.update(200.0)
    s.inject_down()
    for _ in range(20):
        s.update(5.0)
    assert not proc.cement.injecting
    assert proc.metrics()["injected_ml"] == pytest.approx(1.0, abs=1e-6)
    assert any("syringe is empty" in m for _, m in s.messages)
    s.inject_up()
    s.update(1.0)
    assert [a["do"] for a in proc.applied][-1] == "inject"


# ----- the posable C-arm ------------------------------------------------------------------------


def _live(tmp_path, monkeypatch, *, hints=False, scenario=None):
    from simulator.ui.screens.procedure import start_attempt

    monkeypatch.setenv("VSIM_LOG_KEY", "test-key-ui")
    app = _new_app(tmp_path)
    app.settings.hints = hints
    return app, start_attempt(app, SCENARIO, scenario=scenario)


def _carm_actions(proc):
    return [a for a in proc.applied if a["do"] == "carm"]


def _shoot(app, screen, view="ap"):
    """One pulse of ``view`` whose image is made at once (the window itself never waits)."""
    screen.selected = view
    _hold(app, pygame.K_SPACE, frames=1, dt_s=0.02)
    carm = screen.session.proc.carm
    carm.imager.prepare(carm.shots[-1].pose)
    app.run_frames(1, 0.02)


def test_carm_keys_turn_the_selected_arm_and_presets_set_it(tmp_path, monkeypatch):
    from simulator.fluoro.poses import ArmPose

    app, screen = _live(tmp_path, monkeypatch)
    proc = screen.session.proc
    frontal = proc.carm.arms["frontal"]
    _key(app, pygame.K_a, dt_s=0.0)
    _key(app, pygame.K_RIGHTBRACKET, mod=pygame.KMOD_SHIFT, dt_s=0.02)  # +5° rotation
    assert _carm_actions(proc)[-1] == {
        **_carm_actions(proc)[-1],
        "arm": "frontal",
        "rotation_deg": 5.0,
        "tilt_deg": 0.0,
    }
    assert frontal.target == ArmPose(rotation_deg=5.0, tilt_deg=0.0)
    assert frontal.pose == ArmPose(rotation_deg=0.0, tilt_deg=0.0)  # still turning
    # steps during the turn add up and go as one carm action once the arm is free
    _key(app, pygame.K_QUOTE, n=3, dt_s=0.0)  # tilt +3° (cranial)
    _key(app, pygame.K_LEFTBRACKET, dt_s=0.0)  # rotation −1°
    assert len(_carm_actions(proc)) == 1
    app.run_frames(10, 0.1)  # 0.5 s + 5°/12°/s: arrived; the next turn is under way
    assert frontal.pose == ArmPose(rotation_deg=5.0, tilt_deg=0.0)
    assert len(_carm_actions(proc)) == 2
    assert frontal.target == ArmPose(rotation_deg=4.0, tilt_deg=3.0)
    app.run_frames(10, 0.1)
    assert frontal.pose == ArmPose(rotation_deg=4.0, tilt_deg=3.0)
    assert proc.carm.arms["lateral"].pose == ArmPose(rotation_deg=90.0, tilt_deg=0.0)
    _key(app, pygame.K_3, dt_s=0.0)  # preset: LPO 30°
    app.run_frames(40, 0.1)
    assert frontal.pose == ArmPose(rotation_deg=-30.0, tilt_deg=0.0)
    _key(app, pygame.K_l, dt_s=0.0)  # the keys now turn the lateral arm
    _key(app, pygame.K_1, dt_s=0.0)  # preset: AP
    app.run_frames(100, 0.1)
    assert proc.carm.arms["lateral"].pose == ArmPose(rotation_deg=0.0, tilt_deg=0.0)
    assert not [e for e in proc.events if e.kind == "refused"]
    screen.on_quit()


def test_the_held_pedal_waits_for_the_turning_arm(tmp_path, monkeypatch):
    app, screen = _live(tmp_path, monkeypatch)
    proc = screen.session.proc
    _key(app, pygame.K_a, dt_s=0.0)
    _post(pygame.KEYDOWN, key=pygame.K_SPACE, mod=0)
    app.run_frames(5, 0.1)
    _key(app, pygame.K_RIGHTBRACKET, mod=pygame.KMOD_SHIFT, n=2, dt_s=0.02)  # +10°: 1.33 s
    app.run_frames(30, 0.1)
    _post(pygame.KEYUP, key=pygame.K_SPACE, mod=0)
    app.run_frames(1, 0.1)
    assert not [e for e in proc.events if e.kind == "refused"]
    shots = [e for e in proc.events if e.kind == "fluoro"]
    turn = next(e for e in proc.events if e.kind == "carm")
    during = [e for e in shots if turn.t_s < e.t_s < turn.details["ready_s"] - 1e-9]
    assert not during  # no pulse while the arm turned
    after = [e for e in shots if e.t_s >= turn.details["ready_s"] - 1e-9]
    assert len(after) >= 5 and all(e.details["rotation_deg"] == 10.0 for e in after)
    screen.on_quit()


@pytest.mark.parametrize("hints", [False, True])
def test_the_hud_shows_the_needle_angles_only_with_hints(tmp_path, monkeypatch, hints):
    from simulator.ui.hud import draw_hud

    app, screen = _live(tmp_path, monkeypatch, hints=hints)
    s = screen.session
    _click_entry(app, screen, 43.8, 15.7)
    s.medial_deg = 23.5
    rect = screen.monitors.layout["hud"]
    drawn = _drawn_text(monkeypatch, lambda: draw_hud(app.window, rect, s))
    text = " | ".join(t for t, _ in drawn)
    assert "inserted" in text and "0.0 mm" in text
    for word in ("medial", "caudal", "+23.5°", "AP error", "LAT error", "en face L"):
        assert (word in text) == hints, (hints, word, text)
    screen.on_quit()


def test_the_monitor_keeps_its_last_image_while_the_arm_turns(tmp_path, monkeypatch):
    from simulator.ui import render

    app, screen = _live(tmp_path, monkeypatch)
    proc, mon = screen.session.proc, screen.monitors
    _shoot(app, screen, "ap")
    first = mon._held["ap"][0]
    assert first is not None
    drawn = []
    real = render.ImagePanel.draw

    def spy(self, surf, rect, pixels, **kw):
        drawn.append((pixels, kw["note"], kw["label"]))
        real(self, surf, rect, pixels, **kw)

    monkeypatch.setattr(render.ImagePanel, "draw", spy)
    _key(app, pygame.K_4, dt_s=0.02)  # preset RPO 30°: 3 s of turning
    app.run_frames(5, 0.1)
    ap = [d for d in drawn if d[2] == "AP"]
    assert ap and all(p is first.pixels and note == "turning…" for p, note, _ in ap)
    app.run_frames(30, 0.1)  # arrived
    # a shot at the new pose while its anatomy is still being ray cast: the old image stays
    monkeypatch.setattr(proc.carm.imager, "prepare_async", lambda pose: None)
    _hold(app, pygame.K_SPACE, frames=1, dt_s=0.02)
    drawn.clear()
    app.run_frames(2, 0.02)
    assert [p for p, _, label in drawn if label == "AP"][-1] is first.pixels
    assert mon.panel_map("ap").proj.pose.rotation_deg == 0.0  # clicks map through it
    proc.carm.imager.prepare(proc.carm.shots[-1].pose)
    app.run_frames(1, 0.02)
    assert mon._held["ap"][0] is not first
    assert mon.panel_map("ap").proj.pose.rotation_deg == 30.0
    screen.on_quit()


def test_an_entry_click_at_an_oblique_pose_finds_the_skin_point(tmp_path, monkeypatch):
    from simulator.fluoro.poses import ArmPose

    app, screen = _live(tmp_path, monkeypatch)
    s = screen.session
    proc = s.proc
    _key(app, pygame.K_a, dt_s=0.0)
    _key(app, pygame.K_LEFTBRACKET, mod=pygame.KMOD_SHIFT, n=5, dt_s=0.0)  # LPO 25°
    _key(app, pygame.K_QUOTE, mod=pygame.KMOD_SHIFT, n=2, dt_s=0.0)  # CRAN 10°
    app.run_frames(60, 0.1)
    pose = ArmPose(rotation_deg=-25.0, tilt_deg=10.0)
    assert proc.carm.arms["frontal"].pose == pose
    _shoot(app, screen, "ap")
    # where a known skin point shows (near the middle: the skin lies ~76 mm behind the
    # isocentre), by the imager's own projection of that pose
    x_mm, z_mm = 38.0, 12.0
    skin = np.array([x_mm, float(proc.phantom.skin_y_mm(x_mm)), z_mm])
    row, col = proc.carm.imager.projection(pose).project(skin)
    rect = screen.monitors.layout["panels"]["ap"]
    k = rect.width / proc.carm.imager.size_px
    pos = (round(rect.left + (col + 0.5) * k), round(rect.top + (row + 0.5) * k))
    _post(pygame.MOUSEBUTTONDOWN, button=1, pos=pos)
    app.run_frames(1, 0.0)
    assert s.side == "left", (pos, rect, list(s.messages))
    assert np.hypot(s.entry_mm[0] - x_mm, s.entry_mm[1] - z_mm) <= 0.5, s.entry_mm
    # the cross-hair is drawn where that skin point shows
    x, y = screen.monitors.panel_map("ap").mm_to_screen(skin)
    assert abs(x - pos[0]) <= 1.0 and abs(y - pos[1]) <= 1.0
    screen.on_quit()


@pytest.mark.parametrize(
    ("rotation_deg", "tilt_deg", "axial_deg", "sagittal_deg"),
    [(0.0, 0.0, 0.0, 0.0), (-35.0, 15.0, 0.0, 0.0), (20.0, -8.0, 12.0, -6.0)],
)
def test_a_click_maps_through_the_cone_beam_to_the_skin(
    rotation_deg, tilt_deg, axial_deg, sagittal_deg
):
    from simulator.fluoro.geometry import CArmPose, PatientFrame, Projection
    from simulator.ui.coords import PanelMap, entry_from_ap_click, skin_point_mm
    from tests.conftest import scenario_and_phantom

    _, phantom = scenario_and_phantom(SCENARIO)
    pivot = (0.0, float(phantom.geometry.body.wall_y_mm) - 4.0, 0.0)
    patient = PatientFrame(
        axial_rotation_deg=axial_deg, sagittal_tilt_deg=sagittal_deg, pivot_mm=pivot
    )
    proj = Projection.make(
        CArmPose(rotation_deg=rotation_deg, tilt_deg=tilt_deg, isocentre_mm=pivot),
        size_px=368,
        patient=patient,
    )
    pm = PanelMap(proj=proj, left=100, top=50, size=552)
    for entry in ((41.0, 14.0), (-30.5, -6.0), (5.0, 0.0)):
        skin = skin_point_mm(entry, phantom.skin_y_mm)
        side, got = entry_from_ap_click(pm, *pm.mm_to_screen(skin), phantom.skin_y_mm)
        assert side == ("left" if entry[0] >= 0 else "right")
        assert np.hypot(got[0] - entry[0], got[1] - entry[1]) <= 0.1, (entry, got)
    # a pixel whose ray misses the back (well above the patient at a steep angle) gives None
    steep = Projection.make(CArmPose(rotation_deg=110.0, isocentre_mm=pivot), size_px=368)
    pm = PanelMap(proj=steep, left=0, top=0, size=368)
    assert entry_from_ap_click(pm, 0.0, 184.0, phantom.skin_y_mm) is None


def test_a_single_c_arm_holds_its_image_and_says_where_it_turns(tmp_path, monkeypatch):
    from simulator.ui import render

    base = load_scenario(SCENARIO)
    single = dataclasses.replace(
        base, equipment=dataclasses.replace(base.equipment, c_arm="single")
    )
    app, screen = _live(tmp_path, monkeypatch, scenario=single)
    carm = screen.session.proc.carm
    _shoot(app, screen, "ap")
    ap_image = screen.monitors._held["single"][0]
    panels = []
    real = render.ImagePanel.draw

    def spy(self, surf, rect, pixels, **kw):
        panels.append((pixels, kw["label"], kw["note"]))
        real(self, surf, rect, pixels, **kw)

    monkeypatch.setattr(render.ImagePanel, "draw", spy)
    _key(app, pygame.K_l, dt_s=0.0)
    _hold(app, pygame.K_SPACE, frames=1, dt_s=0.02)  # the arm turns to the lateral first
    band = " | ".join(t for t, _ in _drawn_text(monkeypatch, lambda: app.run_frames(1, 0.1)))
    assert panels[-1] == (ap_image.pixels, "AP", "turning to R LAT…")
    assert "pedal: LAT   C-arm AP, turning to R LAT" in band
    app.run_frames(90, 0.1)  # arrived (0.5 s + 90°/12°/s), the lateral shot taken
    carm.imager.prepare(carm.shots[-1].pose)
    band = " | ".join(t for t, _ in _drawn_text(monkeypatch, lambda: app.run_frames(1, 0.1)))
    assert panels[-1][1:] == ("LAT", "") and panels[-1][0] is not ap_image.pixels
    assert "pedal: LAT   C-arm R LAT" in band and "turning" not in band
    _key(app, pygame.K_1, dt_s=0.0)  # preset AP: the pedal follows where the arm points
    assert screen.selected == "ap" and screen.session.turning("ap")
    screen.on_quit()


def test_arm_angles_read_as_a_radiographer_names_them():
    from simulator.ui.carm_icon import rotation_words

    words = [rotation_words(r) for r in (0.0, 20.0, -20.0, 90.0, -90.0, 98.0, -100.0)]
    assert words == ["AP", "RPO 20°", "LPO 20°", "R LAT", "L LAT", "RAO 82°", "LAO 80°"]
