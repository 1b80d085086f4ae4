"""Load and validate scenario files.

Validation happens once, here, and collects every problem of a file before raising one
:class:`~simulator.errors.ScenarioError` (one ``PATH: field: message`` line per problem). The
core then trusts the :class:`~simulator.scenario.model.Scenario` it gets.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulator.assets import load_table, scenarios_dir
from simulator.errors import ScenarioError, UserError
from simulator.scenario import model
from simulator.scenario.placement import check_placements
from simulator.scenario.schema import (
    FROM_LEVEL,
    REQUIRED,
    SCHEMA_VERSION,
    SECTION_BY_NAME,
    SECTIONS,
    TOP_LEVEL_NAMES,
    Key,
    Section,
)

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LEVEL_KEYS = {
    ("vertebra", "body_height_mm"): "body_height_mm",
    ("vertebra", "body_depth_mm"): "body_depth_mm",
    ("vertebra", "body_width_mm"): "body_width_mm",
    ("pedicles", "width_mm"): "pedicle_width_mm",
    ("pedicles", "height_mm"): "pedicle_height_mm",
    ("pedicles", "transverse_angle_deg"): "pedicle_transverse_angle_deg",
    ("canal", "depth_mm"): "canal_depth_mm",
    ("canal", "width_mm"): "canal_width_mm",
}
_DATACLASS = {
    "scenario": model.ScenarioInfo,
    "vertebra": model.Vertebra,
    "pedicles": model.Pedicles,
    "canal": model.Canal,
    "cement": model.Cement,
    "equipment": model.Equipment,
    "targets": model.Targets,
    "expert": model.Expert,
    "veins": model.Vein,
    "defects": model.Defect,
}


class _Problems:
    """Collects ``(field, message)`` pairs for one file."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))


def resolve_scenario_path(ref: str) -> Path:
    """A scenario reference (an id under ``scenarios/`` or a path) → an existing path.

    Raises :class:`UserError` naming the shipped ids when nothing matches.
    """
    p = Path(ref)
    if p.suffix == ".toml" or p.exists() or "/" in ref or "\\" in ref:
        if not p.is_file():
            raise UserError(f"{ref}: scenario: no such file")
        return p
    candidate = scenarios_dir() / f"{ref}.toml"
    if candidate.is_file():
        return candidate
    ids = sorted(f.stem for f in scenarios_dir().glob("*.toml"))
    hint = _did_you_mean(ref, ids)
    raise UserError(
        f"{ref}: scenario: no scenario with this id{hint}; shipped ids: {', '.join(ids)}"
    )


def load_scenario(ref: str | Path) -> model.Scenario:
    """Read, validate and return a scenario (by id or path).

    Raises :class:`ScenarioError` listing every problem, or :class:`UserError` when the
    reference names no file.
    """
    path = resolve_scenario_path(str(ref))
    shown = str(ref) if Path(str(ref)).suffix == ".toml" else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(shown, [("file", f"cannot be read ({exc.strerror})")]) from None
    return parse_scenario(raw, path=shown, stem=path.stem)


def parse_scenario(raw: bytes, *, path: str, stem: str | None = None) -> model.Scenario:
    """Validate the bytes of a scenario file; ``path`` is used in messages only."""
    data = _parse_toml(raw, path)
    problems = _Problems()
    values = _validate(data, problems, stem=stem)
    if not problems.items:
        scenario = _build(values, path=path, sha256=hashlib.sha256(raw).hexdigest())
        check_placements(scenario, problems.add)
    if problems.items:
        raise ScenarioError(path, problems.items)
    return scenario


def _parse_toml(raw: bytes, path: str) -> dict:
    if not raw.strip():
        raise ScenarioError(
            path,
            [
                (
                    "file",
                    "the file is empty; a scenario needs at least "
                    "schema_version and a [scenario] table",
                )
            ],
        )
    if b"\x00" in raw:
        raise ScenarioError(path, [("file", "binary data (NUL bytes), not a TOML text file")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, [("file", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("file", f"invalid TOML: {exc}")]) from None


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value)


def _validate(data: dict, problems: _Problems, *, stem: str | None) -> dict:
    for name in data:
        if name not in TOP_LEVEL_NAMES:
            problems.add(
                name,
                f"unknown section or key{_did_you_mean(name, TOP_LEVEL_NAMES)}; "
                f"allowed: {', '.join(TOP_LEVEL_NAMES)}",
            )
    version = data.get("schema_version", REQUIRED)
    if version is REQUIRED:
        problems.add("schema_version", f"missing; write schema_version = {SCHEMA_VERSION}")
    elif isinstance(version, bool) or version != SCHEMA_VERSION:
        problems.add("schema_version", f"must be {SCHEMA_VERSION}, got {_describe(version)}")

    info = data.get("scenario")
    level = info.get("level") if isinstance(info, dict) else None
    level_table = load_table("anatomy")["levels"].get(level) if isinstance(level, str) else None

    values: dict[str, Any] = {}
    for sec in SECTIONS:
        raw = data.get(sec.name)
        if sec.array:
            values[sec.name] = _validate_array(sec, raw, problems)
        else:
            values[sec.name] = _validate_table(sec, raw, problems, level_table)
    values["scoring"] = _validate_scoring(data.get("scoring"), problems)
    if not problems.items:
        _cross_checks(values, problems, stem=stem)
    return values


def _validate_table(sec: Section, raw: Any, problems: _Problems, level_table) -> dict:
    if raw is None:
        if sec.required:
            problems.add(sec.name, f"missing section [{sec.name}]")
            return {}
        raw = {}
    if not isinstance(raw, dict):
        problems.add(sec.name, f"must be a table [{sec.name}], got {_describe(raw)}")
        return {}
    return _validate_keys(sec, raw, sec.name, problems, level_table)


def _validate_array(sec: Section, raw: Any, problems: _Problems) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.add(
            sec.name, f"must be an array of tables written [[{sec.name}]], got {_describe(raw)}"
        )
        return []
    if len(raw) > sec.max_items:
        problems.add(sec.name, f"at most {sec.max_items} entries, got {len(raw)}")
    return [
        _validate_keys(sec, item, f"{sec.name}[{i}]", problems, None) for i, item in enumerate(raw)
    ]


def _validate_keys(sec: Section, raw: dict, where: str, problems: _Problems, level_table) -> dict:
    names = [k.name for k in sec.keys]
    for name in raw:
        if name not in names:
            problems.add(
                f"{where}.{name}",
                f"unknown key{_did_you_mean(name, names)}; allowed: {', '.join(names)}",
            )
    out: dict[str, Any] = {}
    for key in sec.keys:
        field = f"{where}.{key.name}"
        if key.name in raw:
            value = _check_value(key, raw[key.name], field, problems)
        elif key.default is REQUIRED:
            problems.add(field, f"missing required key ({key.allowed()})")
            continue
        elif key.default is FROM_LEVEL:
            if level_table is None:
                continue  # the level itself is reported missing or invalid
            value = float(level_table[_LEVEL_KEYS[(sec.name, key.name)]])
        else:
            value = key.default
        if value is not None:
            out[key.name] = value
    return out


def _check_value(key: Key, value: Any, field: str, problems: _Problems) -> Any:
    """The value converted to its Python type, or None after recording a problem."""
    bad = f"expected {key.allowed()}, got {_describe(value)}"
    if key.kind in ("str", "id", "choice") and not key.choices_from:
        if not isinstance(value, str):
            problems.add(field, bad)
            return None
        if key.kind == "str" and not value.strip():
            problems.add(field, "must not be empty")
            return None
        if key.kind == "id" and not _ID_RE.match(value):
            problems.add(field, bad)
            return None
        if key.kind == "choice" and value not in key.choices:
            problems.add(
                field,
                f"{value!r} is not allowed{_did_you_mean(value, key.choices)}; {key.allowed()}",
            )
            return None
        return value
    if key.choices_from:
        return _check_asset_choice(key, value, field, problems)
    if key.kind == "vec3":
        if not isinstance(value, list) or len(value) != 3 or not all(_is_number(v) for v in value):
            problems.add(
                field, f"expected three numbers [x, y, z] in {key.unit}, got {_describe(value)}"
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
    elif not _is_number(value):
        problems.add(field, bad)
        return None
    number = int(value) if key.kind == "int" else float(value)
    if not math.isfinite(number) or not key.lo <= number <= key.hi:
        why = f" ({key.why})" if key.why else ""
        problems.add(field, f"out of range: {key.allowed()}, got {value:g}{why}")
        return None
    return number


def _check_asset_choice(key: Key, value: Any, field: str, problems: _Problems) -> Any:
    if key.choices_from == "cements":
        options = list(load_table("cements")["products"])
    else:
        options = list(load_table("equipment")["gauges"])
    wanted = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if key.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        problems.add(
            field, f"expected a whole number, one of {', '.join(options)}; got {_describe(value)}"
        )
        return None
    if not isinstance(wanted, str) or wanted not in options:
        hint = _did_you_mean(wanted, options) if isinstance(wanted, str) else ""
        shown = repr(value) if isinstance(value, str | int) else _describe(value)
        problems.add(
            field,
            f"unknown {key.name.replace('_', ' ')} {shown}{hint}; "
            f"allowed: {', '.join(options)} (assets/{key.choices_from}.toml)",
        )
        return None
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _validate_scoring(raw: Any, problems: _Problems) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add("scoring", f"must be a table [scoring], got {_describe(raw)}")
        return {}
    rubric = load_table("rubric")
    allowed = [k for k, v in rubric.items() if _is_number(v) and k != "rubric_version"]
    out = {}
    for name, value in raw.items():
        field = f"scoring.{name}"
        if name not in allowed:
            problems.add(
                field,
                f"unknown rubric key{_did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}",
            )
        elif not _is_number(value) or not 0 <= value <= 1000:
            problems.add(field, f"expected a number from 0 to 1000, got {_describe(value)}")
        else:
            out[name] = float(value)
    return out


def _cross_checks(values: dict, problems: _Problems, *, stem: str | None) -> None:
    info = values["scenario"]
    if stem is not None and info["id"] != stem:
        problems.add(
            "scenario.id",
            f"{info['id']!r} must equal the file name {stem!r} "
            "(the id names the scenario in logs and on the command line)",
        )
    t = values["targets"]
    if t["fill_ml_min"] > t["fill_ml_max"]:
        problems.add(
            "targets.fill_ml_max",
            f"must not be below fill_ml_min ({t['fill_ml_min']:g} ml), got {t['fill_ml_max']:g}",
        )
    v, c = values["vertebra"], values["canal"]
    if c["width_mm"] >= 0.9 * v["body_width_mm"]:
        problems.add(
            "canal.width_mm",
            f"must be narrower than 0.9 × body_width_mm "
            f"({0.9 * v['body_width_mm']:g} mm), got {c['width_mm']:g}",
        )
    p = values["pedicles"]
    if p["height_mm"] > v["body_height_mm"]:
        problems.add(
            "pedicles.height_mm",
            f"must not exceed body_height_mm ({v['body_height_mm']:g} mm), got {p['height_mm']:g}",
        )


def _build(values: dict, *, path: str, sha256: str) -> model.Scenario:
    sections = {
        name: _DATACLASS[name](**values[name])
        for name in _DATACLASS
        if not SECTION_BY_NAME[name].array
    }
    veins = values["veins"] or [_default_vein(values)]
    return model.Scenario(
        path=path,
        sha256=sha256,
        veins=tuple(model.Vein(**v) for v in veins),
        defects=tuple(model.Defect(**d) for d in values["defects"]),
        scoring=MappingProxyType(dict(values["scoring"])),
        **sections,
    )


def _default_vein(values: dict) -> dict:
    """One basivertebral vein at the middle of the posterior wall, reaching 18 % deep."""
    geom = model.geometry_for(
        vertebra=model.Vertebra(**values["vertebra"]),
        pedicles=model.Pedicles(**values["pedicles"]),
        canal=model.Canal(**values["canal"]),
    )
    depth = 2.0 * geom.body.half_depth_mm
    return {
        "kind": "basivertebral",
        "position_mm": (0.0, geom.body.wall_y_mm - 0.18 * depth, 1.0),
        "diameter_mm": 2.5,
    }
