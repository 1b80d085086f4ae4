"""The scenario file format (``schema_version = 1``), declared once.

Every key an educator may write is a :class:`Key` here, with its type, unit, default, allowed
range and what it does. The loader validates against these declarations, and
``scenarios/README.md`` carries the tables that :func:`schema_markdown` renders from them
(a test keeps the two identical), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")
VEIN_KINDS = ("basivertebral", "segmental", "epidural_plexus")
DEFECT_KINDS = ("endplate_crack", "posterior_wall", "lateral_wall", "cleft")


class _Required:
    def __repr__(self) -> str:
        return "required"


class _FromLevel:
    def __repr__(self) -> str:
        return "from level"


REQUIRED = _Required()
FROM_LEVEL = _FromLevel()
"""Default taken from ``assets/anatomy.toml`` for the scenario's level."""


@dataclass(frozen=True, kw_only=True)
class Key:
    """One key of a section.

    ``kind`` is one of: ``str``, ``id`` (lower-case letters, digits, ``_`` and ``-``), ``int``,
    ``float``, ``choice`` (one of ``choices``), ``vec3`` (three numbers).
    ``lo``/``hi`` bound numbers (inclusive); ``choices`` lists the allowed values.
    ``choices_from`` names an asset table whose keys are the allowed values
    (``"cements"`` → ``assets/cements.toml [products]``).
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

    def allowed(self) -> str:
        """The allowed values in words, for error messages and the documentation."""
        unit = f" {self.unit}" if self.unit and self.unit != "1" else ""
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
            return "lower-case letters, digits, '_' and '-'"
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


SECTIONS: tuple[Section, ...] = (
    Section(
        name="scenario",
        required=True,
        doc="Who the case is for and how it runs.",
        keys=(
            Key(
                name="id",
                kind="id",
                doc="Identifier used in logs; must equal the file name without `.toml`.",
            ),
            Key(name="title", kind="str", doc="One-line title shown in the scenario list."),
            Key(
                name="description",
                kind="str",
                doc="The educator's case description shown "
                "before the attempt: patient, fracture, what to watch for.",
            ),
            Key(
                name="level",
                kind="choice",
                choices=LEVELS,
                doc="Vertebral level treated; sets the default anatomy (`assets/anatomy.toml`).",
            ),
            Key(
                name="seed",
                kind="int",
                default=0,
                lo=0,
                hi=2**31 - 1,
                doc="Seed of every "
                "random draw (bone heterogeneity, image noise). Same seed and actions, same "
                "result.",
            ),
            Key(
                name="time_limit_s",
                kind="float",
                unit="s",
                default=1800.0,
                lo=60.0,
                hi=7200.0,
                doc="Simulated time after which the attempt ends by itself.",
            ),
        ),
    ),
    Section(
        name="vertebra",
        doc="The treated vertebral body. Dimensions default to the level's.",
        keys=(
            Key(
                name="body_height_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=15.0,
                hi=40.0,
                doc="Posterior wall height (the intact height).",
            ),
            Key(
                name="body_depth_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=20.0,
                hi=50.0,
                doc="Antero-posterior depth at mid-width.",
            ),
            Key(
                name="body_width_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=25.0,
                hi=65.0,
                doc="Transverse width.",
            ),
            Key(
                name="wedge_percent",
                kind="float",
                unit="%",
                default=0.0,
                lo=0.0,
                hi=65.0,
                why="Genant grade 1 is 20–25 %, grade 2 25–40 %, grade 3 > 40 %; collapse "
                "above 65 % is a contraindication",
                doc="Anterior height loss of the compression fracture; the posterior wall "
                "stays intact. Anterior/posterior height = 1 − wedge.",
            ),
            Key(
                name="cortical_thickness_mm",
                kind="float",
                unit="mm",
                default=0.5,
                lo=0.2,
                hi=2.0,
                doc="Cortical shell and endplate thickness; drawn at least one voxel "
                "(0.5 mm) thick. Typical 0.35 (0.09–0.86).",
            ),
            Key(
                name="porosity",
                kind="float",
                default=0.90,
                lo=0.70,
                hi=0.97,
                unit="1",
                doc="Mean pore fraction of the cancellous bone (osteoporotic 0.86–0.94). The "
                "cement fills this fraction of the bone it reaches.",
            ),
            Key(
                name="permeability_m2",
                kind="float",
                unit="m²",
                default=4e-8,
                lo=1e-11,
                hi=1e-7,
                doc="Mean Darcy permeability of the cancellous bone, AP direction "
                "(lumbar 3.4e-8, range 2.7e-11 to 2e-8). Lower: higher pressure, more "
                "compact fill.",
            ),
            Key(
                name="permeability_heterogeneity",
                kind="float",
                unit="1",
                default=0.5,
                lo=0.0,
                hi=1.5,
                doc="Standard deviation of ln(permeability) of the seeded "
                "log-normal field. 0 is uniform bone; 1 gives a patchy, fingering fill.",
            ),
            Key(
                name="heterogeneity_length_mm",
                kind="float",
                unit="mm",
                default=3.0,
                lo=0.5,
                hi=10.0,
                doc="Correlation length of that random field.",
            ),
            Key(
                name="permeability_anisotropy",
                kind="float",
                unit="1",
                default=1.29,
                lo=0.5,
                hi=4.0,
                doc="Superior–inferior over AP permeability (4.45/3.44 = "
                "1.29, Baroud 2004). Above 1 the cement spreads toward the endplates.",
            ),
        ),
    ),
    Section(
        name="pedicles",
        doc="Both pedicles (symmetric).",
        keys=(
            Key(
                name="width_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=3.0,
                hi=18.0,
                doc="Outer transverse width at the isthmus; narrow pedicles leave little "
                "room for the needle (11 G is 3 mm).",
            ),
            Key(
                name="height_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=8.0,
                hi=22.0,
                doc="Outer cranio-caudal height.",
            ),
            Key(
                name="transverse_angle_deg",
                kind="float",
                unit="°",
                default=FROM_LEVEL,
                lo=-5.0,
                hi=35.0,
                doc="Angle between the pedicle axis and the sagittal plane, converging anteriorly.",
            ),
        ),
    ),
    Section(
        name="canal",
        doc="The spinal canal behind the body.",
        keys=(
            Key(
                name="depth_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=10.0,
                hi=25.0,
                doc="Mid-sagittal depth from the posterior wall to the lamina.",
            ),
            Key(
                name="width_mm",
                kind="float",
                unit="mm",
                default=FROM_LEVEL,
                lo=12.0,
                hi=32.0,
                doc="Interpedicular width.",
            ),
        ),
    ),
    Section(
        name="veins",
        array=True,
        max_items=12,
        doc="Veins that cement can escape into, as `[[veins]]` entries. The paired anterior "
        "epidural plexus is always present; list the basivertebral and segmental veins of the "
        "case (none listed: one basivertebral vein at the middle of the posterior wall).",
        keys=(
            Key(
                name="kind",
                kind="choice",
                choices=VEIN_KINDS,
                doc="basivertebral: runs "
                "straight back from `position_mm` (inside the body) through the posterior wall "
                "foramen into the epidural plexus. segmental: runs antero-posteriorly along "
                "the lateral surface at `position_mm`, joined to the interior by small cortical "
                "foramina there. epidural_plexus: an extra longitudinal plexus vein through "
                "`position_mm` in the anterior epidural space.",
            ),
            Key(
                name="position_mm",
                kind="vec3",
                unit="mm",
                lo=-80.0,
                hi=80.0,
                doc="LPS point of the vein (see kind); must lie where that kind of vein runs.",
            ),
            Key(
                name="diameter_mm",
                kind="float",
                unit="mm",
                lo=0.5,
                hi=6.0,
                doc="Lumen diameter (basivertebral 2–4).",
            ),
        ),
    ),
    Section(
        name="defects",
        array=True,
        max_items=12,
        doc="Fracture features that open leak paths, as `[[defects]]` entries.",
        keys=(
            Key(
                name="kind",
                kind="choice",
                choices=DEFECT_KINDS,
                doc="endplate_crack: a "
                "slit through the nearest endplate into the disc (disc leak risk). "
                "posterior_wall: a hole in the posterior wall into the canal (canal risk). "
                "lateral_wall: a hole in the side wall (paravertebral risk). cleft: a "
                "fluid-filled cavity inside the body (Kümmell) that pools cement.",
            ),
            Key(
                name="position_mm",
                kind="vec3",
                unit="mm",
                lo=-80.0,
                hi=80.0,
                doc="LPS centre; must lie on the wall the kind names (within 3 mm), or inside "
                "the body for a cleft.",
            ),
            Key(
                name="size_mm",
                kind="float",
                unit="mm",
                lo=1.0,
                hi=20.0,
                doc="Crack length, hole diameter or cleft diameter.",
            ),
        ),
    ),
    Section(
        name="cement",
        doc="The cement in the kit.",
        keys=(
            Key(
                name="product",
                kind="str",
                choices_from="cements",
                default="pmma_medium",
                doc="Cement product id from `assets/cements.toml`.",
            ),
            Key(
                name="room_temperature_c",
                kind="float",
                unit="°C",
                default=22.0,
                lo=15.0,
                hi=30.0,
                doc="Room (and cement) temperature; warmer cement sets sooner.",
            ),
        ),
    ),
    Section(
        name="equipment",
        doc="Needle, imaging and syringe.",
        keys=(
            Key(
                name="needle_gauge",
                kind="int",
                choices_from="equipment",
                default=11,
                doc="Trocar gauge (bigger number, thinner needle, higher injection pressure).",
            ),
            Key(
                name="needle_length_mm",
                kind="float",
                unit="mm",
                default=125.0,
                lo=70.0,
                hi=200.0,
                doc="Usable cannula length; the tip cannot go deeper than this from the skin.",
            ),
            Key(
                name="c_arm",
                kind="choice",
                choices=("biplane", "single"),
                default="biplane",
                doc="biplane: both views live; single: one C-arm turned between views.",
            ),
            Key(
                name="syringe",
                kind="choice",
                choices=("1ml", "screw_injector"),
                default="1ml",
                doc="Delivery device; sets the highest pressure (`assets/equipment.toml`).",
            ),
        ),
    ),
    Section(
        name="targets",
        doc="What a good result is.",
        keys=(
            Key(
                name="fill_ml_min",
                kind="float",
                unit="ml",
                default=1.5,
                lo=0.5,
                hi=10.0,
                doc="Least cement volume that earns full cement points.",
            ),
            Key(
                name="fill_ml_max",
                kind="float",
                unit="ml",
                default=3.0,
                lo=0.5,
                hi=10.0,
                doc="Most cement volume that earns full cement points; not below fill_ml_min.",
            ),
            Key(
                name="approach",
                kind="choice",
                choices=("unipedicular", "bipedicular"),
                default="unipedicular",
                doc="unipedicular: one needle aimed at the midline; "
                "bipedicular: one per side, each aimed at its own half.",
            ),
        ),
    ),
    Section(
        name="expert",
        doc="An expert's figures for this case: the reference for the radiation and "
        "efficiency scores.",
        keys=(
            Key(
                name="fluoro_shots",
                kind="int",
                default=20,
                lo=1,
                hi=500,
                doc="Fluoroscopy shots an expert takes.",
            ),
            Key(
                name="fluoro_time_s",
                kind="float",
                unit="s",
                default=60.0,
                lo=1.0,
                hi=1800.0,
                doc="Fluoroscopy time an expert uses.",
            ),
            Key(
                name="procedure_time_s",
                kind="float",
                unit="s",
                default=900.0,
                lo=60.0,
                hi=7200.0,
                doc="Simulated procedure time an expert takes.",
            ),
        ),
    ),
)

SCORING_DOC = (
    "Overrides of `assets/rubric.toml`: any of its numeric keys (component points, pass mark, "
    "critical limits) with a number from 0 to 1000."
)

SECTION_BY_NAME = {s.name: s for s in SECTIONS}
TOP_LEVEL_NAMES = ("schema_version", *(s.name for s in SECTIONS), "scoring")


def schema_markdown() -> str:
    """The key tables of ``scenarios/README.md``, rendered from the declarations."""
    out: list[str] = []
    for sec in SECTIONS:
        head = f"[[{sec.name}]]" if sec.array else f"[{sec.name}]"
        req = " (required)" if sec.required else ""
        out.append(f"### `{head}`{req}\n\n{sec.doc}\n")
        out.append("| key | unit | default | allowed | what it does |")
        out.append("|---|---|---|---|---|")
        for k in sec.keys:
            default = repr(k.default) if k.default in (REQUIRED, FROM_LEVEL) else f"`{k.default}`"
            doc = k.doc + (f" ({k.why}.)" if k.why else "")
            out.append(f"| `{k.name}` | {k.unit or '—'} | {default} | {k.allowed()} | {doc} |")
        out.append("")
    out.append(f"### `[scoring]`\n\n{SCORING_DOC}\n")
    return "\n".join(out)
