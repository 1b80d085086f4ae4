"""``python -m tests.make_personas`` rewrites the persona scripts under tests/data/personas/ from
the planner (the first case's personas and the misaligned novice of a rotated case);
``python -m tests.make_personas --logs`` also rewrites their recorded logs and the
expected-score table with the current model.

The recorded logs in ``logs/`` are release 0.1.0's (of that release's scripts): they are kept as
they are, because the tests hold them to verifying under their own release's model. Rewrite them
only on purpose. The logs are signed with the test key ``TEST_KEY``. Review the diff of
``expected_scores.tsv`` before committing: it is the golden table the scoring tests hold the
model to.
"""

from __future__ import annotations

import json
from pathlib import Path

from simulator.actions import parse_script
from simulator.personas import SCENARIO, build, misaligned_novice
from simulator.procedure import Procedure
from simulator.records.log import attempt_log, write_json_atomic
from simulator.scenario import load_scenario

OUT = Path(__file__).parent / "data" / "personas"
LOGS = OUT / "logs"
TABLE = OUT / "expected_scores.tsv"
TEST_KEY = b"vsim-test-key"
STARTED_AT = "2026-11-22T09:00:00+00:00"

GOLDEN = (
    # metric (path in the log), tolerance: absolute
    ("score.total", 0.5),
    ("score.components.placement.points", 0.5),
    ("score.components.cement.points", 0.5),
    ("score.components.radiation.points", 0.5),
    ("score.components.efficiency.points", 0.5),
    ("metrics.tip_to_target_mm", 0.2),
    ("metrics.fluoro_shots", 0),
    ("metrics.fluoro_time_s", 0.01),
    ("metrics.procedure_time_s", 0.02),
    ("metrics.in_body_ml", 0.05),
    ("metrics.injected_ml", 0.01),
)
"""The quantities of the golden table and their tolerances."""


def lookup(log: dict, path: str):
    """The value at a dotted ``path`` in a log."""
    v = log
    for part in path.split("."):
        v = v[part]
    return v


def write_scripts() -> None:
    """Rewrite the persona scripts."""
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = {**build(), "misaligned_novice": misaligned_novice()}
    for name, script in scripts.items():
        (OUT / f"{name}.json").write_text(json.dumps(script, indent=1) + "\n", encoding="utf-8")


def write() -> None:
    """Rewrite the first case's persona logs and the expected-score table."""
    scenario = load_scenario(SCENARIO)
    rows = ["persona\tquantity\texpected\ttolerance"]
    for name, script in build().items():
        actions = parse_script(json.dumps(script).encode(), path=name)
        proc = Procedure(scenario).run(actions)
        log = attempt_log(proc, trainee=name, started_at=STARTED_AT, key=TEST_KEY)
        write_json_atomic(LOGS / f"{name}.json", log)
        for path, tol in GOLDEN:
            rows.append(f"{name}\t{path}\t{lookup(log, path)}\t{tol}")
        rows.append(f"{name}\tscore.passed\t{log['score']['passed']}\t0")
        rows.append(f"{name}\tscore.critical\t{';'.join(log['score']['critical'])}\t0")
    TABLE.write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_scripts()
    if "--logs" in sys.argv[1:]:
        write()
