"""Screenshots of every trainer screen for the docs (``docs/images/ui_*.png``).

Drives the window through its own frame loop with posted key and mouse events, like a
trainee would, on the first case (and a single C-arm variant of it). Run it with a display,
e.g. ``xvfb-run -s "-screen 0 1280x720x24" python docs/make_screenshots.py``; SDL's dummy
driver (``SDL_VIDEODRIVER=dummy``) works as well. The attempt follows the expert persona's
entry and angles (so the pictures show a good placement) and writes its log to a temporary
folder.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("VSIM_LOG_KEY", "docs-screenshots")  # never create a user key file
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pygame  # noqa: E402

from simulator.personas import build  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402
from simulator.ui.app import App, Settings  # noqa: E402
from simulator.ui.coords import skin_point_mm  # noqa: E402
from simulator.ui.screens.procedure import start_attempt  # noqa: E402
from simulator.ui.screens.replay import ReplayScreen  # noqa: E402
from simulator.ui.screens.start import StartScreen  # noqa: E402

OUT = ROOT / "docs" / "images"
SCENARIO = "first_case_l1"


def key(app: App, k: int, *, mod: int = 0, up: bool = False, frames: int = 1, dt_s=0.1):
    """Post one key event and run frames."""
    pygame.event.post(pygame.event.Event(pygame.KEYUP if up else pygame.KEYDOWN, key=k, mod=mod))
    app.run_frames(frames, dt_s)


def tap(app: App, k: int, *, held_frames: int = 1) -> None:
    """Press and release a key."""
    key(app, k, frames=held_frames)
    key(app, k, up=True)


def images_ready(app: App, carm) -> None:
    """Make the monitors' newest images now (the window itself never waits for a ray cast),
    then run a frame to show them."""
    for view in ("ap", "lateral"):
        carm.held(view)
    app.run_frames(1)


def click_entry(app: App, screen, entry_mm) -> None:
    """Click where the skin point of ``entry_mm`` [x, z] shows on the AP monitor."""
    pm = screen.monitors.panel_map("ap")
    skin = skin_point_mm(entry_mm, screen.session.proc.phantom.skin_y_mm)
    x, y = pm.mm_to_screen(skin)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(x, y)))
    app.run_frames(1)


def advance_to(app: App, session, depth_mm: float) -> None:
    """Shift+W presses until the goal depth is reached, then wait for the needle."""
    while (
        session.proc.needle.state.goal_mm < depth_mm - 5.0 or not session.proc.needle.state.placed
    ):
        key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=25)
    while session.proc.needle.state.moving:
        app.run_frames(10)


def main() -> int:
    """Write the screenshots; returns 0."""
    OUT.mkdir(parents=True, exist_ok=True)
    expert = build(SCENARIO)["expert"]["actions"]
    aim = next(a for a in expert if a["do"] == "aim")  # the C-arm moves come first
    depth = sum(a["mm"] for a in expert if a["do"] == "advance")
    with tempfile.TemporaryDirectory() as tmp:
        app = App(Settings(logs_dir=Path(tmp) / "logs", scenario_id=SCENARIO))
        app.show(StartScreen(app))
        for ch in "Dr. A. Resident":
            pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=ch))
        app.run_frames(2)
        app.screenshot(OUT / "ui_start.png")

        key(app, pygame.K_RETURN)
        screen = app.screen
        s = screen.session
        key(app, pygame.K_a)
        tap(app, pygame.K_SPACE)
        images_ready(app, s.proc.carm)
        click_entry(app, screen, aim["entry_mm"])
        s.medial_deg, s.caudal_deg = aim["medial_deg"], aim["caudal_deg"]
        advance_to(app, s, 0.62 * depth)  # tip in the pedicle
        key(app, pygame.K_l)
        tap(app, pygame.K_SPACE)
        key(app, pygame.K_a)
        tap(app, pygame.K_SPACE, held_frames=3)
        images_ready(app, s.proc.carm)
        app.screenshot(OUT / "ui_procedure.png")
        key(app, pygame.K_3)  # preset LPO 30°: toward the en-face view of the left pedicle
        key(app, pygame.K_SEMICOLON, mod=pygame.KMOD_SHIFT)  # CAUD 5°
        while s.rotating:
            app.run_frames(1)
        tap(app, pygame.K_SPACE)
        images_ready(app, s.proc.carm)
        app.screenshot(OUT / "ui_oblique.png")
        key(app, pygame.K_1)  # back to the AP
        while s.rotating:
            app.run_frames(1)

        advance_to(app, s, depth)
        tap(app, pygame.K_SPACE)
        key(app, pygame.K_m)
        s.max_frame_s = 10.0
        app.run_frames(33, 10.0)  # ~5.5 min of curing, until the cement is doughy
        s.max_frame_s = 0.1
        key(app, pygame.K_i, frames=600)  # 60 s at 2 ml/min
        key(app, pygame.K_l)
        tap(app, pygame.K_SPACE, held_frames=4)
        key(app, pygame.K_a)
        key(app, pygame.K_SPACE, frames=2)
        images_ready(app, s.proc.carm)
        app.screenshot(OUT / "ui_injection.png")
        key(app, pygame.K_SPACE, up=True)
        key(app, pygame.K_i, up=True)

        key(app, pygame.K_F1)
        app.screenshot(OUT / "ui_help.png")
        key(app, pygame.K_ESCAPE)
        key(app, pygame.K_f)
        key(app, pygame.K_RETURN, frames=3)
        app.screenshot(OUT / "ui_debrief.png")

        replay = ReplayScreen(app, s.log_path)
        app.show(replay)
        replay.seek(s.proc.t_s - 1.0)  # after the last shots, cement in both views
        app.run_frames(5)
        images_ready(app, replay.replayer.proc.carm)
        app.screenshot(OUT / "ui_replay.png")

        base = load_scenario(SCENARIO)
        single = dataclasses.replace(
            base, equipment=dataclasses.replace(base.equipment, c_arm="single")
        )
        screen = start_attempt(app, SCENARIO, scenario=single)
        s = screen.session
        tap(app, pygame.K_SPACE)
        images_ready(app, s.proc.carm)
        click_entry(app, screen, aim["entry_mm"])
        s.medial_deg, s.caudal_deg = aim["medial_deg"], aim["caudal_deg"]
        advance_to(app, s, 0.6 * depth)
        tap(app, pygame.K_SPACE)
        key(app, pygame.K_l)
        tap(app, pygame.K_SPACE)  # the arm turns to lateral, then takes the shot
        while s.rotating:
            app.run_frames(1)
        app.run_frames(3)
        images_ready(app, s.proc.carm)
        app.screenshot(OUT / "ui_single_carm.png")
        screen.on_quit()
    pygame.quit()
    for name in sorted(OUT.glob("ui_*.png")):
        print(f"wrote {name.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
