"""What the procedure needs of a cement model (:class:`CementModel`), and the cement it hands
the image (:class:`CementFill`).

The procedure owns one :class:`CementModel`. It forwards ``mix``, ``inject`` and ``stop``,
calls :meth:`CementModel.step` every tick while :attr:`CementModel.active`, asks
:meth:`CementModel.field` for the image and :meth:`CementModel.metrics` at the end. A refusal
is a reason string (the procedure turns it into a ``refused`` event), never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.needle.model import NeedleState


@dataclass(frozen=True, kw_only=True)
class CementFill:
    """Cement volume fraction (0–1) per voxel on a sub-box (``slices``) of the phantom grid, and
    the product's barium sulphate mass fraction; the fluoroscopy computes the attenuation.
    Release 0.5.0 on, also cement as points (the veins': anatomy-frame mm, mm³ each) and
    ``parts()``, the cement as points by leak site (for the leak visibility); ``fraction``
    is None when all the cement is in the veins."""

    slices: tuple[slice, slice, slice]
    fraction: np.ndarray | None
    barium_mass_fraction: float
    points_mm: np.ndarray | None = None
    points_mm3: np.ndarray | None = None
    parts: Callable[[], dict | None] | None = None


class CementModel(Protocol):
    """What the procedure needs of a cement model."""

    @property
    def active(self) -> bool:
        """True while something changes with time (curing after mixing, flow)."""

    injected_m3: float
    """Cement pushed out of the syringe so far (m³)."""

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

    def next_change_s(self, t_s: float) -> float:
        """The next time (s, ≥ ``t_s``) a step changes the cement (inf: none will); optional:
        a model without it is stepped every tick while :attr:`active`."""

    def field(self) -> CementFill | None:
        """The cement volume fraction for the image, or None when there is none."""

    def display_state(self, t_s: float) -> dict | None:
        """What the trainee's gauges show, or None before mixing."""

    def metrics(self) -> dict:
        """The cement metrics, ``assets/metrics.toml`` (empty when no cement model runs)."""
