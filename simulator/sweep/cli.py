"""The educator's ``sweep`` command: a scenario's persona variants over seeds on the batch path,
and its difficulty report (text, CSV, HTML). Imports stay inside the command, so that the
command line starts fast."""

from __future__ import annotations

import sys


def add_sweep_parser(sub, add_batch_arguments) -> None:
    """The ``sweep`` subcommand's arguments."""
    p = sub.add_parser("sweep", help="difficulty report of a scenario: persona variants over seeds")
    p.add_argument("scenario", metavar="S")
    p.add_argument(
        "--personas", metavar="NAMES", help="comma-separated (default: all; see docs/SCORING.md)"
    )
    p.add_argument("--seeds", default="10", metavar="N", help="seeds per persona (default 10)")
    p.add_argument("--csv", metavar="F", help="one row per attempt")
    p.add_argument("--html", metavar="F", help="self-contained report with the score plot")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_batch_arguments(p)


def cmd_sweep(args, batch_workers) -> int:
    """``sweep``: arguments checked first (exit 2 naming the option), the batch run, then the
    report printed and its files written (only once every attempt has run)."""
    import json

    from simulator.records.log import write_text_atomic
    from simulator.rubric import rubric_for
    from simulator.scenario import load_scenario
    from simulator.sweep import persona_names, run_sweep, seed_count, summarize
    from simulator.sweep.report import csv_text, html_report, text_report

    personas = persona_names(args.personas)
    seeds = seed_count(args.seeds)
    workers = batch_workers(args.workers)
    scenario = load_scenario(args.scenario)
    rows = run_sweep(
        scenario, personas, seeds, workers=workers, scheduler=args.scheduler, err=sys.stderr
    )
    r = rubric_for(scenario)
    summary = summarize(rows, leak_visible_ml=r["leak_visible_ml"])
    if args.json:
        print(json.dumps({"scenario": scenario.id, "seeds": seeds, "personas": summary}))
    else:
        print(text_report(scenario, summary, seeds), end="")
    if args.csv:
        write_text_atomic(args.csv, csv_text(rows))
    if args.html:
        page = html_report(scenario, summary, rows, pass_mark=r["pass_mark"])
        write_text_atomic(args.html, page)
    return 0
