"""One review's material: the attempts counted (after the signatures are checked, copies and
names merged, filters applied), what was skipped or merged, and the expert's figures; and
its plain-text report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from simulator.records.keys import trusted_keys
from simulator.records.signing import load_key, signature_status
from simulator.review.collect import (
    Attempt,
    Duplicate,
    Skipped,
    find_log_files,
    load_attempts,
    number_attempts,
)
from simulator.review.select import Filters
from simulator.review.stats import STATS_HEADER, stats_rows
from simulator.review.summary import format_table, text_report
from simulator.review.trust import MAX_LISTED, trusted


@dataclass
class Review:
    """What one review reads and counts."""

    sources: list[str]
    files: int
    attempts: list[Attempt]
    skipped: list[Skipped]
    duplicates: list[Duplicate] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)
    filters: Filters | None = None
    filtered_out: int = 0
    reference: dict = field(default_factory=dict)


def gather(
    paths: list[str],
    *,
    public_keys: list[str] | None = None,
    filters: Filters | None = None,
    expert: bool = False,
    keep_images: int = 0,
    err: TextIO = sys.stderr,
    progress: bool | None = None,
    replay: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> Review:
    """Read, check and select the logs under ``paths`` (see ``run_review``)."""
    files = find_log_files(paths)
    key, keys = load_key(), trusted_keys(public_keys)
    duplicates: list[Duplicate] = []
    names: dict[str, list[str]] = {}
    attempts, skipped = load_attempts(
        files,
        keep_images=keep_images,
        err=err,
        progress=progress,
        check=lambda log: signature_status(log, key, keys)[0],
        duplicates=duplicates,
        names=names,
    )
    kept = [a for a in attempts if filters is None or filters.keep(a)]
    if replay and kept:
        from simulator.records.verify import replay_verdicts

        found = replay_verdicts(
            [a.file for a in kept], workers=workers, scheduler=scheduler, err=err
        )
        for a, v in zip(kept, found, strict=True):
            a.replay = "cannot replay" if isinstance(v, str) else ("differs" if v else "ok")
        number_attempts(attempts)  # what the replay refused takes no number
    reference = {}
    if expert and kept:
        from simulator.review.expert import expert_reference

        reference = expert_reference(sorted({a.scenario_id for a in trusted(kept)}))
    return Review(
        sources=list(paths),
        files=len(files),
        attempts=kept,
        skipped=skipped,
        duplicates=duplicates,
        names=names,
        filters=filters,
        filtered_out=len(attempts) - len(kept),
        reference=reference,
    )


def notes(review: Review) -> list[str]:
    """The lines on what was merged or left out: filters, duplicates, names."""
    lines = []
    if review.filters is not None and review.filters.described:
        lines.append(
            f"Filters: {'; '.join(review.filters.described)} "
            f"({review.filtered_out} attempts left out)"
        )
    if review.duplicates:
        lines.append(
            f"Duplicates: {len(review.duplicates)} files repeat an earlier log, counted once:"
        )
        lines += [f"  {d.file} = {d.of}" for d in review.duplicates[:MAX_LISTED]]
        if len(review.duplicates) > MAX_LISTED:
            lines.append(f"  … and {len(review.duplicates) - MAX_LISTED} more")
    if review.names:
        lines.append("Names matched ignoring case and spaces:")
        items = sorted(review.names.items())
        lines += [f"  {k!r} also as {', '.join(map(repr, v))}" for k, v in items[:MAX_LISTED]]
    return lines


def review_text(review: Review) -> list[str]:
    """The terminal report of ``review``."""
    if review.attempts:
        lines = text_report(review.attempts)
        rows = stats_rows(trusted(review.attempts), review.reference)
        if rows:
            lines += ["", "Per scenario and metric (median, interquartile range; expert: persona)"]
            lines += format_table(STATS_HEADER, rows, right={2, 3, 4, 5})
    elif review.filtered_out:
        lines = [f"No attempt matches the filters ({review.filtered_out} left out)."]
    else:
        lines = [
            f"No attempt logs found in {', '.join(review.sources)} "
            f"({review.files} files looked at)."
        ]
    extra = notes(review)
    if extra:
        lines += ["", *extra]
    if review.skipped:
        lines += ["", f"Skipped {len(review.skipped)} files:"]
        lines += [f"  {s.file}: {s.reason}" for s in review.skipped]
    return lines
