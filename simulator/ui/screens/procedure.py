"""The procedure screen: monitors, HUD and the trainee's controls, in real time.

Keys and mouse become intents (``simulator.ui.input``) carried out on a
:class:`~simulator.ui.session.LiveSession`. Overlays: help (F1/H), pause (P/Esc; the model
does not advance), finish confirmation (F, then Enter). When the procedure finishes (the
trainee's ``finish`` or the time limit) the signed log is written and the debrief opens.
Closing the window mid-attempt finishes the attempt and writes its log (nothing is lost).
"""

from __future__ import annotations

from dataclasses import replace

import pygame

from simulator.fluoro.device import view_of_pose
from simulator.fluoro.poses import ArmPose
from simulator.procedure import Procedure
from simulator.scenario import load_scenario
from simulator.ui import render as r
from simulator.ui.app import App, Screen
from simulator.ui.coords import entry_from_ap_click
from simulator.ui.input import CARM_PRESETS, KEY_HELP, key_intent
from simulator.ui.screens.monitors import Monitors
from simulator.ui.session import FAST_TIME_SCALE, LiveSession
from simulator.ui.widgets import draw_help, draw_message


def start_attempt(app: App, scenario_ref: str, *, scenario=None) -> ProcedureScreen:
    """Show the procedure screen of a new attempt at ``scenario_ref`` (see
    :func:`new_attempt`); returns it."""
    return app.show(new_attempt(app, scenario_ref, scenario=scenario))


def new_attempt(app: App, scenario_ref: str, *, scenario=None) -> ProcedureScreen:
    """Build the patient and the attempt for ``scenario_ref`` (or a loaded ``scenario``): the
    procedure screen (registered as ``"procedure"``). Draws a 'preparing' frame first (the
    build takes ~1 s)."""
    from simulator.records.journal import AttemptRecorder
    from simulator.records.origin import make_origin
    from simulator.records.signing import signing_key

    surf = app.window
    surf.fill(r.BG)
    r.text(surf, "Preparing the patient…", surf.get_rect().center, size=36, anchor="center")
    pygame.display.flip()
    scenario = scenario if scenario is not None else load_scenario(scenario_ref)
    proc = Procedure(scenario)
    proc.carm.warm()  # the home poses are cast while the trainee reads the screen
    if app.settings.invert:
        proc.carm.settings = replace(proc.carm.settings, invert=True)
    recorder = AttemptRecorder(
        proc,
        trainee=app.settings.trainee or "anonymous",
        logs_dir=app.settings.logs_dir,
        key=signing_key(create=True),  # every log is signed (a shared key made on first use)
        origin=make_origin("window", hints=app.settings.hints, invert=app.settings.invert),
    )
    session = LiveSession(proc, recorder=recorder, hints=app.settings.hints)
    return ProcedureScreen(app, session)


class ProcedureScreen(Screen):
    """One live attempt."""

    def __init__(self, app: App, session: LiveSession):
        super().__init__(app)
        self.session = session
        self.monitors = Monitors(session)
        self.selected = "ap"
        self.overlay: str | None = None  # "help", "pause", "finish"
        sc = session.proc.scenario
        self.title = f"{sc.scenario.title}   —   {app.settings.trainee or 'anonymous'}"

    # ----- input -----------------------------------------------------------------------------
    def handle(self, event: pygame.event.Event) -> None:
        """Keys, key releases and mouse clicks."""
        if self.overlay is not None and event.type == pygame.KEYDOWN:
            self._overlay_key(event)
            return
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self._click(event.pos)
            return
        if event.type not in (pygame.KEYDOWN, pygame.KEYUP):
            return
        intent = key_intent(event)
        if intent is not None:
            self.do(*intent)

    def do(self, name: str, value=None) -> None:
        """Carry out one intent (see ``simulator.ui.input``)."""
        s = self.session
        if name == "turn":
            s.turn(*value)
        elif name == "advance":
            s.advance(value)
        elif name == "withdraw":
            s.withdraw(value)
        elif name == "pedal_down":
            s.pedal_down(self.selected)
        elif name == "pedal_up":
            s.pedal_up()
        elif name == "select_view":
            if s.pedal_view is None:
                other = "lateral" if self.selected == "ap" else "ap"
                self.selected = value or other
        elif name in ("carm_step", "carm_preset"):
            self._turn_arm(name, value)
        elif name == "mix":
            s.mix()
        elif name == "inject_down":
            s.inject_down()
        elif name == "inject_up":
            s.inject_up()
        elif name == "rate":
            s.change_rate(value)
        elif name == "fast_time":
            s.time_scale = 1.0 if s.time_scale > 1 else FAST_TIME_SCALE
        elif name in ("pause", "help", "finish"):
            self._release_held()
            self.overlay = name
        elif name == "select_needle":
            s.select_needle()
        elif name == "screenshot":
            self.app.screenshot()

    @property
    def selected_arm(self) -> str:
        """The arm the C-arm keys turn: the one taking the pedal's view."""
        return self.session.proc.carm.arm_name(self.selected)

    def _turn_arm(self, name: str, value) -> None:
        s = self.session
        arm = self.selected_arm
        if name == "carm_step":
            s.step_arm(arm, *value)
        else:
            rotation, tilt = CARM_PRESETS[value]
            s.move_arm(arm, ArmPose(rotation_deg=rotation, tilt_deg=tilt))
        if s.proc.carm.single and s.pedal_view is None:
            self.selected = view_of_pose(s.arm_goal(arm))  # the pedal shoots where it points

    def _release_held(self) -> None:
        self.session.pedal_up()
        self.session.inject_up()

    def _overlay_key(self, event: pygame.event.Event) -> None:
        k = event.key
        if self.overlay == "finish":
            if k in (pygame.K_RETURN, pygame.K_KP_ENTER):
                self.overlay = None
                self.session.finish()
            elif k in (pygame.K_ESCAPE, pygame.K_f, pygame.K_n):
                self.overlay = None
        elif self.overlay == "pause" and k == pygame.K_f:
            self.overlay = "finish"
        elif k in (pygame.K_ESCAPE, pygame.K_p, pygame.K_F1, pygame.K_h, pygame.K_RETURN):
            self.overlay = None

    def _click(self, pos) -> None:
        s = self.session
        pm = self.monitors.panel_map("ap")
        if self.overlay is not None or pm is None:
            return
        rect = pygame.Rect(pm.left, pm.top, pm.size, pm.size)
        if not rect.collidepoint(pos):
            return  # the whole square counts: lateral entries lie outside the round field
        entry = entry_from_ap_click(pm, *pos, s.proc.phantom.skin_y_mm)
        if entry is None:
            s.say("no skin of the back under that point at this C-arm angle")
            return
        s.choose_entry(*entry)

    # ----- time and drawing ------------------------------------------------------------------
    def update(self, dt_s: float) -> None:
        """Advance the attempt by the real time elapsed (not while an overlay is open)."""
        s = self.session
        if self.overlay is None:
            s.update(dt_s)
        if s.proc.finished:
            self._to_debrief()

    def _to_debrief(self) -> None:
        log_path = self.session.close()
        self.app.show(
            "debrief", proc=self.session.proc, log_path=log_path, log_error=self.session.log_error
        )

    def on_quit(self) -> None:
        """Closing the window finishes the attempt and writes its log."""
        s = self.session
        if not s.proc.finished:
            s.finish()
            for _ in range(1000):  # an exposure under way holds the finish for a few ticks
                s.proc.step()
                if s.proc.finished:
                    break
        s.close()

    def draw(self, surf: pygame.Surface) -> None:
        """The room, then the open overlay."""
        self.monitors.draw(surf, selected=self.selected, title=self.title)
        if self.overlay == "help":
            draw_help(surf, "Keys", KEY_HELP)
        elif self.overlay == "pause":
            draw_message(
                surf,
                "Paused",
                ["The clock is stopped.", "P or Esc: resume      F: finish the attempt"],
            )
        elif self.overlay == "finish":
            draw_message(
                surf,
                "Finish the attempt?",
                ["Enter: finish and see your score", "Esc: go back to the procedure"],
            )
