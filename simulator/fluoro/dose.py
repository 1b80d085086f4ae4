"""The dose ledger: pulses, fluoroscopy time and dose–area product per view.

Model (numbers in ``assets/fluoro.toml [beam]``): each pulse counts ``1/pulse_rate_hz`` seconds
on the fluoroscopy timer and delivers the view's entrance air kerma per pulse K (mGy) over the
collimated field area A (cm²), so DAP per pulse = K·A (mGy·cm²). A shot is one ``fluoro``
action (one press of the pedal), whatever its number of pulses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from simulator.fluoro.views import VIEW_NAMES


@dataclass(frozen=True, kw_only=True)
class BeamModel:
    """Pulse timing and kerma per pulse per view (s, mGy, cm²)."""

    pulse_rate_hz: float
    kerma_per_pulse_mgy: Mapping[str, float]
    field_area_cm2: float

    @classmethod
    def from_table(cls, table: dict) -> BeamModel:
        """From the parsed ``assets/fluoro.toml``."""
        radius_cm = table["detector"]["field_diameter_mm"] / 20.0
        return cls(
            pulse_rate_hz=float(table["beam"]["pulse_rate_hz"]),
            kerma_per_pulse_mgy=MappingProxyType(dict(table["beam"]["kerma_per_pulse_mgy"])),
            field_area_cm2=math.pi * radius_cm**2,
        )

    def dap_per_pulse_mgycm2(self, view: str) -> float:
        """Dose–area product of one pulse in ``view`` (mGy·cm²)."""
        return self.kerma_per_pulse_mgy[view] * self.field_area_cm2


@dataclass
class DoseLedger:
    """Running radiation totals of one attempt (mutable)."""

    beam: BeamModel
    shots: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIEW_NAMES, 0))
    pulses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIEW_NAMES, 0))
    dap_mgycm2: float = 0.0

    def record(self, view: str, pulses: int, *, continued: bool = False) -> None:
        """Book one shot of ``pulses`` pulses in ``view``; ``continued`` pulses belong to the
        previous shot (the pedal is still held) and add time and dose but no shot."""
        if view not in self.shots:
            raise ValueError(f"view must be one of {VIEW_NAMES}, got {view!r}")
        if pulses < 1:
            raise ValueError(f"pulses must be at least 1, got {pulses}")
        if not continued:
            self.shots[view] += 1
        self.pulses[view] += pulses
        self.dap_mgycm2 += pulses * self.beam.dap_per_pulse_mgycm2(view)

    def fluoro_time_s(self, view: str | None = None) -> float:
        """Fluoroscopy time (s), of one view or of both."""
        n = sum(self.pulses.values()) if view is None else self.pulses[view]
        return n / self.beam.pulse_rate_hz

    def metrics(self) -> dict[str, float | int]:
        """The radiation metrics of the log (``assets/metrics.toml``)."""
        return {
            "fluoro_time_s": self.fluoro_time_s(),
            "fluoro_shots": sum(self.shots.values()),
            "fluoro_shots_lateral": self.shots["lateral"],
            "fluoro_shots_ap": self.shots["ap"],
            "dose_dap_mgycm2": self.dap_mgycm2,
        }
