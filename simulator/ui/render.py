"""Drawing helpers shared by the screens: the theme, text, buttons and fluoroscopy panels.

The look is a fluoroscopy monitor room: dark grey surroundings, grey-scale images on black,
small amber/green status text. Fonts are pygame's default font (no downloads). Images arrive
as ``uint8 (rows, cols)`` arrays and are turned into pygame surfaces here only; a panel caches
its scaled surface per image object, so an image is scaled once, not every frame.
"""

from __future__ import annotations

import functools

import numpy as np
import pygame

BG = (28, 29, 31)
PANEL_BG = (0, 0, 0)
FRAME = (70, 72, 76)
TEXT = (214, 216, 220)
DIM = (140, 144, 150)
ACCENT = (236, 184, 72)
GOOD = (120, 200, 120)
BAD = (230, 96, 80)
XRAY = (255, 214, 0)
SELECT = (90, 150, 230)


@functools.cache
def font(size: int) -> pygame.font.Font:
    """pygame's default font at ``size`` pixels (cached)."""
    return pygame.font.Font(None, size)


def text(
    surf: pygame.Surface,
    s: str,
    pos: tuple[int, int],
    *,
    size: int = 22,
    color=TEXT,
    anchor: str = "topleft",
) -> pygame.Rect:
    """Draw one line of text; ``anchor`` is a pygame.Rect attribute name for ``pos``."""
    img = font(size).render(s, True, color)
    rect = img.get_rect(**{anchor: pos})
    surf.blit(img, rect)
    return rect


def fit(s: str, width_px: int, size: int, *, keep_end: bool = False) -> str:
    """``s`` cut with '…' to fit ``width_px`` (its start kept, or its end: paths)."""
    f = font(size)
    if f.size(s)[0] <= width_px:
        return s
    while s and f.size(s + "…")[0] > width_px:
        s = s[1:] if keep_end else s[:-1]
    return "…" + s if keep_end else s + "…"


def wrap(s: str, width_px: int, *, size: int = 22) -> list[str]:
    """Split ``s`` into lines no wider than ``width_px`` in the font of ``size``."""
    f = font(size)
    lines: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if f.size(trial)[0] <= width_px or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def paragraph(
    surf: pygame.Surface, s: str, rect: pygame.Rect, *, size: int = 22, color=TEXT
) -> int:
    """Draw wrapped text inside ``rect`` (lines that do not fit are dropped with '…');
    returns the y below the last line drawn."""
    y = rect.top
    step = font(size).get_linesize()
    lines = wrap(s, rect.width, size=size)
    for i, line in enumerate(lines):
        if y + step > rect.bottom:
            break
        last = i + 1 < len(lines) and y + 2 * step > rect.bottom
        text(surf, line + (" …" if last else ""), (rect.left, y), size=size, color=color)
        y += step
    return y


def button(
    surf: pygame.Surface, label: str, rect: pygame.Rect, *, active: bool = False, size: int = 24
) -> pygame.Rect:
    """A flat button; returns its rect (for hit tests)."""
    pygame.draw.rect(surf, (60, 90, 140) if active else (52, 54, 58), rect, border_radius=5)
    pygame.draw.rect(surf, FRAME, rect, 1, border_radius=5)
    text(surf, label, rect.center, size=size, anchor="center")
    return rect


def shade(surf: pygame.Surface, alpha: int = 190) -> None:
    """Darken the whole surface (behind an overlay)."""
    veil = pygame.Surface(surf.get_size(), pygame.SRCALPHA)
    veil.fill((0, 0, 0, alpha))
    surf.blit(veil, (0, 0))


def grey_surface(pixels: np.ndarray) -> pygame.Surface:
    """A 24-bit surface of a ``uint8 (rows, cols)`` grey image."""
    a = np.ascontiguousarray(pixels.T)
    return pygame.surfarray.make_surface(np.stack([a, a, a], axis=-1))


def rgb_surface(rgb: np.ndarray) -> pygame.Surface:
    """A surface of a ``uint8 (rows, cols, 3)`` colour image."""
    return pygame.surfarray.make_surface(np.ascontiguousarray(rgb.transpose(1, 0, 2)))


class ImagePanel:
    """One monitor: draws a held fluoroscopy image scaled into a square rect.

    The scaled surface is cached per image object (images are immutable once taken)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._scaled: pygame.Surface | None = None

    def draw(
        self,
        surf: pygame.Surface,
        rect: pygame.Rect,
        pixels: np.ndarray | None,
        *,
        label: str,
        selected: bool,
        live: bool,
        note: str = "",
    ) -> None:
        """Draw the panel: the image (black before the first shot), the view label, the
        last-image-hold marker (or the X-ray-on sign while exposing) and a note line."""
        pygame.draw.rect(surf, PANEL_BG, rect)
        if pixels is not None:
            key = (id(pixels), rect.size)
            if key != self._key:
                self._scaled = pygame.transform.smoothscale(grey_surface(pixels), rect.size)
                self._key = key
            surf.blit(self._scaled, rect)
        pygame.draw.rect(surf, SELECT if selected else FRAME, rect, 3 if selected else 1)
        text(surf, label, (rect.left + 10, rect.top + 8), size=30, color=ACCENT)
        if live:
            text(
                surf,
                "X-RAY",
                (rect.right - 10, rect.top + 8),
                size=28,
                color=XRAY,
                anchor="topright",
            )
        elif pixels is not None:
            text(
                surf, "LIH", (rect.right - 10, rect.top + 8), size=26, color=GOOD, anchor="topright"
            )
        if note:  # on a dark plate: readable over a bright image
            img = font(24).render(note, True, ACCENT)
            box = img.get_rect(midbottom=(rect.centerx, rect.bottom - 12)).inflate(16, 8)
            pygame.draw.rect(surf, BG, box, border_radius=4)
            surf.blit(img, img.get_rect(center=box.center))
