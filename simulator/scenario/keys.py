"""Every key of the scenario format (``schema_version = 1``), with its type, unit, default,
allowed range and what it does. This table is the single source of the validator and of the
tables in ``scenarios/README.md``; it is long because it is the documentation.
"""

from __future__ import annotations

from simulator.inputs import SEED_MAX, SEED_MIN
from simulator.scenario.schema import (
    DEFECT_KINDS,
    FROM_LEVEL,
    FROM_PRODUCT,
    LESION_BREAKS,
    LEVELS,
    VEIN_KINDS,
    Key,
    Section,
)

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
                lo=SEED_MIN,
                hi=SEED_MAX,
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
        doc="Fracture features and lesions that open leak paths, as `[[defects]]` entries.",
        keys=(
            Key(
                name="kind",
                kind="choice",
                choices=DEFECT_KINDS,
                doc="endplate_crack: a "
                "slit through the nearest endplate into the disc (disc leak risk). "
                "posterior_wall: a hole in the posterior wall into the canal (canal risk). "
                "lateral_wall: a hole in the side wall (paravertebral risk). cleft: a "
                "fluid-filled cavity inside the body (Kümmell) that pools cement. "
                "lytic_lesion: a metastasis, a lobulated region of tumour soft tissue where the "
                "trabeculae are destroyed (a lucency on the images); it may break a wall "
                "(`breaks`).",
            ),
            Key(
                name="position_mm",
                kind="vec3",
                unit="mm",
                lo=-80.0,
                hi=80.0,
                doc="LPS centre; must lie on the wall the kind names (within 3 mm), or inside "
                "the body for a cleft or a lytic lesion.",
            ),
            Key(
                name="size_mm",
                kind="float",
                unit="mm",
                lo=1.0,
                hi=25.0,
                doc="Crack length, hole diameter or cleft diameter (at most 20 mm), or a lytic "
                "lesion's mean diameter (6 to 25 mm).",
            ),
            Key(
                name="breaks",
                kind="choice",
                choices=LESION_BREAKS,
                default="none",
                only_for=("lytic_lesion",),
                doc="lytic_lesion only (refused for other kinds): the cortex the lesion "
                "destroys, opening it to what lies beyond: posterior_wall → the canal, "
                "left_pedicle / right_pedicle → the canal and neural foramen around that "
                "pedicle, lateral_wall → the paravertebral space on the centre's side. The "
                "lesion must reach that wall within 2 mm; with none it must stay clear of the "
                "canal.",
            ),
            Key(
                name="gas",
                kind="bool",
                default=False,
                only_for=("cleft",),
                doc="cleft only (refused for other kinds): the cleft holds gas (the vacuum "
                "sign, black on the images) instead of fluid; cement flows into it the same.",
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
            Key(
                name="batch_ml",
                kind="float",
                unit="ml",
                default=FROM_PRODUCT,
                lo=0.5,
                hi=40.0,
                doc="Cement in the kit, the cannula's fill included: the injection ends with a "
                "`cement_used_up` event when it is all delivered.",
                why="a pack makes a finite batch; `assets/cements.toml` gives each product's",
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
        name="patient",
        doc="How the patient lies on the table. The C-arm's home poses are square to the "
        "table, so a rotated or tilted spine makes the trainee find the treated level's true "
        "AP and true lateral.",
        keys=(
            Key(
                name="axial_rotation_deg",
                kind="float",
                unit="°",
                default=0.0,
                lo=-25.0,
                hi=25.0,
                doc="The spine's rotation about its long axis on the table (positive: the "
                "patient's left side turned up, toward the ceiling of a prone patient). A "
                "frontal image at 0° then shows the spinous process off the pedicles' midpoint.",
            ),
            Key(
                name="sagittal_tilt_deg",
                kind="float",
                unit="°",
                default=0.0,
                lo=-25.0,
                hi=25.0,
                doc="The spine's tilt in the sagittal plane (positive: the head end toward the "
                "table). A frontal image at 0° then shows the endplates as ellipses; the "
                "wedge's own kyphosis adds half its angle at the treated level.",
            ),
            Key(
                name="soft_tissue_mm",
                kind="float",
                unit="mm",
                default=0.0,
                lo=0.0,
                hi=60.0,
                doc="Habitus: extra subcutaneous soft tissue around the whole trunk. The trunk "
                "grows by twice this in width and depth (more dose and noise through the "
                "exposure control) and the back's skin moves this far back (a longer needle "
                "path).",
            ),
            Key(
                name="bowel_gas",
                kind="choice",
                choices=("none", "little", "much"),
                default="none",
                doc="Gas in the colon and small bowel in front of the lumbar spine, seeded by "
                "the scenario's seed: pockets 15–50 mm across that overlap the vertebrae on "
                "an AP image.",
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

SECTION_BY_NAME = {s.name: s for s in SECTIONS}
TOP_LEVEL_NAMES = ("schema_version", *(s.name for s in SECTIONS), "scoring")
