"""Assessor review of attempt logs (``review PATH… [--csv F] [--html F]``).

``run_review`` reads every log under the given paths, prints per-trainee and per-scenario
tables, and optionally writes a CSV (one row per attempt, fixed columns: :data:`COLUMNS`) and
a self-contained HTML report with plots and the latest attempts' final images. Files that are
not readable attempt logs are listed at the end, never fatal.

Parts: ``collect`` (find and read logs), ``summary`` (numbers and text tables),
``export_csv`` (columns and rows), ``plots`` and ``html_report`` (matplotlib is imported
only when an HTML report is asked for).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from simulator.errors import UserError
from simulator.inputs import printable
from simulator.records.log import write_text_atomic
from simulator.review.collect import Attempt, Skipped
from simulator.review.export_csv import COLUMNS, csv_text
from simulator.review.gather import gather, review_text
from simulator.review.select import Filters

MAX_IMAGES = 200  # attempts whose images the HTML report embeds (the latest ones)

__all__ = ["COLUMNS", "MAX_IMAGES", "Attempt", "Filters", "Skipped", "run_review"]


def _check_output(path: str | None, option: str) -> None:
    if path is None:
        return
    out = Path(path)
    if out.is_dir():
        raise UserError(f"{path}: {option}: is a folder; give a file name")
    if not out.parent.exists():
        raise UserError(f"{path}: {option}: the folder {out.parent} does not exist")


def _write(path: str, text: str, option: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise UserError(f"{path}: {option}: cannot write ({exc.strerror})") from None


def run_review(
    paths: list[str],
    *,
    csv_path: str | None,
    html_path: str | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    progress: bool | None = None,
    max_images: int = MAX_IMAGES,
    public_keys: list[str] | None = None,
    filters: Filters | None = None,
    expert: bool = False,
    replay: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> int:
    """Review the attempt logs under ``paths`` (log files, or folders searched recursively for
    ``*.json``); returns the exit code, 0.

    Prints the summary tables on ``out`` (plain text, ≤ 100 columns) and the skipped files
    with their reasons; writes the CSV to ``csv_path`` and the HTML report to ``html_path``
    when given (each atomically). A progress bar goes to ``err`` when ``progress`` is True,
    or by default when more than 50 files are read and ``err`` is a terminal. The HTML
    report embeds the final images of the latest ``max_images`` attempts only. Every log's
    signature is checked (the shared key, the trusted public keys and ``public_keys``): its
    status (valid, unsigned, unknown key, tampered) shows in the tables, CSV and HTML. Copies
    of one log count once, a trainee's name matches however it is spelt (case, spaces), and
    ``filters`` keep the attempts asked for; ``expert`` adds the expert persona's figures per
    scenario to the per-metric table (:mod:`.expert`). ``replay`` re-simulates every counted
    log like ``verify`` (on ``workers`` processes or the Dask cluster at ``scheduler``); a log
    whose replay differs is warned of and not counted.

    Raises :class:`UserError` (exit 2) for a path that does not exist or an output that
    cannot be written.
    """
    if not paths:
        raise UserError("review: give at least one log file or folder")
    _check_output(csv_path, "--csv")
    _check_output(html_path, "--html")
    review = gather(
        paths,
        public_keys=public_keys,
        filters=filters,
        expert=expert,
        keep_images=max_images if html_path else 0,
        err=err,
        progress=progress,
        replay=replay,
        workers=workers,
        scheduler=scheduler,
    )
    lines = review_text(review)
    attempts = review.attempts
    if csv_path:
        _write(csv_path, csv_text(attempts), "--csv")
        lines += ["", f"wrote {csv_path} ({len(attempts)} rows, {len(COLUMNS)} columns)"]
    if html_path:
        from simulator.review.html_report import html_report

        page = html_report(review, max_images=max_images)
        _write(html_path, page, "--html")
        if not csv_path:
            lines.append("")
        shown = min(len(attempts), max_images)
        lines += [f"wrote {html_path} (images of the latest {shown} attempts)"]
    # text from logs and file names: no control character or escape reaches the terminal
    out.write("\n".join(printable(line) for line in lines) + "\n")
    return 0
