"""The phantom of releases 0.1.0–0.3.0 (``ModelOptions.mesh_anatomy`` false): the treated
vertebra and its neighbours from analytic shapes (boxes, cylinders, ellipses). Logs of those
releases replay with it; new attempts use :mod:`simulator.anatomy.build`.

Painting order (later parts overwrite earlier ones only where stated): soft tissue to the
skin → great vessels → the vertebrae below and above (body, pedicles, arch) → discs → the
treated vertebra → canal and its contents → nerve roots → veins → defects. Then the
per-voxel fields: porosity and permeability from the tissue table, with a seeded log-normal
random field in the treated body's cancellous bone.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from simulator.anatomy.fields import make_fields
from simulator.anatomy.geometry import BodyShape, VertebraGeometry, skin_y_mm
from simulator.anatomy.grid import Frame, Grid, column_frames
from simulator.anatomy.landmarks import make_landmarks
from simulator.anatomy.parts import (
    Painter,
    VertebraLabels,
    paint_arch,
    paint_body,
    paint_pedicle,
)
from simulator.anatomy.phantom import Phantom
from simulator.anatomy.soft import (
    paint_canal,
    paint_defects,
    paint_great_vessels,
    paint_nerve_roots,
    paint_veins,
)
from simulator.assets import load_table
from simulator.materials import TissueTable, tissues


def build_legacy_phantom(scenario, *, seed: int | None = None) -> Phantom:
    """Rasterise ``scenario`` (a :class:`~simulator.scenario.Scenario`) to a phantom.

    ``seed`` overrides the scenario's seed; it changes only the bone heterogeneity.
    """
    t0 = time.perf_counter()
    T = tissues()
    anat = load_table("anatomy")
    shape = anat["shape"]
    level = anat["levels"][scenario.scenario.level]
    geom: VertebraGeometry = scenario.geometry
    body = geom.body
    vox = float(shape["voxel_mm"])
    skin_y0 = body.wall_y_mm + shape["skin_from_posterior_wall_mm"]
    H = body.height_mm
    disc_up, disc_down = level["disc_above_mm"], level["disc_below_mm"]
    half_x = max(level["transverse_span_mm"], body.half_width_mm) + 20.0
    # z: the whole vertebra above and below, and at least the fluoroscopy field's radius
    half_z = shape["min_half_height_mm"]
    lo = (
        -half_x,
        body.anterior_y_mm - shape["aorta_diameter_mm"] - 6.0,
        -max(H / 2 + disc_down + H + 2.0, half_z),
    )
    hi = (half_x, skin_y0 + 4.0, max(H / 2 + disc_up + H + 2.0, half_z))
    grid = Grid.covering(lo, hi, vox)
    labels = np.zeros(grid.shape, dtype=np.uint8)
    p = Painter(grid, labels)

    # soft tissue up to the skin
    X = grid.axis_mm(0)[:, None, None]
    Y = grid.axis_mm(1)[None, :, None]
    labels[np.broadcast_to(skin_y_mm(X, skin_y0_mm=skin_y0) >= Y, grid.shape)] = T.id("soft_tissue")
    paint_great_vessels(p, body, T, shape=shape)
    _paint_neighbours(p, geom, T, shape=shape, level=level, disc_up=disc_up, disc_down=disc_down)
    _paint_treated(p, scenario, geom, T, shape=shape, level=level)
    # the canal: straight through the treated and lower vertebrae, tilted with the one above;
    # the two pieces meet at the middle of the upper disc, behind the posterior wall
    frames = neighbour_frames(body, disc_up=disc_up, disc_down=disc_down)
    z_bottom, z_top = grid.extent_mm[2]
    z_split = H / 2 + disc_up / 2
    # the pieces overlap by 4 mm so that no bony septum is left where they meet
    paint_canal(p, geom.canal, T, shape=shape, z_range_mm=(z_bottom, z_split + 4.0))
    upper = Painter(grid, labels, frames["above"])
    split_local = float(frames["above"].to_local(body.wall_y_mm, z_split)[1])
    paint_canal(upper, geom.canal, T, shape=shape, z_range_mm=(split_local - 4.0, z_top + H))
    paint_nerve_roots(p, geom, T, shape=shape)
    paint_veins(p, geom, scenario.veins, T, shape=shape)
    paint_defects(p, geom, scenario.defects, T)

    seed = scenario.scenario.seed if seed is None else int(seed)
    porosity, permeability = make_fields(labels, grid, scenario.vertebra, T, seed=seed)
    for arr in (labels, porosity, permeability):
        arr.setflags(write=False)
    landmarks = make_landmarks(labels, grid, scenario, T, skin_y0_mm=skin_y0)
    aniso = scenario.vertebra.permeability_anisotropy
    return Phantom(
        scenario_id=scenario.id,
        seed=seed,
        grid=grid,
        labels=labels,
        porosity=porosity,
        permeability_m2=permeability,
        permeability_anisotropy=(1.0, 1.0, float(aniso)),
        geometry=geom,
        landmarks=landmarks,
        skin_y0_mm=skin_y0,
        build_time_s=time.perf_counter() - t0,
    )


def _labels(T: TissueTable, *, treated: bool) -> VertebraLabels:
    if treated:
        return VertebraLabels(
            cancellous=T.id("cancellous"),
            cortical=T.id("cortical"),
            endplate=T.id("endplate"),
            pedicle_cancellous=T.id("pedicle_cancellous"),
            pedicle_cortex=T.id("pedicle_cortex"),
            posterior=T.id("posterior_bone"),
        )
    canc, cort = T.id("adjacent_cancellous"), T.id("adjacent_cortical")
    return VertebraLabels(
        cancellous=canc,
        cortical=cort,
        endplate=cort,
        pedicle_cancellous=canc,
        pedicle_cortex=cort,
        posterior=T.id("posterior_bone"),
    )


def _paint_treated(p: Painter, scenario, geom, T, *, shape, level) -> None:
    lab = _labels(T, treated=True)
    cortex = scenario.vertebra.cortical_thickness_mm
    paint_body(p, geom.body, lab, cortex_mm=cortex)
    soft = T.ids("soft_tissue", "air", "posterior_bone", "adjacent_cortical", "adjacent_cancellous")
    paint_arch(
        p,
        geom.body,
        geom.canal,
        geom.pedicles,
        lab,
        shape=shape,
        transverse_span_mm=level["transverse_span_mm"],
        over=soft,
    )
    for ped in geom.pedicles.values():
        paint_pedicle(
            p, ped, lab, body=geom.body, cortex_mm=max(cortex, shape["pedicle_cortex_mm"])
        )


def neighbour_frames(body: BodyShape, *, disc_up: float, disc_down: float) -> dict[str, Frame]:
    """Frames of the vertebrae above and below: :func:`~simulator.anatomy.grid.column_frames`
    on a straight column (the vertebra above tilted by the wedge angle only)."""
    return column_frames(
        body, disc_up=disc_up, disc_down=disc_down, lordosis_up=0.0, lordosis_down=0.0
    )


def _paint_neighbours(p: Painter, geom, T, *, shape, level, disc_up, disc_down) -> None:
    """The vertebrae above and below (unfractured) and the two discs."""
    neighbour = replace(geom.body, wedge_fraction=0.0)
    lab = _labels(T, treated=False)
    soft = T.ids("soft_tissue", "air")
    frames = neighbour_frames(geom.body, disc_up=disc_up, disc_down=disc_down)
    for frame in frames.values():
        q = Painter(p.grid, p.labels, frame)
        paint_body(q, neighbour, lab, cortex_mm=1.0, over=soft)
        paint_arch(
            q,
            neighbour,
            geom.canal,
            geom.pedicles,
            lab,
            shape=shape,
            transverse_span_mm=level["transverse_span_mm"],
            over=soft,
        )
        for ped in geom.pedicles.values():
            paint_pedicle(q, ped, lab, body=neighbour, cortex_mm=shape["pedicle_cortex_mm"])
    _paint_discs(p, geom.body, neighbour, T, frames)


def _paint_discs(p: Painter, body: BodyShape, neighbour: BodyShape, T, frames) -> None:
    """Each disc fills the space between the treated body's endplate and the neighbour's, over
    either body's footprint."""
    g = p.grid
    z0, z1 = g.extent_mm[2]
    box = g.box(
        (-body.half_width_mm, body.anterior_y_mm - 3.0, z0),
        (body.half_width_mm, body.wall_y_mm, z1),
    )
    if box is None:
        return
    up_y, up_z = frames["above"].to_local(box.Y, box.Z)
    dn_y, dn_z = frames["below"].to_local(box.Y, box.Z)
    upper = (
        (body.top_z(box.X, box.Y) < box.Z)
        & (up_z < neighbour.bottom_z(box.X, up_y))
        & (body.in_plan(box.X, box.Y) | neighbour.in_plan(box.X, up_y))
    )
    lower = (
        (body.bottom_z(box.X, box.Y) > box.Z)
        & (dn_z > neighbour.top_z(box.X, dn_y))
        & (body.in_plan(box.X, box.Y) | neighbour.in_plan(box.X, dn_y))
    )
    p.paint(box, upper | lower, T.id("disc"), over=T.ids("soft_tissue", "air"))
