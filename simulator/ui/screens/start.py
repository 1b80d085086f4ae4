"""The start screen: the trainee's name, the scenario list and the settings.

Type the name (Backspace deletes), ↑/↓ or a click choose the scenario, clicks toggle the
settings (image inversion, training hints), Enter or the Start button begins, Esc quits.
"""

from __future__ import annotations

import pygame

from simulator.inputs import NAME_MAX_CHARS, name_char_ok
from simulator.ui import render as r
from simulator.ui.app import App, Screen
from simulator.ui.catalog import difficulty, list_scenarios

MAX_NAME = NAME_MAX_CHARS  # the one trainee-name rule (simulator/inputs.py)


class StartScreen(Screen):
    """Name, scenario, settings, start."""

    def __init__(self, app: App, scenarios: list | None = None):
        super().__init__(app)
        self.scenarios = scenarios if scenarios is not None else list_scenarios()
        ids = [s.id for s in self.scenarios]
        want = app.settings.scenario_id
        self.index = ids.index(want) if want in ids else 0
        self.rows: list[pygame.Rect] = []
        self.toggles: dict[str, pygame.Rect] = {}
        self.start_rect = pygame.Rect(0, 0, 0, 0)
        self.message = ""

    @property
    def scenario(self):
        """The selected scenario."""
        return self.scenarios[self.index]

    def handle(self, event: pygame.event.Event) -> None:
        """Typing, list navigation, clicks."""
        st = self.app.settings
        if event.type == pygame.KEYDOWN:
            if event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
                self.start()
            elif event.key == pygame.K_ESCAPE:
                self.app.quit()
            elif event.key == pygame.K_UP:
                self.index = (self.index - 1) % len(self.scenarios)
            elif event.key == pygame.K_DOWN:
                self.index = (self.index + 1) % len(self.scenarios)
            elif event.key == pygame.K_BACKSPACE:
                st.trainee = st.trainee[:-1]
        elif event.type == pygame.TEXTINPUT:
            typed = "".join(c for c in event.text if name_char_ok(c))  # no control characters
            st.trainee = (st.trainee + typed)[:MAX_NAME]
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            for i, rect in enumerate(self.rows):
                if rect.collidepoint(event.pos):
                    self.index = i
            for name, rect in self.toggles.items():
                if rect.collidepoint(event.pos):
                    setattr(st, name, not getattr(st, name))
            if self.start_rect.collidepoint(event.pos):
                self.start()

    def start(self) -> None:
        """Begin an attempt at the selected scenario."""
        st = self.app.settings
        st.trainee = st.trainee.strip()
        if not st.trainee:
            self.message = "Type your name first (it goes into your attempt log)."
            return
        st.scenario_id = self.scenario.id
        self.app.show("procedure", scenario_ref=self.scenario.id, scenario=self.scenario)

    def draw(self, surf: pygame.Surface) -> None:
        """Title, name field, list, details, settings, logs folder, Start."""
        st = self.app.settings
        w, h = surf.get_size()
        r.text(surf, "Vertebroplasty trainer", (30, 22), size=48, color=r.ACCENT)
        r.text(
            surf,
            "fluoroscopy-guided transpedicular cement augmentation",
            (32, 62),
            size=24,
            color=r.DIM,
        )
        r.text(surf, "Trainee name", (30, 104), size=24, color=r.DIM)
        field = pygame.Rect(30, 126, 420, 38)
        pygame.draw.rect(surf, (16, 17, 19), field, border_radius=4)
        pygame.draw.rect(surf, r.SELECT, field, 2, border_radius=4)
        caret = "|" if (pygame.time.get_ticks() // 500) % 2 == 0 else ""
        r.text(
            surf, st.trainee + caret, (field.left + 10, field.centery), size=30, anchor="midleft"
        )

        list_w = min(560, w // 2 - 40)
        r.text(surf, "Scenario  (Up/Down or click)", (30, 184), size=24, color=r.DIM)
        self.rows = []
        y = 210
        row_h = max(44, min(58, (h - y - 90) // max(len(self.scenarios), 1)))
        for i, sc in enumerate(self.scenarios):
            rect = pygame.Rect(30, y, list_w, row_h - 6)
            sel = i == self.index
            pygame.draw.rect(surf, (48, 62, 86) if sel else (38, 40, 44), rect, border_radius=5)
            title = r.fit(sc.scenario.title, list_w - 24, 24)
            r.text(surf, title, (rect.left + 12, rect.top + 6), size=24)
            tag = f"{sc.scenario.level} · {difficulty(sc)} · {sc.equipment.c_arm} C-arm"
            r.text(surf, tag, (rect.left + 12, rect.top + 27), size=20, color=r.DIM)
            self.rows.append(rect)
            y += row_h

        x0 = 30 + list_w + 30
        right = pygame.Rect(x0, 104, w - x0 - 30, h - 104)
        sc = self.scenario
        r.text(surf, sc.scenario.title, (x0, right.top), size=28, color=r.ACCENT)
        y = r.paragraph(
            surf,
            " ".join(sc.scenario.description.split()),
            pygame.Rect(x0, right.top + 34, right.width, 190),
            size=23,
        )
        facts = (
            f"Level {sc.scenario.level}, {sc.vertebra.wedge_percent:g} % wedge; cement "
            f"{sc.cement.product.replace('_', ' ')}; target fill {sc.targets.fill_ml_min:g}–"
            f"{sc.targets.fill_ml_max:g} ml, {sc.targets.approach}; time limit "
            f"{sc.scenario.time_limit_s / 60:g} min; difficulty {difficulty(sc)}."
        )
        y = r.paragraph(surf, facts, pygame.Rect(x0, y + 8, right.width, 60), size=22, color=r.DIM)
        y += 14
        r.text(surf, "Settings  (click to change)", (x0, y), size=24, color=r.DIM)
        y += 28
        self.toggles = {}
        for name, label in (
            ("invert", "Invert image (bone white / black)"),
            ("hints", "Training hints (breach and leak messages)"),
        ):
            box = pygame.Rect(x0, y, 22, 22)
            pygame.draw.rect(surf, r.FRAME, box, 2)
            if getattr(st, name):
                pygame.draw.rect(surf, r.GOOD, box.inflate(-8, -8))
            r.text(surf, label, (x0 + 32, y + 2), size=24)
            self.toggles[name] = pygame.Rect(x0, y, right.width, 24)
            y += 32
        r.text(surf, "Logs folder", (x0, y + 6), size=22, color=r.DIM)
        r.text(surf, r.fit(str(st.logs_dir), right.width, 22), (x0, y + 28), size=22)
        self.start_rect = r.button(
            surf, "Start  (Enter)", pygame.Rect(x0, h - 80, 220, 50), active=True, size=28
        )
        if self.message:
            r.text(surf, self.message, (x0 + 236, h - 55), size=22, color=r.BAD, anchor="midleft")
        r.text(surf, "Esc quits", (w - 30, h - 20), size=20, color=r.DIM, anchor="bottomright")
