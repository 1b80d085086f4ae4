"""Checking one value against its :class:`~simulator.scenario.schema.Key`, and the wording
of the messages (allowed values, "did you mean", short descriptions of what was found)."""

from __future__ import annotations

import difflib
import math
from typing import Any

from simulator.assets import load_table
from simulator.scenario.ids import ID_MAX_CHARS, is_scenario_id
from simulator.scenario.schema import Key

MAX_TEXT_CHARS = {"title": 120, "description": 4000}


def did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _short(value: Any) -> str:
    """A number as the message shows it (huge integers by their digit count)."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a {len(str(abs(value)))}-digit number"
    return f"{value:g}" if isinstance(value, int | float) else repr(value)


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"text {value[:40]!r}" + ("…" if len(value) > 40 else "")
    if isinstance(value, int | float):
        return _short(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value)


def check_value(key: Key, value: Any, field: str, problems) -> Any:
    """The value converted to its Python type, or None after recording a problem."""
    bad = f"expected {key.allowed()}, got {describe(value)}"
    if key.kind in ("str", "id", "choice") and not key.choices_from:
        if not isinstance(value, str):
            problems.add(field, bad)
            return None
        if key.kind == "str" and not value.strip():
            problems.add(field, "must not be empty")
            return None
        limit = MAX_TEXT_CHARS.get(key.name)
        if limit and len(value) > limit:
            problems.add(field, f"at most {limit} characters, got {len(value)}")
            return None
        if key.kind == "id" and not is_scenario_id(value):
            long = len(value) > ID_MAX_CHARS
            problems.add(field, f"{bad} ({len(value)} characters)" if long else bad)
            return None
        if key.kind == "choice" and value not in key.choices:
            problems.add(
                field,
                f"{value!r} is not allowed{did_you_mean(value, key.choices)}; {key.allowed()}",
            )
            return None
        return value
    if key.kind == "bool":
        if not isinstance(value, bool):
            problems.add(field, bad)
            return None
        return value
    if key.choices_from:
        return _check_asset_choice(key, value, field, problems)
    if key.kind == "vec3":
        if not isinstance(value, list) or len(value) != 3 or not all(is_number(v) for v in value):
            problems.add(
                field, f"expected three numbers [x, y, z] in {key.unit}, got {describe(value)}"
            )
            return None
        vec = tuple(float(v) for v in value)
        if not all(key.lo <= v <= key.hi for v in vec):
            problems.add(field, f"out of range: {key.allowed()}, got {list(value)}")
            return None
        return vec
    if key.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(field, bad)
            return None
    elif not is_number(value):
        problems.add(field, bad)
        return None
    number = int(value) if key.kind == "int" else float(value)
    finite = key.kind == "int" or math.isfinite(number)
    if not finite or not key.lo <= number <= key.hi:
        why = f" ({key.why})" if key.why else ""
        problems.add(field, f"out of range: {key.allowed()}, got {_short(value)}{why}")
        return None
    return number


def _check_asset_choice(key: Key, value: Any, field: str, problems) -> Any:
    if key.choices_from == "cements":
        options = list(load_table("cements")["products"])
    else:
        options = list(load_table("equipment")["gauges"])
    wanted = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if key.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        problems.add(
            field, f"expected a whole number, one of {', '.join(options)}; got {describe(value)}"
        )
        return None
    if not isinstance(wanted, str) or wanted not in options:
        hint = did_you_mean(wanted, options) if isinstance(wanted, str) else ""
        shown = repr(value) if isinstance(value, str | int) else describe(value)
        problems.add(
            field,
            f"unknown {key.name.replace('_', ' ')} {shown}{hint}; "
            f"allowed: {', '.join(options)} (assets/{key.choices_from}.toml)",
        )
        return None
    return value


def is_number(v: Any) -> bool:
    """A TOML int or float that converts to a finite float (no bool, no 400-digit int)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False
