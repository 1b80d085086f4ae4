"""The procedure: one clock, actions in, events out.

A :class:`Procedure` advances in fixed ticks of ``TICK_S`` simulated seconds. An action takes
effect at the first tick at or after its time; a refused action becomes a ``refused`` event
with the reason. The procedure owns the needle, the C-arm with its dose ledger and the cement
model. The window, scripts and replays all drive it through :meth:`Procedure.submit` /
:meth:`Procedure.run`; nothing in it depends on the wall clock or the frame rate.

Ticks in which nothing can change are jumped over: each part says when it next changes by
itself (``next_change_s``: the needle while it moves, the C-arm when a turn ends, the cement
while it flows or when it sets), and the procedure steps only while something moves, jumping
to the earliest of those and the next action. The result is identical to stepping every tick
(``jump_idle=False``; tests/test_idle_jump.py compares the two on the persona scripts).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from simulator.actions import Action
from simulator.anatomy.build import build_phantom
from simulator.anatomy.phantom import Phantom
from simulator.cement.injection import CementInjection, CementModel
from simulator.cement.solver import blas_single_thread
from simulator.fluoro import NeedleRender
from simulator.fluoro.alignment import alignment_metrics, make_carm, planned_line
from simulator.fluoro.visibility import LeakWatch
from simulator.metrics import check_metrics
from simulator.needle.guidance import GuidanceWatch
from simulator.needle.metrics import SHARED, combined, needle_metrics
from simulator.needle.model import NeedleModel
from simulator.procedure.actions import ActionHandlers
from simulator.releases import ModelOptions
from simulator.units import SIDES

TICK_S = 0.02
"""The fixed step (s)."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened: ``t_s`` simulated seconds, ``kind``, ``details``."""

    t_s: float
    kind: str
    details: Mapping[str, Any]

    def as_json(self) -> dict:
        """The log form."""
        return {"t_s": round(self.t_s, 6), "kind": self.kind, "details": dict(self.details)}


class Procedure(ActionHandlers):
    """One attempt at one scenario (mutable); its actions' handlers: :class:`ActionHandlers`."""

    def __init__(
        self,
        scenario,
        *,
        seed: int | None = None,
        phantom: Phantom | None = None,
        render_images: bool = True,
        cement: CementModel | None = None,
        model: ModelOptions | None = None,
        jump_idle: bool = True,
    ):
        """``jump_idle``: jump over the ticks in which nothing changes (False: step every
        tick, the reference the jumps are tested against)."""
        self.scenario = scenario
        self.jump_idle = jump_idle
        self.model = model if model is not None else ModelOptions()
        self.seed = scenario.scenario.seed if seed is None else int(seed)
        self.phantom = phantom or build_phantom(scenario, seed=self.seed, model=self.model)
        eq = scenario.equipment
        wall_y = self.phantom.geometry.body.wall_y_mm
        self.needles: dict[str, NeedleModel] = {}
        """The needles by side (release 0.8.0 on: one per pedicle; before, one needle, which
        an ``aim`` at the other side re-aims, under the key ``left``)."""
        self.guidances: dict[str, GuidanceWatch] = {}
        """Each needle's milestones (bone, the posterior wall) and its image guidance."""
        for side in SIDES if self.model.two_needles else ("left",):
            self.needles[side] = NeedleModel(
                self.phantom,
                gauge=eq.needle_gauge,
                length_mm=eq.needle_length_mm,
                wall_contact_events=self.model.wall_contact_events,
            )
            self.guidances[side] = GuidanceWatch(self.needles[side], wall_y)
        self.active_side = "left"
        """The selected needle's key: the side last aimed, moved or injected through."""
        self._injecting_side = "left"  # the needle the syringe is on (one syringe)
        self.carm = make_carm(
            scenario, self.phantom, seed=self.seed, images=render_images, model=self.model
        )
        self.ledger = self.carm.ledger
        self.cement: CementModel = (
            cement
            if cement is not None
            else CementInjection(scenario, self.phantom, **self.model.cement_options())
        )
        self.leak_watch = LeakWatch.for_attempt(self.carm, scenario, self.model)  # 0.5.0 on
        self._pedicle_lines: dict[str, tuple] = {}
        self.exposing_until_s = 0.0
        """End of the exposure under way (s); actions wait for it (``pulse_clock``)."""
        self._waited = False
        self.tick = 0
        self.steps = 0
        """Ticks stepped (the rest were jumped over)."""
        self.events: list[Event] = []
        self.applied: list[dict] = []
        self.finished = False
        self._queue: deque[Action] = deque()
        self._last_t = 0.0

    # ----- time ------------------------------------------------------------------------------
    @property
    def t_s(self) -> float:
        """Simulated time now (s)."""
        return self.tick * TICK_S

    def submit(self, action: Action) -> None:
        """Queue an action; it applies at the first tick at or after ``action.t`` (an action
        dated in the past applies at the next tick)."""
        if action.t < self._last_t:
            raise ValueError("actions must be submitted in time order")
        self._last_t = action.t
        self._queue.append(action)

    def step(self) -> list[Event]:
        """Advance one tick; returns the events it produced."""
        if self.finished:
            return []
        self.steps += 1
        start = len(self.events)
        now = self.t_s
        while self._queue and self._queue[0].t <= now + 1e-9 and not self.exposing:
            self._apply(self._queue.popleft())
            if self.finished:
                return self.events[start:]
        for view, pulses in self.carm.due(now):
            self._waited = False
            self._expose(view, pulses, continued=False)
        end = now + TICK_S
        for side, needle in self.needles.items():
            moving = needle.state.moving
            for kind, details in needle.step(TICK_S, end):
                self._event(kind, self._sided(details, side), t_s=end)
            if moving:
                self.guidances[side].moved(end)
        if self.cement.active:
            syringe = self.needles[self._injecting_side].state
            for kind, details in self.cement.step(TICK_S, end, syringe):
                self._event(kind, details, t_s=end)
        self.tick += 1
        if self.t_s >= self.scenario.scenario.time_limit_s - 1e-9:
            self._finish("time limit")
        return self.events[start:]

    def run(self, actions: Iterable[Action]) -> Procedure:
        """Play a whole script; finishes at its ``finish`` action, at the time limit, or when
        the script has run out and nothing is moving any more."""
        for action in actions:
            self.submit(action)
        while not self.finished:
            if self.idle and not self._queue:
                self._finish("end of script")
            else:  # through the tick of the next action (or one tick while moving)
                due = self._due_tick() if self._queue else self.tick
                self._advance_to_tick(max(due, self.tick) + 1)
        return self

    @property
    def idle(self) -> bool:
        """True when nothing changes with time until the next queued action."""
        return (
            not any(n.state.moving for n in self.needles.values())
            and not self.cement.active
            and not self.carm.pending
            and not self.exposing
        )

    def next_change_s(self) -> float:
        """The next time (s) a step would change anything unless an action comes: the
        earliest of the needle's, the C-arm's and the cement's own (``next_change_s`` of
        each), and the end of an exposure under way (the queue waits for it); now while
        something moves, inf when nothing will."""
        t = self.t_s
        soonest = min(n.next_change_s(t) for n in self.needles.values())
        soonest = min(soonest, self.carm.next_change_s(t))
        cement = getattr(self.cement, "next_change_s", None)
        if cement is not None:
            soonest = min(soonest, cement(t))
        elif self.cement.active:  # a model that cannot tell: stepped while active
            soonest = t
        if self.exposing:
            soonest = min(soonest, self.exposing_until_s)
        return soonest

    def _quiet_until_tick(self) -> float | None:
        """The tick up to which steps may be jumped over (inf: any), or None when this tick
        must be stepped: 2 ticks before :meth:`next_change_s` (a tick's step acts at its end,
        and times fall between ticks: stepping a quiet tick changes nothing, so waking early is
        always exact)."""
        if not self.jump_idle:
            return None
        soonest = self.next_change_s()
        if soonest == math.inf:
            return math.inf
        wake = math.floor(soonest / TICK_S) - 2
        return wake if wake > self.tick else None

    @property
    def exposing(self) -> bool:
        """True while an exposure's pulses are being taken (the next action waits)."""
        return self.t_s < self.exposing_until_s - 1e-9

    def _due_tick(self) -> int:
        """The tick the next queued action may apply at: its own, or later while an exposure
        it waits for is under way (a tick or two early: stepping a quiet tick is exact)."""
        due = self._tick_of(self._queue[0].t)
        if self.exposing:
            due = max(due, math.floor(self.exposing_until_s / TICK_S) - 2)
        return due

    @staticmethod
    def _tick_of(t_s: float) -> int:
        """The first tick at or after ``t_s``."""
        return math.ceil(t_s / TICK_S - 1e-9)

    def advance_to(self, t_s: float) -> None:
        """Step until the first tick at or after ``t_s`` (or the end); idle ticks are jumped
        over in one go, with the same result as stepping through them."""
        self._advance_to_tick(self._tick_of(t_s))

    def _advance_to_tick(self, target: int) -> None:
        # the model's linear algebra is on vectors of ~10⁴ entries: BLAS threads only contend
        # (measured: a fuzzed 37-action attempt 11.2 s → 5.2 s on a busy 2-core machine)
        with blas_single_thread():
            self._advance_to_tick_unlimited(target)

    def _advance_to_tick_unlimited(self, target: int) -> None:
        limit = self._tick_of(self.scenario.scenario.time_limit_s)
        while not self.finished and self.tick < target:
            wake = self._quiet_until_tick()
            if wake is not None:
                due = self._due_tick() if self._queue else target
                jump = min(max(due, self.tick), target, wake)
                if jump >= limit:
                    self.tick = limit
                    self._finish("time limit")
                    return
                if jump > self.tick:
                    self.tick = jump
                    continue
            self.step()

    # ----- actions ------------------------------------------------------------------------------
    def _apply(self, action: Action) -> None:
        self.applied.append({"tick": self.tick, **action.as_json()})
        self._waited = action.t < self.exposing_until_s - 1e-9  # for an exposure that ended
        selected = self.active_side
        reason = getattr(self, f"_do_{action.do}")(action.args)
        if reason:
            self.active_side = selected  # a refused action selects no needle
            self._event("refused", {"do": action.do, "reason": reason})

    # ----- state ----------------------------------------------------------------------------------
    def _event(self, kind: str, details: dict, *, t_s: float | None = None) -> None:
        t = self.t_s if t_s is None else t_s
        self.events.append(Event(t_s=t, kind=kind, details=MappingProxyType(dict(details))))

    def _finish(self, reason: str) -> None:
        if not self.finished:
            if reason == "time limit":
                # the clock ended the attempt: recorded as a finish action at the limit, so a
                # log's actions alone replay to the same end
                self.applied.append({"tick": self.tick, "t": self.t_s, "do": "finish"})
            self._event("finish", {"reason": reason})
            self.finished = True

    # ----- the needles ----------------------------------------------------------------------
    @property
    def needle(self) -> NeedleModel:
        """The selected needle (:attr:`active_side`)."""
        return self.needles[self.active_side]

    @property
    def guidance(self) -> GuidanceWatch:
        """The selected needle's guidance watch."""
        return self.guidances[self.active_side]

    @property
    def two_needles(self) -> bool:
        """True when each pedicle has its own needle (release 0.8.0 on)."""
        return len(self.needles) > 1

    def placed_sides(self) -> list[str]:
        """The sides whose needle has been aimed, in the order left, right."""
        return [side for side, n in self.needles.items() if n.state.placed]

    def _sided(self, details: dict, side: str) -> dict:
        """``details`` with the needle's ``side`` (two needles: which one it was)."""
        return {**details, "side": side} if self.two_needles else details

    def needle_render(self) -> NeedleRender | tuple[NeedleRender, ...] | None:
        """The needles as the image needs them: one render per placed needle (a tuple when
        two are placed), or None before the first aim."""
        lumen = self.cement if self.model.visible_cement else None  # the cannulas' cement
        renders = tuple(
            NeedleRender.of(self.needles[side].state, cement=lumen) for side in self.placed_sides()
        )
        if not renders:
            return None
        return renders[0] if len(renders) == 1 else renders

    def metrics(self) -> dict:
        """The metrics (``assets/metrics.toml``) known so far (needle, radiation, time, cement),
        their names checked against the release's (``model.metrics_release``). Two needles
        (0.8.0 on): ``needles`` holds each placed needle's own, and the needle metrics of the
        attempt are :func:`~simulator.needle.metrics.combined` of them."""
        out = {"procedure_time_s": round(self.t_s, 6), **self.ledger.metrics()}
        out.update({k: round(out[k], 6) for k in ("dose_dap_mgycm2", "fluoro_time_s")})
        placed = {side: self._needle_metrics(side) for side in self.placed_sides()}
        out.update(combined(placed) if placed else self._needle_metrics(self.active_side))
        if self.two_needles and self.model.has_metrics_of("0.8.0"):
            out["needles"] = {side: {k: v for k, v in m.items() if k not in SHARED}
                              for side, m in placed.items()}  # fmt: skip
        out.update(self.leak_watch.metrics(self.cement))  # 0.5.0 on: when leaks showed
        release = self.model.metrics_release
        check_metrics(out, "procedure", release=release)  # its names
        check_metrics(cement := self.cement.metrics(), "cement", release=release)
        out.update(cement)
        return out

    def _needle_metrics(self, side: str) -> dict:
        """One needle's metrics: where it is and what it did, its images' alignment (0.3.0 on)
        and its image guidance (0.7.0 on)."""
        needle, guidance = self.needles[side], self.guidances[side]
        s = needle.state
        out = needle_metrics(needle)
        if not self.carm.legacy:  # the C-arm device (0.3.0 on): the alignment metrics
            out.update(
                alignment_metrics(
                    self.carm,
                    self.phantom,
                    side=s.side,
                    passed_wall_s=guidance.passed_wall_s,
                    entered_bone_s=guidance.entered_bone_s,
                    pedicle_line=None if s.side is None else self.pedicle_line(s.side),
                )
            )
        if self.model.has_metrics_of("0.7.0"):  # the image guidance
            out.update(guidance.metrics(self.cement.injected_m3 * 1e6))
        return out

    def pedicle_line(self, side: str) -> tuple:
        """``side``'s planned trajectory (:func:`planned_line`), planned once per side."""
        if side not in self._pedicle_lines:
            self._pedicle_lines[side] = planned_line(self.phantom, self.scenario, side)
        return self._pedicle_lines[side]

    def tip_zone(self) -> str:
        """Where the tip is (:meth:`NeedleModel.tip_zone`)."""
        return self.needle.tip_zone()
