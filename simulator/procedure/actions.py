"""What each action does to the attempt: the ``_do_<action>`` handlers of
:class:`~simulator.procedure.Procedure` (``simulator.actions`` defines them), and the exposure
an image takes."""

from __future__ import annotations

import math

from simulator.fluoro.device import view_of_pose
from simulator.fluoro.poses import ArmPose
from simulator.materials import tissues


class ActionHandlers:
    """The handlers; each returns a refusal reason or None (mixed into ``Procedure``, whose
    needle, C-arm, cement and clock they act on)."""

    def _select(self, a) -> None:
        """Select the needle an action names (``side``; two needles only): the aim's side, or
        the ``side`` of an advance, withdraw or inject (none: the selected one); a refused
        action leaves the selection as it was (``Procedure._apply``)."""
        if self.two_needles and a.get("side") is not None:
            self.active_side = a["side"]

    def _unplaced(self) -> str:
        side = f"{self.active_side} " if self.two_needles else ""
        return f"aim the {side}needle first"

    def _do_aim(self, a) -> str | None:
        self._select(a)
        reason = self.needle.aim(a["side"], a["entry_mm"], a["medial_deg"], a["caudal_deg"])
        if reason is None:
            s = self.needle.state
            self.guidance.aimed()
            self._event(
                "aim",
                {
                    "side": a["side"],
                    "entry_mm": list(a["entry_mm"]),
                    "medial_deg": a["medial_deg"],
                    "caudal_deg": a["caudal_deg"],
                    "skin_mm": [round(float(v), 3) for v in s.skin_mm],
                    "tissue": tissues().names[self.needle.label_at_tip()],
                },
            )
        return reason

    def _do_advance(self, a) -> str | None:
        self._select(a)
        return self._move(a["mm"])

    def _do_withdraw(self, a) -> str | None:
        self._select(a)
        return self._move(-a["mm"])

    def _move(self, delta_mm: float) -> str | None:
        s = self.needle.state
        if not s.placed:
            return self._unplaced()
        before = s.goal_mm
        self.needle.move_goal(delta_mm)
        kind = "advance" if delta_mm > 0 else "withdraw"
        details = {"mm": abs(delta_mm), "goal_mm": round(s.goal_mm, 3)}
        if abs((s.goal_mm - before) - delta_mm) > 1e-9:
            details["limited_to_mm"] = round(abs(s.goal_mm - before), 3)
        self._event(kind, self._sided(details, self.active_side))
        return None

    def _do_fluoro(self, a) -> str | None:
        view, pulses, continued = a["view"], a["pulses"], a.get("continued", False)
        what, detail = self.carm.request_shot(view, pulses, self.t_s, continued=continued)
        if what == "refused":
            return detail
        if what == "wait":
            if detail is not None:  # a single C-arm turns to the other view; the shot follows
                self._event("carm_rotate", detail)
            return None
        self._expose(view, pulses, continued=continued)
        return None

    def _do_carm(self, a) -> str | None:
        if self.carm.legacy:
            return "this release's C-arm has fixed views"
        arm = a.get("arm", "single" if self.carm.single else None)
        if arm is None:
            return "say which arm: frontal or lateral"
        pose = ArmPose(rotation_deg=a["rotation_deg"], tilt_deg=a["tilt_deg"])
        reason, details = self.carm.move(arm, pose, self.t_s)
        if reason is None:
            self._event("carm", details)
        return reason

    def _expose(self, view: str, pulses: int, *, continued: bool) -> None:
        requested = pulses
        if self.model.pulse_clock:
            rate = self.ledger.beam.pulse_rate_hz
            # an exposure that waited for the one before starts where that one ended, so that
            # pulses sent at the pulse rate (the held pedal) do not fall behind by the ticks
            start = self.exposing_until_s if self._waited else self.t_s
            left_s = self.scenario.scenario.time_limit_s - start
            pulses = max(1, min(pulses, math.floor(left_s * rate + 1e-9)))  # the clock ends
            # (another arm's exposure may be under way: the clock runs to the later end)
            self.exposing_until_s = max(self.exposing_until_s, start + pulses / rate)
        images = self.carm.imager is not None  # headless: no image to hand the scene to
        pose = self.carm.expose(
            view,
            pulses,
            self.t_s,
            continued=continued,
            needle=self.needle_render() if images else None,
            cement=self.cement.field() if images else None,
        )
        self.leak_watch.expose(self.t_s, pose, self.cement)
        frontal = view == "ap" if self.carm.legacy else view_of_pose(pose) == "ap"
        for guidance in self.guidances.values():  # every needle is on every image
            guidance.imaged(self.t_s, frontal=frontal, injected_ml=self.cement.injected_m3 * 1e6)
        details = {"view": view, "pulses": pulses}
        if not self.carm.legacy:
            details.update(pose.as_json())
        if pulses < requested:
            details["cut_by_time_limit_from"] = requested
        if continued:
            details["continued"] = True
        self._event("fluoro", details)

    def _do_mix(self, a) -> str | None:
        product = a.get("cement", self.scenario.cement.product)
        reason = self.cement.mix(self.t_s, product)
        if reason is None:
            self._event("mix", {"cement": product})
        return reason

    def _do_inject(self, a) -> str | None:
        self._select(a)
        reason = self.cement.inject(self.t_s, a["rate_ml_min"], a.get("ml"), self.needle.state)
        if reason is None:
            self._injecting_side = self.active_side  # the syringe on this needle's cannula
            self._event("inject", self._sided(dict(a), self.active_side))
        return reason

    def _do_stop(self, a) -> str | None:
        reason = self.cement.stop(self.t_s)
        if reason is None:
            self._event("stop", {})
        return reason

    def _do_finish(self, a) -> str | None:
        self._finish("finish")
        return None
