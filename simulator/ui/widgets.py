"""Overlays and text blocks shared by several screens: the key help, a message box and
wrapped notes. Only drawing (on top of :mod:`simulator.ui.render`); no screen imports another
screen for these.
"""

from __future__ import annotations

import pygame

from simulator.ui import render as r

BOX_BG = (36, 38, 42)


def draw_help(surf: pygame.Surface, title: str, rows) -> None:
    """A dimmed overlay listing keys and what they do (``rows`` of (keys, what))."""
    r.shade(surf)
    w, h = surf.get_size()
    step = 30
    box = pygame.Rect(0, 0, min(w - 40, 860), len(rows) * step + 110)
    box.center = (w // 2, h // 2)
    pygame.draw.rect(surf, BOX_BG, box, border_radius=8)
    pygame.draw.rect(surf, r.FRAME, box, 1, border_radius=8)
    r.text(surf, title, (box.centerx, box.top + 18), size=36, color=r.ACCENT, anchor="midtop")
    y = box.top + 64
    for keys, what in rows:
        r.text(surf, keys, (box.left + 30, y), size=26, color=r.ACCENT)
        r.text(surf, what, (box.left + 250, y), size=26)
        y += step
    r.text(
        surf,
        "any of F1, H, Esc closes this help",
        (box.centerx, box.bottom - 14),
        size=20,
        color=r.DIM,
        anchor="midbottom",
    )


def draw_message(surf: pygame.Surface, title: str, lines: list[str]) -> None:
    """A dimmed overlay with a title and a few lines."""
    r.shade(surf, 150)
    w, h = surf.get_size()
    box = pygame.Rect(0, 0, 620, 80 + 34 * len(lines))
    box.center = (w // 2, h // 2)
    pygame.draw.rect(surf, BOX_BG, box, border_radius=8)
    pygame.draw.rect(surf, r.FRAME, box, 1, border_radius=8)
    r.text(surf, title, (box.centerx, box.top + 18), size=40, color=r.ACCENT, anchor="midtop")
    y = box.top + 66
    for line in lines:
        r.text(surf, line, (box.centerx, y), size=26, anchor="midtop")
        y += 34


def wrapped(
    surf: pygame.Surface,
    s: str,
    pos: tuple[int, int],
    width_px: int,
    *,
    size: int = 20,
    color=r.TEXT,
    step: int | None = None,
) -> int:
    """Draw ``s`` word-wrapped to ``width_px`` from ``pos`` (every word shown, no '…');
    returns the y below the last line."""
    x, y = pos
    step = step or r.font(size).get_linesize()
    for line in r.wrap(s, width_px, size=size):
        r.text(surf, line, (x, y), size=size, color=color)
        y += step
    return y
