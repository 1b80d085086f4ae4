"""The dose ledger: pulses, fluoroscopy time and dose–area product per view.

Model (numbers in ``assets/fluoro.toml [beam]``): each pulse counts ``1/pulse_rate_hz`` seconds
on the fluoroscopy timer and delivers the view's entrance air kerma per pulse K (mGy) over the
collimated field area A (cm²), so DAP per pulse = K·A (mGy·cm²). A shot is one ``fluoro``
action (one press of the pedal), whatever its number of pulses.

At any C-arm pose (release 0.3.0 on) the exposure control sets K from the trunk's thickness L
along the central ray (:class:`~simulator.fluoro.torso.Torso`): log-linear between the
table's AP and lateral kerma at the AP and lateral thicknesses,
K(L) = K_AP · (K_LAT / K_AP)^((L − L_AP) / (L_LAT − L_AP)): the AEC raises the tube output
exponentially with the path, at the effective (kV-raised) attenuation this implies; A is then
the field at the isocentre in the device's field mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from simulator.fluoro.views import VIEW_NAMES


def line_chord_mm(torso, point_mm, direction) -> float:
    """Length (mm) of the whole line through ``point_mm`` along ``direction`` inside the trunk
    (a :class:`~simulator.fluoro.torso.Torso`)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    far = 2000.0  # mm: beyond any trunk
    start = np.asarray(point_mm, dtype=float) - far * d
    return float(torso.chord_mm(start, d[None, :], 2.0 * far)[0])


@dataclass(frozen=True, kw_only=True)
class BeamModel:
    """Pulse timing and kerma per pulse per view (s, mGy, cm²)."""

    pulse_rate_hz: float
    kerma_per_pulse_mgy: Mapping[str, float]
    field_area_cm2: float
    path_ap_mm: float = 0.0
    path_lateral_mm: float = 1.0

    @classmethod
    def from_table(cls, table: dict, *, torso=None, iso_mm=None) -> BeamModel:
        """From the parsed ``assets/fluoro.toml``: the parallel views' field (release 0.2.0
        and before), or with ``torso`` and the isocentre ``iso_mm`` (anatomy mm) the cone
        beam's field at the isocentre in its default mode and the AP/lateral paths."""
        radius_cm = table["detector"]["field_diameter_mm"] / 20.0
        extra = {}
        if torso is not None:
            geo = table["geometry"]
            field_mm = geo["field_modes_mm"][geo["default_mode"]]
            mag = geo["source_image_distance_mm"] / geo["source_isocentre_distance_mm"]
            radius_cm = field_mm / mag / 20.0
            extra = {
                "path_ap_mm": line_chord_mm(torso, iso_mm, (0.0, 1.0, 0.0)),
                "path_lateral_mm": line_chord_mm(torso, iso_mm, (1.0, 0.0, 0.0)),
            }
        return cls(
            pulse_rate_hz=float(table["beam"]["pulse_rate_hz"]),
            kerma_per_pulse_mgy=MappingProxyType(dict(table["beam"]["kerma_per_pulse_mgy"])),
            field_area_cm2=math.pi * radius_cm**2,
            **extra,
        )

    def kerma_for_path(self, path_mm: float) -> float:
        """Entrance air kerma per pulse (mGy) through ``path_mm`` of trunk (module docstring)."""
        k_ap, k_lat = self.kerma_per_pulse_mgy["ap"], self.kerma_per_pulse_mgy["lateral"]
        frac = (path_mm - self.path_ap_mm) / (self.path_lateral_mm - self.path_ap_mm)
        return float(k_ap * (k_lat / k_ap) ** frac)

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

    def record(
        self, view: str, pulses: int, *, continued: bool = False, kerma_mgy: float | None = None
    ) -> None:
        """Book one shot of ``pulses`` pulses in ``view``; ``continued`` pulses belong to the
        previous shot (the pedal is still held) and add time and dose but no shot.
        ``kerma_mgy``: the pulse's kerma at the arm's pose (default: the view's table value)."""
        if view not in self.shots:
            raise ValueError(f"view must be one of {VIEW_NAMES}, got {view!r}")
        if pulses < 1:
            raise ValueError(f"pulses must be at least 1, got {pulses}")
        if not continued:
            self.shots[view] += 1
        self.pulses[view] += pulses
        if kerma_mgy is None:
            self.dap_mgycm2 += pulses * self.beam.dap_per_pulse_mgycm2(view)
        else:
            self.dap_mgycm2 += pulses * kerma_mgy * self.beam.field_area_cm2

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
