"""Seed stability of the shipped personas: each persona's pass or fail is the same over 10 seeds
of each case it is run on (the seed changes the bone's heterogeneity, so the cement's spread and
leaks), on the sweep's batch path (:mod:`simulator.sweep`). Each test reports its score spread
(``score_spread``, shown at the end of the run)."""

from __future__ import annotations

import pytest

from simulator.personas import MISALIGNED_SCENARIO, SCENARIO
from simulator.sweep import PERSONAS, run_sweep, summarize
from tests.conftest import phantoms_shared, scenario_and_phantom

SEEDS = 10
CASES = [(SCENARIO, p) for p in PERSONAS if p != "misaligned_novice"] + [
    (MISALIGNED_SCENARIO, "misaligned_novice")
]
EXPECTED = {"expert": True, "fluoro_heavy_novice": True}
"""Personas that pass; every other fails."""


@pytest.mark.slow
@pytest.mark.parametrize(("case", "persona"), CASES)
def test_a_personas_pass_or_fail_holds_over_ten_seeds(case, persona, record_property):
    scenario = scenario_and_phantom(case)[0]
    with phantoms_shared():
        rows = run_sweep(scenario, [persona], SEEDS)
    s = summarize(rows, leak_visible_ml=0.02)[persona]
    totals = sorted(r["total"] for r in rows)
    record_property(
        "score_spread",
        f"{persona} on {case}: passed {s['passed']}/{s['n']}, scores {totals[0]:.1f}–"
        f"{totals[-1]:.1f} (median {s['median']:.1f}, IQR {s['q1']:.1f}–{s['q3']:.1f})",
    )
    assert len(rows) == SEEDS and len({r["seed"] for r in rows}) == SEEDS
    passed = {r["passed"] for r in rows}
    assert passed == {EXPECTED.get(persona, False)}, rows
