"""Ribs and lungs around a thoracic level, in LPS millimetres (issue 14).

Ribs are painted into the voxel grid only (they leave it within a few centimetres). The lungs
are :class:`~simulator.anatomy.air.AirSolid` pieces shared by the grid painter
(:func:`paint_lungs`, label ``lung`` at the voxel centres inside the solids) and the
fluoroscopy's closed form outside the grid (``simulator.fluoro.air_cast``), so the two agree:
inside the grid's box the labels count, outside it the closed form, never both.

Frame: the treated body's (``simulator.anatomy.geometry``): z = 0 at the middle of its
posterior wall; the other levels sit at the heights of :func:`level_z_mm`. Numbers: the
``[thorax]`` table of ``assets/anatomy.toml``.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.anatomy.air import AirSolid
from simulator.anatomy.geometry import VertebraGeometry
from simulator.anatomy.grid import cylinder_mask, segment_box
from simulator.anatomy.parts import Painter
from simulator.assets import load_table
from simulator.materials import TissueTable, tissues


def has_ribs(level: str) -> bool:
    """True for a thoracic level (every T vertebra carries a pair of ribs)."""
    return level.startswith("T")


def level_z_mm(treated: str, other: str, *, treated_height_mm: float | None = None) -> float:
    """z (mm) of the middle of ``other``'s body in the frame of ``treated`` (its middle at
    z = 0), stacking the levels' posterior heights and discs of ``assets/anatomy.toml``;
    ``treated_height_mm`` replaces the treated body's table height."""
    levels = load_table("anatomy")["levels"]
    order = list(levels)
    i, j = order.index(treated), order.index(other)

    def height(name: str) -> float:
        if name == treated and treated_height_mm is not None:
            return float(treated_height_mm)
        return float(levels[name]["body_height_mm"])

    z = 0.0
    for k in range(min(i, j), max(i, j)):
        upper, lower = order[k], order[k + 1]
        z += height(upper) / 2 + float(levels[upper]["disc_below_mm"]) + height(lower) / 2
    return -z if j > i else z


def rib_levels(level: str, geom: VertebraGeometry) -> tuple[tuple[str, float], ...]:
    """(level, z offset mm) of the vertebrae in the volume that carry ribs: the treated one and
    its neighbours, placed as the builder places them (the same body, one disc apart)."""
    levels = load_table("anatomy")["levels"]
    order = list(levels)
    i = order.index(level)
    row = levels[level]
    H = geom.body.height_mm
    out = [(level, 0.0)]
    if i > 0:
        out.append((order[i - 1], H + float(row["disc_above_mm"])))
    if i + 1 < len(order):
        out.append((order[i + 1], -(H + float(row["disc_below_mm"]))))
    return tuple((name, dz) for name, dz in out if has_ribs(name))


def paint_ribs(
    p: Painter,
    geom: VertebraGeometry,
    T: TissueTable,
    *,
    level: str,
    shape: dict,
    z_offsets_mm: tuple[float, ...] | None = None,
) -> None:
    """A pair of ribs (label ``rib``) on every rib-bearing vertebra of the volume: the head on
    the costovertebral joint at the posterolateral body by its upper disc, the neck running
    posterolaterally to the tubercle on the transverse process tip, then the shaft on a
    circular arc laterally, forward and down out of the grid. Painted over soft tissue and
    lung only, so bone is never overwritten.

    ``z_offsets_mm``: the vertebrae's heights (mm; default :func:`rib_levels`, which paints
    no rib at a lumbar level). ``shape``: the ``[shape]`` table (unused today; kept for the
    builder's uniform calls).
    """
    del shape
    anat = load_table("anatomy")
    thor = anat["thorax"]
    span = float(anat["levels"][level]["transverse_span_mm"])
    if z_offsets_mm is None:
        z_offsets_mm = tuple(dz for _, dz in rib_levels(level, geom))
    over = T.ids("soft_tissue", "lung")
    for dz in z_offsets_mm:
        for side in ("left", "right"):
            _paint_rib(p, geom, T.id("rib"), side=side, dz=dz, span=span, thor=thor, over=over)


def rib_points_mm(geom: VertebraGeometry, *, side: str, dz: float, span: float):
    """(head, tubercle) centres (mm) of one rib of the vertebra at height ``dz``."""
    body, canal = geom.body, geom.canal
    s = 1.0 if side == "left" else -1.0
    head = (s * (body.half_width_mm - 2.0), body.wall_y_mm - 6.0, dz + body.height_mm / 2.0)
    # the transverse process's axis at its tip (parts.paint_arch: it runs back 0.25 mm per mm
    # outward from ty0); the tubercle is aimed at its axis and stops at its front face
    ty0 = body.wall_y_mm + 0.55 * canal.depth_mm
    tip_y = ty0 + 0.25 * (span - body.half_width_mm - 2.0)
    tubercle = (s * (span - 2.0), tip_y, dz + geom.pedicles[side].isthmus_mm[2])
    return head, tubercle


def _paint_rib(p: Painter, geom, label: int, *, side, dz, span, thor, over) -> None:
    head, tubercle = rib_points_mm(geom, side=side, dz=dz, span=span)
    r_head = float(thor["rib_head_radius_mm"])
    box = p.box(np.subtract(head, r_head), np.add(head, r_head))
    if box is not None:
        m = (box.X - head[0]) ** 2 + (box.Y - head[1]) ** 2 + (box.Z - head[2]) ** 2
        p.paint(box, m <= r_head**2, label, over=over)
    r_neck = float(thor["rib_neck_radius_mm"])
    lo, hi = segment_box(head, tubercle, r_neck)
    box = p.box(lo, hi)
    if box is not None:
        p.paint(box, cylinder_mask(box, head, tubercle, r_neck), label, over=over)
    _paint_shaft(p, label, side=side, start=np.asarray(tubercle), thor=thor, over=over)


def _paint_shaft(p: Painter, label: int, *, side, start, thor, over) -> None:
    """The shaft: an elliptic tube (height × thickness) on a circular arc of radius R from
    the tubercle, starting posterolaterally and turning laterally then forward, its plane
    tilted down anteriorly by the descent angle."""
    s = 1.0 if side == "left" else -1.0
    R = float(thor["rib_arc_radius_mm"])
    th, beta = math.radians(thor["rib_start_deg"]), math.radians(thor["rib_descent_deg"])
    tangent = np.array([s * math.cos(th), math.sin(th), 0.0])
    inward = np.array([s * math.sin(th), -math.cos(th), 0.0])
    centre = start + R * inward
    e1 = -inward
    e2 = math.cos(beta) * tangent - math.sin(beta) * np.array([0.0, 0.0, 1.0])
    w = np.cross(e1, e2)
    phi_max = math.radians(thor["rib_arc_deg"])
    half_h, half_t = 0.5 * float(thor["rib_height_mm"]), 0.5 * float(thor["rib_thickness_mm"])
    phis = np.linspace(0.0, phi_max, 64)
    pts = centre + R * (np.cos(phis)[:, None] * e1 + np.sin(phis)[:, None] * e2)
    box = p.box(pts.min(axis=0) - half_h, pts.max(axis=0) + half_h)
    if box is None:
        return
    rx, ry, rz = box.X - centre[0], box.Y - centre[1], box.Z - centre[2]
    a = rx * e1[0] + ry * e1[1] + rz * e1[2]
    b = rx * e2[0] + ry * e2[1] + rz * e2[2]
    h = rx * w[0] + ry * w[1] + rz * w[2]
    phi = np.arctan2(b, a)
    ring = ((np.hypot(a, b) - R) / half_t) ** 2 + (h / half_h) ** 2 <= 1.0
    p.paint(box, ring & (phi >= 0.0) & (phi <= phi_max), label, over=over)


def thorax_air_solids(geom: VertebraGeometry, level: str) -> tuple[AirSolid, ...]:
    """The two lungs (label ``lung``, Δμ = μ_lung − μ_soft) around ``level``, one
    :class:`AirSolid` per side: an ellipsoid reaching the inner chest wall, cut medially
    ``paraspinal_margin_mm`` off the body's side (and the rib heads on it), further out
    forward by the mediastinum, behind by the paravertebral gutter just behind the transverse
    processes, below by the posterior costophrenic recess (``recess_level``'s upper endplate),
    minus the diaphragm's dome. At T5–T10 the lungs fill the sides of the volume; at T12–L1
    only their lower tips reach it; below, they lie above the grid (the closed form still
    counts what a ray crosses)."""
    anat = load_table("anatomy")
    thor, levels = anat["thorax"], anat["levels"]
    t = tissues()
    dmu = float(t.mu_per_mm[t.id("lung")] - t.mu_per_mm[t.id("soft_tissue")])
    body = geom.body
    recess = thor["recess_level"]
    z_rec = level_z_mm(level, recess, treated_height_mm=body.height_mm)
    z_rec += 0.5 * (body.height_mm if recess == level else levels[recess]["body_height_mm"])
    x_m = body.half_width_mm + float(thor["paraspinal_margin_mm"])
    y_head = body.wall_y_mm - 6.0
    y_post = body.wall_y_mm + 0.55 * geom.canal.depth_mm + float(thor["gutter_behind_tp_mm"])
    slope = float(thor["mediastinum_slope"])
    back_slope = float(thor["posterior_sulcus_slope"])
    lateral, front = float(thor["lung_lateral_mm"]), float(thor["lung_anterior_mm"])
    x_lo, y_hi = x_m - 40.0, y_post + 25.0 + 0.5 * back_slope * (lateral - x_m)
    solids = []
    for s in (1.0, -1.0):
        dome_c, dome_a = _dome(thor, s=s, gutter=(x_m + 2.0, body.wall_y_mm + 5.0), z_rec=z_rec)
        planes = (
            (-s, 0.0, 0.0, -x_m),
            (-s, -slope, 0.0, -x_m - slope * y_head),
            # behind, the lung follows the ribs back: its posterior surface runs from the
            # gutter beside the spine toward the back's chest wall laterally
            (-s * back_slope, 1.0, 0.0, y_post - back_slope * x_m),
            (0.0, 0.0, -1.0, -z_rec),
        )
        solids.append(
            AirSolid(
                centre_mm=(s * 0.5 * (x_lo + lateral), 0.5 * (front + y_hi), z_rec + 150.0),
                semi_axes_mm=(0.5 * (lateral - x_lo), 0.5 * (y_hi - front), 260.0),
                delta_mu_per_mm=dmu,
                planes=planes,
                minus_centre_mm=dome_c,
                minus_semi_axes_mm=dome_a,
                in_grid_label="lung",
            )
        )
    return tuple(solids)


def _dome(thor: dict, *, s: float, gutter: tuple[float, float], z_rec: float):
    """(centre, semi-axes) of one side's dome: through the gutter point (|x|, y) 8 mm above
    the recess, its apex ``dome_apex_above_recess_mm`` above it; the right one raised."""
    cx, cy = float(thor["dome_centre_x_mm"]), float(thor["dome_centre_y_mm"])
    ax, ay = float(thor["dome_semi_x_mm"]), float(thor["dome_semi_y_mm"])
    u = ((gutter[0] - cx) / ax) ** 2 + ((gutter[1] - cy) / ay) ** 2
    rise = float(thor["dome_apex_above_recess_mm"]) - 8.0
    c = rise / (1.0 - math.sqrt(1.0 - u)) if u < 1.0 else rise
    raise_mm = float(thor["right_dome_higher_mm"]) if s < 0 else 0.0
    zc = z_rec + float(thor["dome_apex_above_recess_mm"]) - c + raise_mm
    return (s * cx, cy, zc), (ax, ay, c)


def paint_lungs(p: Painter, geom: VertebraGeometry, T: TissueTable, *, level: str, shape: dict):
    """Paint the lungs of :func:`thorax_air_solids` (label ``lung``) at the voxel centres
    inside them, over soft tissue only (bone, vessels, canal and ribs stay). ``shape``: the
    ``[shape]`` table (unused today)."""
    del shape
    paint_air_solids(p, thorax_air_solids(geom, level), T)


def paint_air_solids(p: Painter, solids, T: TissueTable) -> None:
    """Paint each solid that has an ``in_grid_label`` at the voxel centres inside it, over
    soft tissue only, one z slab at a time (to keep the temporaries small)."""
    g = p.grid
    for solid in solids:
        if solid.in_grid_label is None:
            continue
        lo, hi = solid.bounds_mm()
        z0, z1 = g.extent_mm[2]
        for za in np.arange(max(lo[2], z0 - 1.0), min(hi[2], z1 + 1.0), 16.0):
            box = g.box((lo[0], lo[1], za), (hi[0], hi[1], min(za + 16.0, hi[2]) - 1e-6))
            if box is not None:
                m = solid.contains(box.X, box.Y, box.Z)
                p.paint(box, m, T.id(solid.in_grid_label), over=T.ids("soft_tissue"))
