"""The flow grid: the porous vertebral body coarsened for the Darcy flow of cement and marrow.

Grid. The treated body and a margin around it (canal strip, discs, side walls) are coarsened
to cells of 4 × 4 × 4 voxels (2 mm). Each cell has its pore volume φV (mean voxel porosity)
and a leak site (the site holding most of its pore space outside the body, once that is at
least a quarter of the cell's pore space, else the body; pedicle and posterior-element voxels
count as ``needle_tract``: cement there has flowed back along the needle). The transmissibility of
the face between two cells is upscaled from the voxels, line by line: each of the voxel
rows crossing the face is a series of voxel resistances 1/k from centre to centre, and the rows
conduct in parallel, ``T = Σ vox² / (vox Σ 1/k)``. A shell that is closed at the voxel level
therefore stays closed on the coarse grid. The domain boundary is held at zero pressure:
marrow and cement that reach it leave (veins drain away, carrying cement with them).

The pressure and the cement on this grid: :mod:`simulator.cement.solver`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.materials import site_names, tissues

MODEL = load_table("cement_model")
"""Numerical and calibration choices (``assets/cement_model.toml``)."""
CELL = int(MODEL["grid"]["cell_voxels"])  # voxels per cell edge
MARROW_VISCOSITY_PA_S = float(load_table("materials")["marrow"]["viscosity_pa_s"])
"""Marrow viscosity (Pa·s), ``assets/materials.toml [marrow]``."""
SITES = site_names()  # assets/materials.toml [[leak_sites]]: "none" first, then log order


@dataclass(frozen=True, kw_only=True)
class FlowGrid:
    """The coarse grid (read-only arrays; volumes in m³, transmissibilities in m³)."""

    slices: tuple[slice, slice, slice]
    """Voxel sub-box of the phantom covered by the grid."""
    shape: tuple[int, int, int]
    pore_m3: np.ndarray
    site: np.ndarray
    """Index into SITES per cell."""
    face_i: np.ndarray
    face_j: np.ndarray
    face_t: np.ndarray
    boundary_cell: np.ndarray
    boundary_t: np.ndarray
    centre_mm: np.ndarray
    """(N, 3) cell centres, LPS mm."""
    endplate: np.ndarray
    """+1 / −1 for cells holding superior / inferior endplate voxels, else 0."""
    perfusion_m3_s: np.ndarray
    """Blood entering each body cell's marrow (m³/s) and draining out through the veins."""
    corner_mm: tuple[float, float, float]
    """Lower corner of the grid (the outer face of its first voxels), LPS mm."""
    cell_mm: float

    @property
    def n(self) -> int:
        """Number of cells."""
        return int(self.pore_m3.size)

    def cell_of(self, point_mm) -> int | None:
        """The cell containing ``point_mm``, or None outside the grid."""
        idx = []
        for axis in range(3):
            lo = float(self.corner_mm[axis])
            i = math.floor((float(point_mm[axis]) - lo) / self.cell_mm)
            if not 0 <= i < self.shape[axis]:
                return None
            idx.append(i)
        return int(np.ravel_multi_index(idx, self.shape))


def site_of_label() -> np.ndarray:
    """Index into SITES per tissue id: its leak site, pedicle and posterior-element tissue
    counting as the needle tract."""
    t = tissues()
    out = np.array([SITES.index(s) for s in t.leak_site], dtype=np.int8)
    for name in t.group("needle_tract"):
        out[t.id(name)] = SITES.index("needle_tract")
    return out


SHEET_IDS = tissues().ids(*MODEL["sheet"]["labels"])
SHEET_SPREAD = float(MODEL["sheet"]["spread"])
"""Release 0.6.0 on: tissues a cement leak splits along the endplate rather than soaks
(their ids), and how much more freely cement moves across them (x, y) than through (z)."""

OUTLET_SCALE = {k: float(v) for k, v in MODEL["outlet_scale"].items()}
"""How freely each kind of boundary cell lets fluid out of the grid (× its own half-cell
transmissibility); values and reasons in ``assets/cement_model.toml [outlet_scale]``."""


def build_grid(
    phantom: Phantom,
    *,
    margin_mm: float | None = None,
    posterior_mm: float | None = None,
    perfusion_ml_min_per_ml: float | None = None,
    outlet_scale: dict | None = None,
    sheet: bool = True,
) -> FlowGrid:
    """The flow grid around the treated body of ``phantom``: ``margin_mm`` (mm) of margin
    around it and ``posterior_mm`` (mm) more behind it (defaults from
    ``assets/cement_model.toml [grid]``), perfusion in ml/min per ml of cancellous bone
    (default ``assets/materials.toml [marrow]``), outlet openness per site (default
    :data:`OUTLET_SCALE`); ``sheet``: the discs open along their endplates (release 0.6.0 on,
    ``assets/cement_model.toml [sheet]``)."""
    if margin_mm is None:
        margin_mm = float(MODEL["grid"]["margin_mm"])
    if posterior_mm is None:
        posterior_mm = float(MODEL["grid"]["posterior_mm"])
    t = tissues()
    g = phantom.grid
    vox = g.voxel_mm
    body = np.isin(phantom.labels, t.group_ids("body"))
    lo, hi = [], []
    for axis in range(3):
        idx = np.nonzero(body.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        m = round(margin_mm / vox)
        extra = round(posterior_mm / vox) if axis == 1 else 0
        a0, a1 = max(int(idx[0]) - m, 0), min(int(idx[-1]) + 1 + m + extra, g.shape[axis])
        a1 = a0 + (a1 - a0) // CELL * CELL
        lo.append(a0)
        hi.append(a1)
    sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    shape = tuple((b - a) // CELL for a, b in zip(lo, hi, strict=True))
    labels = phantom.labels[sl]
    vox_m = vox / 1000.0

    def blocks(a: np.ndarray) -> np.ndarray:  # (nx, ny, nz, 3, 3, 3)
        nx, ny, nz = shape
        return a.reshape(nx, CELL, ny, CELL, nz, CELL).transpose(0, 2, 4, 1, 3, 5)

    pore = blocks(phantom.porosity[sl]).mean(axis=(3, 4, 5)) * (CELL * vox_m) ** 3
    pore = np.maximum(pore, 0.01 * (CELL * vox_m) ** 3)
    # leak site by majority of voxels; pedicle and posterior-element cells are the tract
    votes = blocks(site_of_label()[labels]).reshape(*shape, -1)
    pores = blocks(phantom.porosity[sl]).reshape(*shape, -1)
    share = np.stack(
        [np.where(votes == k, pores, 0.0).sum(axis=-1) for k in range(len(SITES))], axis=-1
    )
    share /= np.maximum(share.sum(axis=-1, keepdims=True), 1e-12)
    # a leak site owns a cell once it holds a quarter of the cell's pore space (where cement
    # would sit): a vein thinner than a cell still counts, a sliver of disc behind an
    # endplate does not
    outside = share[..., 1:]
    site = np.where(
        outside.max(axis=-1) >= MODEL["grid"]["site_share"], outside.argmax(axis=-1) + 1, 0
    ).astype(np.int8)
    ep = blocks(labels == t.id("endplate")).any(axis=(3, 4, 5))
    if perfusion_ml_min_per_ml is None:
        perfusion_ml_min_per_ml = load_table("materials")["marrow"]["perfusion_ml_min_per_ml"]
    canc = blocks(labels == t.id("cancellous")).mean(axis=(3, 4, 5))
    cell_ml = (CELL * vox) ** 3 / 1000.0
    perfusion = (canc * cell_ml * perfusion_ml_min_per_ml * 1e-6 / 60.0).ravel()

    faces_i, faces_j, faces_t, b_cell, b_t = _faces(phantom, sl, shape, blocks, sheet=sheet)
    outlet = outlet_scale or OUTLET_SCALE
    b_cell_all = np.concatenate(b_cell)
    scale_of_site = np.array([outlet[s_] for s_ in SITES])
    b_t = [np.concatenate(b_t) * scale_of_site[site.ravel()[b_cell_all]]]
    centres = [g.axis_mm(ax)[sl[ax]].reshape(-1, CELL).mean(axis=1) for ax in range(3)]
    cx, cy, cz = np.meshgrid(*centres, indexing="ij")
    centre_mm = np.stack([cx.ravel(), cy.ravel(), cz.ravel()], axis=1)
    z_mid = 0.0
    endplate = np.where(ep.ravel(), np.where(centre_mm[:, 2] > z_mid, 1, -1), 0).astype(np.int8)
    return FlowGrid(
        slices=sl,
        shape=shape,
        pore_m3=pore.ravel(),
        site=site.ravel(),
        face_i=np.concatenate(faces_i),
        face_j=np.concatenate(faces_j),
        face_t=np.concatenate(faces_t),
        boundary_cell=np.concatenate(b_cell),
        boundary_t=np.concatenate(b_t),
        centre_mm=centre_mm,
        endplate=endplate,
        perfusion_m3_s=perfusion,
        corner_mm=tuple(float(g.axis_mm(ax)[sl[ax].start]) - vox / 2 for ax in range(3)),
        cell_mm=CELL * vox,
    )


def _faces(phantom: Phantom, sl, shape, blocks, *, sheet: bool):
    """Face transmissibilities (m³) upscaled row by row from the voxel permeabilities, per
    axis: the cells on either side of each inner face and its T, and each boundary face's
    cell and half-cell T (module docstring). ``blocks`` reshapes a sub-box to cell blocks;
    ``sheet``: the ``[sheet]`` tissues' permeability × ``spread`` across (x and y)."""
    vox_m = phantom.grid.voxel_mm / 1000.0
    aniso = phantom.permeability_anisotropy
    faces_i, faces_j, faces_t, b_cell, b_t = [], [], [], [], []
    index = np.arange(np.prod(shape)).reshape(shape)
    k_vox = phantom.permeability_m2[sl].astype(np.float64)
    across = np.where(np.isin(phantom.labels[sl], SHEET_IDS), SHEET_SPREAD, 1.0) if sheet else 1.0
    for axis in range(3):
        k = np.maximum(k_vox * aniso[axis] * (across if axis < 2 else 1.0), 1e-30)
        r = blocks(1.0 / k)  # voxel resistivities, cell-local (…, 3, 3, 3)
        r = np.moveaxis(r, 3 + axis, -1)  # the axis of flow last: (nx, ny, nz, 3, 3, 3')
        h = CELL // 2
        # resistance of each voxel row from a cell's centre to its +face and from its −face
        # to its centre (an even cell splits between voxels h−1 and h)
        to_plus = r[..., h:].sum(axis=-1) - (0.5 * r[..., h] if CELL % 2 else 0.0)
        from_minus = r[..., : h + CELL % 2].sum(axis=-1) - (0.5 * r[..., h] if CELL % 2 else 0.0)
        lead = [slice(None)] * 3
        a, b = list(lead), list(lead)
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        series = vox_m * (to_plus[tuple(a)] + from_minus[tuple(b)])
        t_face = (vox_m**2 / series).sum(axis=(-1, -2))
        faces_i.append(index[tuple(a)].ravel())
        faces_j.append(index[tuple(b)].ravel())
        faces_t.append(t_face.ravel())
        for side, half in ((0, from_minus), (-1, to_plus)):
            s = list(lead)
            s[axis] = side
            tb = (vox_m**2 / (vox_m * half[tuple(s)])).sum(axis=(-1, -2))
            b_cell.append(index[tuple(s)].ravel())
            b_t.append(tb.ravel())
    return faces_i, faces_j, faces_t, b_cell, b_t
