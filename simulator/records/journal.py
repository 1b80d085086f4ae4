"""The journal of a running attempt and recovery after a crash.

While an attempt runs, :class:`AttemptRecorder` appends every submitted action to
``STEM.journal.jsonl`` in the logs folder and flushes it at once, so that a crash, a kill or a
power cut of the program (not of the disk) leaves a journal holding every action made so far.
The first line is a header (format ``vsim-journal/1``, scenario id and file hash, seed,
trainee, start time). When the attempt finishes, the signed log ``STEM.json`` is written
atomically and the journal is removed.

:func:`recover_journal` rebuilds the attempt from a journal: it replays the actions (the model
is deterministic, so the replay is the attempt), finishes it, and returns the log with
``"recovered": true``. A torn last line (the program died while writing it) is ignored.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from simulator.actions import SCRIPT_FORMAT, Action, make_action, parse_script
from simulator.errors import UserError
from simulator.procedure import Procedure, procedure_for
from simulator.records.log import attempt_log, now_iso, write_json_atomic
from simulator.records.signing import load_key, sign
from simulator.scenario.ids import ID_RULE, is_scenario_id

JOURNAL_FORMAT = "vsim-journal/1"
JOURNAL_SUFFIX = ".journal.jsonl"
HEARTBEAT_S = 1.0


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
        key: bytes | None = None,
    ):
        self.proc = proc
        self.trainee = trainee
        self.started_at = started_at or now_iso()
        self.key = key
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
        }
        if proc.carm is not None and proc.carm.settings.invert:
            header["display"] = {"invert": True}
        self._write(header)
        os.fsync(self._fh.fileno())

    def _write(self, obj: dict) -> None:
        self._fh.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
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
        log = attempt_log(self.proc, trainee=self.trainee, started_at=self.started_at, key=self.key)
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

    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        raise UserError(f"{path}: line 1: not a {JOURNAL_FORMAT} journal header")
    sc = header.get("scenario")
    if not (
        isinstance(sc, dict)
        and is_scenario_id(sc.get("id"))
        and re.fullmatch(r"[0-9a-f]{64}", str(sc.get("sha256")))
    ):
        bad("scenario", f"must be {{id: a scenario id ({ID_RULE}), sha256: 64 hex digits}}")
    if not isinstance(header.get("seed"), int) or isinstance(header.get("seed"), bool):
        bad("seed", f"must be a whole number, got {header.get('seed')!r}")
    if not isinstance(header.get("trainee"), str):
        bad("trainee", "must be text")
    try:
        datetime.fromisoformat(str(header.get("started_at")))
    except ValueError:
        bad("started_at", f"not an ISO 8601 time: {header.get('started_at')!r}")
    return header


def read_journal(path: str | Path) -> tuple[dict, list[Action], float]:
    """The header, the actions and the last simulated time noted (s) of a journal; raises
    :class:`UserError` naming the line or header field."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: file: cannot be read as a journal ({exc})") from None
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    header = _check_header(header, path)
    items, last_s = [], 0.0
    body = [ln for ln in lines[1:] if ln.strip()]
    for i, line in enumerate(body):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            if i == len(body) - 1:
                break  # torn last line: the program died while writing it
            raise UserError(f"{path}: line {i + 2}: not JSON; the journal is damaged") from None
        if isinstance(item, dict) and set(item) == {"t_s"}:
            if isinstance(item["t_s"], int | float):
                last_s = max(last_s, float(item["t_s"]))
            continue
        items.append(item)
    raw = json.dumps({"format": SCRIPT_FORMAT, "actions": items}).encode()
    actions = parse_script(raw, path=str(path))
    if actions:
        last_s = max(last_s, actions[-1].t)
    return header, actions, last_s


def recover_journal(path: str | Path, *, key: bytes | None = None) -> dict:
    """The signed (with ``key``) log of the attempt a journal records. Unless the journal ends
    with ``finish``, the attempt is finished at the last simulated time the journal noted
    (the last heartbeat or action): what was done before the crash, nothing after."""
    from simulator.scenario import load_scenario

    header, actions, last_s = read_journal(path)
    scenario = load_scenario(header["scenario"]["id"])
    if scenario.sha256 != header["scenario"]["sha256"]:
        raise UserError(
            f"{path}: scenario: the file {scenario.path} changed since the attempt "
            "(its sha256 differs); the attempt cannot be rebuilt exactly"
        )
    if not actions or actions[-1].do != "finish":
        actions.append(make_action(last_s, "finish"))
    proc = procedure_for(
        scenario, seed=header["seed"], display=header.get("display", {}), actions=actions
    )
    out = attempt_log(proc, trainee=header["trainee"], started_at=header["started_at"])
    out["recovered"] = True
    return sign(out, key)


def recover_to_file(path: str | Path) -> Path:
    """Recover a journal into ``STEM.json`` beside it (signed when a key is set)."""
    p = Path(path)
    log = recover_journal(p, key=load_key())
    out = p.with_name(p.name.removesuffix(JOURNAL_SUFFIX) + ".json")
    return write_json_atomic(out, log)
