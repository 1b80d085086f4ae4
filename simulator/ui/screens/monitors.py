"""The procedure room's picture, shared by the live procedure and the replay viewer: the
fluoroscopy monitors (two for a biplane C-arm, one for a single C-arm), the HUD column, the
status band, and the entry cross-hair on the AP image before the needle goes in.
"""

from __future__ import annotations

import pygame

from simulator.ui import render as r
from simulator.ui.coords import PanelMap
from simulator.ui.hud import clock, draw_hud
from simulator.ui.session import LiveSession

VIEW_LABEL = {"lateral": "LAT", "ap": "AP"}
HUD_W = 190
TOP = 36
BAND_H = 112
LIVE_S = 0.2  # an image counts as live (X-ray on) this long after its pulse
KEYS_LINE = (
    "W/S needle   arrows angles   Space fluoro   Tab view   M mix   I inject   +/- rate   T time x8"
)


def layout(size: tuple[int, int], *, single: bool) -> dict:
    """Screen rects: ``panels`` {view or "single": Rect}, ``hud`` and ``band``."""
    w, h = size
    n = 1 if single else 2
    p = max(120, min((w - HUD_W - 20 - 10 * n) // n, h - TOP - BAND_H - 8))
    panels = {}
    if single:  # one monitor, centred in the room left of the HUD
        panels["single"] = pygame.Rect((w - HUD_W - 20 - p) // 2, TOP, p, p)
    else:
        panels["lateral"] = pygame.Rect(10, TOP, p, p)
        panels["ap"] = pygame.Rect(20 + p, TOP, p, p)
    hud = pygame.Rect(w - HUD_W - 10, TOP, HUD_W, h - TOP - 10)
    band = pygame.Rect(10, TOP + p + 8, hud.left - 20, h - TOP - p - 14)
    return {"panels": panels, "hud": hud, "band": band}


class Monitors:
    """Draws one session's room; keeps the panels' scaled-image caches. ``live`` is False in
    a replay: no prompts meant for the trainee (entry click, time ×8), only what was."""

    def __init__(self, session: LiveSession, *, live: bool = True):
        self.session = session
        self.live = live
        self.single = session.proc.scenario.equipment.c_arm == "single"
        self._panels = {"lateral": r.ImagePanel(), "ap": r.ImagePanel()}
        self.layout = layout(pygame.display.get_surface().get_size(), single=self.single)

    def shown_view(self, rect_key: str) -> str:
        """The view a panel shows (a single C-arm shows the arm's current view)."""
        if rect_key != "single":
            return rect_key
        return getattr(self.session.proc, "carm_view", "ap")

    def panel_map(self, view: str) -> PanelMap | None:
        """The pixel ↔ mm map of the panel showing ``view`` now, or None when hidden."""
        carm = self.session.proc.carm
        if carm is None:
            return None
        for key, rect in self.layout["panels"].items():
            if self.shown_view(key) == view:
                return PanelMap(
                    view=carm.imager.views[view], left=rect.left, top=rect.top, size=rect.width
                )
        return None

    def last_pulse_s(self, view: str) -> float:
        """Simulated time of the last pulse in ``view`` (−inf before any)."""
        for e in reversed(self.session.proc.events):
            if e.kind == "fluoro" and e.details["view"] == view:
                return e.t_s
        return float("-inf")

    def draw(
        self,
        surf: pygame.Surface,
        *,
        selected: str,
        title: str,
        hint: str = "F1 help   P pause   F finish",
        keys: str = KEYS_LINE,
    ) -> None:
        """The whole room: top bar, monitors, HUD, status band (with ``hint`` at its top
        right and ``keys`` at its bottom)."""
        s = self.session
        self.layout = layout(surf.get_size(), single=self.single)
        r.text(surf, title, (12, 8), size=24, color=r.DIM)
        carm = s.proc.carm
        for key, rect in self.layout["panels"].items():
            view = self.shown_view(key)
            held = carm.held(view) if carm is not None else None
            note = ""
            if key == "single" and s.rotating:
                held, note = None, f"C-arm turning to {VIEW_LABEL[selected]}…"
            elif self.live and view == "ap" and s.can_choose_entry and s.entry_mm is None:
                note = "click the skin entry point"
            live = s.proc.t_s - self.last_pulse_s(view) <= LIVE_S
            self._panels[view].draw(
                surf,
                rect,
                None if held is None else held.pixels,
                label=VIEW_LABEL[view],
                selected=(view == selected and not self.single),
                live=live and held is not None,
                note=note,
            )
        self._entry_marker(surf)
        draw_hud(surf, self.layout["hud"], s, live=self.live)
        self._band(surf, selected, hint, keys)

    def _entry_marker(self, surf: pygame.Surface) -> None:
        s = self.session
        pm = self.panel_map("ap")
        if pm is None or s.entry_mm is None or not s.can_choose_entry:
            return
        x, y = pm.mm_to_screen((s.entry_mm[0], 0.0, s.entry_mm[1]))
        rect = self.layout["panels"]["single" if self.single else "ap"]
        if not rect.collidepoint(x, y):
            return
        for dx, dy in ((1, 0), (0, 1)):
            pygame.draw.line(
                surf, r.ACCENT, (x - 14 * dx, y - 14 * dy), (x - 4 * dx, y - 4 * dy), 2
            )
            pygame.draw.line(
                surf, r.ACCENT, (x + 4 * dx, y + 4 * dy), (x + 14 * dx, y + 14 * dy), 2
            )

    def _band(self, surf: pygame.Surface, selected: str, hint: str, keys: str) -> None:
        s = self.session
        band = self.layout["band"]
        pygame.draw.rect(surf, (22, 23, 25), band)
        pygame.draw.rect(surf, r.FRAME, band, 1)
        x, y = band.left + 10, band.top + 8
        pedal = f"{'pedal' if self.live else 'view'}: {VIEW_LABEL[selected]}"
        if self.single:
            pedal += f"   C-arm at {VIEW_LABEL[self.shown_view('single')]}"
            if s.rotating:
                pedal += " (turning)"
        r.text(surf, pedal, (x, y), size=24, color=r.ACCENT)
        r.text(
            surf,
            hint,
            (band.right - 10, y),
            size=22,
            color=r.DIM,
            anchor="topright",
        )
        y += 26
        r.text(
            surf,
            keys,
            (x, band.bottom - 8),
            size=20,
            color=r.DIM,
            anchor="bottomleft",
        )
        for t_s, msg in list(s.messages)[-3:]:
            if y + 44 > band.bottom:
                break
            r.text(surf, f"{clock(t_s)}  {msg}", (x, y), size=22)
            y += 22
