"""The heads-up display beside the monitors: clock, needle, radiation, cement, pressure.

Only what the operator would know in a real procedure: the clock, the needle's inserted length
(read off the trocar's centimetre marks), the C-arm's fluoroscopy timer, shot count and
dose-area product, the cement's product, mixing clock, consistency phase and the time until the
next phase, the volume pushed from the syringe, how much of it still fills the needle and how
much has left it, and the pressure they feel (a gauge). Nothing about where the tip or the
cement really is (how much of the cement is in the body and how much leaked), and not the
needle's angles (no instrument shows them; the arms' angles are on the C-arm's display,
:mod:`simulator.ui.carm_icon`).

With training hints on, a HINTS section adds what a trainer would tell: the needle's medial and
caudal angles, how far the current frontal and lateral poses are from the true AP and true
lateral (:func:`~simulator.fluoro.poses.ap_error_deg`, ``lateral_error_deg``) and, once a side
is chosen, how far the frontal beam is from the en-face view down that pedicle; the CEMENT
section adds how much of the delivered cement is in the body and how much leaked.
"""

from __future__ import annotations

import math

import pygame

from simulator.cement.rheology import phase_label
from simulator.fluoro.geometry import angle_between_lines_deg
from simulator.fluoro.poses import ap_error_deg, lateral_error_deg
from simulator.ui import render as r
from simulator.ui.session import LiveSession


def clock(seconds: float) -> str:
    """``m:ss`` of a time in seconds."""
    s = max(int(seconds), 0)
    return f"{s // 60}:{s % 60:02d}"


def needle_rows(session: LiveSession, *, live: bool = True) -> list[tuple[str, str, tuple]]:
    """The NEEDLE section as (label, value, colour) rows. The inserted length is read from the
    model's needle every frame (a re-aim puts it back on the skin: 0 mm). ``live``: add the
    trainee's pending aim (none in a replay), saying what the next advance will do with it."""
    needle = session.needle
    state = needle.state
    inserted = state.inserted_mm if state.placed else 0.0
    rows = []
    if session.proc.two_needles:  # which needle the keys move (N switches)
        rows.append(("needle", f"{session.selected} (N: other)", r.ACCENT))
    rows.append(("inserted", f"{inserted:.1f} mm", r.TEXT))
    if not live:
        return rows
    if session.entry_mm is None:
        rows.append(("entry", "not chosen", r.DIM))
    elif session.aim_pending():
        if inserted < 0.01 and not state.moving:
            rows.append(("new aim", "on next advance", r.ACCENT))
        elif needle.engaged_in_bone():
            rows.append(("new aim", "in bone: refused", r.BAD))
        else:
            rows.append(("new aim", "restarts at skin", r.ACCENT))
    return rows


def hint_rows(session: LiveSession) -> list[tuple[str, str, tuple]]:
    """The HINTS section (training hints on): the needle's pending angles (degrees) and the
    alignment errors (degrees) of the arms' current poses."""
    proc = session.proc
    carm = proc.carm
    body = proc.phantom.geometry.body
    frontal = carm.beam(carm.pose_of("ap"))
    lateral = carm.beam(carm.pose_of("lateral"))
    rows = [
        ("medial", f"{session.medial_deg:+.1f}°", r.TEXT),
        ("caudal", f"{session.caudal_deg:+.1f}°", r.TEXT),
        ("AP error", f"{ap_error_deg(body, frontal):.1f}°", r.TEXT),
        ("LAT error", f"{lateral_error_deg(lateral):.1f}°", r.TEXT),
    ]
    if session.side is not None:
        axis = proc.phantom.landmarks.pedicle_axes[session.side].direction
        side = "L" if session.side == "left" else "R"
        rows.append((f"en face {side}", f"{angle_between_lines_deg(frontal, axis):.1f}°", r.TEXT))
    return rows


class _Column:
    """Rows drawn down the HUD column from ``y`` (window pixels)."""

    def __init__(self, surf: pygame.Surface, rect: pygame.Rect, y: int):
        self.surf, self.rect, self.y = surf, rect, y

    def section(self, title: str) -> None:
        """A rule and a section title."""
        self.y += 6
        pygame.draw.line(self.surf, r.FRAME, (self.rect.left, self.y), (self.rect.right, self.y))
        r.text(self.surf, title, (self.rect.left, self.y + 4), size=20, color=r.ACCENT)
        self.y += 22

    def line(self, label: str, value: str, color=r.TEXT) -> None:
        """A label on the left, its value on the right."""
        r.text(self.surf, label, (self.rect.left, self.y), size=21, color=r.DIM)
        r.text(self.surf, value, (self.rect.right, self.y), size=21, color=color, anchor="topright")
        self.y += 19

    def words(self, s: str) -> None:
        """A line of plain text."""
        r.text(self.surf, s, (self.rect.left, self.y), size=21)
        self.y += 19


def draw_hud(
    surf: pygame.Surface, rect: pygame.Rect, session: LiveSession, *, live: bool = True
) -> None:
    """The right-hand column: clock, needle, (hints,) fluoroscopy, cement and the pressure
    gauge (``live`` False in a replay: no time ×8 sign, no pending aim)."""
    proc = session.proc
    x, y = rect.left, rect.top
    limit = proc.scenario.scenario.time_limit_s
    r.text(surf, clock(proc.t_s), (x, y), size=52, color=r.TEXT)
    r.text(
        surf, f"of {clock(limit)}", (rect.right, y + 30), size=20, color=r.DIM, anchor="topright"
    )
    y += 46
    if live and session.time_scale > 1:
        r.text(surf, f"time ×{session.time_scale:g}", (x, y), size=20, color=r.ACCENT)
    col = _Column(surf, rect, y + 20)
    col.section("NEEDLE" + (f"  ({session.side})" if session.side else ""))
    for label, value, color in needle_rows(session, live=live):
        col.line(label, value, color)
    if session.hints:
        col.section("HINTS")
        for label, value, color in hint_rows(session):
            col.line(label, value, color)
    m = proc.ledger.metrics()
    col.section("FLUORO")
    col.line("time", f"{m['fluoro_time_s']:.1f} s")
    col.line(
        "shots", f"{m['fluoro_shots']} (L {m['fluoro_shots_lateral']}, AP {m['fluoro_shots_ap']})"
    )
    col.line("DAP", f"{m['dose_dap_mgycm2']:.0f} mGy·cm²")
    col.section("CEMENT")
    _cement_rows(col, session)


def countdown(seconds: float) -> str:
    """``m:ss`` of a time still to run (s), rounded up: it reads 0:01 until the moment comes."""
    return clock(math.ceil(seconds - 1e-9))


def cement_rows(state: dict | None, *, hints: bool = False) -> list[tuple[str, str, tuple]]:
    """The CEMENT section's rows (label, value, colour) from the model's ``display_state``
    (None before mixing): the phase and the countdown to the next one (m:ss), the time since
    mixing, and the syringe's volume split into what fills the needle and what has left it
    (ml). Where the delivered cement went (body, leaks) only the image tells; ``hints`` adds
    it, as a trainer would."""
    if state is None:
        return [("phase", "not mixed", r.DIM)]
    rows = [("phase", phase_label(state["phase"]), r.TEXT)]
    if state["next_phase"] is not None:
        rows.append(
            (
                f"{phase_label(state['next_phase'])} in",
                countdown(state["next_phase_in_s"]),
                r.TEXT,
            )
        )
    in_needle = state["in_cannula_ml"] + state["in_transit_ml"]
    rows += [
        ("since mix", clock(state["since_mix_s"]), r.TEXT),
        ("injected", f"{state['injected_ml']:.2f} ml", r.TEXT),
        ("in needle", f"{in_needle:.2f} ml", r.TEXT),
        ("delivered", f"{state['delivered_ml']:.2f} ml", r.TEXT),
    ]
    if hints:
        rows += [
            ("in body", f"{state['in_body_ml']:.2f} ml", r.ACCENT),
            ("leaked", f"{state['leaked_ml']:.2f} ml", r.ACCENT),
        ]
    return rows


def _cement_rows(col: _Column, session: LiveSession) -> None:
    """The CEMENT section's rows, then the pressure gauge in the room left below them."""
    proc = session.proc
    c = proc.cement.display_state(proc.t_s)
    name = proc.scenario.cement.product.replace("_", " ") if c is None else c["name"]
    col.words(name[:24])
    for label, value, color in cement_rows(c, hints=session.hints):
        col.line(label, value, color)
    injecting = c is not None and c["injecting"]
    col.line("rate", f"{session.rate_ml_min:.1f} ml/min", r.GOOD if injecting else r.TEXT)
    limit_kpa = c["limit_kpa"] if c is not None else 100.0
    pressure = c["pressure_kpa"] if c is not None else 0.0
    rect = col.rect
    # the dial and its labels fit in the room left under the rows (a 12 px gap above it)
    radius = min(rect.width // 2 - 8, max((rect.bottom - col.y - 16) // 2, 20))
    gauge(col.surf, (rect.centerx, col.y + radius + 12), radius, pressure, limit_kpa)


def gauge(surf: pygame.Surface, centre, radius: int, value: float, full: float) -> None:
    """A dial from 0 to ``full`` (kPa) over 240°, with its needle at ``value``."""
    cx, cy = centre
    pygame.draw.circle(surf, (16, 16, 18), centre, radius)
    pygame.draw.circle(surf, r.FRAME, centre, radius, 2)
    start, sweep = math.radians(210), math.radians(240)
    for i in range(11):
        a = start - sweep * i / 10
        inner = radius - (10 if i % 5 == 0 else 6)
        color = r.BAD if i >= 9 else r.DIM
        pygame.draw.line(
            surf,
            color,
            (cx + inner * math.cos(a), cy - inner * math.sin(a)),
            (cx + (radius - 2) * math.cos(a), cy - (radius - 2) * math.sin(a)),
            2,
        )
    frac = min(max(value / full, 0.0), 1.0) if full > 0 else 0.0
    a = start - sweep * frac
    tip = (cx + (radius - 12) * math.cos(a), cy - (radius - 12) * math.sin(a))
    pygame.draw.line(surf, r.ACCENT, centre, tip, 3)
    pygame.draw.circle(surf, r.ACCENT, centre, 4)
    r.text(surf, f"{value:.0f} kPa", (cx, cy + radius * 0.45), size=20, anchor="center")
    r.text(surf, "pressure", (cx, cy + radius * 0.45 + 15), size=16, color=r.DIM, anchor="center")
