"""The scenario file format (``schema_version = 1``), declared once.

Every key an educator may write is a :class:`Key` here, with its type, unit, default, allowed
range and what it does. The loader validates against these declarations, and
``scenarios/README.md`` carries the tables that :func:`schema_markdown` renders from them
(a test keeps the two identical), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.scenario.ids import ID_RULE

SCHEMA_VERSION = 1

LEVELS = ("T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")
VEIN_KINDS = ("basivertebral", "segmental", "epidural_plexus")
DEFECT_KINDS = ("endplate_crack", "posterior_wall", "lateral_wall", "cleft", "lytic_lesion")
LESION_BREAKS = ("none", "posterior_wall", "left_pedicle", "right_pedicle", "lateral_wall")
"""What a lytic lesion's ``breaks`` may name: the cortex it destroys (``none``: contained)."""


class _Required:
    def __repr__(self) -> str:
        return "required"


class _FromLevel:
    def __repr__(self) -> str:
        return "from level"


class _FromProduct:
    def __repr__(self) -> str:
        return "the product's"


REQUIRED = _Required()
FROM_LEVEL = _FromLevel()
"""Default taken from ``assets/anatomy.toml`` for the scenario's level."""
FROM_PRODUCT = _FromProduct()
"""Default taken from ``assets/cements.toml`` for the section's ``product``."""


@dataclass(frozen=True, kw_only=True)
class Key:
    """One key of a section.

    ``kind`` is one of: ``str``, ``id`` (lower-case letters, digits, ``_`` and ``-``), ``int``,
    ``float``, ``bool`` (true or false), ``choice`` (one of ``choices``), ``vec3`` (three
    numbers).
    ``lo``/``hi`` bound numbers (inclusive); ``choices`` lists the allowed values.
    ``choices_from`` names an asset table whose keys are the allowed values
    (``"cements"`` → ``assets/cements.toml [products]``).
    ``only_for`` (in an array of tables with a ``kind``): the kinds the key may be written for;
    an entry of another kind that writes it is refused.
    """

    name: str
    kind: str
    doc: str
    unit: str = ""
    default: Any = REQUIRED
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    choices_from: str = ""
    why: str = ""
    only_for: tuple[str, ...] = ()

    def allowed(self) -> str:
        """The allowed values in words, for error messages and the documentation."""
        unit = f" {self.unit}" if self.unit and self.unit != "1" else ""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.choices_from:
            return f"an id from assets/{self.choices_from}.toml"
        if self.kind in ("int", "float", "vec3") and self.lo is not None and self.hi is not None:
            what = "three numbers, each" if self.kind == "vec3" else "a number"
            if self.kind == "int":
                what = "a whole number"
            return f"{what} from {_num(self.lo)} to {_num(self.hi)}{unit}"
        if self.kind == "id":
            return ID_RULE
        if self.kind == "str":
            return "text"
        if self.kind == "vec3":
            return f"three numbers [x, y, z]{unit}"
        return self.kind


def _num(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and (abs(v) < 1e-3 or abs(v) >= 1e5) and v != 0:
        return f"{v:.3g}"
    return f"{v:g}"


@dataclass(frozen=True, kw_only=True)
class Section:
    """A TOML table (``array=False``) or array of tables (``array=True``)."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    required: bool = False
    array: bool = False
    max_items: int = 0

    def key(self, name: str) -> Key | None:
        """The declared key called ``name``, or None."""
        return next((k for k in self.keys if k.name == name), None)
