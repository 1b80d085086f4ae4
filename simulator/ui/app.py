"""The window: one pygame display, one current screen, a frame loop.

A frame is: read input events and hand them to the current screen, let the screen advance by
the real time elapsed (the procedure turns it into model ticks), draw, flip. :meth:`App.run`
paces frames at 60 per second with the real clock; :meth:`App.run_frames` steps frames with a
given ``dt_s`` (a fake clock) so tests and scripts drive the same loop deterministically.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pygame

from simulator.errors import UserError
from simulator.ui import render as r

SIZE = (1280, 720)
FPS = 60
NO_DISPLAY = (
    "no display available for the trainer window ({why}). Run an attempt headless instead: "
    "python run_sim.py run --scenario S --script A.json [--log OUT.json]"
)


class NoDisplayError(UserError):
    """No window can open here (exit code 2; the message points to the headless run)."""


def display_problem() -> str | None:
    """Why no window can open here, or None when a display looks usable (checked before
    pygame tries: on Linux without DISPLAY or WAYLAND_DISPLAY SDL would fail or hang)."""
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    if driver:
        return None
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "neither DISPLAY nor WAYLAND_DISPLAY is set"
    return None


@dataclass
class Settings:
    """What the start screen sets for the attempts of one session."""

    logs_dir: Path
    trainee: str = ""
    scenario_id: str = "first_case_l1"
    invert: bool = False
    hints: bool = False


class Screen:
    """Base of the screens: input, time, drawing."""

    def __init__(self, app: App):
        self.app = app

    def handle(self, event: pygame.event.Event) -> None:
        """One input event."""

    def update(self, dt_s: float) -> None:
        """Real seconds elapsed since the last frame."""

    def draw(self, surf: pygame.Surface) -> None:
        """Draw the whole screen."""

    def on_quit(self) -> None:
        """The window is closing (save what must be saved)."""


SCREENS: dict[str, Callable[..., Screen]] = {}
"""Screen name → factory ``(app, **kwargs) -> Screen``, filled by ``simulator.ui.screens``
(which imports every screen once): screens switch with :meth:`App.show` by name and never
import each other."""


def register_screen(name: str, factory: Callable[..., Screen]) -> None:
    """Make ``factory(app, **kwargs)`` the screen :meth:`App.show` opens for ``name``."""
    SCREENS[name] = factory


class App:
    """The trainer window. ``size`` in pixels; the window is resizable."""

    def __init__(self, settings: Settings, *, size: tuple[int, int] = SIZE):
        pygame.display.init()
        pygame.font.init()
        r.font.cache_clear()  # fonts made before an earlier pygame.quit() are dead
        flags = (
            0 if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen") else (pygame.RESIZABLE)
        )
        self.window = pygame.display.set_mode(size, flags)
        pygame.display.set_caption("Vertebroplasty trainer")
        pygame.key.set_repeat(350, 60)
        self.settings = settings
        self.screen: Screen | None = None
        self.running = True
        self.frame_ms: list[float] = []

    def show(self, screen: Screen | str, **kwargs) -> Screen:
        """Make ``screen`` the current screen; a name builds it first with the registered
        factory and ``kwargs`` (see :data:`SCREENS`). Returns the screen shown."""
        if isinstance(screen, str):
            factory = SCREENS.get(screen)
            if factory is None:
                known = ", ".join(sorted(SCREENS)) or "none: import simulator.ui.screens"
                raise KeyError(f"no screen named {screen!r} (registered: {known})")
            screen = factory(self, **kwargs)
        self.screen = screen
        return screen

    def quit(self) -> None:
        """Leave the frame loop."""
        self.running = False

    def frame(self, dt_s: float) -> None:
        """One frame: events, time, drawing, flip."""
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.screen.on_quit()
                self.quit()
                return
            if event.type == pygame.KEYDOWN and event.key == pygame.K_F12:
                try:
                    self.screenshot()
                except (OSError, pygame.error) as exc:
                    print(f"screenshot not saved: {exc}", file=sys.stderr)
                continue
            self.screen.handle(event)
            if not self.running:
                return
        self.screen.update(dt_s)
        self.window.fill(r.BG)
        self.screen.draw(self.window)
        pygame.display.flip()

    def run(self) -> int:
        """The interactive loop at up to 60 frames per second; returns the exit code."""
        clock = pygame.time.Clock()
        clock.tick()
        try:
            while self.running:
                dt_s = clock.tick(FPS) / 1000.0
                self.frame(dt_s)
        except KeyboardInterrupt:  # Ctrl+C in the terminal: save like closing the window
            self.screen.on_quit()
            pygame.quit()
            return 130
        pygame.quit()
        return 0

    def run_frames(self, n: int, dt_s: float = 1.0 / FPS) -> None:
        """Run ``n`` frames as if ``dt_s`` real seconds passed between them (tests)."""
        for _ in range(n):
            if not self.running:
                return
            self.frame(dt_s)

    def screenshot(self, path: str | Path | None = None) -> Path:
        """Save the window as a PNG (default: the logs folder's ``screenshots``)."""
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.settings.logs_dir / "screenshots" / f"vsim-{stamp}.png"
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.window, str(out))
        return out


def open_app(settings: Settings, *, size: tuple[int, int] = SIZE) -> App:
    """The window, or :class:`NoDisplayError` with one clear message when none can open."""
    why = display_problem()
    if why is None:
        try:
            return App(settings, size=size)
        except pygame.error as exc:
            why = f"pygame could not open a window: {exc}"
    raise NoDisplayError(NO_DISPLAY.format(why=why))
