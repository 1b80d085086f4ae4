"""Find attempt logs under the given paths and read them into :class:`Attempt` records.

A path is a log file or a folder searched recursively for ``*.json`` (journals,
``*.journal.jsonl``, are not logs). Every file is read with
:func:`simulator.records.read_log`, which checks it completely; a file it rejects (corrupt,
truncated, foreign) becomes a :class:`Skipped` entry with the reason, never fatal.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from simulator.batch import Progress, on_terminal
from simulator.errors import UserError
from simulator.records.log import LogError, is_signed, read_log
from simulator.records.signing import canonical

JOURNAL_SUFFIX = ".journal.jsonl"


@dataclass(eq=False)
class Attempt:
    """One readable attempt log, reduced to what the review needs.

    ``attempt_no`` is the trainee's attempt number over all scenarios and
    ``scenario_attempt_no`` the number within this scenario (both 1-based, in ``started_at``
    order, counted attempts only: 0 for a tampered log or one whose replay differs);
    ``images`` holds the base64 PNG strings (``lateral``, ``ap``) only for the
    attempts the HTML report shows, else ``None``.
    """

    file: str
    trainee: str
    scenario_id: str
    scenario_sha256: str
    started_at: str
    seed: int | None
    simulator_version: str
    signed: bool
    metrics: dict
    score: dict | None
    images: dict | None = None
    verification: str = "unsigned"
    origin: str = "unknown"
    hints: bool | None = None
    station: str = ""
    replay: str | None = None  # review --replay: "ok", "differs" or "cannot replay"
    attempt_no: int = 0
    scenario_attempt_no: int = 0
    when: datetime = field(default=datetime.min.replace(tzinfo=UTC))

    @property
    def total(self) -> float | None:
        """The score total (0–100), or ``None`` for an unscored log."""
        value = (self.score or {}).get("total")
        return float(value) if isinstance(value, int | float) else None

    @property
    def passed(self) -> bool | None:
        """Whether the attempt passed, or ``None`` for an unscored log."""
        value = (self.score or {}).get("passed")
        return bool(value) if isinstance(value, bool) else None

    @property
    def critical(self) -> list[str]:
        """The critical errors the score lists (empty for an unscored log)."""
        return [str(c) for c in (self.score or {}).get("critical") or []]


@dataclass(frozen=True)
class Duplicate:
    """A file whose log is the same as an earlier file's (``of``): counted once."""

    file: str
    of: str


@dataclass(frozen=True)
class Skipped:
    """A file that is not a readable attempt log, and why."""

    file: str
    reason: str


def find_log_files(paths: list[str]) -> list[Path]:
    """The log files named by ``paths`` (files as given, folders searched recursively for
    ``*.json``), each once, folders' contents sorted. Raises :class:`UserError` for a path
    that does not exist."""
    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append(p)

    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UserError(f"{raw}: no such file or folder")
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".json") and not name.endswith(JOURNAL_SUFFIX):
                        add(Path(root) / name)
        else:
            add(p)
    return found


def _when(started_at: str) -> datetime:
    """``started_at`` as an aware datetime (naive times taken as UTC; unreadable ones first)."""
    try:
        t = datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _attempt(path: Path, log: dict, check=None) -> Attempt:
    """The review's view of one log; ``check(log)`` gives its signature's status (else
    "unsigned" or "unknown key": not checked)."""
    scenario = log.get("scenario") if isinstance(log.get("scenario"), dict) else {}
    score = log.get("score")
    started = str(log.get("started_at") or "")
    seed = log.get("seed")
    origin = log.get("origin") if isinstance(log.get("origin"), dict) else {}
    return Attempt(
        file=str(path),
        trainee=str(log.get("trainee") or ""),
        scenario_id=str(scenario.get("id") or ""),
        scenario_sha256=str(scenario.get("sha256") or ""),
        started_at=started,
        seed=seed if isinstance(seed, int) else None,
        simulator_version=str(log.get("simulator_version") or ""),
        signed=is_signed(log),
        verification=check(log) if check else ("unknown key" if is_signed(log) else "unsigned"),
        origin=str(origin.get("actions", "unknown")),
        hints=origin.get("hints"),
        station=str(origin.get("station", "")),
        metrics=log.get("metrics") if isinstance(log.get("metrics"), dict) else {},
        score=score if isinstance(score, dict) else None,
        when=_when(started),
    )


def progress_wanted(progress: bool | None, stream: TextIO, n_files: int) -> bool:
    """Forced on/off by ``progress``; by default only for more than 50 files on a terminal."""
    if progress is not None:
        return progress
    return n_files > 50 and on_terminal(stream)


def load_attempts(
    files: list[Path],
    *,
    keep_images: int = 0,
    err: TextIO = sys.stderr,
    progress: bool | None = None,
    check=None,
    duplicates: list[Duplicate] | None = None,
    names: dict | None = None,
) -> tuple[list[Attempt], list[Skipped]]:
    """Read every file; returns the attempts in ``started_at`` order (numbered per trainee
    and per trainee and scenario, a trainee under every spelling of their name: see
    :func:`merge_names`) and the skipped files with their reasons. ``check(log)``: the status
    of a log's signature (``signing.signature_status``'s first part). A file whose log is
    the same as an earlier file's counts once; it goes to ``duplicates`` (when given), and
    the names spelt more than one way to ``names`` (:func:`merge_names`).

    Images are kept for the ``keep_images`` latest attempts only, so memory stays bounded
    however many logs are reviewed.
    """
    attempts: list[Attempt] = []
    skipped: list[Skipped] = []
    newest: list[tuple[datetime, str, int]] = []  # min-heap: attempts whose images are kept
    seen: dict[str, str] = {}  # content key → the first file with that log
    bar = Progress(
        err, len(files), "reading logs", enabled=progress_wanted(progress, err, len(files))
    )
    for i, path in enumerate(files, 1):
        try:
            log = read_log(path)
        except LogError as exc:
            reason = str(exc).splitlines()[0].removeprefix(f"{path}: ")
            skipped.append(Skipped(str(path), reason))
            bar.update(i)
            continue
        same = content_key(log)
        if same in seen:
            if duplicates is not None:
                duplicates.append(Duplicate(str(path), seen[same]))
            bar.update(i)
            continue
        seen[same] = str(path)
        attempt = _attempt(path, log, check)
        attempts.append(attempt)
        if keep_images > 0:
            images = log.get("images")
            attempt.images = images if isinstance(images, dict) else None
            heapq.heappush(newest, (attempt.when, attempt.file, len(attempts) - 1))
            if len(newest) > keep_images:
                attempts[heapq.heappop(newest)[2]].images = None
        bar.update(i)
    bar.close()
    attempts.sort(key=lambda a: (a.when, a.file))
    merged = merge_names(attempts)
    if names is not None:
        names.update(merged)
    number_attempts(attempts)
    return attempts, skipped


def name_key(name: str) -> str:
    """The form two spellings of one name share: case-folded, spaces collapsed and trimmed."""
    return re.sub(r"\s+", " ", name).strip().casefold()


def content_key(log: dict) -> str:
    """SHA-256 of the log's canonical JSON with its signature: equal for copies of one log."""
    body = canonical(log) + b"|" + canonical({"s": log.get("signature")})
    return hashlib.sha256(body).hexdigest()


def merge_names(attempts: list[Attempt]) -> dict[str, list[str]]:
    """Give every attempt its trainee's shown name (the most used spelling, then the first
    in time); returns {shown name: the other spellings found} for those with more than one."""
    spellings: dict[str, Counter] = defaultdict(Counter)
    first: dict[tuple[str, str], int] = {}
    for i, a in enumerate(attempts):
        k = name_key(a.trainee)
        spellings[k][a.trainee] += 1
        first.setdefault((k, a.trainee), i)
    shown = {k: min(c, key=lambda s, k=k, c=c: (-c[s], first[k, s])) for k, c in spellings.items()}
    for a in attempts:
        a.trainee = shown[name_key(a.trainee)]
    return {
        shown[k]: sorted(s for s in c if s != shown[k]) for k, c in spellings.items() if len(c) > 1
    }


def number_attempts(attempts: list[Attempt]) -> None:
    """Number each trainee's counted attempts in order (``attempt_no``, ``scenario_attempt_no``,
    1-based); an attempt that is never counted (tampered, or its replay differs) gets 0 and
    takes no number from the others."""
    per_trainee: dict[str, int] = defaultdict(int)
    per_pair: dict[tuple[str, str], int] = defaultdict(int)
    for a in attempts:
        if a.verification == "tampered" or a.replay not in (None, "ok"):
            a.attempt_no = a.scenario_attempt_no = 0
            continue
        per_trainee[a.trainee] += 1
        per_pair[a.trainee, a.scenario_id] += 1
        a.attempt_no = per_trainee[a.trainee]
        a.scenario_attempt_no = per_pair[a.trainee, a.scenario_id]
