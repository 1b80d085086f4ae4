"""The cement as the trainee meets it: the model's ``display_state`` for a known injection (the
syringe's volume split into needle and delivered, the phase countdown) and the HUD drawn from
it, with and without training hints (SDL's dummy driver, see conftest)."""

from __future__ import annotations

import functools
import math

import pygame
import pytest

from simulator.actions import make_action
from simulator.assets import load_table
from simulator.cement.rheology import CementProduct
from simulator.personas import build as personas
from simulator.personas import placement
from simulator.procedure import Procedure
from tests.conftest import scenario_and_phantom

SCENARIO = "first_case_l1"  # pmma_medium at 22 °C, 11 G × 125 mm cannula, 1 ml syringe
WAIT_S, RATE_ML_MIN, ML = 330.0, 2.0, 1.2  # inject in the doughy phase (306–510 s)


def cannula_ml(scenario) -> float:
    """The cannula's volume π r² L (ml) from the equipment table's inner diameter."""
    eq = scenario.equipment
    d_mm = load_table("equipment")["gauges"][str(eq.needle_gauge)]["inner_diameter_mm"]
    return math.pi * (d_mm / 2.0) ** 2 * eq.needle_length_mm / 1000.0


@functools.cache
def snapshots() -> tuple[float, dict, Procedure]:
    """The expert's placement, mix, 1.2 ml at 2 ml/min from 330 s after mixing: the mixing
    time and ``display_state`` before mixing, 10 s after, at 0.3 ml (the cannula still
    filling), mid-injection and 5 s after the end."""
    s, ph = scenario_and_phantom(SCENARIO)
    acts = placement(personas(SCENARIO)["expert"]["actions"])
    proc = Procedure(s, phantom=ph, render_images=False)
    for a in acts:
        proc.submit(
            make_action(a["t"], a["do"], **{k: v for k, v in a.items() if k not in ("t", "do")})
        )
    t_mix = acts[-1]["t"] + 1.0
    proc.submit(make_action(t_mix, "mix"))
    proc.submit(make_action(t_mix + WAIT_S, "inject", rate_ml_min=RATE_ML_MIN, ml=ML))
    when = {
        "before_mix": t_mix - 1.0,
        "mixed": t_mix + 10.0,
        "filling": t_mix + WAIT_S + 9.0,  # 0.3 ml pushed
        "mid": t_mix + WAIT_S + 25.0,
        "after": t_mix + WAIT_S + 60.0 * ML / RATE_ML_MIN + 5.0,
    }
    out = {}
    for name, t in when.items():
        while proc.t_s < t - 1e-9:
            proc.step()
        out[name] = proc.cement.display_state(proc.t_s)
    return t_mix, out, proc


def test_display_state_splits_the_syringe_into_needle_and_delivered():
    _, st, proc = snapshots()
    s = proc.scenario
    assert st["before_mix"] is None
    cannula = cannula_ml(s)
    assert cannula == pytest.approx(0.56, abs=0.005)  # 11 G (2.388 mm bore) × 125 mm
    filling = st["filling"]
    assert filling["injected_ml"] == pytest.approx(0.3, abs=1e-9)
    assert filling["in_cannula_ml"] == pytest.approx(0.3, abs=1e-9)  # nothing reached the bone
    assert filling["delivered_ml"] == 0.0 and filling["in_body_ml"] == 0.0
    for name in ("mid", "after"):
        c = st[name]
        assert c["in_cannula_ml"] == pytest.approx(cannula, rel=1e-12)  # full
        split = c["in_cannula_ml"] + c["in_transit_ml"] + c["delivered_ml"]
        assert split == pytest.approx(c["injected_ml"], abs=1e-12)
        assert c["in_body_ml"] + c["leaked_ml"] == pytest.approx(c["delivered_ml"], abs=1e-9)
    after = st["after"]
    assert after["injected_ml"] == pytest.approx(ML, abs=1e-9) and not after["injecting"]
    assert after["in_transit_ml"] == 0.0
    assert after["delivered_ml"] == pytest.approx(ML - cannula, abs=1e-9)
    m = proc.metrics()  # the logged figures agree (rounded to 1e-6 ml)
    assert m["in_cannula_ml"] == pytest.approx(after["in_cannula_ml"], abs=1e-6)
    assert m["in_body_ml"] == pytest.approx(after["in_body_ml"], abs=1e-6)


def test_display_state_counts_down_to_the_next_phase():
    """pmma_medium at 22 °C: liquid until 306 s, doughy until 510 s (assets/cements.toml)."""
    _, st, _ = snapshots()
    mixed, filling, after = st["mixed"], st["filling"], st["after"]
    assert (mixed["phase"], mixed["next_phase"]) == ("liquid", "paste")
    assert mixed["since_mix_s"] == pytest.approx(10.0, abs=1e-9)
    assert mixed["next_phase_in_s"] == pytest.approx(306.0 - 10.0, abs=1e-9)
    assert (filling["phase"], filling["next_phase"]) == ("paste", "working")
    assert filling["next_phase_in_s"] == pytest.approx(510.0 - WAIT_S - 9.0, abs=1e-9)
    product = CementProduct.load("pmma_medium")
    assert after["phase"] == product.phase(after["since_mix_s"], 22.0)


def _window() -> pygame.Surface:
    """A fresh 1280 × 720 window (the trainer's size; fonts made for an earlier one dropped)."""
    from simulator.ui import render

    pygame.display.init()
    pygame.font.init()
    render.font.cache_clear()
    return pygame.display.set_mode((1280, 720))


def _drawn_text(monkeypatch, draw) -> list[tuple[str, pygame.Rect]]:
    """Every line of text ``draw()`` puts on the screen, with its rect."""
    from simulator.ui import render

    drawn: list[tuple[str, pygame.Rect]] = []
    real = render.text

    def spy(surf, s, pos, **kw):
        rect = real(surf, s, pos, **kw)
        drawn.append((s, rect))
        return rect

    monkeypatch.setattr(render, "text", spy)
    draw()
    return drawn


@pytest.mark.parametrize("hints", [False, True])
def test_the_hud_shows_needle_and_delivered_and_the_split_only_with_hints(monkeypatch, hints):
    from simulator.ui.hud import cement_rows, draw_hud
    from simulator.ui.screens.monitors import layout
    from simulator.ui.session import LiveSession

    _, st, proc = snapshots()
    session = LiveSession(proc, hints=hints)
    rows = {label: value for label, value, _ in cement_rows(st["after"], hints=hints)}
    in_needle = st["after"]["in_cannula_ml"] + st["after"]["in_transit_ml"]
    assert rows["injected"] == "1.20 ml"
    assert rows["in needle"] == f"{in_needle:.2f} ml" == "0.56 ml"
    assert rows["delivered"] == f"{1.2 - in_needle:.2f} ml" == "0.64 ml"
    assert rows["phase"] == "doughy"
    # 371 s after mixing: 139 s to working
    assert rows["working in"] == "2:19"
    assert ("in body" in rows and "leaked" in rows) == hints
    surf = _window()
    rect = layout(surf.get_size(), single=False)["hud"]
    drawn = _drawn_text(monkeypatch, lambda: draw_hud(surf, rect, session))
    text = " | ".join(t for t, _ in drawn)
    for word in ("phase", "doughy", "working in", "2:19", "in needle", "0.56 ml", "delivered"):
        assert word in text, (word, text)
    assert "paste" not in text
    assert ("in body" in text and "leaked" in text) == hints, text
    # the rows leave the pressure dial room: its labels stay inside the HUD column
    low = {t: box for t, box in drawn if t in ("pressure", "0 kPa")}
    assert len(low) == 2 and all(rect.contains(box) for box in low.values()), (low, rect)


def test_the_hud_countdown_rounds_up_and_reads_before_mixing():
    from simulator.ui.hud import cement_rows, countdown

    assert countdown(72.0) == "1:12" and countdown(71.2) == "1:12" and countdown(0.3) == "0:01"
    assert cement_rows(None) == [("phase", "not mixed", cement_rows(None)[0][2])]
    _, st, _ = snapshots()
    labels = [label for label, _, _ in cement_rows(st["mixed"])]
    assert labels[:2] == ["phase", "doughy in"]
