"""The action vocabulary and the ``vsim-script/1`` loader.

Every user input — the window, a script, a replayed log — is an :class:`Action`. The loader
checks a whole script before anything runs and raises one :class:`ScriptError` naming the
action index and field of the first problem, with what is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulator.assets import load_table
from simulator.errors import UserError
from simulator.fluoro.device import ARMS
from simulator.fluoro.views import VIEW_NAMES
from simulator.inputs import (
    InputFileError,
    StrictJSONError,
    in_range,
    is_finite_number,
    read_capped,
    show_number,
    strict_json,
)
from simulator.scenario.values import did_you_mean
from simulator.units import SIDES

SCRIPT_FORMAT = "vsim-script/1"
MAX_TIME_S = 7200.0
MAX_ACTIONS = 100_000  # a held pedal adds 7.5 actions/s; 2 h of it stays below


class ScriptError(UserError):
    """A bad script: ``str(err)`` is one line ``PATH: field: message``."""


@dataclass(frozen=True, kw_only=True)
class Field:
    """One field of an action: kind ``number``, ``int``, ``bool``, ``choice``, ``pair`` or
    ``cement``."""

    kind: str
    required: bool = True
    lo: float = -math.inf
    hi: float = math.inf
    choices: tuple = ()
    unit: str = ""
    default: Any = None

    def allowed(self) -> str:
        """The allowed values in words."""
        unit = f" {self.unit}" if self.unit else ""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "pair":
            return f"two numbers [x, z]{unit}, each from {self.lo:g} to {self.hi:g}"
        if self.kind == "cement":
            return "a cement product id from assets/cements.toml"
        if self.kind == "bool":
            return "true or false"
        what = "a whole number" if self.kind == "int" else "a number"
        return f"{what} from {self.lo:g} to {self.hi:g}{unit}"


_CARM = load_table("equipment")["c_arm"]

ACTIONS: dict[str, dict[str, Field]] = {
    "aim": {
        "side": Field(kind="choice", choices=SIDES),
        "entry_mm": Field(kind="pair", lo=-150.0, hi=150.0, unit="mm"),
        "medial_deg": Field(kind="number", lo=-45.0, hi=60.0, unit="°"),
        "caudal_deg": Field(kind="number", lo=-45.0, hi=45.0, unit="°"),
    },
    # side: which needle (two needles, release 0.8.0 on); none: the one last aimed or moved
    "advance": {
        "mm": Field(kind="number", lo=0.01, hi=250.0, unit="mm"),
        "side": Field(kind="choice", required=False, choices=SIDES),
    },
    "withdraw": {
        "mm": Field(kind="number", lo=0.01, hi=250.0, unit="mm"),
        "side": Field(kind="choice", required=False, choices=SIDES),
    },
    "fluoro": {
        "view": Field(kind="choice", choices=VIEW_NAMES),
        "pulses": Field(kind="int", required=False, lo=1, hi=600, default=1),
        # a further pulse of the same pedal press: fluoro time and dose, not a new shot
        "continued": Field(kind="bool", required=False),
    },
    # turn a C-arm (biplane: say which arm; single: leave arm out) to a pose, in degrees
    "carm": {
        "arm": Field(kind="choice", required=False, choices=ARMS),
        "rotation_deg": Field(
            kind="number", lo=-_CARM["rotation_limit_deg"], hi=_CARM["rotation_limit_deg"], unit="°"
        ),
        "tilt_deg": Field(
            kind="number", lo=-_CARM["tilt_limit_deg"], hi=_CARM["tilt_limit_deg"], unit="°"
        ),
    },
    "mix": {"cement": Field(kind="cement", required=False)},
    "inject": {
        "rate_ml_min": Field(kind="number", lo=0.05, hi=20.0, unit="ml/min"),
        "ml": Field(kind="number", required=False, lo=0.01, hi=10.0, unit="ml"),
        "side": Field(kind="choice", required=False, choices=SIDES),
    },
    "stop": {},
    "finish": {},
}


@dataclass(frozen=True, kw_only=True)
class Action:
    """One timed action: ``t`` simulated seconds, ``do`` its name, ``args`` its fields."""

    t: float
    do: str
    args: Mapping[str, Any]

    def as_json(self) -> dict:
        """The script form: ``{"t": …, "do": …, **fields}``."""
        return {"t": self.t, "do": self.do, **{k: _jsonable(v) for k, v in self.args.items()}}


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def make_action(t: float, do: str, **fields) -> Action:
    """Build and validate one action (the window and the tests use this)."""
    try:
        return _parse_action({"t": t, "do": do, **fields}, where="action", previous_t=0.0)
    except _BadFieldError as bad:
        raise ScriptError(f"{bad.field}: {bad.message}") from None


def load_script(path: str | Path) -> list[Action]:
    """Read and validate a ``vsim-script/1`` JSON file."""
    try:
        raw = read_capped(Path(path), kind="script")
    except InputFileError as exc:
        raise ScriptError(str(exc)) from None
    return parse_script(raw, path=str(path))


def parse_script(raw: bytes, *, path: str) -> list[Action]:
    """Validate the bytes of a script; ``path`` names it in messages."""
    try:
        data = strict_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{path}: file: not UTF-8 text (byte {exc.start})") from None
    except StrictJSONError as exc:
        raise ScriptError(f"{path}: {exc.field}: {exc.message}") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ScriptError(f"{path}: file: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScriptError(f'{path}: file: a script is a JSON object with "format" and "actions"')
    for key in data:
        if key not in ("format", "actions", "description"):
            raise ScriptError(f"{path}: {key}: unknown key; allowed: format, actions, description")
    if data.get("format") != SCRIPT_FORMAT:
        raise ScriptError(f"{path}: format: must be {SCRIPT_FORMAT!r}, got {data.get('format')!r}")
    actions = data.get("actions")
    if not isinstance(actions, list):
        raise ScriptError(f"{path}: actions: must be a list of actions")
    if len(actions) > MAX_ACTIONS:
        raise ScriptError(f"{path}: actions: at most {MAX_ACTIONS} actions, got {len(actions)}")
    out: list[Action] = []
    previous = 0.0
    for i, item in enumerate(actions):
        try:
            action = _parse_action(item, where=f"actions[{i}]", previous_t=previous)
        except _BadFieldError as bad:
            raise ScriptError(f"{path}: {bad.field}: {bad.message}") from None
        previous = action.t
        out.append(action)
    return out


def check_script_for(actions: list[Action], scenario, *, path: str) -> None:
    """Raise :class:`ScriptError` when a script does not fit the case's equipment: a
    ``carm`` action naming an arm on a single C-arm, or none on a biplane one."""
    single = scenario.equipment.c_arm == "single"
    for i, a in enumerate(actions):
        if a.do != "carm":
            continue
        field = f"{path}: actions[{i}].arm"
        if single and "arm" in a.args:
            raise ScriptError(
                f"{field}: {scenario.id} has a single C-arm: leave arm out (it turns the one arm)"
            )
        if not single and "arm" not in a.args:
            raise ScriptError(
                f"{field}: missing; {scenario.id} has a biplane C-arm: one of "
                + ", ".join(repr(v) for v in ARMS)
            )


class _BadFieldError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_is_number = is_finite_number


def _parse_action(item: Any, *, where: str, previous_t: float) -> Action:
    if not isinstance(item, dict):
        raise _BadFieldError(where, 'an action is an object {"t": seconds, "do": name, …}')
    t = item.get("t")
    if t is None:
        raise _BadFieldError(f"{where}.t", "missing; the simulated time in seconds")
    if not in_range(t, 0, MAX_TIME_S):
        raise _BadFieldError(
            f"{where}.t",
            f"expected a number of seconds from 0 to {MAX_TIME_S:g}, got {show_number(t)}",
        )
    if t < previous_t:
        raise _BadFieldError(
            f"{where}.t",
            f"{t:g} s is earlier than the previous action ({previous_t:g} "
            "s); times must not decrease",
        )
    do = item.get("do")
    if do is None:
        raise _BadFieldError(f"{where}.do", f"missing; one of {', '.join(ACTIONS)}")
    if do not in ACTIONS:
        hint = did_you_mean(do, ACTIONS) if isinstance(do, str) else ""
        raise _BadFieldError(
            f"{where}.do", f"unknown action {do!r}{hint}; allowed: {', '.join(ACTIONS)}"
        )
    spec = ACTIONS[do]
    for key in item:
        if key not in ("t", "do") and key not in spec:
            allowed = ", ".join(spec) or "no fields"
            raise _BadFieldError(
                f"{where}.{key}",
                f"unknown field for {do!r}{did_you_mean(key, spec)}; allowed: {allowed}",
            )
    args = {}
    for name, f in spec.items():
        field = f"{where}.{name}"
        if name not in item:
            if f.required:
                raise _BadFieldError(field, f"missing; {f.allowed()}")
            if f.default is not None:
                args[name] = f.default
            continue
        args[name] = _check(f, item[name], field)
    return Action(t=float(t), do=do, args=MappingProxyType(args))


def _check(f: Field, value: Any, field: str):
    if f.kind == "choice":
        if value not in f.choices:
            hint = did_you_mean(value, f.choices) if isinstance(value, str) else ""
            raise _BadFieldError(field, f"{value!r} is not allowed{hint}; {f.allowed()}")
        return value
    if f.kind == "cement":
        products = load_table("cements")["products"]
        if not isinstance(value, str) or value not in products:
            raise _BadFieldError(field, f"unknown cement {value!r}; allowed: {', '.join(products)}")
        return value
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise _BadFieldError(field, f"expected {f.allowed()}, got {show_number(value)}")
        return value
    if f.kind == "pair":
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            raise _BadFieldError(field, f"expected {f.allowed()}, got {show_number(value)}")
        if not all(f.lo <= v <= f.hi for v in value):
            shown = ", ".join(map(show_number, value))
            raise _BadFieldError(field, f"out of range: {f.allowed()}, got [{shown}]")
        return (float(value[0]), float(value[1]))
    if f.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadFieldError(field, f"expected {f.allowed()}, got {show_number(value)}")
    elif not _is_number(value):
        raise _BadFieldError(field, f"expected {f.allowed()}, got {show_number(value)}")
    if not f.lo <= value <= f.hi:
        raise _BadFieldError(field, f"out of range: {f.allowed()}, got {show_number(value)}")
    return int(value) if f.kind == "int" else float(value)
