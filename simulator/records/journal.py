"""The journal of a running attempt and recovery after a crash.

While an attempt runs, :class:`AttemptRecorder` appends every submitted action to
``STEM.journal.jsonl`` in the logs folder and flushes it at once, so that a crash, a kill or a
power cut of the program (not of the disk) leaves a journal holding every action made so far.
The first line is a header (format ``vsim-journal/2``, scenario id and file hash, seed,
trainee, start time, the chain's algorithm). When the attempt finishes, the signed log
``STEM.json`` is written atomically and the journal is removed.

Every line (the header included) carries a ``mac`` chaining it to the line before: the MAC of
the previous line's ``mac`` and the line's canonical JSON without ``mac``. With a log key the
chain is HMAC-SHA256 (``"chain": "HMAC-SHA256"`` and the key's id in the header): a removed,
changed, inserted or reordered line is detected, and nobody without the key can forge a
consistent chain. Without a key it is a plain SHA-256 chain (``"chain": "SHA-256"``): it
still detects accidental gaps and damage, but not a deliberate forgery (anyone can recompute
it). Journals of format ``vsim-journal/1`` (no chain) are refused: recover them with the
version that wrote them.

:func:`recover_journal` rebuilds the attempt from a journal: it replays the actions (the model
is deterministic, so the replay is the attempt), finishes it, and returns the log with
``"recovered": true``. A torn last line (the program died while writing it) is ignored. A
damaged line or a broken chain in the middle ends the recovery there: the actions before it
are recovered, the lines from it on are lost, and the log says so in ``"recovery"``
(``{"lost_lines": n, "from_line": k, "reason": …}``); the ``recover`` command then exits 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulator.actions import SCRIPT_FORMAT, Action, make_action, parse_script
from simulator.errors import UserError
from simulator.inputs import (
    InputFileError,
    StrictJSONError,
    in_range,
    name_problem,
    read_capped,
    seed_problem,
    strict_json,
)
from simulator.procedure import Procedure
from simulator.records.log import attempt_log, now_iso, procedure_for, write_json_atomic
from simulator.records.origin import make_origin, origin_problem
from simulator.records.signing import key_id, load_key, sign, signing_key
from simulator.scenario.ids import ID_RULE, is_scenario_id

JOURNAL_FORMAT = "vsim-journal/2"
JOURNAL_SUFFIX = ".journal.jsonl"
HEARTBEAT_S = 1.0


def chain_mac(key: bytes | None, previous: str, line: dict) -> str:
    """The hex MAC chaining ``line`` (without its ``mac``) to the previous line's MAC:
    HMAC-SHA256 with ``key``, or plain SHA-256 (detects gaps, not forgery) without one."""
    body = {k: v for k, v in line.items() if k != "mac"}
    data = (previous + "\n").encode("ascii") + json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    if key is None:
        return hashlib.sha256(b"vsim-journal:" + data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "anonymous"


class AttemptRecorder:
    """Feeds actions to a procedure and journals them; writes the signed log at the end."""

    def __init__(
        self,
        proc: Procedure,
        *,
        trainee: str,
        logs_dir: str | Path,
        started_at: str | None = None,
        key=None,
        origin: dict | None = None,
    ):
        """``key``: what the log is signed with (a shared key's bytes, which also chain the
        journal's lines, or a station key: then the chain is plain SHA-256); ``origin``: the
        log's (:mod:`simulator.records.origin`), kept in the journal's header for a
        recovery."""
        self.proc = proc
        self.trainee = trainee
        self.started_at = started_at or now_iso()
        self.key = key
        self.origin = origin
        self.chain_key = key if isinstance(key, bytes) else None
        key = self.chain_key
        folder = Path(logs_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{folder}: logs folder: cannot be created ({exc.strerror})") from None
        stamp = re.sub(r"[^0-9T]", "", self.started_at.split("+")[0])
        stem = f"{stamp}_{_slug(trainee)}_{proc.scenario.id}"
        n = 1
        while (folder / f"{stem}.json").exists() or (folder / f"{stem}{JOURNAL_SUFFIX}").exists():
            n += 1
            stem = f"{stamp}_{_slug(trainee)}_{proc.scenario.id}_{n}"
        while True:
            self.log_path = folder / f"{stem}.json"
            self.journal_path = folder / f"{stem}{JOURNAL_SUFFIX}"
            try:  # "x": never two attempts in one journal, even from two processes
                self._fh = open(self.journal_path, "x", encoding="utf-8")  # noqa: SIM115
                break
            except FileExistsError:
                n += 1
                stem = f"{stamp}_{_slug(trainee)}_{proc.scenario.id}_{n}"
            except OSError as exc:
                raise UserError(
                    f"{folder}: logs folder: cannot write the journal ({exc.strerror})"
                ) from None
        self._last_beat_s = 0.0
        header = {
            "format": JOURNAL_FORMAT,
            "scenario": {"id": proc.scenario.id, "sha256": proc.scenario.sha256},
            "scenario_path": str(proc.scenario.path),
            "seed": proc.seed,
            "trainee": trainee,
            "started_at": self.started_at,
            "chain": "SHA-256" if key is None else "HMAC-SHA256",
        }
        if key is not None:
            header["key_id"] = key_id(key)
        self._mac = ""
        if proc.carm is not None and proc.carm.settings.invert:
            header["display"] = {"invert": True}
        if origin is not None:
            header["origin"] = origin
        self._write(header)
        os.fsync(self._fh.fileno())

    def _write(self, obj: dict) -> None:
        self._mac = chain_mac(self.chain_key, self._mac, obj)
        line = {**obj, "mac": self._mac}
        self._fh.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
        self._fh.flush()  # in the OS's hands now: survives the death of this process

    def submit(self, action: Action) -> None:
        """Submit ``action`` to the procedure and append it to the journal."""
        self.proc.submit(action)
        self._write(action.as_json())

    def heartbeat(self) -> None:
        """Note the simulated time in the journal, at most once a simulated second, so that a
        recovered attempt ends where the crash was (not at its last action)."""
        t = self.proc.t_s
        if t >= self._last_beat_s + HEARTBEAT_S and not self._fh.closed:
            self._last_beat_s = t
            self._write({"t_s": round(t, 6)})

    def finish(self) -> Path:
        """Write the signed log of the finished procedure and remove the journal."""
        if not self.proc.finished:
            raise RuntimeError("finish() needs a finished procedure")
        log = attempt_log(
            self.proc,
            trainee=self.trainee,
            started_at=self.started_at,
            key=self.key,
            origin=self.origin,
        )
        write_json_atomic(self.log_path, log)
        self.close()
        self.journal_path.unlink(missing_ok=True)
        return self.log_path

    def close(self) -> None:
        """Close the journal file (it stays on disk)."""
        if not self._fh.closed:
            self._fh.close()


def _check_header(header, path) -> dict:
    def bad(field: str, what: str):
        raise UserError(f"{path}: header.{field}: {what}")

    if isinstance(header, dict) and header.get("format") == "vsim-journal/1":
        raise UserError(
            f"{path}: header.format: a vsim-journal/1 journal (no line chain) from an older "
            f"version; this version reads {JOURNAL_FORMAT} only"
        )
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        raise UserError(f"{path}: line 1: not a {JOURNAL_FORMAT} journal header")
    sc = header.get("scenario")
    if not (
        isinstance(sc, dict)
        and is_scenario_id(sc.get("id"))
        and re.fullmatch(r"[0-9a-f]{64}", str(sc.get("sha256")))
    ):
        bad("scenario", f"must be {{id: a scenario id ({ID_RULE}), sha256: 64 hex digits}}")
    for field, why in (
        ("seed", seed_problem(header.get("seed"))),
        ("trainee", name_problem(header.get("trainee"))),
    ):
        if why:
            bad(field, why)
    try:
        datetime.fromisoformat(str(header.get("started_at")))
    except ValueError:
        bad("started_at", f"not an ISO 8601 time: {header.get('started_at')!r}")
    display = header.get("display", {})
    if not (isinstance(display, dict) and set(display) <= {"invert"}) or not all(
        isinstance(v, bool) for v in display.values()
    ):
        bad("display", "must be {invert: true or false}")
    if header.get("chain") not in ("SHA-256", "HMAC-SHA256"):
        bad("chain", "must be 'SHA-256' or 'HMAC-SHA256'")
    if "origin" in header and (why := origin_problem(header["origin"])):
        bad(*why)
    return header


def _chain_key(header: dict, key: bytes | None, path) -> bytes | None:
    """The key the journal's chain was made with (None for a SHA-256 chain)."""
    if header["chain"] == "SHA-256":
        return None
    if key is None or header.get("key_id") != key_id(key):
        raise UserError(
            f"{path}: header.key_id: the journal is chained with the log key "
            f"{header.get('key_id')!r}; set that key (VSIM_LOG_KEY or the key file) to recover it"
        )
    return key


@dataclass(frozen=True)
class Journal:
    """What a journal holds: its header, the actions and the last simulated time (s) of the
    intact part, and ``lost`` (``{"lost_lines", "from_line", "reason"}``) when a damaged
    line or a broken chain ended the intact part early (None when nothing was lost)."""

    header: dict
    actions: list[Action]
    last_s: float
    lost: dict | None


def _line(text: str, previous: str, key: bytes | None) -> tuple[dict | None, str]:
    """One line parsed and checked against the chain: (the item, "") or (None, why not)."""
    try:
        item = strict_json(text)
    except (StrictJSONError, ValueError, RecursionError):
        return None, "not valid JSON"
    if not isinstance(item, dict) or not isinstance(item.get("mac"), str):
        return None, "no chain MAC"
    if not hmac.compare_digest(item["mac"], chain_mac(key, previous, item)):
        return None, "the chain is broken (a line before it was removed, or it was changed)"
    return item, ""


def scan_journal(path: str | Path, *, key: bytes | None = None) -> Journal:
    """Read a journal up to its first damaged line or break in its chain; raises
    :class:`UserError` when the file or its header cannot be read at all."""
    try:
        lines = read_capped(Path(path), kind="journal").decode("utf-8").split("\n")
    except InputFileError as exc:
        raise UserError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: file: not UTF-8 text (byte {exc.start}); not a journal") from None
    try:
        header = strict_json(lines[0])
    except StrictJSONError as exc:
        raise UserError(f"{path}: header.{exc.field}: {exc.message}") from None
    except (ValueError, RecursionError):
        header = None
    header = _check_header(header, path)
    chain_key = _chain_key(header, key, path)
    mac = header.get("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, chain_mac(chain_key, "", header)):
        raise UserError(f"{path}: line 1: the header's chain MAC does not match; not recoverable")
    items, last_s, lost = [], 0.0, None
    body = [(n, ln) for n, ln in enumerate(lines[1:], 2) if ln.strip()]
    for i, (n, text) in enumerate(body):  # n: the line number in the file
        item, why = _line(text, mac, chain_key)
        if item is None:
            torn = n == len(lines) and why == "not valid JSON"  # no newline after it
            if not torn:  # a torn last line: the program died while writing it
                lost = {"lost_lines": len(body) - i, "from_line": n, "reason": why}
            break
        mac = item.pop("mac")
        if set(item) == {"t_s"}:
            if in_range(item["t_s"], 0, 1e7):
                last_s = max(last_s, float(item["t_s"]))
            continue
        items.append(item)
    raw = json.dumps({"format": SCRIPT_FORMAT, "actions": items}).encode()
    actions = parse_script(raw, path=str(path))
    if actions:
        last_s = max(last_s, actions[-1].t)
    return Journal(header, actions, last_s, lost)


def read_journal(path: str | Path, *, key: bytes | None = None) -> tuple[dict, list[Action], float]:
    """The header, the actions and the last simulated time noted (s) of a journal's intact
    part (see :func:`scan_journal`)."""
    j = scan_journal(path, key=key)
    return j.header, j.actions, j.last_s


def lost_text(lost: dict) -> str:
    """The loss of :attr:`Journal.lost` in words."""
    n, first = lost["lost_lines"], lost["from_line"]
    span = f"line {first}" if n == 1 else f"lines {first}–{first + n - 1}"
    return (
        f"{span} lost ({n} line{'s' if n != 1 else ''}; line {first}: {lost['reason']}); "
        f"recovered up to line {first - 1}"
    )


def recover_journal(path: str | Path, *, key: bytes | None = None, signer=None) -> dict:
    """The log of the attempt a journal records, signed with ``signer`` (a station key or a
    shared key; default: ``key``, the shared key that also checks the journal's
    chain). Unless the journal ends
    with ``finish``, the attempt is finished at the last simulated time the journal noted
    (the last heartbeat or action): what was done before the crash, nothing after. A loss
    (see :class:`Journal`) is recorded in the log's ``recovery``."""
    from simulator.scenario import load_scenario

    j = scan_journal(path, key=key)
    header, actions = j.header, list(j.actions)
    scenario = load_scenario(header["scenario"]["id"])
    if scenario.sha256 != header["scenario"]["sha256"]:
        raise UserError(
            f"{path}: scenario: the file {scenario.path} changed since the attempt "
            "(its sha256 differs); the attempt cannot be rebuilt exactly"
        )
    if not actions or actions[-1].do != "finish":
        actions.append(make_action(j.last_s, "finish"))
    proc = procedure_for(
        scenario, seed=header["seed"], display=header.get("display", {}), actions=actions
    )
    was = header.get("origin")  # the window's (hints, display); none from before 0.6.0
    origin = make_origin(
        "recovered",
        hints=bool(was and was["hints"]),
        invert=bool(header.get("display", {}).get("invert")),
    )
    out = attempt_log(
        proc, trainee=header["trainee"], started_at=header["started_at"], origin=origin
    )
    out["recovered"] = True
    if j.lost:
        out["recovery"] = dict(j.lost)
    return sign(out, key if signer is None else signer)


def recover_to_file(path: str | Path) -> tuple[Path, dict | None]:
    """Recover a journal into ``STEM.json`` beside it (signed when a key is set); returns the
    log's path and what was lost (None when nothing)."""
    p = Path(path)
    log = recover_journal(p, key=load_key(), signer=signing_key())
    out = p.with_name(p.name.removesuffix(JOURNAL_SUFFIX) + ".json")
    return write_json_atomic(out, log), log.get("recovery")
