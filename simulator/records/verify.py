"""``verify LOG…``: check a log's signature and re-simulate its actions.

A log passes when its signature is valid for the key at hand, its scenario file is unchanged
(same sha256), and replaying its actions with its seed gives the same events, metrics, score
and final images (floats within 1e-9). Every difference is named by its path in
the log (``metrics.fluoro_shots: log 16, replay 17``). Exit codes: 0 all good,
1 a mismatch or a bad signature, 2 an unreadable log.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simulator.errors import UserError
from simulator.records.keys import trusted_keys
from simulator.records.log import attempt_log, decode_png, read_log, rebuild
from simulator.records.signing import check_signature, load_key

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
    from simulator.scenario import load_scenario

    log = read_log(path)
    problems = []
    why = check_signature(log, key, trusted)
    if why:
        problems.append(f"signature: {why}")
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
    proc = rebuild(log, scenario, path=str(path))
    replay = attempt_log(proc, trainee=log["trainee"], started_at=log["started_at"])
    replay_actions = [dict(a) for a in proc.applied]
    found = differences(log["actions"], replay_actions, "actions")
    for key_ in ("events", "metrics", "score"):
        found += differences(log.get(key_), replay[key_], key_)
    found += _image_differences(log.get("images") or {}, replay["images"])
    if len(found) > MAX_LISTED:
        found = [*found[:MAX_LISTED], f"… and {len(found) - MAX_LISTED} more differences"]
    return problems + found


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


def run_verify(paths: list[str], *, out, err, public_keys: list[str] | None = None) -> int:
    """Verify each log and print one verdict per log; returns the exit code. ``public_keys``:
    paths of Ed25519 public keys to trust besides the trusted folder's."""
    key = load_key()
    trusted = trusted_keys(public_keys)
    worst = 0
    for path in paths:
        try:
            problems = verify_log(path, key=key, trusted=trusted)
        except UserError as exc:
            print(f"error: {exc}", file=err)
            worst = 2
            continue
        if problems:
            print(f"{path}: MISMATCH", file=out)
            for p in problems:
                print(f"  {p}", file=out)
            worst = max(worst, 1)
        else:
            print(f"{path}: ok (signature valid; replay matches)", file=out)
    return worst
