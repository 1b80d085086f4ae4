"""The replay viewer: an attempt log played back in the procedure room.

The log's scenario and seed rebuild the procedure; its applied actions are submitted at their
times and the model runs again (the same actions give the same attempt), in real
time × the speed (1×, 2×, 4×, 8×). Seeking forward runs the model ahead; seeking backward
rebuilds it (the phantom is kept) and runs ahead to the new time with
:meth:`Procedure.advance_to`, which jumps over ticks in which nothing can change.
"""

from __future__ import annotations

import pygame

from simulator.errors import UserError
from simulator.procedure import Procedure
from simulator.records.log import rebuild
from simulator.scenario import load_scenario
from simulator.ui import render as r
from simulator.ui.app import App, Screen
from simulator.ui.hud import clock
from simulator.ui.input import REPLAY_HELP
from simulator.ui.screens.monitors import Monitors
from simulator.ui.session import LiveSession
from simulator.ui.widgets import draw_help

SPEEDS = (1.0, 2.0, 4.0, 8.0)
SEEK_S = 10.0


class Replayer:
    """The model side of a replay (no pygame): rebuild, play, seek."""

    def __init__(self, log: dict, log_path: str = "log"):
        self.log = log
        self.log_path = str(log_path)
        self.scenario = load_scenario(log["scenario"]["id"])
        if self.scenario.sha256 != log["scenario"]["sha256"]:
            raise UserError(
                f"{log_path}: scenario: the file {self.scenario.path} is not the one of this "
                "attempt (its sha256 differs), so the replay would not be the attempt"
            )
        self.seed = int(log["seed"])
        self.end_s = float(log["metrics"]["procedure_time_s"])
        self.phantom = None
        self.session: LiveSession | None = None
        self.rebuild()

    def rebuild(self) -> None:
        """A fresh procedure at t = 0 with every action queued."""
        proc = rebuild(self.log, self.scenario, run=False, phantom=self.phantom, path=self.log_path)
        self.phantom = proc.phantom
        self.session = LiveSession(proc, follow_model=True, max_frame_s=0.1)

    @property
    def proc(self) -> Procedure:
        """The procedure being replayed."""
        return self.session.proc

    def seek(self, t_s: float) -> None:
        """Go to simulated time ``t_s`` (clamped to the attempt)."""
        t_s = min(max(t_s, 0.0), self.end_s)
        if t_s < self.proc.t_s - 1e-9:
            self.rebuild()
        self.run_to(t_s)

    def run_to(self, t_s: float) -> None:
        """Run the model ahead to ``t_s`` (idle ticks jumped over)."""
        self.proc.advance_to(t_s)
        self.session.read_events()


class ReplayScreen(Screen):
    """Plays one log; ``back`` is the screen Esc returns to (None quits)."""

    def __init__(self, app: App, log_path, *, back: Screen | None = None):
        super().__init__(app)
        from simulator.records.log import read_log

        self.log_path = log_path
        self.back = back
        self.replayer = Replayer(read_log(log_path), str(log_path))
        self._new_monitors()
        self.playing = True
        self.speed = 1.0
        self.help = False
        log = self.replayer.log
        self.title = (
            f"REPLAY  {log['scenario']['id']}  —  {log.get('trainee', '?')}  "
            f"{log.get('started_at', '')}"
        )

    def _new_monitors(self) -> None:
        self.monitors = Monitors(self.replayer.session, live=False)

    def handle(self, event: pygame.event.Event) -> None:
        """Space, ←/→, 1/2/4/8, Home, F1/H, Esc."""
        if event.type != pygame.KEYDOWN:
            return
        k = event.key
        rp = self.replayer
        if self.help:
            self.help = False
        elif k == pygame.K_SPACE:
            self.playing = not self.playing
        elif k in (pygame.K_LEFT, pygame.K_RIGHT):
            self.seek(rp.proc.t_s + (SEEK_S if k == pygame.K_RIGHT else -SEEK_S))
        elif k == pygame.K_HOME:
            self.seek(0.0)
        elif k in (pygame.K_1, pygame.K_2, pygame.K_4, pygame.K_8):
            self.set_speed(float(pygame.key.name(k)))
        elif k in (pygame.K_F1, pygame.K_h):
            self.help = True
        elif k == pygame.K_ESCAPE:
            if self.back is not None:
                self.app.show(self.back)
            else:
                self.app.quit()

    def seek(self, t_s: float) -> None:
        """Jump to ``t_s`` simulated seconds."""
        before = self.replayer.session
        self.replayer.seek(t_s)
        if self.replayer.session is not before:
            self._new_monitors()
        self.replayer.session.time_scale = self.speed

    def set_speed(self, speed: float) -> None:
        """Playback speed (one of 1, 2, 4, 8)."""
        self.speed = speed if speed in SPEEDS else 1.0
        self.replayer.session.time_scale = self.speed

    def update(self, dt_s: float) -> None:
        """Play on in real time × speed."""
        if self.playing and not self.help:
            self.replayer.session.update(dt_s)

    def draw(self, surf: pygame.Surface) -> None:
        """The room as it was, with the replay bar in the top line."""
        rp = self.replayer
        last = next((e for e in reversed(rp.proc.events) if e.kind == "fluoro"), None)
        self.monitors.draw(
            surf,
            selected=last.details["view"] if last is not None else "ap",
            title=self.title,
            hint="F1 help   Esc leave",
            keys="Space play/pause   Left/Right 10 s back/forward   1 2 4 8 speed   Home start",
        )
        w = surf.get_width()
        bar = pygame.Rect(w // 2 + 40, 10, w - 250 - (w // 2 + 40), 14)
        pygame.draw.rect(surf, (50, 52, 56), bar)
        frac = min(rp.proc.t_s / max(rp.end_s, 1e-9), 1.0)
        pygame.draw.rect(surf, r.SELECT, (bar.left, bar.top, int(bar.width * frac), bar.height))
        state = (
            "playing"
            if self.playing and not rp.proc.finished
            else ("end" if rp.proc.finished else "paused")
        )
        r.text(
            surf,
            f"{clock(rp.proc.t_s)} / {clock(rp.end_s)}  {self.speed:g}×  {state}",
            (bar.right + 10, bar.centery),
            size=22,
            color=r.ACCENT,
            anchor="midleft",
        )
        if self.help:
            draw_help(surf, "Replay keys", REPLAY_HELP)
