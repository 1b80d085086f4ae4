"""Cement rheology and the pressure it takes to push it through the cannula.

Curing. The consistency of a product rises with time since mixing,
``K(t) = k0 · exp(t_eff / growth)``, with the clock running faster when warm:
``t_eff = t · exp((T − T_ref) / T_scale)`` (numbers and sources in ``assets/cements.toml``).
K is the apparent viscosity at 1 s⁻¹ (Pa·s^n).

Phases. The cement is liquid, then doughy (the time to inject), then working (stiffening, still
injectable), then set. Their ids (``PHASES``: ``liquid``, ``paste``, ``working``, ``set``) are
in recorded scores and the rubric's ``good_phases``, so they stay; what a trainee or educator
reads is the label (:data:`PHASE_LABELS`, :func:`phase_label`), here and nowhere else.

Cannula. Laminar flow of a power-law fluid (index n) in a tube of radius r and length L at
volume rate Q needs

    Δp = (2 K L / r) · [(3n + 1) Q / (n π r³)]ⁿ

(docs/SOURCES.md, Baroud & Steffen 2005), which for n = 1 (K = μ) is Poiseuille's
``Δp = 8 μ L Q / (π r⁴)``. About 95 % of the injection pressure is lost here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.assets import load_table

PHASES = ("liquid", "paste", "working", "set")
"""The phase ids, in order (logged in scores, named by ``assets/rubric.toml [timing]``)."""

PHASE_LABELS = {"liquid": "liquid", "paste": "doughy", "working": "working", "set": "set"}
"""What the HUD, the feedback and the docs call each phase: the consistency a clinician checks
on the spatula (liquid: drips; doughy: holds its shape, the time to inject; working: stiffening;
set: hard)."""


def phase_label(phase: str) -> str:
    """The word shown for the phase id ``phase`` (``"paste"`` → ``"doughy"``)."""
    return PHASE_LABELS[phase]


@dataclass(frozen=True, kw_only=True)
class PhaseClock:
    """Where the curing stands: the phase id now, the next one (None once set) and the
    seconds of procedure time (at the temperature it was asked for) until it begins."""

    phase: str
    next_phase: str | None
    next_in_s: float | None


@dataclass(frozen=True, kw_only=True)
class CementProduct:
    """One product of ``assets/cements.toml`` (s, Pa·s^n)."""

    id: str
    name: str
    viscosity_class: str
    barium_sulfate_mass_fraction: float
    k0_pa_s: float
    growth_s: float
    power_law_index: float
    liquid_end_s: float
    paste_end_s: float
    working_end_s: float
    set_s: float
    temperature_reference_c: float
    temperature_scale_c: float

    @classmethod
    def load(cls, product_id: str) -> CementProduct:
        """The product ``product_id`` (validated by the scenario loader)."""
        table = load_table("cements")
        row = table["products"][product_id]
        return cls(
            id=product_id,
            temperature_reference_c=float(table["temperature_reference_c"]),
            temperature_scale_c=float(table["temperature_scale_c"]),
            **{k: v for k, v in row.items() if k not in ("description", "batch_ml")},
        )

    def clock_rate(self, temperature_c: float) -> float:
        """How much faster than at the reference temperature the cement cures (× per s)."""
        return math.exp((temperature_c - self.temperature_reference_c) / self.temperature_scale_c)

    def consistency_pa_s(self, since_mix_s: float, temperature_c: float) -> float:
        """Consistency K (Pa·s^n) ``since_mix_s`` seconds after mixing at ``temperature_c``."""
        t_eff = max(since_mix_s, 0.0) * self.clock_rate(temperature_c)
        return self.k0_pa_s * math.exp(min(t_eff, self.set_s) / self.growth_s)

    def phase_ends_s(self) -> tuple[tuple[str, float], ...]:
        """Each phase id with the curing time (s after mixing at the reference temperature)
        at which it ends; the working phase lasts until the cement sets."""
        return (
            ("liquid", self.liquid_end_s),
            ("paste", self.paste_end_s),
            ("working", max(self.working_end_s, self.set_s)),
            ("set", math.inf),
        )

    def phase(self, since_mix_s: float, temperature_c: float) -> str:
        """``liquid``, ``paste``, ``working`` or ``set`` (the ids; :func:`phase_label` names
        them) ``since_mix_s`` seconds after mixing at ``temperature_c``."""
        return self.phase_clock(since_mix_s, temperature_c).phase

    def phase_clock(self, since_mix_s: float, temperature_c: float) -> PhaseClock:
        """The phase ``since_mix_s`` seconds (s) after mixing at ``temperature_c`` (°C), the
        next phase and the seconds until it begins (the curing clock's rate at that
        temperature; phases of no length, like a high-viscosity cement's liquid one, are
        skipped)."""
        rate = self.clock_rate(temperature_c)
        t_eff = since_mix_s * rate
        ends = self.phase_ends_s()
        now = next((k for k, (_, end) in enumerate(ends) if t_eff < end), len(ends) - 1)
        name, end = ends[now]
        after = next((n for n, e in ends[now + 1 :] if e > end), None)
        if after is None:
            return PhaseClock(phase=name, next_phase=None, next_in_s=None)
        return PhaseClock(phase=name, next_phase=after, next_in_s=(end - t_eff) / rate)

    def set_after_s(self, temperature_c: float) -> float:
        """Seconds after mixing at which the cement sets at ``temperature_c``."""
        return self.set_s / self.clock_rate(temperature_c)


def cannula_pressure_pa(
    *,
    consistency_pa_s: float,
    power_law_index: float,
    rate_m3_s: float,
    radius_m: float,
    length_m: float,
) -> float:
    """Pressure drop (Pa) along the cannula for a power-law cement (module docstring)."""
    n, k = power_law_index, consistency_pa_s
    if rate_m3_s <= 0:
        return 0.0
    shear = (3 * n + 1) * rate_m3_s / (n * math.pi * radius_m**3)
    return 2.0 * k * length_m / radius_m * shear**n


def cannula_rate_m3_s(
    *,
    consistency_pa_s: float,
    power_law_index: float,
    pressure_pa: float,
    radius_m: float,
    length_m: float,
) -> float:
    """The flow rate (m³/s) that a pressure drop ``pressure_pa`` drives through the cannula:
    the inverse of :func:`cannula_pressure_pa`."""
    n, k = power_law_index, consistency_pa_s
    if pressure_pa <= 0:
        return 0.0
    shear = (pressure_pa * radius_m / (2.0 * k * length_m)) ** (1.0 / n)
    return shear * n * math.pi * radius_m**3 / (3 * n + 1)


def rate_within_limit_m3_s(
    requested_m3_s: float,
    *,
    limit_pa: float,
    consistency_pa_s: float,
    power_law_index: float,
    radius_m: float,
    length_m: float,
    bone_pa_s_per_m3: float,
) -> float:
    """``requested_m3_s`` (m³/s), or the lower rate at which the cannula's pressure plus a
    linear bone resistance (``bone_pa_s_per_m3``, Pa per m³/s) meets ``limit_pa`` (the flow
    stalls toward it; bisection to double precision)."""

    def total(q: float) -> float:
        return cannula_pressure_pa(
            consistency_pa_s=consistency_pa_s,
            power_law_index=power_law_index,
            rate_m3_s=q,
            radius_m=radius_m,
            length_m=length_m,
        ) + (bone_pa_s_per_m3 * q)

    q = requested_m3_s
    if total(q) <= limit_pa:
        return q
    lo, hi = 0.0, q
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if total(mid) <= limit_pa else (lo, mid)
    return lo


def entry_threshold_pa(
    product: CementProduct,
    since_mix_s: float,
    temperature_c: float,
    *,
    yield_per_s: float,
    length_mm: float,
    opening_mm: float,
) -> float:
    """Pressure difference (Pa) doughy cement needs to enter a narrow opening (a vein, a
    crack, a hole in the cortex) ``since_mix_s`` s after mixing: a Bingham yield stress
    τ_y = β·K (β ``yield_per_s``, s⁻¹), zero while the cement is still liquid, over an opening
    of diameter d (``opening_mm``) across a cell of length L (``length_mm``): Δp = 4 τ_y L / d."""
    if product.phase(since_mix_s, temperature_c) == "liquid":
        return 0.0
    tau = yield_per_s * product.consistency_pa_s(since_mix_s, temperature_c)
    return 4.0 * tau * length_mm / opening_mm
