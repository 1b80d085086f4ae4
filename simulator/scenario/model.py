"""Frozen dataclasses of a loaded, validated scenario. Field names are the TOML key names."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.anatomy.geometry import VertebraGeometry, make_geometry
from simulator.assets import load_table


@dataclass(frozen=True, kw_only=True)
class ScenarioInfo:
    """``[scenario]``: identity and run settings."""

    id: str
    title: str
    description: str
    level: str
    seed: int
    time_limit_s: float


@dataclass(frozen=True, kw_only=True)
class Vertebra:
    """``[vertebra]``: the treated body (mm, %, m²)."""

    body_height_mm: float
    body_depth_mm: float
    body_width_mm: float
    wedge_percent: float
    cortical_thickness_mm: float
    porosity: float
    permeability_m2: float
    permeability_heterogeneity: float
    heterogeneity_length_mm: float
    permeability_anisotropy: float


@dataclass(frozen=True, kw_only=True)
class Pedicles:
    """``[pedicles]``: both pedicles (mm, degrees)."""

    width_mm: float
    height_mm: float
    transverse_angle_deg: float


@dataclass(frozen=True, kw_only=True)
class Canal:
    """``[canal]``: the spinal canal (mm)."""

    depth_mm: float
    width_mm: float


@dataclass(frozen=True, kw_only=True)
class Vein:
    """One ``[[veins]]`` entry (LPS mm)."""

    kind: str
    position_mm: tuple[float, float, float]
    diameter_mm: float


@dataclass(frozen=True, kw_only=True)
class Defect:
    """One ``[[defects]]`` entry (LPS mm)."""

    kind: str
    position_mm: tuple[float, float, float]
    size_mm: float
    breaks: str = "none"
    """lytic_lesion only: the cortex it destroys (``LESION_BREAKS``)."""
    gas: bool = False
    """cleft only: gas-filled (the vacuum sign) rather than fluid-filled."""


@dataclass(frozen=True, kw_only=True)
class Cement:
    """``[cement]``."""

    product: str
    room_temperature_c: float
    batch_ml: float
    """Cement in the kit (ml)."""


@dataclass(frozen=True, kw_only=True)
class Equipment:
    """``[equipment]``."""

    needle_gauge: int
    needle_length_mm: float
    c_arm: str
    syringe: str


@dataclass(frozen=True, kw_only=True)
class Patient:
    """``[patient]`` (degrees, mm)."""

    axial_rotation_deg: float
    sagittal_tilt_deg: float
    soft_tissue_mm: float = 0.0
    bowel_gas: str = "none"


@dataclass(frozen=True, kw_only=True)
class Targets:
    """``[targets]`` (ml)."""

    fill_ml_min: float
    fill_ml_max: float
    approach: str


@dataclass(frozen=True, kw_only=True)
class Expert:
    """``[expert]``: the expert reference figures for this case."""

    fluoro_shots: int
    fluoro_time_s: float
    procedure_time_s: float


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A validated scenario. ``sha256`` is the hash of the file's bytes (for attempt logs)."""

    path: str
    sha256: str
    scenario: ScenarioInfo
    vertebra: Vertebra
    pedicles: Pedicles
    canal: Canal
    veins: tuple[Vein, ...]
    defects: tuple[Defect, ...]
    cement: Cement
    equipment: Equipment
    patient: Patient
    targets: Targets
    expert: Expert
    scoring: Mapping[str, float]

    @property
    def id(self) -> str:
        """The scenario id."""
        return self.scenario.id

    @functools.cached_property
    def geometry(self) -> VertebraGeometry:
        """Analytic shapes of the treated vertebra."""
        return geometry_for(vertebra=self.vertebra, pedicles=self.pedicles, canal=self.canal)

    @functools.cached_property
    def mesh_geometry(self) -> VertebraGeometry:
        """The analytic frame of the measured-shape phantom (release 0.4.0 on): the body's
        depth runs from the anterior rim to the posterior wall."""
        return geometry_for(
            vertebra=self.vertebra, pedicles=self.pedicles, canal=self.canal, depth_to_wall=True
        )


def geometry_for(
    *, vertebra: Vertebra, pedicles: Pedicles, canal: Canal, depth_to_wall: bool = False
) -> VertebraGeometry:
    """Analytic geometry from the three anatomy sections and the shape constants
    (``depth_to_wall``: see :func:`~simulator.anatomy.geometry.make_geometry`)."""
    shape = load_table("anatomy")["shape"]
    return make_geometry(
        body_height_mm=vertebra.body_height_mm,
        body_depth_mm=vertebra.body_depth_mm,
        body_width_mm=vertebra.body_width_mm,
        wedge_percent=vertebra.wedge_percent,
        pedicle_width_mm=pedicles.width_mm,
        pedicle_height_mm=pedicles.height_mm,
        pedicle_transverse_angle_deg=pedicles.transverse_angle_deg,
        canal_depth_mm=canal.depth_mm,
        canal_width_mm=canal.width_mm,
        concavity_superior_mm=shape["endplate_concavity_superior_mm"],
        concavity_inferior_mm=shape["endplate_concavity_inferior_mm"],
        depth_to_wall=depth_to_wall,
    )
