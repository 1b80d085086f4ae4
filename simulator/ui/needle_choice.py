"""Which needle the window's keys and clicks act on (two needles, release 0.8.0 on): the
selected one, and the other's pending aim kept until it is selected again."""

from __future__ import annotations

DEFAULT_MEDIAL_DEG = 20.0
"""The pending aim's medial angle before a needle is first aimed (degrees)."""
DEFAULT_CAUDAL_DEG = 0.0


class NeedleChoice:
    """Mixed into :class:`~simulator.ui.session.LiveSession` (its ``proc``, ``say`` and pending
    aim: ``side``, ``entry_mm``, ``medial_deg``, ``caudal_deg``, ``model_aim``, ``sent_aim``)."""

    @property
    def needle(self):
        """The selected needle's model (:attr:`selected`)."""
        return self.proc.needles[self.selected] if self.proc.two_needles else self.proc.needle

    def _sided(self) -> dict:
        """The ``side`` field of a needle action (two needles: the selected one's)."""
        return {"side": self.selected} if self.proc.two_needles else {}

    _AIM = ("side", "entry_mm", "medial_deg", "caudal_deg", "model_aim", "sent_aim")

    def select_needle(self, side: str | None = None) -> None:
        """Select ``side``'s needle (None: the other one); each keeps its own pending aim."""
        if not self.proc.two_needles:
            self.say("this attempt has one needle")
            return
        side = side or ("right" if self.selected == "left" else "left")
        if side != self.selected:
            self._switch(side)
            self.say(f"{side} needle selected")

    def _switch(self, side: str) -> None:
        self._unselected[self.selected] = {k: getattr(self, k) for k in self._AIM}
        for k, v in self._unselected.pop(side, self._fresh_aim()).items():
            setattr(self, k, v)
        self.selected = side

    @staticmethod
    def _fresh_aim() -> dict:
        """A needle's pending aim before it is first aimed."""
        out = dict.fromkeys(NeedleChoice._AIM)
        out.update(medial_deg=DEFAULT_MEDIAL_DEG, caudal_deg=DEFAULT_CAUDAL_DEG)
        return out
