"""Attempt logs (``vsim-attempt/1``): build, sign, write atomically, read back.

A log holds the scenario's id and file hash, the seed, the trainee, the wall-clock start, the
actions as applied (with their tick), the events, the metrics, the score, the last image of
each view (PNG, base64) and a signature: HMAC-SHA256 over the canonical JSON of everything else
(keys sorted, no spaces, UTF-8). The key comes from the ``VSIM_LOG_KEY`` environment variable
or a key file (``simulator.records.signing``); a log written without a key says so in its
``signature``.

:func:`read_log` checks a file completely and raises one :class:`LogError` naming the file and
the field; the rest of the code then trusts the dict. Journals and recovery live in
``simulator.records.journal``; verification by replay in ``simulator.records.verify``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from simulator import __version__
from simulator.actions import SCRIPT_FORMAT, parse_script
from simulator.errors import UserError
from simulator.fluoro import DisplaySettings
from simulator.inputs import (
    CAPS,
    InputFileError,
    StrictJSONError,
    is_finite_number,
    name_problem,
    read_capped,
    seed_problem,
    strict_json,
)
from simulator.materials import outside_sites
from simulator.metrics import metric_table
from simulator.procedure import Procedure
from simulator.records.kinds import METRIC_ALLOWED, metric_ok
from simulator.records.origin import origin_problem
from simulator.records.signing import sign, signature_of
from simulator.releases import ModelOptions, model_for_version
from simulator.scenario.ids import ID_RULE, is_scenario_id
from simulator.scoring.rules import score_attempt

LOG_FORMAT = "vsim-attempt/1"
LEAK_SITES = outside_sites()  # assets/materials.toml [[leak_sites]], in log order
METRIC_KINDS = {m.name: m.kind for m in metric_table() if m.required}
"""The metrics every log must have (more may be present) and their kinds
(``assets/metrics.toml``)."""
METRIC_NAMES = tuple(METRIC_KINDS)


MAX_LOG_BYTES = CAPS["log"]


class LogError(UserError):
    """An unreadable, truncated, foreign or malformed log: ``PATH: field: message``."""


def now_iso() -> str:
    """The wall-clock time now, ISO 8601 in UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def encode_png(pixels: np.ndarray) -> str:
    """A uint8 grey image (rows, cols) as base64 PNG text."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, pixels, cmap="gray", vmin=0, vmax=255, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    """The uint8 grey image (rows, cols) of :func:`encode_png` text."""
    from matplotlib.image import imread

    rgba = imread(io.BytesIO(base64.b64decode(text)), format="png")
    return np.round(np.asarray(rgba)[..., 0] * 255.0).astype(np.uint8)


def final_images(proc: Procedure) -> dict[str, str | None]:
    """The image each view was holding at the end (base64 PNG), None for a view never shot
    or a procedure run without rendering."""
    out: dict[str, str | None] = {}
    for view in ("lateral", "ap"):
        held = None if proc.carm is None else proc.carm.held(view)
        out[view] = None if held is None else encode_png(held.pixels)
    return out


def attempt_log(
    proc: Procedure,
    *,
    trainee: str,
    started_at: str | None = None,
    key=None,
    origin: dict | None = None,
) -> dict:
    """The complete log of a finished (or running) procedure, scored and signed with ``key``
    (a shared key's bytes or a station key, :func:`~simulator.records.signing.sign`; unsigned,
    and marked so, when None), with its ``origin`` (:mod:`simulator.records.origin`; none for
    a replay's)."""
    metrics = proc.metrics()
    events = [e.as_json() for e in proc.events]
    log = {
        "format": LOG_FORMAT,
        "simulator_version": __version__,
        "scenario": {"id": proc.scenario.id, "sha256": proc.scenario.sha256},
        "seed": proc.seed,
        "trainee": trainee,
        "started_at": started_at or now_iso(),
        "actions": [dict(a) for a in proc.applied],
        "events": events,
        "metrics": metrics,
        "score": score_attempt(
            proc.scenario,
            metrics,
            events,
            phase_labels=proc.model.phase_labels,
            rubric_version=proc.model.rubric_version,
        ),
        "images": final_images(proc),
    }
    if origin is not None:
        log["origin"] = origin
    if proc.carm is not None and proc.carm.settings != DisplaySettings():
        log["display"] = {"invert": proc.carm.settings.invert}  # what the images show
    # one JSON round trip so that the signed form is exactly what a reader will see
    log = json.loads(json.dumps(log, allow_nan=False))
    return sign(log, key)


def default_logs_dir() -> Path:
    """The logs folder: ``VSIM_LOGS_DIR`` if set, else ``$XDG_DATA_HOME/vsim/logs``
    (``~/.local/share/vsim/logs``)."""
    named = os.environ.get("VSIM_LOGS_DIR")
    if named:
        return Path(named)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vsim" / "logs"


def write_text_atomic(path: str | Path, text: str, *, exclusive: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename, so that a reader
    never sees half a file and a failure leaves no partial file behind. With ``exclusive``
    the temporary file is hard-linked into place instead, which fails with
    ``FileExistsError`` (writing nothing) when ``path`` exists, even if another process
    created it a moment ago."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a log is an ordinary file
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, out)
        else:
            os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def write_json_atomic(path: str | Path, data: dict, *, exclusive: bool = False) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text_atomic(path, text, exclusive=exclusive)


# ----- reading ----------------------------------------------------------------------------------


def read_log(path: str | Path) -> dict:
    """Read and check a ``vsim-attempt/1`` log; raises :class:`LogError` on any problem."""
    try:
        raw = read_capped(Path(path), kind="log")
    except InputFileError as exc:
        raise LogError(str(exc)) from None
    try:
        data = strict_json(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LogError(f"{path}: file: not UTF-8 text (byte {exc.start}); not a log") from None
    except StrictJSONError as exc:
        raise LogError(f"{path}: {exc.field}: {exc.message}") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        what = "truncated or corrupt" if raw.strip() else "empty"
        raise LogError(f"{path}: file: {what} JSON ({exc}); not a readable log") from None
    check_log(data, path=str(path))
    return data


def _fail(path: str, field: str, message: str):
    raise LogError(f"{path}: {field}: {message}")


_is_num = is_finite_number


def check_log(data, *, path: str) -> None:
    """Check the structure of a parsed log; raises :class:`LogError` naming the field."""
    if not isinstance(data, dict):
        _fail(path, "file", f"a log is a JSON object with format {LOG_FORMAT!r}")
    if data.get("format") != LOG_FORMAT:
        _fail(path, "format", f"must be {LOG_FORMAT!r}, got {data.get('format')!r}; not a log")
    for key, kind in (
        ("simulator_version", str),
        ("scenario", dict),
        ("seed", int),
        ("trainee", str),
        ("started_at", str),
        ("actions", list),
        ("events", list),
        ("metrics", dict),
        ("signature", dict),
    ):
        if key not in data:
            _fail(path, key, "missing")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            _fail(path, key, f"must be a {kind.__name__}, got {type(data[key]).__name__}")
    for key, why in (
        ("seed", seed_problem(data["seed"])),
        ("trainee", name_problem(data["trainee"])),
    ):
        if why:
            _fail(path, key, why)
    sc = data["scenario"]
    if not is_scenario_id(sc.get("id")) or not re.fullmatch(r"[0-9a-f]{64}", str(sc.get("sha256"))):
        _fail(path, "scenario", f"must be {{id: a scenario id ({ID_RULE}), sha256: 64 hex digits}}")
    try:
        datetime.fromisoformat(data["started_at"])
    except ValueError:
        _fail(path, "started_at", f"not an ISO 8601 time: {data['started_at']!r}")
    display = data.get("display", {})
    if not isinstance(display, dict) or any(
        k != "invert" or not isinstance(v, bool) for k, v in display.items()
    ):
        _fail(path, "display", f'must be {{"invert": true or false}}, got {display!r:.60}')
    for i, a in enumerate(data["actions"]):
        if not isinstance(a, dict) or not isinstance(a.get("tick"), int) or a["tick"] < 0:
            _fail(path, f"actions[{i}].tick", "must be a whole number of ticks ≥ 0")
    try:
        script_actions(data)
    except UserError as err:
        _fail(path, "actions", str(err).split(": ", 1)[-1])
    for i, e in enumerate(data["events"]):
        if not (
            isinstance(e, dict)
            and _is_num(e.get("t_s"))
            and isinstance(e.get("kind"), str)
            and isinstance(e.get("details"), dict)
        ):
            _fail(path, f"events[{i}]", "must be {t_s: number, kind: text, details: object}")
    missing = [k for k in METRIC_NAMES if k not in data["metrics"]]
    if missing:
        _fail(path, "metrics", f"missing {', '.join(missing)}")
    _check_metric_types(data["metrics"], path)
    score = data.get("score")
    if score is not None:
        if not isinstance(score, dict) or not _is_num(score.get("total")):
            _fail(path, "score", "must be an object with a numeric total")
        for key, kind in (("passed", bool), ("critical", list), ("components", dict)):
            if not isinstance(score.get(key), kind):
                _fail(path, f"score.{key}", f"must be a {kind.__name__}")
    images = data.get("images", {})
    if not isinstance(images, dict) or not all(
        v is None or isinstance(v, str) for v in images.values()
    ):
        _fail(path, "images", "must map a view to base64 PNG text or null")
    if "origin" in data and (why := origin_problem(data["origin"])):
        _fail(path, *why)
    sig = data["signature"]
    if sig.get("algorithm") not in ("HMAC-SHA256", "Ed25519", "none"):
        _fail(path, "signature.algorithm", "must be 'HMAC-SHA256', 'Ed25519' or 'none'")


def _check_metric_types(m: dict, path: str) -> None:
    for name, kind in METRIC_KINDS.items():
        if not metric_ok(kind, m[name]):
            _fail(path, f"metrics.{name}", f"must be {METRIC_ALLOWED[kind]}, got {m[name]!r}")


def script_actions(log: dict) -> list:
    """The log's applied actions as :class:`~simulator.actions.Action` objects (their ``t`` is
    the time they were submitted; they replay at the same ticks)."""
    items = [{k: v for k, v in a.items() if k != "tick"} for a in log["actions"]]
    raw = json.dumps({"format": SCRIPT_FORMAT, "actions": items}).encode()
    return parse_script(raw, path="log")


def rebuild(log: dict, scenario, *, run: bool = True, phantom=None, path: str = "log") -> Procedure:
    """The procedure of a log (its scenario already loaded and checked by the caller), with
    the model of the release that wrote it; a log from a newer or unknown release is a
    :class:`LogError` on ``simulator_version``."""
    try:
        model = model_for_version(log["simulator_version"])
    except ValueError as err:
        raise LogError(
            f"{path}: simulator_version: {err}; it cannot be re-simulated here"
        ) from None
    return procedure_for(
        scenario,
        seed=log["seed"],
        display=log.get("display", {}),
        actions=script_actions(log),
        run=run,
        phantom=phantom,
        model=model,
    )


def is_signed(log: dict) -> bool:
    """Whether the log carries a signature (valid or not)."""
    return log.get("signature", {}).get("algorithm") in ("HMAC-SHA256", "Ed25519")


__all__ = [
    "LOG_FORMAT",
    "LogError",
    "attempt_log",
    "check_log",
    "decode_png",
    "default_logs_dir",
    "encode_png",
    "is_signed",
    "read_log",
    "script_actions",
    "signature_of",
    "write_json_atomic",
    "write_text_atomic",
]


def procedure_for(
    scenario,
    *,
    seed: int,
    display: dict,
    actions: list,
    run: bool = True,
    phantom=None,
    model: ModelOptions | None = None,
) -> Procedure:
    """A procedure of ``scenario`` with ``seed`` and the ``display`` settings of a log
    ({"invert": bool}), ``actions`` submitted and, if ``run``, played to the end (``phantom``:
    the scenario's, if already built; ``model``: the release's, :func:`model_for_version`)."""
    proc = Procedure(scenario, seed=seed, phantom=phantom, model=model)
    if display:
        proc.carm.settings = DisplaySettings(invert=bool(display.get("invert", False)))
    if run:
        proc.run(actions)
    else:
        for a in actions:
            proc.submit(a)
    return proc
