"""Painters for the bony parts of a vertebra: body with shell and endplates, pedicles, neural
arch, lamina, spinous and transverse processes and facets.

The same painters draw the treated vertebra and (with ``adjacent_*`` labels and no wedge) its
neighbours. Every painter works in the vertebra's own frame through :meth:`Painter.box`; the
neighbours' painters carry a :class:`~simulator.anatomy.grid.Frame` that moves them into
place (the vertebra above tilted forward by the wedge).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from simulator.anatomy.geometry import BodyShape, CanalShape, PedicleShape
from simulator.anatomy.grid import Box, Frame, Grid

_SIX = ndimage.generate_binary_structure(3, 1)


@dataclass(frozen=True, kw_only=True)
class VertebraLabels:
    """Label ids used to paint one vertebra."""

    cancellous: int
    cortical: int
    endplate: int
    pedicle_cancellous: int
    pedicle_cortex: int
    posterior: int


class Painter:
    """Writes labels into a volume on sub-boxes, optionally only over some labels."""

    def __init__(self, grid: Grid, labels: np.ndarray, frame: Frame | None = None):
        self.grid = grid
        self.labels = labels
        self.frame = frame

    def box(self, lo_mm, hi_mm) -> Box | None:
        """The sub-box covering the local box [lo, hi] (mm), in local coordinates."""
        if self.frame is None:
            return self.grid.box(lo_mm, hi_mm)
        return self.frame.box(self.grid, lo_mm, hi_mm)

    def paint(self, box: Box, mask: np.ndarray, label: int, *, over=None) -> None:
        """Set ``label`` where ``mask`` (broadcastable to the box) holds, and the current label
        is one of ``over`` (any label when None)."""
        sub = self.labels[box.slices]
        m = np.broadcast_to(mask & box.in_bounds(), sub.shape)
        if over is not None:
            m = m & np.isin(sub, over)
        sub[m] = label


def watertight_inner(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``inner`` restricted to voxels whose six neighbours all lie in ``outer``.

    This makes the shell ``outer & ~result`` at least one voxel thick and closed in
    6-connectivity, so the porous interior never touches the outside through a face — cement
    can only leave through the openings the anatomy defines (veins, defects).
    """
    padded = np.pad(outer, 1, constant_values=False)
    core = ndimage.binary_erosion(padded, structure=_SIX)[1:-1, 1:-1, 1:-1]
    return inner & core


def paint_body(
    p: Painter,
    body: BodyShape,
    lab: VertebraLabels,
    *,
    cortex_mm: float,
    over=None,
) -> None:
    """Body: cancellous interior, side-wall cortex and endplates (top and bottom shell)."""
    lo = (-body.half_width_mm - 1, -body.half_depth_mm - 1, -body.height_mm / 2 - 2)
    hi = (body.half_width_mm + 1, body.wall_y_mm + 1, body.height_mm / 2 + 2)
    box = p.box(lo, hi)
    if box is None:
        return
    z = box.Z
    outer = body.contains(box.X, box.Y, z)
    inner = watertight_inner(outer, body.contains(box.X, box.Y, z, inset_mm=cortex_mm))
    shell = outer & ~inner
    under_endplate = body.in_plan(box.X, box.Y, inset_mm=cortex_mm)
    p.paint(box, inner, lab.cancellous, over=over)
    p.paint(box, shell & ~under_endplate, lab.cortical, over=over)
    p.paint(box, shell & under_endplate, lab.endplate, over=over)


def pedicle_masks(box: Box, ped: PedicleShape, *, cortex_mm: float):
    """(outer, inner) masks of a pedicle cylinder on ``box``; inner is watertight."""
    c = np.asarray(ped.isthmus_mm)
    ax = np.asarray(ped.axis)
    lat = np.array([ax[1], -ax[0], 0.0])
    rx, ry, rz = box.X - c[0], box.Y - c[1], box.Z - c[2]
    u = rx * ax[0] + ry * ax[1]
    v = rx * lat[0] + ry * lat[1]
    along = (u >= -ped.behind_mm) & (u <= ped.into_body_mm)

    def ell(hw: float, hh: float):
        return (v / hw) ** 2 + (rz / hh) ** 2 <= 1.0

    outer = along & ell(ped.half_width_mm, ped.half_height_mm)
    # the core runs on past the posterior end so erosion leaves that end open: the pedicle's
    # cancellous bone continues into the posterior elements (the needle's entry point)
    open_end = (u >= -ped.behind_mm - 2.0) & (u <= ped.into_body_mm)
    inner_w = max(ped.half_width_mm - cortex_mm, 0.25)
    inner_h = max(ped.half_height_mm - cortex_mm, 0.25)
    inner = watertight_inner(
        open_end & ell(ped.half_width_mm, ped.half_height_mm), open_end & ell(inner_w, inner_h)
    )
    return outer, inner & along


def pedicle_box(p: Painter, ped: PedicleShape) -> Box | None:
    """The sub-box holding a pedicle cylinder."""
    c = np.asarray(ped.isthmus_mm)
    ax = np.asarray(ped.axis)
    ends = [c + ax * ped.into_body_mm, c - ax * ped.behind_mm]
    r = max(ped.half_width_mm, ped.half_height_mm) + 1.0
    lo = np.minimum(*ends) - r
    hi = np.maximum(*ends) + r
    return p.box(lo, hi)


def paint_pedicle(
    p: Painter,
    ped: PedicleShape,
    lab: VertebraLabels,
    *,
    body: BodyShape,
    cortex_mm: float,
) -> None:
    """A pedicle: cortex ring and cancellous core, outside the body's axial footprint. Where
    the core meets the body's side wall the wall is opened (the pedicle's cancellous bone is
    continuous with the body's); the body's interior and endplates are never overwritten, and
    nothing is painted above or below the body inside its footprint."""
    box = pedicle_box(p, ped)
    if box is None:
        return
    outer, inner = pedicle_masks(box, ped, cortex_mm=cortex_mm)
    sub = p.labels[box.slices]
    body_any = np.isin(sub, [lab.cancellous, lab.cortical, lab.endplate])
    outside = ~body.in_plan(box.X, box.Y) & ~body_any
    sub[inner & (sub == lab.cortical)] = lab.pedicle_cancellous
    sub[outer & ~inner & outside] = lab.pedicle_cortex
    sub[inner & outside] = lab.pedicle_cancellous
    # the pedicle's base: posterior-element bone behind its open end (facet/transverse
    # process junction), so the core is capped by bone, not soft tissue
    ax = np.asarray(ped.axis)
    back = np.asarray(ped.isthmus_mm) - ax * (ped.behind_mm + 2.5)
    base_shape = replace(
        ped,
        isthmus_mm=tuple(back),
        into_body_mm=3.0,
        behind_mm=3.0,
        half_width_mm=ped.half_width_mm + 1.0,
        half_height_mm=ped.half_height_mm + 1.0,
    )
    base_box = pedicle_box(p, base_shape)
    if base_box is not None:
        base_outer, _ = pedicle_masks(base_box, base_shape, cortex_mm=1.0)
        keep = [
            lab.pedicle_cancellous,
            lab.pedicle_cortex,
            lab.cancellous,
            lab.cortical,
            lab.endplate,
        ]
        p.paint(base_box, base_outer & ~np.isin(p.labels[base_box.slices], keep), lab.posterior)


def paint_arch(
    p: Painter,
    body: BodyShape,
    canal: CanalShape,
    peds: dict[str, PedicleShape],
    lab: VertebraLabels,
    *,
    shape: dict,
    transverse_span_mm: float,
    over,
) -> None:
    """Neural arch: a bony ring round the canal at pedicle level, the laminae, the spinous
    process, transverse processes and the four articular processes (facets)."""
    g = p
    ped = peds["left"]
    zc = ped.isthmus_mm[2]
    hh = ped.half_height_mm
    hw, d, yw = canal.half_width_mm, canal.depth_mm, canal.wall_y_mm

    def expanded(box: Box, t: float):
        return (yw - t <= box.Y) & ((box.X / (hw + t)) ** 2 + ((box.Y - yw) / (d + t)) ** 2 <= 1.0)

    t_arch, t_lam = shape["arch_thickness_mm"], shape["lamina_thickness_mm"]
    # ring at pedicle level: closes the canal on the axial slices through the pedicles
    box = g.box((-hw - t_arch, yw - t_arch, zc - hh), (hw + t_arch, yw + d + t_arch, zc + hh))
    if box is not None:
        p.paint(box, expanded(box, t_arch), lab.posterior, over=over)
    # laminae: the posterior part of the ring, taller, reaching below the body
    z_lo = zc - hh - 0.45 * body.height_mm
    box = g.box((-hw - t_lam, yw + 0.4 * d, z_lo), (hw + t_lam, yw + d + t_lam, zc + hh))
    if box is not None:
        p.paint(box, expanded(box, t_lam) & (yw + 0.4 * d <= box.Y), lab.posterior, over=over)
    # spinous process: a sagittal plate sloping caudally
    y0 = yw + d + t_lam - 1.0
    y1 = y0 + shape["spinous_length_mm"]
    half_t = shape["spinous_width_mm"] / 2.0
    box = g.box((-half_t, y0, zc - hh - 0.5 * shape["spinous_length_mm"] - 8), (half_t, y1, zc + 4))
    if box is not None:
        zmid = zc - 4.0 - 0.35 * (box.Y - y0)
        half_h = 7.0 - 2.0 * (box.Y - y0) / (y1 - y0)
        taper = np.abs(box.X) <= half_t * (1.0 - 0.3 * (box.Y - y0) / (y1 - y0))
        p.paint(box, taper & (np.abs(box.Z - zmid) <= half_h), lab.posterior, over=over)
    for s in (1.0, -1.0):
        # transverse process: a bar from the pedicle–lamina junction to the tip
        x0 = s * (hw + 2.0)
        ty0 = yw + 0.55 * d
        box = g.box(
            (min(x0, s * transverse_span_mm), ty0 - 6, zc - 6),
            (max(x0, s * transverse_span_mm), ty0 + 12, zc + 6),
        )
        if box is not None:
            ax_ = np.abs(box.X)
            yc = ty0 + 0.25 * (ax_ - abs(x0))
            r_y, r_z = 3.0, 4.5 - 1.5 * (ax_ - abs(x0)) / (transverse_span_mm - abs(x0))
            bar = ((box.Y - yc) / r_y) ** 2 + ((box.Z - zc) / r_z) ** 2 <= 1.0
            p.paint(
                box,
                bar & (s * box.X >= abs(x0)) & (ax_ <= transverse_span_mm),
                lab.posterior,
                over=over,
            )
        # superior articular process (up) and inferior articular process (down)
        for xc, yc, r, z0, z1 in (
            (s * (hw + 3.0), yw + 0.85 * d, 3.8, zc, zc + hh + 7.0),
            (s * (hw - 0.5), yw + d + 2.0, 3.2, zc - hh - 0.55 * body.height_mm, zc),
        ):
            box = g.box((xc - r, yc - r, z0), (xc + r, yc + r, z1))
            if box is not None:
                col = (box.X - xc) ** 2 + (box.Y - yc) ** 2 <= r * r
                p.paint(box, col, lab.posterior, over=over)
