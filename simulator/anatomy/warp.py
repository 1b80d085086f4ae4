"""Warp the measured mean vertebra (:mod:`simulator.anatomy.mesh_bone`) to a scenario's
morphometry, and rasterise it on the phantom's grid.

The warp maps a point of the target vertebra (its own frame: the analytic frame of
:mod:`simulator.anatomy.geometry`, x = 0 the midline, the posterior wall at ``wall_y``, z = 0
the posterior wall's mid-height) to a point of the source bone, axis by axis:

- **y** (AP), piecewise linear: the anterior rim, the posterior wall and the back of the canal
  of the target fall on the source's; behind the canal the posterior elements scale with the
  vertebra's size (``posterior_scale``).
- **x**, in the body: scaled by the half-widths, tapered toward the front for a heart-shaped
  thoracic body (``body_taper``: the front half narrows by up to that fraction); behind the
  wall: piecewise linear in |x| through the canal's edge (the pedicle's medial wall), the
  pedicle's lateral wall and the transverse process's tip, with the pedicle's walls following
  the target's pedicle axis (its transverse angle) slice by slice.
- **z**, in the body: scaled by the posterior heights; behind the wall: piecewise linear through
  the pedicle's lower and upper edges; the spinous process beyond the lamina slopes down by
  ``spinous_slope_deg`` (thoracic).
- Body and posterior maps blend over 3 mm either side of the wall, so the pedicle joins the
  body smoothly.
- **Wedge**: the treated body's superior part (above 30 % of its height) is compressed by the
  anterior height loss ``w·H·(1 − f)`` (f = 0 at the anterior rim, 1 at the posterior wall):
  the superior endplate collapses, the inferior half keeps its height.

A compiled kernel walks the target's box (in the world, through the vertebra's sagittal
:class:`~simulator.anatomy.grid.Frame`), maps each voxel centre and reads the source by
nearest voxel. It writes a region code: 0 no bone, 1 body (in front of the source's posterior
wall, :attr:`~simulator.anatomy.mesh_bone.SourceBone.wall_by_x_mm`), 2 posterior elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from simulator.anatomy.geometry import VertebraGeometry
from simulator.anatomy.grid import Frame, Grid
from simulator.anatomy.mesh_bone import SourceBone

TABLE_STEP_MM = 0.1
"""Sampling of the y-dependent warp tables (mm)."""
BLEND_MM = 3.0
COLLAPSE_FROM = 0.3
"""The wedge compresses the body above this fraction of its posterior height."""


@dataclass(frozen=True, kw_only=True)
class Morph:
    """What the warp needs besides the analytic geometry (level shape, mm and degrees)."""

    wedge_fraction: float
    transverse_span_mm: float
    body_taper: float = 0.0
    spinous_slope_deg: float = 0.0


def _pw(x, xs, ys):
    """Piecewise-linear map through knots (xs, ys) with the end slopes extrapolated."""
    x = np.asarray(x, dtype=float)
    out = np.interp(x, xs, ys)
    lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
    hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    out = np.where(x < xs[0], ys[0] + (x - xs[0]) * lo, out)
    return np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * hi, out)


@dataclass(frozen=True, kw_only=True, eq=False)
class WarpTables:
    """The warp sampled on target y (every :data:`TABLE_STEP_MM` from ``y0``): ``ys`` source
    y, ``blend`` 0 body … 1 posterior, ``xscale`` body x factor, ``xt``/``xs`` (n, 4) |x|
    knots target/source behind the wall, ``loss`` the wedge's height loss; z constants
    ``zb`` (target bottom, source bottom, mean factor), per y ``zb0``/``zbf`` (the body's
    source bottom rim and factor: each y's rim height maps onto H), ``zpt``/``zps``
    (posterior knots (4,), target and source), ``spin`` (y where the spinous slope starts,
    tan of the slope)."""

    y0: float
    ys: np.ndarray
    blend: np.ndarray
    xscale: np.ndarray
    xt: np.ndarray
    xs: np.ndarray
    loss: np.ndarray
    zb: np.ndarray
    zb0: np.ndarray
    zbf: np.ndarray
    zpt: np.ndarray
    zps: np.ndarray
    zk: float
    top: float
    spin: np.ndarray
    wall_s: np.ndarray


def make_tables(src: SourceBone, geom: VertebraGeometry, morph: Morph) -> WarpTables:
    """The warp from the target ``geom`` (+ ``morph``) to the source bone."""
    body, canal = geom.body, geom.canal
    ped = geom.pedicles["left"]
    H = body.height_mm
    ant_t, wall_t = body.anterior_y_mm, body.wall_y_mm
    size = 0.5 * (H / src.height_mm + body.half_width_mm / src.half_width_mm)
    y_knots_t = np.array([ant_t, wall_t, wall_t + canal.depth_mm, wall_t + canal.depth_mm + 10.0])
    y_knots_s = np.array(
        [
            src.anterior_y_mm,
            src.wall_y_mm,
            src.wall_y_mm + src.canal_depth_mm,
            src.wall_y_mm + src.canal_depth_mm + 10.0 / size,
        ]
    )
    y = np.arange(ant_t - 30.0, wall_t + 120.0, TABLE_STEP_MM)
    ys = _pw(y, y_knots_t, y_knots_s)
    blend = np.clip((y - (wall_t - BLEND_MM)) / (2 * BLEND_MM), 0.0, 1.0)
    front = np.clip((wall_t - y) / (wall_t - ant_t), 0.0, 1.0)  # 0 at the wall, 1 in front
    taper = 1.0 - morph.body_taper * np.clip(2.0 * front - 1.0, 0.0, 1.0) ** 2
    xscale = src.half_width_mm / (body.half_width_mm * taper)
    # pedicle walls behind the wall: the source's measured, the target's on its axis
    ys_c = np.clip(ys, src.pedicle_y_mm[0], src.isthmus_y_mm + 2.0)
    med_s = np.interp(ys_c, src.pedicle_y_mm, src.pedicle_medial_mm)
    lat_s = np.interp(ys_c, src.pedicle_y_mm, src.pedicle_lateral_mm)
    y_c = _pw(ys_c, y_knots_s, y_knots_t)
    theta = math.atan2(-ped.axis[0], -ped.axis[1])  # > 0: the axis runs medially forward
    centre = ped.isthmus_mm[0] - math.tan(theta) * (ped.isthmus_mm[1] - y_c)
    half = ped.half_width_mm / math.cos(theta)
    tip_t = max(morph.transverse_span_mm, float(np.max(centre + half)) + 4.0)
    zero = np.zeros_like(y)
    xt = np.stack([zero, centre - half, centre + half, zero + tip_t], axis=1)
    xs = np.stack([zero, med_s, lat_s, zero + src.transverse_tip_mm], axis=1)
    loss = H * morph.wedge_fraction * np.clip(1.0 - (y - ant_t) / (wall_t - ant_t), 0.0, 1.0)
    zf = src.height_mm / H
    # the body's z map per y: the source's rims onto the target's upright height H
    bot_s = np.interp(ys, src.body_y_mm, src.body_bottom_mm)
    top_s = np.interp(ys, src.body_y_mm, src.body_top_mm)
    zb0 = bot_s
    zbf = (top_s - bot_s) / H
    zc, hh = ped.isthmus_mm[2], ped.half_height_mm
    zpt = np.array([zc - hh - 20.0, zc - hh, zc + hh, zc + hh + 20.0])
    zps = np.array(
        [
            src.pedicle_lo_mm - 20.0 * zf,
            src.pedicle_lo_mm,
            src.pedicle_hi_mm,
            src.pedicle_hi_mm + 20.0 * zf,
        ]
    )
    spin = np.array(
        [wall_t + canal.depth_mm + 4.0, math.tan(math.radians(morph.spinous_slope_deg))]
    )
    return WarpTables(
        y0=float(y[0]),
        ys=ys,
        blend=blend,
        xscale=xscale,
        xt=np.ascontiguousarray(xt),
        xs=np.ascontiguousarray(xs),
        loss=loss,
        zb=np.array([-H / 2.0, src.bottom_z_mm, zf]),
        zb0=zb0,
        zbf=zbf,
        zpt=zpt,
        zps=zps,
        zk=-H / 2.0 + COLLAPSE_FROM * H,
        top=H / 2.0,
        spin=spin,
        wall_s=src.wall_by_x_mm,
    )


def rasterise(src: SourceBone, tables: WarpTables, grid: Grid, frame: Frame | None, lo_mm, hi_mm):
    """Region codes (uint8: 0 none, 1 body, 2 posterior) of the warped bone on the world
    sub-box covering the local box [lo, hi] (mm), and that box's slices."""
    frame = frame or Frame(pivot_world_mm=(0.0, 0.0), pivot_local_mm=(0.0, 0.0))
    box = frame.box(grid, lo_mm, hi_mm)
    if box is None:
        return None, None
    sl = box.slices
    out = np.zeros(tuple(s.stop - s.start for s in sl), dtype=np.uint8)
    org = np.array([grid.origin_mm[a] + sl[a].start * grid.voxel_mm for a in range(3)])
    ang = math.radians(frame.angle_deg)
    fr = np.array(
        [math.cos(ang), math.sin(ang), *frame.pivot_world_mm, *frame.pivot_local_mm], dtype=float
    )
    t = tables
    _warp_kernel(
        src.mask,
        np.asarray(src.origin_mm, dtype=float),
        float(src.voxel_mm),
        out,
        org,
        float(grid.voxel_mm),
        fr,
        t.y0,
        TABLE_STEP_MM,
        t.ys,
        t.blend,
        t.xscale,
        t.xt,
        t.xs,
        t.loss,
        t.zb,
        t.zb0,
        t.zbf,
        t.zpt,
        t.zps,
        t.zk,
        t.top,
        t.spin,
        t.wall_s,
    )
    return out, sl


@njit(cache=True, nogil=True)
def _pw1(x, xs, ys):  # pragma: no cover - compiled
    n = xs.shape[0]
    if x <= xs[0]:
        return ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
    for i in range(1, n):
        if x <= xs[i]:
            f = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            return ys[i - 1] + f * (ys[i] - ys[i - 1])
    return ys[n - 1] + (x - xs[n - 1]) * (ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])


@njit(cache=True, nogil=True)
def _warp_kernel(  # pragma: no cover - compiled
    mask,
    s_org,
    s_vox,
    out,
    org,
    vox,
    fr,
    y0,
    step,
    ys_t,
    blend_t,
    xsc_t,
    xt_t,
    xs_t,
    loss_t,
    zb,
    zb0,
    zbf,
    zpt,
    zps,
    zk,
    top,
    spin,
    wall_s,
):
    nx, ny, nz = out.shape
    mx, my, mz = mask.shape
    c, s, pwy, pwz, ply, plz = fr[0], fr[1], fr[2], fr[3], fr[4], fr[5]
    nt = ys_t.shape[0]
    for j in range(ny):
        wy = org[1] + j * vox
        for k in range(nz):
            wz = org[2] + k * vox
            dy, dz = wy - pwy, wz - pwz
            y = ply + c * dy + s * dz
            z = plz - s * dy + c * dz
            it = int((y - y0) / step + 0.5)
            if it < 0 or it >= nt:
                continue
            w = blend_t[it]
            ysrc = ys_t[it]
            # z: the wedge's collapse (body), then body and posterior maps blended
            zu = z
            if z > zk and loss_t[it] > 0.0:
                zu = zk + (z - zk) * (top - zk) / max(top - loss_t[it] - zk, 0.05)
            zu = z + (1.0 - w) * (zu - z)
            zbody = zb0[it] + (zu - zb[0]) * zbf[it]
            zpost = _pw1(zu, zpt, zps)
            if y > spin[0]:
                zpost += (y - spin[0]) * spin[1] * zb[2]
            zsrc = (1.0 - w) * zbody + w * zpost
            kk = int((zsrc - s_org[2]) / s_vox + 0.5)
            jj = int((ysrc - s_org[1]) / s_vox + 0.5)
            if kk < 0 or kk >= mz or jj < 0 or jj >= my:
                continue
            for i in range(nx):
                x = org[0] + i * vox
                ax = abs(x)
                xb = ax * xsc_t[it]
                xp = _pw1(ax, xt_t[it], xs_t[it])
                xsrc = (1.0 - w) * xb + w * xp
                if x < 0.0:
                    xsrc = -xsrc
                ii = int((xsrc - s_org[0]) / s_vox + 0.5)
                if ii < 0 or ii >= mx:
                    continue
                if mask[ii, jj, kk]:
                    out[i, j, k] = 1 if ysrc <= wall_s[ii] else 2
