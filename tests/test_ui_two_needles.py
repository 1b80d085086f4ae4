"""The window with two needles: N selects the other needle, the HUD says which, a click on the
frontal image sets the entry of the needle on its side, and each keeps its own aim."""

from __future__ import annotations

import pygame
import pytest

from simulator.planning import plan_trajectory
from tests.conftest import scenario_and_phantom
from tests.test_ui import SCENARIO, _click_entry, _key, _new_app

pytestmark = pytest.mark.usefixtures("shared_phantoms")


def test_n_selects_the_needle_and_a_click_places_the_entry_of_its_side(tmp_path, monkeypatch):
    from simulator.ui.hud import needle_rows
    from simulator.ui.screens.procedure import start_attempt

    monkeypatch.setenv("VSIM_LOG_KEY", "test-key-ui")
    app = _new_app(tmp_path)
    screen = start_attempt(app, SCENARIO)
    s = screen.session
    s_, ph = scenario_and_phantom(SCENARIO)
    plans = {side: plan_trajectory(ph, s_, side) for side in ("left", "right")}

    def hud():
        return {label: value for label, value, _ in needle_rows(s)}

    assert hud()["needle"] == "left (N: other)"
    _click_entry(app, screen, *plans["left"].entry_mm)
    _key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=20)  # 5 mm in on the left
    left = s.proc.needles["left"]
    assert left.state.placed and left.state.inserted_mm > 4.0
    _key(app, pygame.K_n, dt_s=0.0)  # the other needle: no entry yet, the left's kept
    assert s.selected == "right" and hud()["needle"] == "right (N: other)"
    assert hud()["entry"] == "not chosen" and hud()["inserted"] == "0.0 mm"
    _click_entry(app, screen, *plans["right"].entry_mm)
    _key(app, pygame.K_w, mod=pygame.KMOD_SHIFT, frames=20)
    right = s.proc.needles["right"]
    assert right.state.placed and right.state.inserted_mm > 4.0
    assert left.state.inserted_mm > 4.0  # the left stayed where it was
    _key(app, pygame.K_n, dt_s=0.0)
    assert s.selected == "left"  # with the left's own entry (a click lands on a pixel)
    assert s.entry_mm == pytest.approx(plans["left"].entry_mm, abs=1.0)
    _key(app, pygame.K_s, mod=pygame.KMOD_SHIFT, frames=20)  # withdraws the left only
    assert left.state.inserted_mm < 1.0 and right.state.inserted_mm > 4.0
    # a click on the right half of the frontal image selects the right needle
    _click_entry(app, screen, *plans["right"].entry_mm)
    assert s.selected == "right"
    assert any(m == "the needle is in: withdraw it to the skin to choose another entry"
               for _, m in s.messages)  # fmt: skip
    sides = [a.get("side") for a in s.proc.applied if a["do"] in ("advance", "withdraw")]
    assert set(sides) == {"left", "right"}
    screen.on_quit()
