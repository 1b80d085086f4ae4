"""The vertebrae of the phantom from the measured mean shape: warped (:mod:`.warp`), then
labelled — cortex and cancellous bone, endplates, pedicles, posterior elements — and the discs
between them.

Labelling of one warped vertebra (its voxels ``whole``):

- the **cortex** is what a 6-connected erosion by the cortical thickness removes (at least one
  voxel, closed in 6-connectivity: :func:`~simulator.anatomy.parts.watertight_inner`); the rest
  is cancellous bone;
- the **pedicle** is the bone behind the body within the analytic pedicle's cylinder
  (:class:`~simulator.anatomy.geometry.PedicleShape`, grown by :data:`PEDICLE_MARGIN_MM`), so
  the needle's pedicle and the planner's agree; its cortex is at least 1 mm;
- the body's cortex facing up or down (within 40° of z) is **endplate**, the rest side wall;
- the rest of the posterior elements are one ``posterior`` label (lamina, processes, facets).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from simulator.anatomy.geometry import VertebraGeometry
from simulator.anatomy.grid import Box, Frame, Grid
from simulator.anatomy.mesh_bone import source_bone
from simulator.anatomy.parts import VertebraLabels
from simulator.anatomy.warp import Morph, make_tables, rasterise

_SIX = ndimage.generate_binary_structure(3, 1)
PEDICLE_MARGIN_MM = 1.5
"""The analytic pedicle's cylinder is grown by this much to hold the warped pedicle's walls."""


@dataclass(frozen=True, kw_only=True, eq=False)
class PaintedVertebra:
    """Where one vertebra was painted: its world ``slices`` and, on them, ``body`` (the body's
    voxels, any label) and ``frame`` (None: the treated vertebra's)."""

    slices: tuple[slice, slice, slice]
    body: np.ndarray
    frame: Frame | None


def _erode(mask: np.ndarray, n: int) -> np.ndarray:
    padded = np.pad(mask, 1, constant_values=False)
    return ndimage.binary_erosion(padded, structure=_SIX, iterations=max(n, 1))[1:-1, 1:-1, 1:-1]


def _facing_up_or_down(whole: np.ndarray) -> np.ndarray:
    """Voxels where the bone's surface faces mostly up or down (the normal of the smoothed
    mask within 40° of z): the endplates, not the side or posterior walls."""
    g = ndimage.gaussian_filter(whole.astype(np.float32), 1.0)
    gx, gy, gz = np.gradient(g)
    return gz * gz > 0.6 * (gx * gx + gy * gy + gz * gz) + 1e-6


def vertebra_box(geom: VertebraGeometry, morph: Morph) -> tuple[tuple, tuple]:
    """The local box (lo, hi) mm that holds a warped vertebra of ``geom``."""
    b, c = geom.body, geom.canal
    span = morph.transverse_span_mm + 6.0
    h = b.height_mm
    back = b.wall_y_mm + c.depth_mm + 3.2 * h
    return (-span, b.anterior_y_mm - 4.0, -h / 2 - 0.9 * h), (span, back, h / 2 + 0.75 * h)


def member(values: np.ndarray, ids) -> np.ndarray:
    """``np.isin(values, ids)`` for uint8 labels, by a lookup table (faster)."""
    lut = np.zeros(256, dtype=bool)
    lut[np.asarray(ids, dtype=np.int64)] = True
    return lut[values]


def _crop(region: np.ndarray, sl):
    """The region's bounding box (+1 voxel) and its slices in the world."""
    idx = [np.nonzero(region.any(axis=tuple(b for b in range(3) if b != a)))[0] for a in range(3)]
    if any(len(i) == 0 for i in idx):
        return None, None
    cut = tuple(slice(max(int(i[0]) - 1, 0), int(i[-1]) + 2) for i in idx)
    world = tuple(
        slice(s.start + c.start, s.start + min(c.stop, s.stop - s.start))
        for s, c in zip(sl, cut, strict=True)
    )
    return region[cut], world


def _pedicle_zone(grid: Grid, sl, frame: Frame | None, geom: VertebraGeometry) -> np.ndarray:
    """Voxels of the box ``sl`` inside either analytic pedicle cylinder grown by
    :data:`PEDICLE_MARGIN_MM` (its own sub-box only)."""
    out = np.zeros(tuple(s.stop - s.start for s in sl), dtype=bool)
    box = Box(grid, sl, frame)
    for ped in geom.pedicles.values():
        c = np.asarray(ped.isthmus_mm)
        ax = np.asarray(ped.axis)
        lat = np.array([ax[1], -ax[0], 0.0])
        rx, ry, rz = box.X - c[0], box.Y - c[1], box.Z - c[2]
        u = rx * ax[0] + ry * ax[1]
        v = rx * lat[0] + ry * lat[1]
        hw = ped.half_width_mm + PEDICLE_MARGIN_MM
        hh = ped.half_height_mm + PEDICLE_MARGIN_MM
        out |= (
            (u >= -ped.behind_mm)
            & (u <= ped.into_body_mm)
            & ((v / hw) ** 2 + (rz / hh) ** 2 <= 1.0)
        )
    return out


def _one_piece_per_side(ped: np.ndarray, grid: Grid, sl) -> np.ndarray:
    """The largest 6-connected piece of ``ped`` on each side of the midline (bits of the
    articular processes the grown cylinder also caught go back to the posterior elements)."""
    x = grid.axis_mm(0)[sl[0]][:, None, None]
    out = np.zeros_like(ped)
    for side in (ped & (x > 0), ped & (x < 0)):
        pieces, n = ndimage.label(side, structure=_SIX)
        if n:
            sizes = np.bincount(pieces.ravel())[1:]
            out |= pieces == 1 + int(np.argmax(sizes))
    return out


def close_canal_ring(p, geom: VertebraGeometry, label: int, soft_ids, *, thickness_mm: float):
    """Close the canal's bony ring behind it at the pedicles' height: the band
    ``thickness_mm`` outside the analytic canal's posterior half becomes ``label`` where it is
    soft tissue (the warped laminae of a small vertebra with low pedicles can miss the midline
    there). ``p``: a :class:`~simulator.anatomy.parts.Painter`, framed for a neighbour."""
    c = geom.canal
    ped = geom.pedicles["left"]
    zc, hh = ped.isthmus_mm[2], ped.half_height_mm
    hw, d, yw, t = c.half_width_mm, c.depth_mm, c.wall_y_mm, thickness_mm
    box = p.box((-hw - t, yw + 0.4 * d, zc - hh), (hw + t, yw + d + t, zc + hh))
    if box is None:
        return
    r_in = (box.X / hw) ** 2 + ((box.Y - yw) / d) ** 2
    r_out = (box.X / (hw + t)) ** 2 + ((box.Y - yw) / (d + t)) ** 2
    p.paint(box, (r_in > 1.0) & (r_out <= 1.0) & (yw + 0.4 * d <= box.Y), label, over=soft_ids)


def fill_canal_recesses(labels: np.ndarray, grid: Grid, geom, bone_ids, soft_id, fat_id):
    """Soft tissue enclosed by bone on an axial slice around the canal becomes epidural fat
    (the mean shape's canal is wider in its lateral recesses than the analytic one), and so
    does the soft tissue between the body's concave posterior wall and the analytic canal's
    flat front (up to 5 mm in front of it, across the canal's width): the anterior epidural
    space."""
    c = geom.canal
    front = grid.box(
        (-0.9 * c.half_width_mm, c.wall_y_mm - 5.0, grid.extent_mm[2][0]),
        (0.9 * c.half_width_mm, c.wall_y_mm + 1.0, grid.extent_mm[2][1]),
    )
    if front is not None:
        sub = labels[front.slices]
        sub[sub == soft_id] = fat_id
    box = grid.box(  # from inside the body (its back is up to ≈ 5 mm in front of wall_y)
        (-c.half_width_mm - 12.0, c.wall_y_mm - 9.0, grid.extent_mm[2][0]),
        (c.half_width_mm + 12.0, c.wall_y_mm + c.depth_mm + 12.0, grid.extent_mm[2][1]),
    )
    if box is None:
        return
    sub = labels[box.slices]
    bone = member(sub, bone_ids)
    flat = np.zeros((3, 3, 3), dtype=bool)
    flat[:, :, 1] = ndimage.generate_binary_structure(2, 1)
    holes = ndimage.binary_fill_holes(bone, structure=flat) & ~bone
    sub[holes & (sub == soft_id)] = fat_id


def paint_vertebra(
    labels: np.ndarray,
    grid: Grid,
    geom: VertebraGeometry,
    morph: Morph,
    lab: VertebraLabels,
    *,
    frame: Frame | None,
    cortex_mm: float,
    pedicle_cortex_mm: float,
    over,
) -> PaintedVertebra | None:
    """Warp the mean vertebra to ``geom`` (+ ``morph``), place it by ``frame`` and paint it
    with ``lab`` over the labels ``over`` (mm)."""
    src = source_bone()
    lo, hi = vertebra_box(geom, morph)
    region, sl = rasterise(src, make_tables(src, geom, morph), grid, frame, lo, hi)
    if region is None:
        return None
    region, sl = _crop(region, sl)
    if region is None:
        return None
    whole = region > 0
    body = region == 1
    vox = grid.voxel_mm
    ped = _one_piece_per_side(whole & ~body & _pedicle_zone(grid, sl, frame, geom), grid, sl)
    n_body = max(round(cortex_mm / vox), 1)
    n_ped = max(round(pedicle_cortex_mm / vox), 1)
    # the body's shell closes it everywhere but into the pedicles; the pedicle's core runs on
    # into the posterior elements (where the needle enters)
    inner = np.where(ped, _erode(whole, n_ped), _erode(body | ped, n_body) & body)
    shell = whole & ~inner
    endplate = shell & body & _facing_up_or_down(whole)
    sub = labels[sl]
    free = member(sub, over)
    for mask, label in (
        (body & inner, lab.cancellous),
        (body & shell & ~endplate, lab.cortical),
        (endplate, lab.endplate),
        (ped & inner, lab.pedicle_cancellous),
        (ped & shell, lab.pedicle_cortex),
        (whole & ~body & ~ped, lab.posterior),
    ):
        sub[mask & free] = label
    return PaintedVertebra(slices=sl, body=body & free, frame=frame)


def paint_discs(labels: np.ndarray, pieces, disc_label: int, over, *, max_gap_vox):
    """Fill each column (x, y) between two stacked bodies with disc, over ``over`` labels.

    ``pieces``: the painted vertebrae from the lowest to the highest; each gap between one
    body's highest voxel and the next body's lowest voxel in a column is disc where both bodies
    cover that column and the gap is at most that pair's ``max_gap_vox`` (per y index of the
    grid: a column through the lip of a concave posterior wall, or through the anterior lip
    left under a collapsed, waisted front, would otherwise bridge a whole body).
    """
    x0 = min(p.slices[0].start for p in pieces)
    x1 = max(p.slices[0].stop for p in pieces)
    y0 = min(p.slices[1].start for p in pieces)
    y1 = max(p.slices[1].stop for p in pieces)
    box = (slice(x0, x1), slice(y0, y1), slice(None))
    region = labels[box]
    nz = region.shape[2]
    full = []
    for piece in pieces:
        m = np.zeros(region.shape, dtype=bool)
        xs, ys, zs = piece.slices
        m[xs.start - x0 : xs.stop - x0, ys.start - y0 : ys.stop - y0, zs] = piece.body
        full.append(m)
    for (lower, upper), limit in zip(itertools.pairwise(full), max_gap_vox, strict=True):
        has_lo = lower.any(axis=2)
        has_up = upper.any(axis=2)
        top = nz - 1 - np.argmax(lower[:, :, ::-1], axis=2)
        # the upper body's lowest voxel above the lower body's top
        k = np.arange(nz)[None, None, :]
        above = upper & (k > top[:, :, None])
        bottom = np.where(above.any(axis=2), np.argmax(above, axis=2), nz)
        fits = (bottom - top) <= np.asarray(limit)[y0:y1][None, :]
        ok = has_lo & has_up & (bottom - top > 1) & fits
        gap = ok[:, :, None] & (k > top[:, :, None]) & (k < bottom[:, :, None])
        gap &= member(region, over)
        region[gap] = disc_label
