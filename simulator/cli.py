"""Command line: ``python run_sim.py COMMAND …`` (same as the ``vsim`` console script).

Every user error ends with one message line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from simulator import __version__
from simulator.cli_records import TRUST_HELP as _TRUST_HELP
from simulator.cli_records import (
    add_batch_arguments,
    add_keys_parser,
    add_review_parser,
    batch_workers,
    cmd_keys,
    cmd_review,
)
from simulator.errors import ScenarioError, UserError
from simulator.inputs import NAME_RULE, SEED_RULE, name_problem, seed_problem
from simulator.sweep.cli import add_sweep_parser, cmd_sweep

DEFAULT_SCENARIO = "first_case_l1"

_DESCRIPTION = """\
Vertebroplasty training simulator: simulated fluoroscopy of a wedged osteoporotic vertebra,
a transpedicular needle, PMMA cement flow and leaks, scoring and signed attempt logs.

S is a scenario id (a file stem under scenarios/ or a folder of VSIM_SCENARIOS) or a path to
a scenario file."""


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one line (plus usage) on bad arguments."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="run_sim.py",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("play", help="the interactive trainer window (the default command)")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="ID", help="preselected")
    p.add_argument("--trainee", default="", metavar="NAME", help="preset trainee name")
    p.add_argument("--logs", metavar="DIR", help="logs folder (default: VSIM_LOGS_DIR or ~)")

    p = sub.add_parser("replay", help="play an attempt log back in the window")
    p.add_argument("log", metavar="LOG")
    p.add_argument("--logs", metavar="DIR", help="folder for screenshots (F12)")

    p = sub.add_parser("validate", help="check scenario files; one line per problem")
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files (or ids)")

    p = sub.add_parser("plan", help="ideal entry point and angles (both pedicles, or --side)")
    p.add_argument("scenario", metavar="S")
    p.add_argument("--side", choices=("left", "right"), help="one pedicle (default: both)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")

    p = sub.add_parser("preview", help="projections and label slices of a scenario (PNG)")
    p.add_argument("scenario", metavar="S")
    p.add_argument("--out", required=True, metavar="FILE.png")

    p = sub.add_parser("run", help="a headless attempt from a script; prints a summary")
    p.add_argument("--scenario", required=True, metavar="S")
    p.add_argument("--script", required=True, metavar="A.json")
    p.add_argument("--log", metavar="OUT.json", help="write the attempt log here (a new file)")
    p.add_argument("--force", action="store_true", help="let --log replace an existing file")
    p.add_argument("--seed", type=int, help=f"override the scenario's seed ({SEED_RULE})")
    p.add_argument("--trainee", default="anonymous", help=f"name recorded in the log ({NAME_RULE})")

    p = sub.add_parser(
        "verify", help="check logs' signatures and re-simulate them; reports mismatches"
    )
    p.add_argument("logs", nargs="+", metavar="LOG")
    p.add_argument("--public-key", action="append", metavar="KEY.pub", help=_TRUST_HELP)
    add_batch_arguments(p)

    add_review_parser(sub)

    p = sub.add_parser("recover", help="rebuild the log of a crashed attempt from its journal")
    p.add_argument("journals", nargs="+", metavar="JOURNAL")

    add_keys_parser(sub)

    add_sweep_parser(sub, add_batch_arguments)
    p = sub.add_parser("bench", help="performance figures")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--repeat", type=int, default=3, help="builds per scenario (best is kept)")
    p.add_argument(
        "--skip",
        default="",
        metavar="PARTS",
        help="leave out: adversarial,verify,cold,raycast,window,startup",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):  # names from argv may hold undecodable bytes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            args = parser.parse_args(["play"])
        return _COMMANDS[args.command](args)
    except ScenarioError as err:
        print(str(err), file=sys.stderr)
        return 2
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _cmd_validate(args) -> int:
    from simulator.anatomy.build import build_phantom
    from simulator.anatomy.openings import opening_problems
    from simulator.planning import approach_problems
    from simulator.scenario import load_scenario

    bad = 0
    for ref in args.paths:
        try:
            scenario = load_scenario(ref)
            phantom = build_phantom(scenario)
            problems = opening_problems(scenario, phantom) + approach_problems(scenario, phantom)
        except UserError as err:  # ScenarioError included: one line per problem
            bad += 1
            print(str(err))
            continue
        if problems:
            bad += 1
            for field, message in problems:
                print(f"{ref}: {field}: {message}")
            continue
        b = phantom.geometry.body
        print(
            f"{ref}: ok ({scenario.scenario.level}; body x ±{b.half_width_mm:g}, y "
            f"{b.anterior_y_mm:.1f} to {b.wall_y_mm:.1f} (posterior wall), z "
            f"{-b.height_mm / 2:g} to {b.height_mm / 2:g} mm)"
        )
    return 2 if bad else 0


def _load_with_phantom(ref: str):
    from simulator.anatomy.build import build_phantom
    from simulator.scenario import load_scenario

    scenario = load_scenario(ref)
    return scenario, build_phantom(scenario)


def _cmd_plan(args) -> int:
    from simulator.fluoro.alignment import plan_poses
    from simulator.planning import plan_lines, plan_trajectory

    scenario, phantom = _load_with_phantom(args.scenario)
    sides = (args.side,) if args.side else ("left", "right")
    plans = {}
    for side in sides:
        plan = plan_trajectory(phantom, scenario, side)
        plans[side] = (plan, plan_poses(plan, scenario, phantom))
    if args.json:  # one side: its plan; both: {left: …, right: …}
        out = {side: {**plan.as_json(), **poses} for side, (plan, poses) in plans.items()}
        print(json.dumps(out[args.side] if args.side else out, indent=2))
        return 0
    for side, (plan, poses) in plans.items():
        print("\n".join(plan_lines(scenario, side, plan, poses)))
    return 0


def _cmd_preview(args) -> int:
    from simulator.fluoro import make_imager
    from simulator.planning import plan_trajectory
    from simulator.preview import scenario_features, write_preview

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"{args.out}: --out: the preview is a PNG image; use a .png file name")
    if out.exists() and out.is_dir():
        raise UserError(f"{args.out}: --out: is a folder; give a file name ending in .png")
    scenario, phantom = _load_with_phantom(args.scenario)
    plans = [plan_trajectory(phantom, scenario, side) for side in ("left", "right")]
    imager = make_imager(scenario, phantom)
    try:
        write_preview(
            phantom,
            plans,
            out,
            title=f"{scenario.id}: {scenario.scenario.title}",
            imager=imager,
            features=scenario_features(scenario),
        )
    except OSError as exc:
        raise UserError(f"{args.out}: --out: cannot write ({exc.strerror})") from None
    print(f"wrote {out}")
    return 0


def _cmd_run(args) -> int:
    from simulator.actions import check_script_for, load_script
    from simulator.procedure import Procedure
    from simulator.records.log import attempt_log, write_json_atomic
    from simulator.records.origin import make_origin
    from simulator.records.signing import signing_key
    from simulator.scenario import load_scenario

    _check_trainee(args.trainee)
    if args.seed is not None and (why := seed_problem(args.seed)):
        raise UserError(f"--seed: {why}")
    if args.log:
        _check_new_log(args.log, force=args.force)
    scenario = load_scenario(args.scenario)
    actions = load_script(args.script)  # everything is checked before anything runs
    check_script_for(actions, scenario, path=args.script)
    proc = Procedure(scenario, seed=args.seed).run(actions)
    origin = make_origin("script", hints=False)
    log = attempt_log(proc, trainee=args.trainee, key=signing_key(), origin=origin)
    if args.log:
        try:
            write_json_atomic(args.log, log, exclusive=not args.force)
        except FileExistsError:
            raise UserError(_EXISTS.format(log=args.log)) from None
        except OSError as exc:
            raise UserError(f"{args.log}: --log: cannot write ({exc.strerror})") from None
    print(_run_summary(scenario, proc, log, args.log))
    return 0


def _run_summary(scenario, proc, log: dict, log_path: str | None) -> str:
    """The one-line summary of a headless attempt."""
    m, score = log["metrics"], log["score"]
    breaches = ", ".join(f"{b['kind']} {b['depth_mm']:.1f} mm" for b in m["breaches"]) or "none"
    contacts = [e["details"]["side"] for e in log["events"] if e["kind"] == "wall_contact"]
    if contacts:
        breaches += f" (wall contact: {', '.join(f'{s} pedicle' for s in contacts)})"
    target = (
        "" if m["tip_to_target_mm"] is None else f", {m['tip_to_target_mm']:.1f} mm from target"
    )
    reasons = Counter(e["details"]["reason"] for e in log["events"] if e["kind"] == "refused")
    refused = "; ".join(f"{why} ×{n}" for why, n in reasons.most_common(3))
    refused = f"; {sum(reasons.values())} actions refused ({refused})" if reasons else ""
    return (
        f"{scenario.id} seed {proc.seed}: {m['procedure_time_s']:.1f} s, tip {m['tip_zone']}"
        f"{target}, breaches: {breaches}, fluoro {m['fluoro_shots']} shots "
        f"{m['fluoro_time_s']:.1f} s {m['dose_dap_mgycm2']:.0f} mGy·cm², repositions "
        f"{m['needle_repositions']}; cement {m['in_body_ml']:.2f} ml in body; score "
        f"{score['total']:.1f} {'passed' if score['passed'] else 'failed'}"
        + (f" (critical: {', '.join(score['critical'])})" if score["critical"] else "")
        + refused
        + (f"; log {log_path}" if log_path else "")
    )


_EXISTS = "{log}: --log: the file exists; give a new file name, or --force to replace it"


def _check_trainee(name: str) -> None:
    if why := name_problem(name):
        from simulator.inputs import printable

        raise UserError(f"--trainee: {printable(why)}")


def _check_new_log(log: str, *, force: bool) -> None:
    out = Path(log)
    if out.is_dir():
        raise UserError(f"{log}: --log: is a folder; give a file name ending in .json")
    if not out.parent.exists():
        raise UserError(f"{log}: --log: the folder {out.parent} does not exist")
    if not out.parent.is_dir():
        raise UserError(f"{log}: --log: {out.parent} is a file, not a folder")
    if not force and os.path.lexists(out):
        raise UserError(_EXISTS.format(log=log))


def _cmd_verify(args) -> int:
    from simulator.records.verify import run_verify

    return run_verify(
        args.logs,
        out=sys.stdout,
        err=sys.stderr,
        public_keys=args.public_key,
        workers=batch_workers(args.workers),
        scheduler=args.scheduler,
    )


def _cmd_recover(args) -> int:
    from simulator.records.journal import lost_text, recover_to_file

    worst = 0
    for journal in args.journals:
        out, lost = recover_to_file(journal)
        if lost:
            worst = 1
            print(f"{journal}: partly recovered into {out}: {lost_text(lost)}")
        else:
            print(f"{journal}: recovered into {out}")
    return worst


def _cmd_bench(args) -> int:
    from simulator.bench import SKIPPABLE, run_bench

    if args.repeat < 1:
        raise UserError(f"--repeat: must be 1 or more, got {args.repeat}")
    skip = tuple(p for p in args.skip.split(",") if p)
    if set(skip) - set(SKIPPABLE):
        raise UserError(f"--skip: one or more of {', '.join(SKIPPABLE)}, got {args.skip!r:.40}")
    figures = run_bench(repeat=args.repeat, skip=skip)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:32s} {value}")
    return 0


def _logs_dir(args) -> Path:
    """The logs folder, checked before any window opens: it must be (or become) a folder
    this user can write to."""
    from simulator.records.log import default_logs_dir

    folder = Path(args.logs) if args.logs else default_logs_dir()
    where = "--logs" if args.logs else "logs folder (VSIM_LOGS_DIR or the default)"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: {where}: is a file, not a folder; name a folder for the logs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: {where}: cannot be created ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: {where}: not writable; name a folder you can write to")
    return folder


def _cmd_play(args) -> int:
    from simulator.scenario import load_scenario
    from simulator.ui import play

    if args.trainee.strip():
        _check_trainee(args.trainee)
    scenario = load_scenario(args.scenario)  # a bad id is one message before any window
    trainee = args.trainee.strip()
    return play(scenario_id=scenario.id, trainee=trainee, logs_dir=_logs_dir(args))


def _cmd_replay(args) -> int:
    from simulator.ui import replay

    return replay(Path(args.log), logs_dir=_logs_dir(args))


_COMMANDS = {
    "play": _cmd_play,
    "replay": _cmd_replay,
    "validate": _cmd_validate,
    "plan": _cmd_plan,
    "preview": _cmd_preview,
    "run": _cmd_run,
    "bench": _cmd_bench,
    "verify": _cmd_verify,
    "review": cmd_review,
    "recover": _cmd_recover,
    "keys": cmd_keys,
    "sweep": lambda args: cmd_sweep(args, batch_workers),
}
