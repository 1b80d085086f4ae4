"""The interactive trainer window: the only package that imports pygame.

It reads the model's state and turns the trainee's input into Actions (``simulator.actions``); the
model runs the same way here as in scripts, replays and batches. Entry points: :func:`play`
(start screen → procedure → debrief) and :func:`replay` (a log played back).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner on stdout (bench --json)


def play(*, scenario_id: str, trainee: str = "", logs_dir: Path) -> int:
    """Open the trainer on the start screen; returns the exit code."""
    from simulator.ui import screens  # noqa: F401  (registers the screens by name)
    from simulator.ui.app import Settings, open_app

    app = open_app(Settings(logs_dir=Path(logs_dir), trainee=trainee, scenario_id=scenario_id))
    app.show("start")
    return app.run()


def replay(log_path: Path, *, logs_dir: Path) -> int:
    """Open the replay viewer on one attempt log; returns the exit code."""
    from simulator.errors import UserError
    from simulator.records.log import read_log
    from simulator.releases import model_for_version
    from simulator.ui import screens  # noqa: F401  (registers the screens by name)
    from simulator.ui.app import Settings, open_app

    log = read_log(log_path)  # a bad log is one clear message before any window opens
    try:
        model_for_version(log["simulator_version"])
    except ValueError as err:
        why = f"{log_path}: simulator_version: {err}; it cannot be replayed here"
        raise UserError(why) from None
    app = open_app(Settings(logs_dir=Path(logs_dir)))
    app.show("replay", log_path=log_path)
    return app.run()
