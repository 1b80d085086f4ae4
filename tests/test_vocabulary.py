"""One vocabulary for the cement's phases wherever a trainee or educator reads: the HUD, the
feedback and score notes, the docs, the scenario texts and the product descriptions all use
``PHASE_LABELS`` (liquid → doughy → working → set); the phase ids stay in recorded scores and
the rubric, and the notes of releases ≤ 0.4.0 keep naming the id so that their logs verify."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from simulator.assets import load_table
from simulator.cement.rheology import PHASE_LABELS, PHASES, CementProduct
from simulator.records.log import read_log
from simulator.releases import RELEASED_MODELS, ModelOptions
from simulator.scenario import load_scenario
from simulator.scoring.feedback import cement_sentences
from simulator.scoring.rules import score_attempt
from tests.make_personas import LOGS

ROOT = Path(__file__).resolve().parent.parent
OTHER_WORDS = re.compile(
    r"\b(paste|pastes|pasty|runny|dough|hardening|handling (phase|time)|sticky)\b", re.I
)
"""Words for a cement phase that are not ours (``paste`` is the doughy phase's id)."""
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
"""Code spans and blocks: ids and file names, not words."""


def _prose(text: str) -> str:
    return CODE.sub(" ", text)


def _read_texts() -> list[tuple[str, str]]:
    """(where, text) of every document and scenario text a reader meets."""
    docs = [ROOT / "README.md", ROOT / "scenarios" / "README.md", *(ROOT / "docs").glob("*.md")]
    out = [(str(p.relative_to(ROOT)), _prose(p.read_text(encoding="utf-8"))) for p in docs]
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        table = tomllib.loads(path.read_text(encoding="utf-8"))
        for key, value in _strings(table):
            out.append((f"{path.name}: {key}", value))
    for pid, row in load_table("cements")["products"].items():
        out.append((f"cements.toml: {pid}", f"{row['name']}. {row['description']}"))
    return out


def _strings(table: dict, prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _strings(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def test_docs_scenarios_and_products_use_only_the_phase_labels():
    texts = _read_texts()
    assert len(texts) > 10  # the docs, the scenarios' titles and descriptions, the products
    found = [(where, m.group(0)) for where, text in texts for m in OTHER_WORDS.finditer(text)]
    assert not found, found


def test_the_readme_names_the_phases_in_order_from_the_one_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert " → ".join(PHASE_LABELS[p] for p in PHASES) in readme
    assert set(PHASE_LABELS) == set(PHASES)


@pytest.fixture(scope="module")
def expert():
    return read_log(LOGS / "expert.json")  # release 0.1.0: its note names the id


def _started_in(phase: str, metrics: dict) -> dict:
    """The expert's metrics with the first injection moved into ``phase`` (pmma_medium)."""
    c = CementProduct.load("pmma_medium")
    start = {"liquid": 100.0, "paste": 400.0, "working": 700.0, "set": 1100.0}[phase]
    assert c.phase(start, 22.0) == phase
    return dict(metrics, cement_product="pmma_medium", injection_start_after_mix_s=start)


@pytest.mark.parametrize("phase", PHASES)
def test_feedback_and_score_notes_say_the_label(expert, phase):
    scenario = load_scenario("first_case_l1")
    m = _started_in(phase, expert["metrics"])
    first = cement_sentences(scenario, m)[0]
    assert PHASE_LABELS[phase] in first and not OTHER_WORDS.search(first), first
    notes = score_attempt(scenario, m, [], rubric_version=1)["components"]["cement"]["notes"]
    assert f"injection began in the {PHASE_LABELS[phase]} phase" in notes
    assert not any(OTHER_WORDS.search(n) for n in notes), notes


def test_old_releases_keep_their_phase_note_so_their_logs_verify(expert):
    """The 0.1.0 log says ``paste``; re-scored as that release scored, it is the same score."""
    scenario = load_scenario("first_case_l1")
    assert "injection began in the paste phase" in expert["score"]["components"]["cement"]["notes"]
    assert ModelOptions().phase_labels
    assert all(
        not RELEASED_MODELS[v].phase_labels for v in ((0, 1, 0), (0, 2, 0), (0, 3, 0), (0, 4, 0))
    )
    old = score_attempt(
        scenario, expert["metrics"], expert["events"], phase_labels=False, rubric_version=1
    )
    assert old == expert["score"]
    new = score_attempt(scenario, expert["metrics"], expert["events"], rubric_version=1)
    assert "injection began in the doughy phase" in new["components"]["cement"]["notes"]
    assert new["feedback"] == expert["score"]["feedback"]  # the sentences never said paste
