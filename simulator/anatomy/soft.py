"""Painters for the canal and its contents, veins, great vessels, nerve roots and defects."""

from __future__ import annotations

import itertools

import numpy as np

from simulator.anatomy.geometry import BodyShape, CanalShape, VertebraGeometry
from simulator.anatomy.grid import cylinder_mask, segment_box
from simulator.anatomy.lesions import (
    ENDPLATE_STEP_MM,
    paint_cleft_slit,
    paint_crack_fissure,
    paint_endplate_step,
    paint_lytic_lesion,
    paint_wall_gap,
)
from simulator.anatomy.parts import Painter
from simulator.materials import TissueTable


def paint_canal(
    p: Painter, canal: CanalShape, T: TissueTable, *, shape: dict, z_range_mm: tuple[float, float]
) -> None:
    """Carve the canal over the local z range: epidural fat, thecal sac, and the paired
    longitudinal veins of the anterior internal (epidural) venous plexus. Called once per
    frame, so the canal follows the tilted vertebra above a wedge."""
    z0, z1 = z_range_mm
    hw, d, yw = canal.half_width_mm, canal.depth_mm, canal.wall_y_mm
    box = p.box((-hw, yw, z0), (hw, yw + d, z1))
    if box is None:
        return
    inside = (yw < box.Y) & ((box.X / hw) ** 2 + ((box.Y - yw) / d) ** 2 <= 1.0)
    # the pedicles bound the canal laterally: carve through arch bone, never through them
    p.paint(box, inside, T.id("epidural_fat"), over=T.ids("air", "soft_tissue", "posterior_bone"))
    f = shape["thecal_sac_fraction"]
    yc = yw + 0.55 * d
    sac = (box.X / (hw * f)) ** 2 + ((box.Y - yc) / (0.5 * d * f)) ** 2 <= 1.0
    p.paint(box, inside & sac, T.id("thecal_sac"), over=T.ids("epidural_fat"))
    r = shape["epidural_vein_diameter_mm"] / 2.0
    for s in (1.0, -1.0):
        xv, yv = s * 0.45 * hw, yw + r + 0.5
        vbox = p.box((xv - r, yv - r, z0), (xv + r, yv + r, z1))
        if vbox is not None:
            m = (vbox.X - xv) ** 2 + (vbox.Y - yv) ** 2 <= r * r
            p.paint(vbox, m, T.id("epidural_vein"), over=T.ids("epidural_fat", "thecal_sac"))


def plexus_y(canal: CanalShape, shape: dict) -> float:
    """y of the anterior epidural plexus veins (mm)."""
    return canal.wall_y_mm + shape["epidural_vein_diameter_mm"] / 2.0 + 0.5


def paint_tube(p: Painter, p0, p1, radius_mm: float, label: int, *, over=None) -> None:
    """A capsule of ``radius_mm`` around the segment p0–p1, painted ``label``.

    The radius is raised to 0.75 voxel so a thin tube stays connected through faces.
    """
    r = max(radius_mm, 0.75 * p.grid.voxel_mm)
    lo, hi = segment_box(p0, p1, r)
    box = p.grid.box(lo, hi)
    if box is not None:
        p.paint(box, cylinder_mask(box, p0, p1, r), label, over=over)


def paint_veins(
    p: Painter, geom: VertebraGeometry, veins, T: TissueTable, *, shape: dict, wall_reach_mm=0.5
):
    """Basivertebral veins (a hub with four branches into the body, draining through the
    posterior wall foramen and a retro-corporeal anastomosis into the plexus), segmental
    veins on the lateral surface with their cortical foramina, extra epidural plexus veins.

    ``wall_reach_mm``: how far in front of the analytic wall the vein's exit through the
    epidural space starts (the measured shape's posterior wall is concave, up to ≈ 3 mm in
    front of it at mid-height)."""
    body, canal = geom.body, geom.canal
    bone = T.ids("cancellous", "cortical", "endplate", "cortical_defect", "cleft")
    yp = plexus_y(canal, shape)
    x_plexus = 0.45 * canal.half_width_mm
    (_, _), _, (z0, z1) = p.grid.extent_mm
    for vein in veins:
        x, y, z = vein.position_mm
        r = vein.diameter_mm / 2.0
        if vein.kind == "basivertebral":
            lab = T.id("basivertebral_vein")
            epi = T.ids("epidural_fat", "epidural_vein")
            paint_tube(p, (x, y, z), (x, canal.wall_y_mm, z), r, lab, over=bone)
            start = (x, canal.wall_y_mm - wall_reach_mm, z)
            paint_tube(p, start, (x, yp, z), r, lab, over=[*bone, *epi])
            paint_tube(
                p,
                (min(-x_plexus, x), yp, z),
                (max(x_plexus, x), yp, z),
                r * 0.8,
                T.id("epidural_vein"),
                over=epi,
            )
            # the intraosseous venous tree that drains into the hub: two branches toward the
            # anterolateral body (45 % of the depth) and two toward the sides (30 % of the
            # width), as the basivertebral system fans out through the cancellous bone
            depth, width = 2.0 * body.half_depth_mm, 2.0 * body.half_width_mm
            for s in (1.0, -1.0):
                for length, angle in ((0.45 * depth, 35.0), (0.3 * width, 80.0)):
                    a = np.radians(angle)
                    end = (x + s * length * np.sin(a), y - length * np.cos(a), z)
                    paint_tube(p, (x, y, z), end, 0.5 * r, lab, over=bone)
        elif vein.kind == "segmental":
            lab = T.id("segmental_vein")
            side = 1.0 if x >= 0 else -1.0
            y_front = body.anterior_y_mm * 0.7
            ys = np.linspace(y_front, body.wall_y_mm, 24)
            pts = [(side * (body.half_width_at(yy) + r + 0.3), yy, z) for yy in ys]
            for a, b in itertools.pairwise(pts):
                paint_tube(p, a, b, r, lab, over=T.ids("soft_tissue"))
            normal = np.array([x / body.half_width_mm**2, y / body.half_depth_mm**2, 0.0])
            normal /= np.linalg.norm(normal)
            on_wall = np.array([side * body.half_width_at(y), y, z])
            hole = shape["foramen_hole_mm"] / 2.0
            paint_tube(
                p,
                on_wall - 2.0 * normal,
                on_wall + (r + 1.0) * normal,
                hole,
                lab,
                over=[*bone, T.id("soft_tissue")],
            )
        else:
            paint_tube(
                p,
                (x, y, z0),
                (x, y, z1),
                r,
                T.id("epidural_vein"),
                over=T.ids("epidural_fat", "thecal_sac"),
            )


def paint_great_vessels(p: Painter, body: BodyShape, T: TissueTable, *, shape: dict) -> None:
    """Aorta (anterior-left) and inferior vena cava (anterior-right) along z."""
    (_, _), _, (z0, z1) = p.grid.extent_mm
    ra, rv = shape["aorta_diameter_mm"] / 2.0, shape["ivc_diameter_mm"] / 2.0
    front = body.anterior_y_mm
    for xc, yc, r in (
        (0.35 * body.half_width_mm, front - ra - 1.5, ra),
        (-0.9 * body.half_width_mm, front - rv + 2.0, rv),
    ):
        paint_tube(
            p, (xc, yc, z0), (xc, yc, z1), r, T.id("great_vessel"), over=T.ids("soft_tissue")
        )


def paint_nerve_roots(p: Painter, geom: VertebraGeometry, T: TissueTable, *, shape: dict):
    """Exiting nerve roots: from the lateral canal, under each pedicle, out through the
    neural foramen."""
    canal = geom.canal
    r = shape["nerve_root_diameter_mm"] / 2.0
    for ped in geom.pedicles.values():
        s = 1.0 if ped.side == "left" else -1.0
        z_top = ped.isthmus_mm[2] - ped.half_height_mm - r - 0.8
        a = (s * (canal.half_width_mm - 2.0), canal.wall_y_mm + 0.45 * canal.depth_mm, z_top)
        b = (s * (canal.half_width_mm + 14.0), canal.wall_y_mm + 0.1 * canal.depth_mm, z_top - 5.0)
        paint_tube(p, a, b, r, T.id("nerve_root"), over=T.ids("soft_tissue", "epidural_fat"))


def paint_defects(
    p: Painter,
    geom: VertebraGeometry,
    defects,
    T: TissueTable,
    *,
    look: bool = False,
    seed: int = 0,
) -> None:
    """Endplate cracks, posterior and lateral wall defects, intravertebral clefts and lytic
    lesions, in ``[[defects]]`` order.

    ``look`` False paints the fracture features exactly as release 0.3.0 did (logs of earlier
    releases replay bit-identically); True gives them the looks of
    :mod:`simulator.anatomy.lesions`: a cleft as a thin slit, an endplate crack with a 1.5 mm
    step, a posterior wall defect as a gap across the whole wall, a lateral wall defect
    through the painted side wall (:func:`paint_side_hole`). A gas cleft is ``cleft_gas`` in
    both. Lytic lesions (new, no old log has one) are painted the same either way; ``seed``
    (the scenario's seed) draws their lobulation, so it must not change with a seed override
    that is meant to change only the bone heterogeneity.
    """
    for index, defect in enumerate(defects):
        if defect.kind == "lytic_lesion":
            paint_lytic_lesion(p, geom, defect, T, seed=seed, index=index)
        elif look and defect.kind == "cleft":
            paint_cleft_slit(p, defect, T)
        elif look and defect.kind == "endplate_crack":
            top = paint_endplate_step(p, geom, defect, T)
            depth = 2.5 + ENDPLATE_STEP_MM
            paint_crack_fissure(p, geom, defect, T, top=top, depth_mm=depth)
        elif look and defect.kind == "posterior_wall":
            paint_wall_gap(p, geom, defect, T)
        elif look and defect.kind == "lateral_wall":
            paint_side_hole(p, geom, defect, T)
        else:
            _paint_feature(p, geom, defect, T)


def paint_side_hole(p: Painter, geom: VertebraGeometry, defect, T: TissueTable) -> None:
    """A lateral wall defect through the painted side wall: along the analytic outline's
    normal at the entry's (y, z), from 2.5 mm inside the body's outermost painted voxel to
    0.6 mm outside it (the measured shape's side wall lies up to ≈ 2 mm off the ellipse)."""
    body = geom.body
    x, y, z = defect.position_mm
    normal = np.array([x / body.half_width_mm**2, y / body.half_depth_mm**2, 0.0])
    normal /= np.linalg.norm(normal)
    side = 1.0 if x >= 0 else -1.0
    analytic = np.array([side * body.half_width_at(y), y, z])
    ts = np.arange(-6.0, 6.01, 0.25)
    pts = analytic + ts[:, None] * normal
    idx = p.grid.index_of(pts)
    ok = p.grid.inside(idx)
    bone = np.zeros(len(ts), dtype=bool)
    inside = T.ids("cancellous", "cortical", "endplate", "basivertebral_vein")
    bone[ok] = np.isin(p.labels[idx[ok, 0], idx[ok, 1], idx[ok, 2]], inside)
    on_wall = analytic + (ts[np.flatnonzero(bone)[-1]] if bone.any() else 0.0) * normal
    paint_tube(
        p, on_wall - 2.5 * normal, on_wall + 0.6 * normal, defect.size_mm / 2,
        T.id("cortical_defect"), over=inside,
    )  # fmt: skip


def _paint_feature(p: Painter, geom: VertebraGeometry, defect, T: TissueTable) -> None:
    """One fracture feature as release 0.3.0 painted it (a gas cleft: ``cleft_gas``)."""
    body = geom.body
    g = p.grid
    inside = T.ids("cancellous", "cortical", "endplate", "basivertebral_vein")
    x, y, z = defect.position_mm
    size = defect.size_mm
    if defect.kind == "cleft":
        box = g.box((x - size, y - size, z - size), (x + size, y + size, z + size))
        if box is not None:
            hz = max(size / 5.0, 1.5)
            m = ((box.X - x) / (size / 2)) ** 2 + ((box.Y - y) / (size / 2)) ** 2 + (
                (box.Z - z) / hz
            ) ** 2 <= 1.0
            label = T.id("cleft_gas" if defect.gas else "cleft")
            p.paint(box, m, label, over=T.ids("cancellous", "basivertebral_vein"))
    elif defect.kind == "endplate_crack":
        top = abs(z - float(body.top_z(x, y))) <= abs(z - float(body.bottom_z(x, y)))
        box = g.box((x - size / 2, y - 0.6, z - 6), (x + size / 2, y + 0.6, z + 6))
        if box is not None:
            surf = body.top_z(box.X, box.Y) if top else body.bottom_z(box.X, box.Y)
            out = 1.0 if top else -1.0
            dz = (box.Z - surf) * out
            m = (dz >= -2.5) & (dz <= 0.6)
            p.paint(box, m, T.id("endplate_crack"), over=inside)
            # the crack continues as a fissure 3 mm into the disc (the leak path)
            fissure = (dz > 0.0) & (dz <= 3.0)
            p.paint(box, fissure, T.id("disc_fissure"), over=T.ids("disc"))
    elif defect.kind == "posterior_wall":
        paint_tube(
            p,
            (x, body.wall_y_mm - 2.5, z),
            (x, body.wall_y_mm + 0.6, z),
            size / 2,
            T.id("cortical_defect"),
            over=inside,
        )
    else:  # lateral_wall
        normal = np.array([x / body.half_width_mm**2, y / body.half_depth_mm**2, 0.0])
        normal /= np.linalg.norm(normal)
        side = 1.0 if x >= 0 else -1.0
        on_wall = np.array([side * body.half_width_at(y), y, z])
        paint_tube(
            p,
            on_wall - 2.5 * normal,
            on_wall + 0.6 * normal,
            size / 2,
            T.id("cortical_defect"),
            over=inside,
        )
