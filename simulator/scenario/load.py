"""Load and validate scenario files.

Validation happens once, here, and collects every problem of a file before raising one
:class:`~simulator.errors.ScenarioError` (one ``PATH: field: message`` line per problem). The
core then trusts the :class:`~simulator.scenario.model.Scenario` it gets.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulator.assets import load_table
from simulator.errors import ScenarioError, UserError
from simulator.inputs import CAPS, InputFileError, read_capped
from simulator.rubric import rubric_problems
from simulator.scenario import model
from simulator.scenario.catalog import find_scenario
from simulator.scenario.keys import SECTION_BY_NAME, SECTIONS, TOP_LEVEL_NAMES
from simulator.scenario.placement import check_placements
from simulator.scenario.schema import (
    FROM_LEVEL,
    FROM_PRODUCT,
    REQUIRED,
    SCHEMA_VERSION,
    Section,
)
from simulator.scenario.values import check_value, describe, did_you_mean, is_number

MAX_FILE_BYTES = CAPS["scenario"]
MIN_ANTERIOR_HEIGHT_MM = 8.0
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
    "patient": model.Patient,
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
    """A scenario reference (an id on the search path, see
    :mod:`simulator.scenario.catalog`, or a path) → an existing path.

    Raises :class:`UserError` naming the ids there are when nothing matches.
    """
    p = Path(ref)
    if p.suffix == ".toml" or p.exists() or "/" in ref or "\\" in ref:
        if p.is_dir():
            raise UserError(f"{ref}: scenario: is a folder; name a .toml file (or a scenario id)")
        if not p.exists():
            raise UserError(f"{ref}: scenario: no such file")
        return p
    return find_scenario(ref)


def load_scenario(ref: str | Path) -> model.Scenario:
    """Read, validate and return a scenario (by id or path).

    Raises :class:`ScenarioError` listing every problem, or :class:`UserError` when the
    reference names no file.
    """
    path = resolve_scenario_path(str(ref))
    shown = str(ref) if Path(str(ref)).suffix == ".toml" else str(path)
    try:
        raw = read_capped(path, kind="scenario")  # a regular file, at most the cap
    except InputFileError as exc:
        raise ScenarioError(shown, [("file", exc.message)]) from None
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
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            path, [("file", f"{len(raw)} bytes; a scenario file is at most {MAX_FILE_BYTES} bytes")]
        )
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is allowed
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, [("file", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")]
        ) from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        if isinstance(exc, RecursionError):
            exc = "tables or arrays nested too deeply"
        elif "Exceeds the limit" in str(exc):
            exc = "a number too long to read (over 4300 digits)"
        raise ScenarioError(path, [("file", f"invalid TOML: {exc}")]) from None


def _validate(data: dict, problems: _Problems, *, stem: str | None) -> dict:
    for name in data:
        if name not in TOP_LEVEL_NAMES:
            problems.add(
                name,
                f"unknown section or key{did_you_mean(name, TOP_LEVEL_NAMES)}; "
                f"allowed: {', '.join(TOP_LEVEL_NAMES)}",
            )
    version = data.get("schema_version", REQUIRED)
    if version is REQUIRED:
        problems.add("schema_version", f"missing; write schema_version = {SCHEMA_VERSION}")
    elif isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        shown = repr(version) if isinstance(version, float) else describe(version)
        problems.add("schema_version", f"must be the whole number {SCHEMA_VERSION}, got {shown}")

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
        problems.add(sec.name, f"must be a table [{sec.name}], got {describe(raw)}")
        return {}
    return _validate_keys(sec, raw, sec.name, problems, level_table)


def _validate_array(sec: Section, raw: Any, problems: _Problems) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.add(
            sec.name, f"must be an array of tables written [[{sec.name}]], got {describe(raw)}"
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
                f"unknown key{did_you_mean(name, names)}; allowed: {', '.join(names)}",
            )
    out: dict[str, Any] = {}
    for key in sec.keys:
        field = f"{where}.{key.name}"
        if key.only_for and key.name in raw and _kind_refuses(sec, key, raw, field, problems):
            continue
        if key.name in raw:
            value = check_value(key, raw[key.name], field, problems)
        elif key.default is REQUIRED:
            problems.add(field, f"missing required key ({key.allowed()})")
            continue
        elif key.default is FROM_LEVEL:
            if level_table is None:
                continue  # the level itself is reported missing or invalid
            value = float(level_table[_LEVEL_KEYS[(sec.name, key.name)]])
        elif key.default is FROM_PRODUCT:
            products = load_table("cements")["products"]
            if out.get("product") not in products:
                continue  # the product itself is reported
            value = float(products[out["product"]][key.name])
        else:
            value = key.default
        if value is not None:
            out[key.name] = value
    return out


def _kind_refuses(sec: Section, key, raw: dict, field: str, problems: _Problems) -> bool:
    """True (after recording one problem) when ``key`` is written for an entry whose ``kind``
    is not one of ``key.only_for``; an invalid kind is reported by the kind itself."""
    kind = raw.get("kind")
    kind_key = sec.key("kind")
    choices = kind_key.choices if kind_key is not None else ()
    if not isinstance(kind, str) or kind not in choices or kind in key.only_for:
        return False
    problems.add(
        field,
        f"only for kind {' or '.join(repr(k) for k in key.only_for)}, this entry is kind "
        f"{kind!r}; remove the key (allowed keys for {kind!r}: "
        f"{', '.join(k.name for k in sec.keys if not k.only_for or kind in k.only_for)})",
    )
    return True


def _validate_scoring(raw: Any, problems: _Problems) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add("scoring", f"must be a table [scoring], got {describe(raw)}")
        return {}
    rubric = load_table("rubric")
    allowed = [k for k, v in rubric.items() if is_number(v) and k != "rubric_version"]
    out = {}
    before = len(problems.items)
    for name, value in raw.items():
        field = f"scoring.{name}"
        if name not in allowed:
            problems.add(
                field,
                f"unknown rubric key{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}",
            )
        elif not is_number(value) or not 0 <= value <= 1000:
            problems.add(field, f"expected a number from 0 to 1000, got {describe(value)}")
        else:
            out[name] = float(value)
    if len(problems.items) == before:  # each key fine: now the keys together
        for field, message in rubric_problems(out):
            problems.add(field, message)
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
    anterior = v["body_height_mm"] * (1.0 - v["wedge_percent"] / 100.0)
    if anterior < MIN_ANTERIOR_HEIGHT_MM:
        problems.add(
            "vertebra.wedge_percent",
            f"leaves an anterior height of {anterior:.1f} mm (body_height_mm "
            f"{v['body_height_mm']:g} × (1 − {v['wedge_percent']:g} %)); at least "
            f"{MIN_ANTERIOR_HEIGHT_MM:g} mm is needed for a needle and cement",
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
