"""``verify LOG…``: check a log's signature and re-simulate its actions.

A log passes when its signature is valid for the key at hand, its scenario file is unchanged
(same sha256), and replaying its actions with its seed gives the same events, metrics, score
and final images (floats within 1e-9). Every difference is named by its path in
the log (``metrics.fluoro_shots: log 16, replay 17``). Exit codes: 0 all good,
1 a mismatch or a bad signature, 2 an unreadable log.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from simulator.errors import UserError
from simulator.records.keys import trusted_keys
from simulator.records.log import attempt_log, decode_png, read_log, rebuild
from simulator.records.signing import check_signature, load_key
from simulator.releases import model_for_version

MAX_LISTED = 8


def differences(a, b, path: str = "", tol: float = 1e-9) -> list[str]:
    """Paths where two JSON values differ (numbers within ``tol``, relative or absolute)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append(f"{sub}: {'missing in the log' if k not in a else 'not in the replay'}")
            else:
                out += differences(a[k], b[k], sub, tol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [
                f"{path}: log has {len(a)} entries, replay {len(b)}",
                *[
                    d
                    for x, y, i in zip(a, b, range(len(a)), strict=False)
                    for d in differences(x, y, f"{path}[{i}]", tol)
                ][:1],
            ]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += differences(x, y, f"{path}[{i}]", tol)
        return out
    num = (int, float)
    if (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        if math.isclose(a, b, rel_tol=tol, abs_tol=tol):
            return []
    elif a == b:
        return []
    return [f"{path}: log {_short(a)}, replay {_short(b)}"]


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "…"


def verify_log(path: str | Path, *, key: bytes | None, trusted: dict | None = None) -> list[str]:
    """The problems found in one log (empty when it verifies); raises ``LogError`` (exit 2)
    when the file cannot be read as a log."""
    log = read_log(path)
    return signature_problems(log, key, trusted) + replay_problems((str(path), log))


def signature_problems(log: dict, key: bytes | None, trusted: dict | None) -> list[str]:
    """The signature's problem (a one-item list), or none. Checked where the keys are: a
    batch on a cluster sends the workers the logs, never the keys."""
    why = check_signature(log, key, trusted)
    return [f"signature: {why}"] if why else []


def replay_problems(job: tuple[str, dict]) -> list[str]:
    """The differences between a log and its re-simulation (``job``: the log's name for the
    messages, the log read and checked); ``UserError`` (exit 2) when its scenario cannot be
    loaded here. A batch job (:func:`simulator.batch.run_jobs`): runs on any worker."""
    from simulator.scenario import load_scenario

    path, log = job
    problems = []
    sid = log["scenario"]["id"]
    try:
        scenario = load_scenario(sid)
    except UserError as err:  # cannot verify at all: like an unreadable log (exit 2)
        first = str(err).splitlines()[0]
        raise UserError(
            f"{path}: scenario: {sid!r} cannot be loaded ({first}); if it is an educator's "
            "case, add its folder to VSIM_SCENARIOS"
        ) from None
    if scenario.sha256 != log["scenario"]["sha256"]:
        problems.append(
            f"scenario: the file {scenario.path} differs from the one of the attempt "
            f"(sha256 {scenario.sha256[:12]}…, log {log['scenario']['sha256'][:12]}…)"
        )
    proc = rebuild(log, scenario, path=str(path), phantom=_phantom(log, scenario))
    replay = attempt_log(proc, trainee=log["trainee"], started_at=log["started_at"])
    replay_actions = [dict(a) for a in proc.applied]
    found = differences(log["actions"], replay_actions, "actions")
    for key_ in ("events", "metrics", "score"):
        found += differences(log.get(key_), replay[key_], key_)
    found += _image_differences(log.get("images") or {}, replay["images"])
    if len(found) > MAX_LISTED:
        found = [*found[:MAX_LISTED], f"… and {len(found) - MAX_LISTED} more differences"]
    return problems + found


PHANTOMS_KEPT = 2
"""Phantoms a process keeps for the next replays (a cohort's logs share a few cases)."""
_phantoms: OrderedDict = OrderedDict()


def _phantom(log: dict, scenario):
    """The phantom a log's replay needs: built once per (scenario file, seed, release model)
    in this process, the last :data:`PHANTOMS_KEPT` kept (a phantom is read-only and its
    build deterministic); None for a log whose release this version cannot replay
    (``rebuild`` says why)."""
    from simulator.anatomy.build import build_phantom

    try:
        model = model_for_version(log["simulator_version"])
    except ValueError:
        return None
    key = (str(scenario.path), scenario.sha256, log["seed"], model)
    if key not in _phantoms:
        _phantoms[key] = build_phantom(scenario, seed=log["seed"], model=model)
        while len(_phantoms) > PHANTOMS_KEPT:
            _phantoms.popitem(last=False)
    _phantoms.move_to_end(key)
    return _phantoms[key]


def _safe_replay(job: tuple[str, dict]):
    """:func:`replay_problems` as a batch job: a ``UserError`` comes back as its message."""
    try:
        return replay_problems(job)
    except UserError as exc:
        return str(exc)


def _image_differences(logged: dict, replayed: dict) -> list[str]:
    out = []
    for view, text in replayed.items():
        mine = logged.get(view)
        if mine is None and text is None:
            continue
        if mine is None or text is None:
            out.append(
                f"images.{view}: {'missing in the log' if mine is None else 'not in the replay'}"
            )
            continue
        try:
            same = np.array_equal(decode_png(mine), decode_png(text))
        except (ValueError, OSError, SyntaxError):
            same = False
        if not same:
            out.append(f"images.{view}: the final {view} image differs from the replay")
    return out


CHUNK = 64
"""Logs read and sent at a time (memory stays bounded however many are verified)."""


def run_verify(
    paths: list[str],
    *,
    out,
    err,
    public_keys: list[str] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> int:
    """Verify each log and print one verdict per log, in the order given; returns the exit
    code. ``public_keys``: paths of Ed25519 public keys to trust besides the trusted
    folder's. The replays run on ``workers`` local processes or the Dask cluster at
    ``scheduler`` (:class:`simulator.batch.Batch`), :data:`CHUNK` logs at a time; the
    signatures are checked here, so the keys never leave this machine."""
    from simulator.batch import Batch, Progress, on_terminal

    key = load_key()
    trusted = trusted_keys(public_keys)
    bar = Progress(err, len(paths), "replaying", enabled=on_terminal(err))
    worst = 0
    with Batch(workers=workers, scheduler=scheduler) as batch:
        for start in range(0, len(paths), CHUNK):
            chunk = paths[start : start + CHUNK]
            for path, verdict in zip(
                chunk, _verify_chunk(batch, chunk, key, trusted, bar), strict=True
            ):
                worst = max(worst, _print_verdict(path, verdict, out=out, err=err))
    bar.close()
    return worst


def _verify_chunk(batch, paths, key, trusted, bar) -> list[list[str] | str]:
    """Each log's problems (a list) or why it could not be verified (text)."""
    verdicts: list[list[str] | str | None] = [None] * len(paths)
    jobs, where = [], []
    for i, path in enumerate(paths):
        try:
            log = read_log(path)
        except UserError as exc:
            verdicts[i] = str(exc)
            batch.done += 1  # counted as done: nothing to replay
            continue
        verdicts[i] = signature_problems(log, key, trusted)
        jobs.append((str(path), log))
        where.append(i)
    for i, result in zip(where, batch.map(_safe_replay, jobs, progress=bar), strict=True):
        verdicts[i] = result if isinstance(result, str) else verdicts[i] + result
    return verdicts


def replay_verdicts(paths: list[str], *, workers: int = 1, scheduler: str | None = None, err=None):
    """For each log (in order), its replay's differences (a list; empty: the same) or why it
    could not be replayed (text); on :class:`simulator.batch.Batch` like :func:`run_verify`,
    without the signatures (review checks them)."""
    from simulator.batch import Batch, Progress, on_terminal

    bar = Progress(err, len(paths), "replaying", enabled=err is not None and on_terminal(err))
    out = []
    with Batch(workers=workers, scheduler=scheduler) as batch:
        for start in range(0, len(paths), CHUNK):
            chunk = paths[start : start + CHUNK]
            jobs = [(str(p), read_log(p)) for p in chunk]
            out += batch.map(_safe_replay, jobs, progress=bar)
    bar.close()
    return out


def _print_verdict(path: str, verdict, *, out, err) -> int:
    if isinstance(verdict, str):
        print(f"error: {verdict}", file=err)
        return 2
    if verdict:
        print(f"{path}: MISMATCH", file=out)
        for p in verdict:
            print(f"  {p}", file=out)
        return 1
    print(f"{path}: ok (signature valid; replay matches)", file=out)
    return 0
