"""A live attempt as the window drives it: user intents → Actions, real time → ticks.

Real-time stepping: every frame the window passes the real seconds elapsed since the last
frame (zero while paused). They accumulate (times ``time_scale``, 1 normally, 8 while the
trainee fast-forwards a wait) and the procedure advances by as many whole 20 ms ticks as fit,
at most ``max_frame_s`` of simulated time per frame; the excess is dropped, so one slow frame
cannot make the next ones slower (no spiral). Each action is built with ``t = proc.t_s``, the
time of the next tick, so it applies at that tick and the log's applied actions replay
headless to the same events, metrics and score.

The pedal: pressing it takes one pulse (``fluoro view``); holding it adds a ``continued``
pulse every 1/7.5 s of simulated time (the beam's pulse rate), which counts fluoroscopy time
and dose but not a new shot. Injection runs while its key is held (``inject`` then ``stop``).

The C-arm: the trainee turns the selected arm in steps or to a preset; the session keeps the
pose asked for and sends one ``carm`` action with it when the arm is free (the model refuses a
turn while the arm turns), so steps pressed during a turn add up and go as one. While the
pedal's arm turns, the held pedal's pulses wait until it arrives.

The needle's aim (entry on the skin, medial and caudal angles) is kept here until the
trainee advances: only then is an ``aim`` action sent, so fiddling with the angles before
inserting is not counted as a reposition. With the needle in the patient, a changed aim is a
re-aim (the model puts the tip back on the skin, and refuses while it is engaged in bone); the
window says so (:data:`REAIM_MESSAGE`, or the refusal) and the HUD warns before the advance.
"""

from __future__ import annotations

from collections import deque

from simulator.actions import ACTIONS, make_action
from simulator.assets import load_table
from simulator.cement.solver import blas_single_thread
from simulator.fluoro.poses import ArmPose
from simulator.procedure import TICK_S, Procedure
from simulator.ui.needle_choice import DEFAULT_CAUDAL_DEG, DEFAULT_MEDIAL_DEG, NeedleChoice

DEFAULT_RATE_ML_MIN = 2.0
FAST_TIME_SCALE = 8.0
REAIM_MESSAGE = "needle withdrawn to the skin (from {mm:.1f} mm) to change its angle"
"""Said when an accepted re-aim puts an inserted needle back on the skin (the model's rule)."""
HINT_KINDS = ("breach", "leak")
"""Events only shown with training hints on (the real procedure gives no such warning)."""


class LiveSession(NeedleChoice):
    """One attempt driven by the window. ``recorder`` (an AttemptRecorder) journals and logs
    every action; without one, actions go straight to the procedure (replays, benches)."""

    def __init__(
        self,
        proc: Procedure,
        *,
        recorder=None,
        hints: bool = False,
        max_frame_s: float = 0.1,
        follow_model: bool = False,
    ):
        self.proc = proc
        self.recorder = recorder
        self.hints = hints
        self.max_frame_s = max_frame_s
        self.follow_model = follow_model  # replays: show the model's aim, not a pending one
        self.selected = "left"
        """The needle the keys and clicks act on (two needles; with one, always its)."""
        self._unselected: dict[str, dict] = {}  # the other needle's pending aim, kept
        self.side: str | None = None
        self.entry_mm: tuple[float, float] | None = None
        self.medial_deg = DEFAULT_MEDIAL_DEG
        self.caudal_deg = DEFAULT_CAUDAL_DEG
        self.model_aim: tuple | None = None  # (side, entry, medial, caudal) last accepted
        self.sent_aim: tuple | None = None  # the last aim sent (accepted or not yet applied)
        self.rate_ml_min = DEFAULT_RATE_ML_MIN
        self.time_scale = 1.0
        self.pedal_view: str | None = None
        self._next_pulse_s = 0.0
        self.inject_held = False
        self.arm_goals: dict[str, ArmPose] = {}  # poses asked for, sent when the arm is free
        self._arm_sent: deque[tuple[str, ArmPose]] = deque()  # carm sent, not yet answered
        self.messages: deque[tuple[float, str]] = deque(maxlen=4)
        self.log_path = None
        self.log_error: str | None = None
        self._acc_s = 0.0
        self._seen = 0
        self.pulse_period_s = 1.0 / float(load_table("fluoro")["beam"]["pulse_rate_hz"])
        self._continued = "continued" in ACTIONS["fluoro"]

    # ----- actions --------------------------------------------------------------------------
    def act(self, do: str, **fields) -> None:
        """Submit one action at the current tick."""
        action = make_action(self.proc.t_s, do, **fields)
        if self.recorder is not None:
            self.recorder.submit(action)
        else:
            self.proc.submit(action)

    def say(self, message: str) -> None:
        """Show a message on the status line."""
        self.messages.append((self.proc.t_s, message))

    @property
    def inserted_mm(self) -> float:
        """The selected needle's inserted length (mm), 0 before its first advance."""
        s = self.needle.state
        return s.inserted_mm if s.placed else 0.0

    @property
    def can_choose_entry(self) -> bool:
        """The entry can be (re)chosen while the needle is not in the patient."""
        return self.inserted_mm < 0.01 and not self.needle.state.moving

    def choose_entry(self, side: str, entry_mm: tuple[float, float]) -> None:
        """Set the skin entry (pending until the next advance); with two needles, of the
        needle on that side, which it selects."""
        if self.proc.two_needles:
            self.select_needle(side)
        if not self.can_choose_entry:
            self.say("the needle is in: withdraw it to the skin to choose another entry")
            return
        self.side, self.entry_mm = side, entry_mm

    def turn(self, d_medial_deg: float = 0.0, d_caudal_deg: float = 0.0) -> None:
        """Change the pending aim angles (degrees)."""
        self.medial_deg = round(min(max(self.medial_deg + d_medial_deg, -45.0), 60.0), 2)
        self.caudal_deg = round(min(max(self.caudal_deg + d_caudal_deg, -45.0), 45.0), 2)

    def aim_pending(self) -> bool:
        """True when the aim shown differs from the needle's."""
        if self.entry_mm is None:
            return False
        return (self.side, self.entry_mm, self.medial_deg, self.caudal_deg) != self.sent_aim

    def advance(self, mm: float) -> None:
        """Push the needle ``mm`` further (sends the pending aim first)."""
        if self.entry_mm is None:
            self.say("click the skin entry point on the AP image first")
            return
        if self.aim_pending():
            self._send_aim()
            if self.needle.engaged_in_bone():
                return  # the model will refuse the re-aim; do not push along the old axis
        self.act("advance", mm=mm, **self._sided())

    def _send_aim(self) -> None:
        self.sent_aim = (self.side, self.entry_mm, self.medial_deg, self.caudal_deg)
        self.act(
            "aim",
            side=self.side,
            entry_mm=list(self.entry_mm),
            medial_deg=self.medial_deg,
            caudal_deg=self.caudal_deg,
        )

    def withdraw(self, mm: float) -> None:
        """Pull the needle back ``mm``."""
        if self.needle.state.placed:
            self.act("withdraw", mm=mm, **self._sided())

    def pedal_down(self, view: str) -> None:
        """Press the fluoroscopy pedal: one pulse now, more while held."""
        if self.pedal_view is not None:
            return
        self.time_scale = 1.0  # acting: back to real time
        self.act("fluoro", view=view)
        self.pedal_view = view
        self._next_pulse_s = self.proc.t_s + self.pulse_period_s

    def pedal_up(self) -> None:
        """Release the pedal."""
        self.pedal_view = None

    def mix(self) -> None:
        """Mix the scenario's cement."""
        self.act("mix")

    def inject_down(self) -> None:
        """Start pushing the syringe at the set rate."""
        if not self.inject_held:
            self.time_scale = 1.0
            self.inject_held = True
            self.act("inject", rate_ml_min=self.rate_ml_min, **self._sided())

    def inject_up(self) -> None:
        """Stop pushing."""
        if self.inject_held:
            self.inject_held = False
            # always: the inject may still be queued for the next tick (a quick tap)
            self.act("stop")

    def change_rate(self, delta_ml_min: float) -> None:
        """Change the injection rate (ml/min); applies at once while injecting."""
        self.rate_ml_min = round(min(max(self.rate_ml_min + delta_ml_min, 0.5), 10.0), 2)
        if self.inject_held:
            self.act("stop")
            self.act("inject", rate_ml_min=self.rate_ml_min, **self._sided())

    def finish(self) -> None:
        """End the attempt (scored at the next tick)."""
        self.pedal_view = None
        self.act("finish")

    # ----- the C-arm -----------------------------------------------------------------------
    def arm_goal(self, arm: str) -> ArmPose:
        """The pose ``arm`` is asked to reach: the one waiting to be sent, else the one sent,
        else where it turns to, else where it is."""
        if arm in self.arm_goals:
            return self.arm_goals[arm]
        for name, pose in reversed(self._arm_sent):
            if name == arm:
                return pose
        a = self.proc.carm.arms[arm]
        return a.target if a.target is not None else a.pose

    def move_arm(self, arm: str, pose: ArmPose) -> None:
        """Ask ``arm`` to turn to ``pose`` (degrees, clamped to the C-arm's travel): sent now
        when the arm is free, else when it is (a newer request replaces a waiting one)."""
        if self.proc.carm.legacy:
            self.say("this C-arm has fixed views")
            return
        lim = self.proc.carm.limits
        pose = ArmPose(
            rotation_deg=round(min(max(pose.rotation_deg, -lim.rotation_deg), lim.rotation_deg), 2),
            tilt_deg=round(min(max(pose.tilt_deg, -lim.tilt_deg), lim.tilt_deg), 2),
        )
        if pose == self.arm_goal(arm):
            return
        self.time_scale = 1.0
        self.arm_goals[arm] = pose
        self._send_arm_goals()

    def step_arm(self, arm: str, d_rotation_deg: float = 0.0, d_tilt_deg: float = 0.0) -> None:
        """Turn ``arm`` by a step (degrees) from the pose it is asked to reach."""
        goal = self.arm_goal(arm)
        self.move_arm(
            arm,
            ArmPose(
                rotation_deg=goal.rotation_deg + d_rotation_deg,
                tilt_deg=goal.tilt_deg + d_tilt_deg,
            ),
        )

    def arm_busy(self, arm: str) -> bool:
        """True while ``arm`` turns, a shot waits for it or a carm action to it is unanswered."""
        in_flight = any(name == arm for name, _ in self._arm_sent)
        return in_flight or self.proc.carm.turning_any(arm, self.proc.t_s)

    def _send_arm_goals(self) -> None:
        for arm, pose in list(self.arm_goals.items()):
            if self.arm_busy(arm):
                continue
            del self.arm_goals[arm]
            if pose == self.proc.carm.arms[arm].pose:
                continue
            fields = {"rotation_deg": pose.rotation_deg, "tilt_deg": pose.tilt_deg}
            if not self.proc.carm.single:
                fields["arm"] = arm
            self._arm_sent.append((arm, pose))
            self.act("carm", **fields)

    def turning(self, view: str) -> bool:
        """True while the arm that takes ``view``'s images turns or is about to (a turn asked
        for and not yet under way)."""
        carm = self.proc.carm
        arm = carm.arm_name(view)
        asked = arm in self.arm_goals or any(name == arm for name, _ in self._arm_sent)
        return asked or carm.turning(view, self.proc.t_s)

    @property
    def rotating(self) -> bool:
        """True while any arm turns or is about to."""
        return bool(self.arm_goals or self._arm_sent) or any(
            self.proc.t_s < a.ready_s - 1e-9 for a in self.proc.carm.arms.values()
        )

    # ----- time --------------------------------------------------------------------------------
    def update(self, real_dt_s: float) -> None:
        """Advance the model by ``real_dt_s`` real seconds (whole ticks, capped per frame)."""
        if self.proc.finished:
            return
        self._acc_s += max(real_dt_s, 0.0) * self.time_scale
        n = int(self._acc_s / TICK_S + 1e-9)
        cap = max(1, int(self.max_frame_s * max(self.time_scale, 1.0) / TICK_S + 1e-9))
        if n > cap:
            n, self._acc_s = cap, 0.0
        else:
            self._acc_s -= n * TICK_S
        with blas_single_thread():  # once per frame (≈ 0.2 ms), not per tick
            for _ in range(n):
                self.tick()
                if self.proc.finished:
                    break

    def tick(self) -> None:
        """One model tick, with the held pedal's pulses and the arm turns asked for."""
        if self.pedal_view is not None and self.proc.t_s >= self._next_pulse_s - 1e-9:
            self._pedal_pulse()
        self._send_arm_goals()
        depth_mm = self.inserted_mm  # actions apply first in a tick: the depth at an aim
        self.proc.step()
        if self.recorder is not None:
            self.recorder.heartbeat()
        self.read_events(depth_before_mm=depth_mm)

    def _pedal_pulse(self) -> None:
        """The held pedal's next pulse, or (its arm turning) the wait until the arm arrives."""
        view = self.pedal_view
        carm = self.proc.carm
        if self.turning(view):
            arm = carm.arms[carm.arm_name(view)]
            ready = arm.ready_s if self.proc.t_s < arm.ready_s - 1e-9 else self.proc.t_s
            self._next_pulse_s = ready + self.pulse_period_s
            return
        self._next_pulse_s += self.pulse_period_s
        if carm.single:  # a single C-arm shoots where it points once it has turned
            self.pedal_view = view = carm.single_view
        if self._continued:
            self.act("fluoro", view=view, continued=True)
        else:
            self.act("fluoro", view=view)

    def read_events(self, *, depth_before_mm: float | None = None) -> None:
        """Take in the procedure's new events (aim, refusals, C-arm turns, messages);
        ``depth_before_mm``, the needle's depth before the tick that made them, lets a re-aim
        that pulled the needle back to the skin say so."""
        events = self.proc.events
        for e in events[self._seen :]:
            d = e.details
            if e.kind == "aim" and self.proc.two_needles and d["side"] != self.selected:
                if self.follow_model:  # a replay shows the needle the attempt moved
                    self._switch(d["side"])
                else:  # the other needle's aim (sent before a switch): kept for it
                    kept = self._unselected.setdefault(d["side"], self._fresh_aim())
                    kept["model_aim"] = (d["side"], tuple(d["entry_mm"]), d["medial_deg"],
                                         d["caudal_deg"])  # fmt: skip
                    continue
            if e.kind == "aim":
                if self.model_aim is not None and (depth_before_mm or 0.0) > 0.01:
                    self.say(REAIM_MESSAGE.format(mm=depth_before_mm))
                self.model_aim = (
                    d["side"],
                    tuple(d["entry_mm"]),
                    d["medial_deg"],
                    d["caudal_deg"],
                )
                if self.follow_model:
                    self.sent_aim = self.model_aim
                    self.side, self.entry_mm, self.medial_deg, self.caudal_deg = self.model_aim
            elif e.kind == "inject" and self.follow_model:
                self.rate_ml_min = float(d["rate_ml_min"])
            elif e.kind == "carm" and self._arm_sent:
                self._arm_sent.popleft()  # carm actions are answered in the order sent
            elif e.kind == "refused":
                if d["do"] == "carm" and self._arm_sent:
                    self._arm_sent.popleft()
                self.say(f"{d['do']}: {d['reason']}")
                if d["do"] == "aim" and self.model_aim is not None:
                    self.sent_aim = self.model_aim
                    self.side, self.entry_mm, self.medial_deg, self.caudal_deg = self.model_aim
            elif e.kind == "stall":
                self.say("the syringe is hard to push: the cement does not go in at this rate")
            elif e.kind == "injection_stopped":
                self.say(f"injection stopped: {d.get('reason', '')}")
            elif e.kind == "injection_done":
                self.inject_held = False
            elif e.kind == "cement_used_up":
                self.inject_held = False
                self.say(
                    f"the syringe is empty: all the kit's cement is in ({d['injected_ml']:g} ml)"
                )
            elif e.kind == "finish" and d.get("reason") == "time limit":
                self.say("time is up")
            elif self.hints and e.kind in HINT_KINDS:
                what = d.get("kind") or d.get("site") or ""
                self.say(f"hint: {e.kind} {what}".strip())
        self._seen = len(events)

    def close(self):
        """Write the signed log once the procedure has finished; returns its path (None, with
        ``log_error`` saying why, when it cannot be written: the journal is then kept)."""
        if self.log_path is None and self.recorder is not None and self.proc.finished:
            try:
                self.log_path = self.recorder.finish()
            except OSError as exc:
                self.recorder.close()
                self.log_error = (
                    f"log not written ({exc.strerror}); the journal is kept at "
                    f"{self.recorder.journal_path} (python run_sim.py recover …)"
                )
        return self.log_path
