"""Cement rheology and cannula pressure (the cannula part of the pressure)."""

from __future__ import annotations

import itertools
import math

import pytest

from simulator.assets import load_table
from simulator.cement.rheology import (
    PHASES,
    CementProduct,
    PhaseClock,
    cannula_pressure_pa,
    cannula_rate_m3_s,
    phase_label,
)

PRODUCTS = list(load_table("cements")["products"])
ML_MIN = 1e-6 / 60.0  # m³/s per ml/min


def poiseuille(mu, length, rate, radius):
    """Hagen–Poiseuille, written out independently: Δp = 8 μ L Q / (π r⁴)."""
    return 8.0 * mu * length * rate / (math.pi * radius**4)


@pytest.mark.parametrize("mu", [10.0, 100.0, 500.0])
@pytest.mark.parametrize("gauge", ["10", "11", "13"])
def test_newtonian_cannula_pressure_is_poiseuille(mu, gauge):
    """n = 1 is an identity of the formula, not an approximation: (2μL/r)(4Q/(πr³)) = 8μLQ/(πr⁴)
    (round-off only)."""
    r = load_table("equipment")["gauges"][gauge]["inner_diameter_mm"] / 2000.0
    got = cannula_pressure_pa(
        consistency_pa_s=mu, power_law_index=1.0, rate_m3_s=3 * ML_MIN, radius_m=r, length_m=0.12
    )
    assert got == pytest.approx(poiseuille(mu, 0.12, 3 * ML_MIN, r), rel=1e-12)


def test_reference_worked_example_about_one_megapascal():
    """docs/SOURCES.md: 4 ml/min, 100 Pa·s, 11 G (inner radius ≈ 1.19 mm), 120 mm → ≈ 1 MPa."""
    r = load_table("equipment")["gauges"]["11"]["inner_diameter_mm"] / 2000.0
    assert r == pytest.approx(1.19e-3, abs=0.01e-3)  # the table's 11 G is the reference's
    dp = cannula_pressure_pa(
        consistency_pa_s=100.0, power_law_index=1.0, rate_m3_s=4 * ML_MIN, radius_m=r, length_m=0.12
    )
    assert 0.9e6 < dp < 1.1e6
    assert dp == pytest.approx(poiseuille(100.0, 0.12, 4 * ML_MIN, r), rel=1e-12)


def test_power_law_pressure_matches_its_closed_form():
    """n < 1, written out independently: Δp = (2KL/r)·((3n+1)Q/(nπr³))ⁿ; K = 200 Pa·sⁿ,
    n = 0.5, Q = 2 ml/min, r = 1.2 mm, L = 0.1 m → (4000/1.2e-3)·(5Q/(0.5π·1.728e-9))^0.5."""
    q, r = 2 * ML_MIN, 1.2e-3
    want = (2 * 200.0 * 0.1 / r) * ((3 * 0.5 + 1) * q / (0.5 * math.pi * r**3)) ** 0.5
    got = cannula_pressure_pa(
        consistency_pa_s=200.0, power_law_index=0.5, rate_m3_s=q, radius_m=r, length_m=0.1
    )
    assert got == pytest.approx(want, rel=1e-12)
    assert (
        cannula_pressure_pa(
            consistency_pa_s=200.0, power_law_index=0.5, rate_m3_s=0.0, radius_m=r, length_m=0.1
        )
        == 0.0
    )


def test_pressure_rises_with_viscosity_rate_and_gauge():
    eq = load_table("equipment")["gauges"]

    def dp(k=100.0, q=3.0, gauge="11", n=0.55):
        r = eq[gauge]["inner_diameter_mm"] / 2000.0
        return cannula_pressure_pa(
            consistency_pa_s=k, power_law_index=n, rate_m3_s=q * ML_MIN, radius_m=r, length_m=0.12
        )

    assert dp(k=50) < dp(k=100) < dp(k=400)
    assert dp(q=1) < dp(q=3) < dp(q=6)
    assert dp(gauge="10") < dp(gauge="11") < dp(gauge="13")
    # shear thinning: doubling the rate raises the pressure by 2ⁿ, not 2
    assert dp(q=6) / dp(q=3) == pytest.approx(2**0.55)


def test_rate_for_pressure_inverts_the_pressure():
    r = 1.194e-3
    for n in (0.4, 0.7, 1.0):
        dp = cannula_pressure_pa(
            consistency_pa_s=200.0,
            power_law_index=n,
            rate_m3_s=2.5 * ML_MIN,
            radius_m=r,
            length_m=0.125,
        )
        q = cannula_rate_m3_s(
            consistency_pa_s=200.0, power_law_index=n, pressure_pa=dp, radius_m=r, length_m=0.125
        )
        assert q == pytest.approx(2.5 * ML_MIN, rel=1e-9)


@pytest.mark.parametrize("product", PRODUCTS)
def test_curing_is_monotone_and_phases_are_ordered(product):
    c = CementProduct.load(product)
    ks = [c.consistency_pa_s(t, 22.0) for t in range(0, 1200, 30)]
    assert all(a <= b for a, b in itertools.pairwise(ks))
    phases = [c.phase(t, 22.0) for t in range(0, 1200, 10)]
    order = ["liquid", "paste", "working", "set"]
    assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases)
    assert phases[-1] == "set"
    assert c.set_after_s(28.0) < c.set_after_s(22.0) < c.set_after_s(15.0)
    assert c.consistency_pa_s(240.0, 28.0) > c.consistency_pa_s(240.0, 22.0)


def test_products_match_the_reference_ranges():
    low, med, high = (CementProduct.load(p) for p in ("pmma_low", "pmma_medium", "pmma_high"))
    assert 10 <= low.consistency_pa_s(210, 22) <= 50  # 3–4 min
    assert 100 <= low.consistency_pa_s(540, 22) <= 300  # 8–10 min
    assert high.consistency_pa_s(0, 22) >= 200  # several hundred from the start
    assert 900 <= med.set_after_s(22) <= 1100  # ≈ 17 min (Boger 2008)
    assert high.set_after_s(20) == pytest.approx(534, rel=0.03)  # docs/SOURCES.md
    assert high.set_after_s(28) == pytest.approx(381, rel=0.03)
    for c in (low, med, high):
        assert 0.3 <= c.power_law_index <= 0.7


# ----- the phase clock (the HUD's countdown) ---------------------------------------------------


@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize("temperature_c", [4.0, 22.0, 30.0])
def test_phase_clock_agrees_with_phase_and_counts_down_to_the_change(product, temperature_c):
    """At every time the clock's phase is ``phase()``'s, and stepping ``next_in_s`` on (a hair
    before and after) crosses exactly into ``next_phase``."""
    c = CementProduct.load(product)
    for t in range(0, 2400, 7):
        clock = c.phase_clock(float(t), temperature_c)
        assert clock.phase == c.phase(float(t), temperature_c)
        if clock.next_phase is None:
            assert clock.phase == "set" and clock.next_in_s is None
            continue
        assert clock.next_in_s > 0
        t_change = t + clock.next_in_s
        assert c.phase(t_change - 1e-6, temperature_c) == clock.phase
        assert c.phase(t_change + 1e-6, temperature_c) == clock.next_phase


def test_phase_clock_values_of_the_medium_cement():
    """pmma_medium (assets/cements.toml): liquid until 306 s, doughy until 510 s, working until
    it sets at 1020 s at 22 °C; at 4 °C the clock runs exp(−18/23.7) ≈ 0.468 × as fast."""
    c = CementProduct.load("pmma_medium")
    assert c.phase_clock(100.0, 22.0) == PhaseClock(
        phase="liquid", next_phase="paste", next_in_s=206.0
    )
    assert c.phase_clock(438.0, 22.0) == PhaseClock(
        phase="paste", next_phase="working", next_in_s=72.0
    )
    working = c.phase_clock(900.0, 22.0)
    assert (working.phase, working.next_phase) == ("working", "set")
    assert working.next_in_s == pytest.approx(c.set_after_s(22.0) - 900.0, abs=1e-9)
    assert c.phase_clock(1020.0, 22.0) == PhaseClock(phase="set", next_phase=None, next_in_s=None)
    cold = c.phase_clock(0.0, 4.0)
    assert cold.next_in_s == pytest.approx(306.0 / math.exp(-18.0 / 23.7), rel=1e-12)


def test_a_high_viscosity_cement_is_never_liquid():
    """pmma_high's liquid phase has no length: the clock starts doughy and counts to working
    at 120 s."""
    c = CementProduct.load("pmma_high")
    assert c.phase_clock(0.0, 22.0) == PhaseClock(
        phase="paste", next_phase="working", next_in_s=120.0
    )


def test_every_phase_has_a_label_and_the_ids_stay():
    """The ids are in recorded scores and the rubric (kept); the words are the clinical ones."""
    assert PHASES == ("liquid", "paste", "working", "set")
    assert [phase_label(p) for p in PHASES] == ["liquid", "doughy", "working", "set"]
