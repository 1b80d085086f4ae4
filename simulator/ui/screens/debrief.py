"""The debrief: score and pass, the breakdown per component, feedback, an event timeline and
the truth (label slices with the cement, the leaks and the planned trajectory).

Keys: R retry the same scenario, V replay this attempt, N next scenario, Esc back to the start
screen. The score shown is the one written into the signed log.
"""

from __future__ import annotations

import pygame

from simulator.scoring.feedback import clock  # the feedback's clock: one time per moment
from simulator.ui import render as r
from simulator.ui.app import App, Screen
from simulator.ui.catalog import list_scenarios
from simulator.ui.screens.truth import (
    CEMENT_RGB,
    GREAT_VESSEL_RGB,
    LEAK_RGB,
    NEEDLE_RGB,
    PLAN_RGB,
    TruthView,
)
from simulator.ui.widgets import wrapped

TIMELINE_KINDS = {
    "aim": r.SELECT,
    "advance": (110, 140, 200),
    "withdraw": (110, 140, 200),
    "fluoro": r.XRAY,
    "mix": r.TEXT,
    "inject": r.GOOD,
    "stop": r.GOOD,
    "breach": r.BAD,
    "leak": r.BAD,
    "refused": r.DIM,
    "finish": r.ACCENT,
}
FEEDBACK_SIZE = 22
FEEDBACK_STEP = 18
LISTED = (
    "aim",
    "breach",
    "refused",
    "mix",
    "inject",
    "stop",
    "stall",
    "leak",
    "injection_done",
    "cement_used_up",
    "cement_set",
    "wall_contact",
    "finish",
)


def attempt_score(proc, log_path) -> dict | None:
    """The score in the attempt's log, else scored now from the procedure."""
    if log_path is not None:
        from simulator.records.log import read_log

        score = read_log(log_path).get("score")
        if score:
            return score
    from simulator.scoring.rules import score_attempt

    return score_attempt(
        proc.scenario,
        proc.metrics(),
        [e.as_json() for e in proc.events],
        phase_labels=proc.model.phase_labels,
        rubric_version=proc.model.rubric_version,
    )


class DebriefScreen(Screen):
    """What happened and what it means."""

    def __init__(self, app: App, proc, log_path, *, log_error: str | None = None):
        super().__init__(app)
        from simulator.planning import plan_trajectory

        self.proc = proc
        self.log_path = log_path
        self.log_error = log_error
        self.score = attempt_score(proc, log_path)
        # each placed needle against its side's plan (none placed: the left's plan)
        sides = [proc.needles[k].state.side for k in proc.placed_sides()] or ["left"]
        self.plans = {s: plan_trajectory(proc.phantom, proc.scenario, s) for s in sides}
        self.truth = TruthView(proc, self.plans)
        self.buttons: dict[str, pygame.Rect] = {}

    def handle(self, event: pygame.event.Event) -> None:
        """R, V, N, Esc and button clicks."""
        keys = {
            pygame.K_r: "retry",
            pygame.K_v: "replay",
            pygame.K_n: "next",
            pygame.K_ESCAPE: "menu",
        }
        if event.type == pygame.KEYDOWN and event.key in keys:
            self.choose(keys[event.key])
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            for name, rect in self.buttons.items():
                if rect.collidepoint(event.pos):
                    self.choose(name)

    def choose(self, what: str) -> None:
        """Go on: ``retry``, ``replay``, ``next`` or ``menu`` (screens opened by name)."""
        sc = self.proc.scenario
        if what == "retry":
            self.app.show("procedure", scenario_ref=sc.id, scenario=sc)
        elif what == "replay" and self.log_path is not None:
            self.app.show("replay", log_path=self.log_path, back=self)
        elif what == "next":
            ids = [s.id for s in list_scenarios()]
            nxt = ids[(ids.index(sc.id) + 1) % len(ids)] if sc.id in ids else ids[0]
            self.app.settings.scenario_id = nxt
            self.app.show("procedure", scenario_ref=nxt)
        elif what == "menu":
            self.app.show("start")

    def draw(self, surf: pygame.Surface) -> None:
        """Score, components, feedback, truth slices, events, timeline, buttons."""
        w, h = surf.get_size()
        sc = self.proc.scenario
        r.text(surf, f"Debrief — {sc.scenario.title}", (20, 12), size=28, color=r.DIM)
        left = pygame.Rect(20, 48, w // 2 - 40, h - 48 - 120)
        y = self._score(surf, left)
        feedback = list((self.score or {}).get("feedback", []))
        rest = self._feedback(
            surf, pygame.Rect(left.left, y + 6, left.width, left.bottom - y - 6), feedback
        )
        right = pygame.Rect(w // 2, 48, w // 2 - 20, 270)
        self.truth.draw(surf, right)
        y = self._legend(surf, pygame.Rect(right.left, right.bottom + 4, right.width, 0)) + 8
        y = self._events(
            surf, pygame.Rect(right.left, y, right.width, h - 120 - y), short=bool(rest)
        )
        rest = self._feedback(surf, pygame.Rect(right.left, y + 8, right.width, h - 148 - y), rest)
        if rest:
            more = f"… {len(rest)} more in the log's feedback"
            r.text(surf, more, (right.left, h - 138), size=20, color=r.DIM)
        self._timeline(surf, pygame.Rect(20, h - 108, w - 40, 40))
        self.buttons = {}
        x = 20
        for name, label in (
            ("retry", "Retry (R)"),
            ("replay", "Replay (V)"),
            ("next", "Next scenario (N)"),
            ("menu", "Start screen (Esc)"),
        ):
            rect = pygame.Rect(x, h - 56, 220, 44)
            self.buttons[name] = r.button(surf, label, rect)
            x += 236
        if self.log_path is not None:
            path = r.fit(f"log: {self.log_path}", w - 640, 18, keep_end=True)
            r.text(surf, path, (w - 20, 18), size=18, color=r.DIM, anchor="topright")
        elif self.log_error:
            note = r.fit(self.log_error, w - 640, 18, keep_end=True)
            r.text(surf, note, (w - 20, 18), size=18, color=r.BAD, anchor="topright")

    def _score(self, surf, rect) -> int:
        s = self.score
        if not s:
            r.text(surf, "no score", rect.topleft, size=40)
            return rect.top + 44
        passed = s.get("passed")
        r.text(surf, f"{s['total']:.0f}", rect.topleft, size=72, color=r.GOOD if passed else r.BAD)
        r.text(
            surf,
            "/ 100   " + ("PASSED" if passed else "NOT PASSED"),
            (rect.left + 90, rect.top + 26),
            size=34,
            color=r.GOOD if passed else r.BAD,
        )
        y = rect.top + 66
        for name, comp in s.get("components", {}).items():
            r.text(surf, name.replace("_", " "), (rect.left, y), size=24)
            r.text(
                surf,
                f"{comp['points']:.1f} / {comp['max']:g}",
                (rect.left + 230, y),
                size=24,
                color=r.ACCENT,
            )
            y += 24
            notes = "; ".join(comp.get("notes", []))
            if notes:  # the whole note, wrapped under its component
                y = wrapped(
                    surf, notes, (rect.left + 16, y), rect.width - 16, size=20, color=r.DIM, step=18
                )
            y += 4
        for crit in s.get("critical", []):
            r.text(
                surf, f"critical: {crit.replace('_', ' ')}", (rect.left, y), size=22, color=r.BAD
            )
            y += 22
        return y

    def _feedback(self, surf, rect, sentences: list[str]) -> list[str]:
        """Draw whole sentences in ``rect`` while they fit; returns those left over."""
        y, step = rect.top, FEEDBACK_STEP
        for i, sentence in enumerate(sentences):
            lines = r.wrap("• " + sentence, rect.width, size=FEEDBACK_SIZE)
            if y + len(lines) * step > rect.bottom:
                return sentences[i:]
            y = (
                wrapped(
                    surf, "• " + sentence, (rect.left, y), rect.width, size=FEEDBACK_SIZE, step=step
                )
                + 4
            )
        return []

    def legend_items(self) -> list[tuple[str, tuple]]:
        """The truth slices' legend: (label, colour); the great vessels when shown."""
        items = [
            ("cement in the body", tuple(int(v) for v in CEMENT_RGB)),
            ("leak", tuple(int(v) for v in LEAK_RGB)),
            ("planned path", PLAN_RGB),
            ("your needle", NEEDLE_RGB),
        ]
        if self.truth.vessels_shown:
            items.append(("great vessels", GREAT_VESSEL_RGB))
        return items

    def _legend(self, surf, rect) -> int:
        """The legend from ``rect``'s top left, on more lines when it is wider than ``rect``;
        returns the y below it."""
        x, y = rect.left, rect.top
        for label, colour in self.legend_items():
            if x > rect.left and x + 20 + r.font(20).size(label)[0] > rect.right:
                x, y = rect.left, y + 20
            pygame.draw.rect(surf, colour, (x, y + 4, 14, 14))
            x = r.text(surf, label, (x + 20, y + 2), size=20).right + 16
        return y + 20

    def _events(self, surf, rect, *, short: bool = False) -> int:
        """The listed events in two columns (``short``: at most 5 rows, to leave room for
        feedback); returns the y below them."""
        r.text(surf, "Events", rect.topleft, size=22, color=r.ACCENT)
        rows = [e for e in self.proc.events if e.kind in LISTED]
        step = 19
        per_col = max(1, min((rect.height - 24) // step, -(-len(rows) // 2)))
        if short:
            per_col = min(per_col, 5)
        col_w = rect.width // 2
        if len(rows) > 2 * per_col:  # keep the start and the end
            rows = rows[:per_col] + rows[-per_col:]
        for n, e in enumerate(rows[: 2 * per_col]):
            x = rect.left + (n // per_col) * col_w
            y = rect.top + 24 + (n % per_col) * step
            detail = _detail(e)
            line = f"{clock(e.t_s)}  {e.kind.replace('_', ' ')} {detail}"
            r.text(
                surf,
                line[:60],
                (x, y),
                size=20,
                color=r.BAD if e.kind in ("breach", "leak") else r.TEXT,
            )
        return rect.top + 24 + per_col * step

    def _timeline(self, surf, rect) -> None:
        end = max(self.proc.t_s, 1.0)
        pygame.draw.line(surf, r.FRAME, (rect.left, rect.centery), (rect.right, rect.centery), 2)
        for e in self.proc.events:
            colour = TIMELINE_KINDS.get(e.kind)
            if colour is None:
                continue
            x = rect.left + rect.width * e.t_s / end
            tall = 14 if e.kind in ("breach", "leak", "mix", "inject") else 8
            pygame.draw.line(surf, colour, (x, rect.centery - tall), (x, rect.centery + tall), 2)
        r.text(surf, "0:00", (rect.left, rect.bottom), size=18, color=r.DIM)
        r.text(surf, clock(end), (rect.right, rect.bottom), size=18, color=r.DIM, anchor="topright")
        r.text(
            surf,
            "timeline: fluoro (yellow), needle (blue), cement (green/white), breach/leak (red)",
            (rect.centerx, rect.bottom),
            size=18,
            color=r.DIM,
            anchor="midtop",
        )


def _detail(e) -> str:
    d = e.details
    if e.kind == "aim":
        return f"{d['side']} medial {d['medial_deg']:.1f}° caudal {d['caudal_deg']:.1f}°"
    if e.kind == "breach":
        return str(d.get("kind", "")).replace("_", " ")
    if e.kind == "leak":
        return f"{d.get('site', '')} {d.get('ml', 0):.2f} ml"
    if e.kind == "refused":
        return f"{d['do']}: {d['reason']}"
    if e.kind == "inject":
        return f"{d.get('rate_ml_min', 0):g} ml/min"
    if e.kind == "finish" and d.get("reason") != "finish":
        return f"({d.get('reason', '')})"
    return ""
