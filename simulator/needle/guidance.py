"""How the needle and the injection were guided by the images: the milestones of the needle's
path (first bone contact, the tip past the body's posterior wall), the longest advance through
bone without a fresh image, whether a frontal image checked the medial pedicle wall before the
tip passed that wall, and the most cement injected between two images.

A real operator advances the trocar through the pedicle a few millimetres at a time and looks
after each step, and checks on the AP that the tip is still lateral to the medial pedicle
border when the lateral shows it reaching the posterior wall of the body (the medial-wall
rule: ``docs/SCORING.md``); while injecting, they screen the lateral every few tenths of a
millilitre, so that a leak is seen while it is small. The procedure tells a
:class:`GuidanceWatch` after every tick the needle moved and after every exposure; the watch
turns that into the metrics of ``assets/metrics.toml`` (``max_blind_advance_mm`` …, release
0.7.0 on).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Run:
    """One stretch of forward travel in bone without an image."""

    mm: float = 0.0
    from_s: float | None = None
    until_s: float | None = None


class GuidanceWatch:
    """The needle's milestones and its image guidance over one attempt (mutable).

    ``needle``: the procedure's :class:`~simulator.needle.model.NeedleModel`; ``wall_y_mm``: the
    treated body's posterior wall (anatomy y, mm; the tip has passed it when its y is less)."""

    def __init__(self, needle, wall_y_mm: float):
        self.needle = needle
        self.wall_y_mm = float(wall_y_mm)
        self.entered_bone_s: float | None = None
        """When the needle first engaged bone (s), None before."""
        self.passed_wall_s: float | None = None
        """When the tip first passed the body's posterior wall (s), None before."""
        self._last_image_s: float | None = None
        self._depth_mm: float | None = None
        self._run = _Run()
        self._longest = _Run()
        self._frontal_in_pedicle = False
        self._in_bone = False
        self._ml_at_image = 0.0
        self._max_unwatched_ml = 0.0
        self.medial_wall_checked: bool | None = None
        """Set when the tip first passes the wall: whether a frontal image was taken while the
        needle was in bone and its tip not yet past the wall."""

    def moved(self, t_s: float) -> None:
        """After a tick in which the needle moved (its end, ``t_s`` s)."""
        s = self.needle.state
        if not s.placed:
            return
        depth = float(s.inserted_mm)
        previous, self._depth_mm = self._depth_mm, depth
        # a shaft in bone stays in bone while it goes deeper (only then is the check saved)
        forward = previous is not None and depth > previous
        in_bone = (forward and self._in_bone) or self.needle.engaged_in_bone()
        self._in_bone = in_bone
        if self.entered_bone_s is None and in_bone:
            self.entered_bone_s = t_s
        if self.passed_wall_s is None and s.tip_mm[1] < self.wall_y_mm:
            self.passed_wall_s = t_s
            self.medial_wall_checked = self._frontal_in_pedicle
        if in_bone and forward:
            if self._run.mm == 0.0:
                self._run.from_s = self._last_image_s if self._last_image_s is not None else t_s
            self._run.mm += depth - previous
            self._run.until_s = t_s
            if self._run.mm > self._longest.mm:
                self._longest = _Run(self._run.mm, self._run.from_s, self._run.until_s)

    def aimed(self) -> None:
        """After an aim: the needle starts again from the skin."""
        self._depth_mm = float(self.needle.state.inserted_mm)
        self._in_bone = self.needle.engaged_in_bone()

    def imaged(self, t_s: float, *, frontal: bool, injected_ml: float) -> None:
        """After an exposure at ``t_s`` (``frontal``: the frontal arm's beam, an AP-like view
        on which the medial pedicle border shows; ``injected_ml``: the cement injected so far,
        ml)."""
        self._last_image_s = t_s
        self._unwatched(injected_ml)
        self._ml_at_image = injected_ml
        self._run = _Run()
        if frontal and self.passed_wall_s is None and self.needle.engaged_in_bone():
            self._frontal_in_pedicle = True

    def _unwatched(self, injected_ml: float) -> None:
        self._max_unwatched_ml = max(self._max_unwatched_ml, injected_ml - self._ml_at_image)

    def metrics(self, injected_ml: float) -> dict:
        """``max_blind_advance_mm`` with when that advance began and ended,
        ``medial_wall_checked`` (None while the tip has not passed the wall),
        ``entered_bone_s``, ``passed_wall_s`` and ``max_unwatched_injection_ml`` (with the
        cement injected so far, ``injected_ml``: what came after the last image counts)."""
        self._unwatched(injected_ml)

        def t(v):
            return None if v is None else round(v, 6)

        return {
            "max_blind_advance_mm": round(self._longest.mm, 3),
            "max_blind_advance_from_s": t(self._longest.from_s),
            "max_blind_advance_until_s": t(self._longest.until_s),
            "medial_wall_checked": self.medial_wall_checked,
            "entered_bone_s": t(self.entered_bone_s),
            "passed_wall_s": t(self.passed_wall_s),
            "max_unwatched_injection_ml": round(self._max_unwatched_ml, 4),
        }
