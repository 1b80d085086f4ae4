"""The assessor's commands of the command line (``review``, ``keys``): their arguments and
how they call the review and the key store. Imports stay inside the commands, so that the
command line starts fast."""

from __future__ import annotations

import sys

TRUST_HELP = "trust this Ed25519 public key too (besides VSIM_TRUSTED_KEYS); repeatable"
ORIGIN_HELP = "only logs made so: window, script, recovered or unknown; repeatable"


def add_review_parser(sub) -> None:
    """The ``review`` subcommand's arguments."""
    p = sub.add_parser("review", help="assessor summary over logs or folders (table, CSV, HTML)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--public-key", action="append", metavar="KEY.pub", help=TRUST_HELP)
    p.add_argument("--csv", metavar="F", help="one row per attempt, one column per metric")
    p.add_argument("--html", metavar="F", help="self-contained report with plots and images")
    p.add_argument("--trainee", action="append", metavar="NAME", help="only this trainee")
    p.add_argument("--scenario", action="append", metavar="ID", help="only this scenario")
    p.add_argument("--origin", action="append", metavar="HOW", help=ORIGIN_HELP)
    p.add_argument("--since", metavar="DATE", help="attempts started on or after (2026-12-01)")
    p.add_argument("--until", metavar="DATE", help="attempts started on or before")
    p.add_argument("--no-expert", action="store_true", help="leave out the expert's figures")
    p.add_argument("--replay", action="store_true", help="re-simulate every log, like verify")
    add_batch_arguments(p)


def add_batch_arguments(p) -> None:
    """``--workers N`` and ``--scheduler ADDRESS`` of a command that runs a batch."""
    p.add_argument("--workers", default="1", metavar="N", help="local processes (1–64; default 1)")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to run on"
    )


def batch_workers(text: str) -> int:
    """``--workers``'s number; ``UserError`` naming the option otherwise."""
    from simulator.batch import MAX_WORKERS
    from simulator.errors import UserError

    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise UserError(
            f"--workers: must be a whole number from 1 to {MAX_WORKERS}, got {text!r:.20}"
        )
    return int(text)


def add_keys_parser(sub) -> None:
    """The ``keys`` subcommand's arguments."""
    p = sub.add_parser("keys", help="this station's Ed25519 signing key: create, show, export")
    p.add_argument("action", choices=("create", "show", "export", "trust"))
    p.add_argument("file", nargs="?", metavar="FILE", help="export: where; trust: a KEY.pub")
    p.add_argument("--force", action="store_true", help="create: replace the station's key")


def cmd_review(args) -> int:
    """``review``: the filters checked first (exit 2 naming the option), then the review."""
    from simulator.review import run_review
    from simulator.review.select import make_filters

    filters = make_filters(
        trainees=args.trainee,
        scenarios=args.scenario,
        origins=args.origin,
        since=args.since,
        until=args.until,
    )
    return run_review(
        args.paths,
        csv_path=args.csv,
        html_path=args.html,
        public_keys=args.public_key,
        filters=filters,
        expert=not args.no_expert,
        replay=args.replay,
        workers=batch_workers(args.workers),
        scheduler=args.scheduler,
    )


def cmd_keys(args) -> int:
    """``keys create | show | export FILE | trust KEY.pub``."""
    from simulator.records.keys_cli import run_keys

    return run_keys(args.action, args.file, force=args.force, out=sys.stdout)
