"""``python -m tests.make_personas`` rewrites tests/data/personas/*.json from the planner."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.personas import build

OUT = Path(__file__).parent / "data" / "personas"


def write() -> None:
    """Rewrite the persona files."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, script in build().items():
        (OUT / f"{name}.json").write_text(json.dumps(script, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
