"""Build the voxel phantom of a scenario: labels, porosity, permeability and landmarks.

Release 0.4.0 on (``ModelOptions.mesh_anatomy``), the vertebrae come from the measured mean
shape (:mod:`simulator.anatomy.vertebrae`); logs of earlier releases replay with the analytic
phantom of their time (:mod:`simulator.anatomy.legacy`).

Painting order (each part paints only over soft tissue and air unless stated): soft tissue to
the skin → great vessels → the treated vertebra → the vertebrae above and below, on the column
(the segment's lordosis or kyphosis, plus the wedge's kyphosis above) → discs between the
bodies → canal and its contents (carving the posterior elements) → nerve roots → veins →
defects. Then the per-voxel fields and the landmarks.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from simulator.anatomy.geometry import VertebraGeometry, skin_y_mm
from simulator.anatomy.grid import Grid, column_frames
from simulator.anatomy.habitus import bowel_gas_solids, skin_offset_mm
from simulator.anatomy.landmarks import make_landmarks
from simulator.anatomy.legacy import _labels, build_legacy_phantom
from simulator.anatomy.parts import Painter
from simulator.anatomy.phantom import Phantom
from simulator.anatomy.soft import (
    paint_canal,
    paint_defects,
    paint_great_vessels,
    paint_nerve_roots,
    paint_veins,
)
from simulator.anatomy.texture import make_textured_fields
from simulator.anatomy.thorax import paint_lungs, paint_ribs, thorax_air_solids
from simulator.anatomy.vertebrae import (
    close_canal_ring,
    fill_canal_recesses,
    paint_discs,
    paint_vertebra,
)
from simulator.anatomy.warp import Morph
from simulator.assets import load_table
from simulator.materials import tissues


def build_phantom(scenario, *, seed: int | None = None, model=None) -> Phantom:
    """Rasterise ``scenario`` (a :class:`~simulator.scenario.Scenario`) to a phantom.

    ``seed`` overrides the scenario's seed; it changes only the bone heterogeneity. ``model``
    (:class:`~simulator.releases.ModelOptions`, default today's) picks the anatomy of a release.
    """
    if model is not None and not model.mesh_anatomy:
        return build_legacy_phantom(scenario, seed=seed)
    return build_mesh_phantom(scenario, seed=seed)


def _grid(geom: VertebraGeometry, level: dict, shape: dict, skin_y0: float) -> Grid:
    body = geom.body
    H = body.height_mm
    half_x = max(level["transverse_span_mm"], body.half_width_mm) + 20.0
    reach_z = H / 2 + max(level["disc_above_mm"], level["disc_below_mm"]) + H + 6.0
    half_z = max(reach_z, shape["min_half_height_mm"])
    lo = (-half_x, body.anterior_y_mm - shape["aorta_diameter_mm"] - 6.0, -half_z)
    return Grid.covering(lo, (half_x, skin_y0 + 4.0, half_z), float(shape["voxel_mm"]))


def _paint_column(labels, grid, scenario, geom, morph, frames, T, shape, level, col):
    """The treated vertebra, its neighbours and the discs; returns the three pieces."""
    soft = T.ids("soft_tissue", "air", "lung")
    cortex = scenario.vertebra.cortical_thickness_mm
    treated = paint_vertebra(
        labels,
        grid,
        geom,
        morph,
        _labels(T, treated=True),
        frame=None,
        cortex_mm=cortex,
        pedicle_cortex_mm=max(cortex, shape["pedicle_cortex_mm"]),
        over=soft,
    )
    upright = replace(geom, body=replace(geom.body, wedge_fraction=0.0))
    plain = replace(morph, wedge_fraction=0.0)
    lab = _labels(T, treated=False)
    pieces = {}
    for name, frame in frames.items():
        pieces[name] = paint_vertebra(
            labels,
            grid,
            upright,
            plain,
            lab,
            frame=frame,
            cortex_mm=1.0,
            pedicle_cortex_mm=shape["pedicle_cortex_mm"],
            over=soft,
        )
    stack = [pieces["below"], treated, pieces["above"]]
    ys = grid.axis_mm(1)
    gaps = [
        _max_disc_vox(level["disc_below_mm"], col["lordosis_below_deg"], ys, geom, grid),
        _max_disc_vox(level["disc_above_mm"], col["lordosis_above_deg"], ys, geom, grid),
    ]
    if all(p is not None for p in stack):
        paint_discs(labels, stack, T.id("disc"), soft, max_gap_vox=gaps)


def _max_disc_vox(disc_mm: float, lordosis_deg: float, ys, geom, grid: Grid) -> np.ndarray:
    """The tallest the disc can be at each y of the grid (voxels): its posterior height plus
    4 mm, plus what the segment's lordosis or kyphosis opens in front of the wall (the wedge's
    own kyphosis tilts the vertebra above with the collapsed endplate, so it opens nothing)."""
    front = np.maximum(geom.body.wall_y_mm - ys, 0.0)
    tall = disc_mm + 4.0 + front * abs(np.tan(np.radians(lordosis_deg)))
    return np.ceil(tall / grid.voxel_mm).astype(int)


def _paint_canal(p: Painter, geom, frames, level, shape, T) -> None:
    """The canal in three pieces (below, treated, above), meeting mid-disc with 4 mm overlap."""
    body, grid = geom.body, p.grid
    H = body.height_mm
    z_bottom, z_top = grid.extent_mm[2]
    z_up = H / 2 + level["disc_above_mm"] / 2
    z_dn = -H / 2 - level["disc_below_mm"] / 2
    paint_canal(p, geom.canal, T, shape=shape, z_range_mm=(z_dn - 4.0, z_up + 4.0))
    for name, z_split, rng in (
        ("above", z_up, lambda s: (s - 4.0, z_top + H)),
        ("below", z_dn, lambda s: (z_bottom - H, s + 4.0)),
    ):
        frame = frames[name]
        q = Painter(grid, p.labels, frame)
        split_local = float(frame.to_local(body.wall_y_mm, z_split)[1])
        paint_canal(q, geom.canal, T, shape=shape, z_range_mm=rng(split_local))


def morph_for(scenario, geom: VertebraGeometry) -> Morph:
    """The warp's level shape for ``scenario`` (``assets/anatomy.toml [column]``)."""
    anat = load_table("anatomy")
    level = scenario.scenario.level
    col = anat["column"][level]
    return Morph(
        wedge_fraction=geom.body.wedge_fraction,
        transverse_span_mm=anat["levels"][level]["transverse_span_mm"],
        body_taper=col["body_taper"],
        spinous_slope_deg=col["spinous_slope_deg"],
    )


def build_mesh_phantom(scenario, *, seed: int | None = None) -> Phantom:
    """The phantom of release 0.4.0 on: vertebrae from the measured mean shape."""
    t0 = time.perf_counter()
    T = tissues()
    anat = load_table("anatomy")
    shape = anat["shape"]
    name = scenario.scenario.level
    level, col = anat["levels"][name], anat["column"][name]
    geom: VertebraGeometry = scenario.mesh_geometry
    body = geom.body
    skin_y0 = body.wall_y_mm + shape["skin_from_posterior_wall_mm"] + skin_offset_mm(scenario)
    grid = _grid(geom, level, shape, skin_y0)
    labels = np.zeros(grid.shape, dtype=np.uint8)
    p = Painter(grid, labels)
    X = grid.axis_mm(0)[:, None, None]
    Y = grid.axis_mm(1)[None, :, None]
    labels[np.broadcast_to(skin_y_mm(X, skin_y0_mm=skin_y0) >= Y, grid.shape)] = T.id("soft_tissue")
    paint_great_vessels(p, body, T, shape=shape)
    paint_lungs(p, geom, T, level=name, shape=shape)
    frames = column_frames(
        body,
        disc_up=level["disc_above_mm"],
        disc_down=level["disc_below_mm"],
        lordosis_up=col["lordosis_above_deg"],
        lordosis_down=col["lordosis_below_deg"],
    )
    _paint_column(
        labels, grid, scenario, geom, morph_for(scenario, geom), frames, T, shape, level, col
    )
    paint_ribs(p, geom, T, level=name, shape=shape)
    for frame in (None, frames["above"], frames["below"]):
        close_canal_ring(
            Painter(grid, labels, frame), geom, T.id("posterior_bone"), T.ids("soft_tissue"),
            thickness_mm=shape["arch_thickness_mm"],
        )  # fmt: skip
    _paint_canal(p, geom, frames, level, shape, T)
    fill_canal_recesses(
        labels, grid, geom, T.group_ids("needle_bone"), T.id("soft_tissue"), T.id("epidural_fat")
    )
    paint_nerve_roots(p, geom, T, shape=shape)
    paint_veins(p, geom, scenario.veins, T, shape=shape, wall_reach_mm=4.0)
    paint_defects(p, geom, scenario.defects, T, look=True, seed=scenario.scenario.seed)
    seed = scenario.scenario.seed if seed is None else int(seed)
    porosity, permeability, density = make_textured_fields(
        labels,
        grid,
        scenario.vertebra,
        T,
        seed=seed,
        condensed=condensed_band(labels, grid, geom, T),
    )
    for arr in (labels, porosity, permeability, density):
        arr.setflags(write=False)
    landmarks = make_landmarks(labels, grid, scenario, T, skin_y0_mm=skin_y0, geometry=geom)
    return Phantom(
        scenario_id=scenario.id,
        seed=seed,
        grid=grid,
        labels=labels,
        porosity=porosity,
        permeability_m2=permeability,
        permeability_anisotropy=(1.0, 1.0, float(scenario.vertebra.permeability_anisotropy)),
        geometry=geom,
        landmarks=landmarks,
        skin_y0_mm=skin_y0,
        build_time_s=time.perf_counter() - t0,
        bone_density=density,
        air_solids=thorax_air_solids(geom, name)
        + bowel_gas_solids(geom, scenario.scenario.seed, scenario.patient.bowel_gas),
        soft_tissue_mm=float(scenario.patient.soft_tissue_mm),
    )


def reseeded(phantom: Phantom, scenario, seed: int) -> Phantom:
    """``build_phantom(scenario, seed=seed)`` from ``phantom``, the same scenario's phantom
    built with another seed (today's anatomy): the seed changes only the bone heterogeneity,
    so only that is made again (a third of a build). Sweeps over seeds use it."""
    if phantom.scenario_id != scenario.id:
        raise ValueError(f"a phantom of {phantom.scenario_id!r}, not of {scenario.id!r}")
    if int(seed) == phantom.seed:
        return phantom
    T = tissues()
    labels, grid = phantom.labels, phantom.grid
    porosity, permeability, density = make_textured_fields(
        labels,
        grid,
        scenario.vertebra,
        T,
        seed=int(seed),
        condensed=condensed_band(labels, grid, scenario.mesh_geometry, T),
    )
    for arr in (porosity, permeability, density):
        arr.setflags(write=False)
    return replace(
        phantom, seed=int(seed), porosity=porosity, permeability_m2=permeability,
        bone_density=density,
    )  # fmt: skip


CONDENSED_MM = 3.0
"""Depth of the band of condensed, fractured trabeculae under a collapsed endplate (mm)."""


def condensed_band(labels: np.ndarray, grid: Grid, geom: VertebraGeometry, T) -> np.ndarray | None:
    """The treated body's cancellous bone within :data:`CONDENSED_MM` under its superior
    endplate where the wedge lowered it by more than a voxel (None without a wedge)."""
    body = geom.body
    if body.wedge_fraction <= 0.0:
        return None
    box = grid.box(
        (-body.half_width_mm, body.anterior_y_mm - 2.0, -body.height_mm / 2.0),
        (body.half_width_mm, body.wall_y_mm + 2.0, body.height_mm / 2.0 + 2.0),
    )
    out = np.zeros(labels.shape, dtype=bool)
    if box is None:
        return out
    lowered = body.height_mm - body.height_at(box.Y) > grid.voxel_mm
    near_top = body.top_z(box.X, box.Y) - CONDENSED_MM < box.Z
    out[box.slices] = (labels[box.slices] == T.id("cancellous")) & lowered & near_top
    return out
