"""The cement model's interface, as the procedure calls it.

The procedure owns one :class:`CementModel`. It forwards ``mix``, ``inject`` and ``stop``,
calls :meth:`CementModel.step` every tick while :attr:`CementModel.active`, asks
:meth:`CementModel.field` for the image and :meth:`CementModel.metrics` at the end. A refusal
is a reason string (the procedure turns it into a ``refused`` event), never an exception.

The physical model (curing rheology, Darcy flow in the phantom, cannula pressure, leaks) is
a later piece of work; until it lands, :class:`CementUnavailable` refuses mixing and injecting
so that an attempt without cement runs end to end and says so.
"""

from __future__ import annotations

from typing import Protocol

from simulator.fluoro.projection import CementField
from simulator.needle import NeedleState


class CementModel(Protocol):
    """What the procedure needs of a cement model."""

    @property
    def active(self) -> bool:
        """True while something changes with time (curing after mixing, flow)."""

    def mix(self, t_s: float, product: str) -> str | None:
        """Start the curing clock of ``product``; a refusal reason or None."""

    def inject(
        self, t_s: float, rate_ml_min: float, ml: float | None, needle: NeedleState
    ) -> str | None:
        """Start injecting at ``rate_ml_min`` until ``ml`` are delivered or ``stop``."""

    def stop(self, t_s: float) -> str | None:
        """Stop injecting."""

    def step(self, dt_s: float, t_s: float, needle: NeedleState) -> list[tuple[str, dict]]:
        """Advance ``dt_s`` seconds; returns events ``(kind, details)``."""

    def field(self) -> CementField | None:
        """The cement volume fraction for the image, or None when there is none."""

    def metrics(self) -> dict:
        """The cement metrics of DESIGN §4.4 (empty when no cement model runs)."""


class CementUnavailable:
    """Stands in for the cement model until it is built: refuses mixing and injecting."""

    REASON = "the cement model is not part of this version yet"
    active = False

    def mix(self, t_s: float, product: str) -> str | None:
        """Refuse: there is no cement model."""
        return self.REASON

    def inject(self, t_s, rate_ml_min, ml, needle) -> str | None:
        """Refuse: there is no cement model."""
        return self.REASON

    def stop(self, t_s: float) -> str | None:
        """Nothing is being injected."""
        return "no injection is running"

    def step(self, dt_s, t_s, needle) -> list[tuple[str, dict]]:
        """Nothing happens."""
        return []

    def field(self) -> CementField | None:
        """No cement."""
        return None

    def metrics(self) -> dict:
        """No cement metrics."""
        return {}
