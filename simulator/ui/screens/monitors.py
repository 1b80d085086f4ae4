"""The procedure room's picture, shared by the live procedure and the replay viewer: the
fluoroscopy monitors (two for a biplane C-arm, one for a single C-arm) with each arm's
orientation icon, the HUD column, the status band, and the entry cross-hair on the frontal
image before the needle goes in.

A monitor holds its arm's last image (last-image hold): while the arm turns, and while a new
pose's anatomy is computed in the background (:meth:`~simulator.fluoro.device.CArm.held_ready`
never waits), the image before stays up, with a "turning…" note while the arm moves. Clicks and
the cross-hair map through the projection of the pose the image shown was taken at.
"""

from __future__ import annotations

import pygame

from simulator.fluoro.device import ARM_OF_VIEW, SINGLE
from simulator.ui import render as r
from simulator.ui.carm_icon import draw_arm_icon, pose_words
from simulator.ui.coords import PanelMap, skin_point_mm
from simulator.ui.hud import clock, draw_hud
from simulator.ui.session import LiveSession

VIEW_LABEL = {"lateral": "LAT", "ap": "AP"}
ARM_LABEL = {"frontal": "frontal arm", "lateral": "lateral arm", SINGLE: "C-arm"}
HUD_W = 190
TOP = 36
BAND_H = 112
LIVE_S = 0.2  # an image counts as live (X-ray on) this long after its pulse
KEYS_LINE = (
    "W/S needle  N other needle  arrows angles  Space fluoro  Tab view  [ ] ; ' C-arm  "
    "1-4 presets  "
    "M mix  I inject  +/- rate  T time x8"
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
    """Draws one session's room; keeps each panel's held image and scaled-image cache.
    ``live`` is False in a replay: no prompts meant for the trainee (entry click, time ×8),
    only what was."""

    def __init__(self, session: LiveSession, *, live: bool = True):
        self.session = session
        self.live = live
        self.single = session.proc.scenario.equipment.c_arm == "single"
        self.layout = layout(pygame.display.get_surface().get_size(), single=self.single)
        self._panels = {key: r.ImagePanel() for key in self.layout["panels"]}
        self._held: dict[str, tuple] = {}  # panel key → (FluoroImage, ArmPose) shown

    def _arm_of(self, key: str) -> str:
        return SINGLE if key == "single" else ARM_OF_VIEW[key]

    def shown_view(self, rect_key: str) -> str:
        """The view of the image a panel shows (a single C-arm's: the last shot's, or the
        arm's view before any)."""
        if rect_key != "single":
            return rect_key
        held = self._held.get(rect_key)
        if held is not None:
            return held[0].view
        carm = self.session.proc.carm
        return carm.shots[-1].view if carm.shots else carm.single_view

    def refresh(self) -> None:
        """Take each panel's newest ready image (never waits for a ray cast)."""
        carm = self.session.proc.carm
        if carm.imager is None:
            return
        for key in self.layout["panels"]:
            if key != "single":
                image = carm.held_ready(key)
                if image is not None:
                    self._held[key] = (image, carm.shown_pose(key))
                continue
            if not carm.shots:
                continue
            last = carm.shots[-1]
            image = carm.held_ready(last.view)
            # an older image of that view while the newest is being made: keep the one up
            fresh = carm.legacy or carm.shown_pose(last.view) == last.pose
            if image is not None and (fresh or key not in self._held):
                self._held[key] = (image, carm.shown_pose(last.view))

    def panel_map(self, view: str) -> PanelMap | None:
        """The pixel ↔ mm map of the panel showing ``view`` now (through the pose of its
        image, or of its arm before the first), or None when hidden or headless."""
        carm = self.session.proc.carm
        if carm.imager is None:
            return None
        for key, rect in self.layout["panels"].items():
            if self.shown_view(key) != view:
                continue
            where = {"left": rect.left, "top": rect.top, "size": rect.width}
            if carm.legacy:
                return PanelMap(view=carm.imager.views[view], **where)
            held = self._held.get(key)
            pose = held[1] if held is not None else carm.pose_of(view)
            return PanelMap(proj=carm.imager.projection(pose), **where)
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
        self.refresh()
        for key, rect in self.layout["panels"].items():
            self._draw_panel(surf, key, rect, selected=selected)
        self._entry_marker(surf)
        draw_hud(surf, self.layout["hud"], s, live=self.live)
        self._band(surf, selected, hint, keys)

    def _draw_panel(self, surf: pygame.Surface, key: str, rect: pygame.Rect, *, selected) -> None:
        s = self.session
        view = self.shown_view(key)
        held = self._held.get(key)
        arm = s.proc.carm.arms[self._arm_of(key)]
        note = ""
        if s.turning(view) or arm.target is not None:
            to = s.arm_goal(arm.name)
            note = f"turning to {pose_words(to)}…" if self.single else "turning…"
        elif self.live and view == "ap" and s.can_choose_entry and s.entry_mm is None:
            note = "click the skin entry point"
        live = s.proc.t_s - self.last_pulse_s(view) <= LIVE_S
        self._panels[key].draw(
            surf,
            rect,
            None if held is None else held[0].pixels,
            label=VIEW_LABEL[view],
            selected=(view == selected and not self.single),
            live=live and held is not None,
            note=note,
        )
        words = r.font(20).render(pose_words(arm.pose), True, r.TEXT)
        plate = words.get_rect(topleft=(rect.left + 10, rect.top + 36)).inflate(8, 4)
        pygame.draw.rect(surf, r.BG, plate, border_radius=3)
        surf.blit(words, words.get_rect(center=plate.center))
        icon = pygame.Rect(rect.left + 3, rect.bottom - 83, 140, 80)
        draw_arm_icon(surf, icon, arm.pose, target=arm.target)

    def _entry_marker(self, surf: pygame.Surface) -> None:
        s = self.session
        pm = self.panel_map("ap")
        if pm is None or s.entry_mm is None or not s.can_choose_entry:
            return
        skin = skin_point_mm(s.entry_mm, s.proc.phantom.skin_y_mm)
        x, y = pm.mm_to_screen(skin)
        rect = pygame.Rect(pm.left, pm.top, pm.size, pm.size)
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
        arm = s.proc.carm.arms[s.proc.carm.arm_name(selected)]
        pedal += f"   {ARM_LABEL[arm.name]} {pose_words(arm.pose)}"
        if arm.target is not None or s.turning(selected):
            pedal += f", turning to {pose_words(s.arm_goal(arm.name))}"
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
