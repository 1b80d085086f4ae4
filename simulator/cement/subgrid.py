"""The cement of the 2 mm flow cells placed on the 0.5 mm voxels (release 0.5.0 on).

The flow grid knows how much cement each cell holds (its saturation S), not where in the cell
it sits. On the voxels, the saturation interpolated trilinearly between cell centres, S̃, is
continuous (no cell steps); a voxel holds cement where S̃ exceeds the voxel's threshold

    τ = 0.5 + w(K) · (U − 0.5),

``U`` the voxel's rank (0–1) among its tissue's pore voxels by ln k, most permeable first
(the trabecular texture of the phantom: wider pores, less resistance), so that U is uniform:
where w = 1 a cell of saturation S has about the share S of its voxels filled, the most
permeable first. ``w`` sets the pattern. Runny cement (low consistency K, w near 1) follows
the heterogeneity: an interdigitating cloud with fingers along the texture. Doughy cement
(w small) fills where S̃ > ½: a compact bolus with a smooth edge, the coarse front's own
shape. w falls log-linearly in K between the two ends of ``assets/cement_model.toml
[subgrid]`` (a model choice, after the filling patterns of low- and high-viscosity cement in
vertebroplasty: clouds against a compact bolus). S̃ is interpolated among the cells of the
voxel's own leak site only (body cement does not bleed into a disc's or the canal's cells),
and the voxel fractions (S̃ past τ, times the voxel porosity) of each site are scaled to hold
that site's cement.

From release 0.6.0 on, cement that crosses into a disc (``assets/cement_model.toml
[sheet]``) does not soak it like marrow: the nucleus is no sponge, and cement splits it along
the endplate it came through, lying there as a sheet (the horizontal band of a disc leak on
the lateral). Those voxels rank by their distance to the treated body (nearest first; ties by
permeability) and fill solid: a voxel holds cement where U < φ S̃, φ the tissue's porosity of
the flow model, so that a disc cell's cement lies in its voxels next to the endplate, at full
density.

Only the box of cells that hold cement (and one around it) is computed: a compiled loop, a
few ms for a 3 ml bolus.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import ndimage

from simulator.cement.flow import CELL, MODEL, SHEET_IDS
from simulator.materials import tissues

SUBGRID = MODEL["subgrid"]
BOX_SATURATION = 1e-3
"""Cells of lower saturation are left out of the computed box (0.1 % of a 2 mm cell's pores,
≈ 0.007 mm³: no image shows it); their site's cement is still drawn in full (the scaling)."""


def texture_weight(consistency_pa_s: float) -> float:
    """w of the voxel threshold (0–1) for cement of consistency ``consistency_pa_s``
    (Pa·s^n)."""
    lo, hi = float(SUBGRID["runny_pa_s"]), float(SUBGRID["doughy_pa_s"])
    w_lo, w_hi = float(SUBGRID["runny_weight"]), float(SUBGRID["doughy_weight"])
    k = min(max(float(consistency_pa_s), lo), hi)
    s = (math.log(k) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return w_lo + s * (w_hi - w_lo)


class SubgridFill:
    """The voxel thresholds of one flow grid's sub-box of the phantom (built at mixing);
    ``sheet``: the discs' cement as a sheet on the endplate (release 0.6.0 on)."""

    def __init__(self, grid, phantom, *, sheet: bool = True):
        self.grid = grid
        sl = grid.slices
        self.porosity = np.ascontiguousarray(phantom.porosity[sl], dtype=np.float32)
        self.vox_m3 = (phantom.grid.voxel_mm / 1000.0) ** 3
        lnk = np.log(np.maximum(phantom.permeability_m2[sl].astype(np.float64), 1e-30))
        labels = phantom.labels[sl]
        t = tissues()
        self.sheet = np.isin(labels, SHEET_IDS if sheet else []) & (self.porosity > 0)
        if self.sheet.any():  # nearest the treated body first, then the most permeable
            body = np.isin(labels, t.group_ids("body"))
            gap = ndimage.distance_transform_edt(~body) if body.any() else np.zeros(labels.shape)
            lnk = np.where(self.sheet, lnk - 1e3 * np.round(gap), lnk)
        u = np.ones(lnk.shape, dtype=np.float32)  # no pore space: never first
        for label in np.unique(labels):  # ranked within each tissue: U uniform in each
            sel = (labels == label) & (self.porosity > 0)
            if not sel.any():
                continue
            order = np.argsort(-lnk[sel], kind="stable")
            ranks = np.empty(order.size, dtype=np.float32)
            ranks[order] = (np.arange(order.size, dtype=np.float32) + 0.5) / order.size
            u[sel] = ranks
        # a sheet voxel fills (solid) where U < φ S̃: its threshold U / φ, its fraction ≤ 1
        phi = np.where(self.sheet, self.porosity, 1.0)
        self.u = np.where(self.sheet, u / phi, u).astype(np.float32)
        self.porosity = np.where(self.sheet, 1.0, self.porosity).astype(np.float32)
        self.sheet = self.sheet.astype(np.uint8)

    def fraction(self, fill: np.ndarray, w: np.ndarray):
        """(voxel slices of the phantom, cement volume fraction 0–1 float32) over the box of
        cells holding more than a trace of cement (``BOX_SATURATION``), for the cells'
        saturation ``fill`` and weights ``w`` (per cell: the cement's own, from when it
        arrived); the voxels of each leak site's cells scaled to hold that site's cement;
        None without cement."""
        shape = self.grid.shape
        cells = fill.reshape(shape)
        nz = np.nonzero(cells > BOX_SATURATION)  # a trace below this shows on no image
        if nz[0].size == 0:
            nz = np.nonzero(cells > 0)
        if nz[0].size == 0:
            return None
        lo = [int(a.min()) for a in nz]
        hi = [int(a.max()) + 1 for a in nz]
        out = np.zeros(tuple((h - a) * CELL for a, h in zip(lo, hi, strict=True)), np.float32)
        box = np.array([lo[0], lo[1], lo[2]], dtype=np.int64)
        cells = np.ascontiguousarray(cells)
        w = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(shape))
        site = np.ascontiguousarray(self.grid.site.reshape(shape))
        have = _place(cells, w, site, self.u, self.sheet, self.porosity, box, out)
        want = np.bincount(self.grid.site, fill * self.grid.pore_m3, 64) / self.vox_m3
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(have > 0, want / have, 0.0)
        _scale(out, site, box, scale)
        g = self.grid.slices
        sl = tuple(
            slice(s.start + a * CELL, s.start + h * CELL) for s, a, h in zip(g, lo, hi, strict=True)
        )
        return sl, out


@njit(cache=True, nogil=True)
def _place(cells, wcells, site, u, sheet, porosity, box, out):  # pragma: no cover
    """Fill ``out`` (the voxels of the cell box starting at ``box``) with S̃ past τ times the
    porosity; returns the sum of the fractions per site. S̃ and w: trilinear between the
    centres of the cells of the voxel's own site (a site's cement does not bleed into
    another's cells), held at the grid's edge cells; a ``sheet`` voxel's τ is its u."""
    nx, ny, nz = cells.shape
    ox, oy, oz = box[0] * 4, box[1] * 4, box[2] * 4
    have = np.zeros(64)
    for i in range(out.shape[0]):
        vi = ox + i
        fx = (vi + 0.5) / 4.0 - 0.5
        x0 = min(max(math.floor(fx), 0), nx - 1)
        x1 = min(x0 + 1, nx - 1)
        ax = min(max(fx - x0, 0.0), 1.0)
        for j in range(out.shape[1]):
            vj = oy + j
            fy = (vj + 0.5) / 4.0 - 0.5
            y0 = min(max(math.floor(fy), 0), ny - 1)
            y1 = min(y0 + 1, ny - 1)
            ay = min(max(fy - y0, 0.0), 1.0)
            for k in range(out.shape[2]):
                vk = oz + k
                own = site[vi // 4, vj // 4, vk // 4]
                fz = (vk + 0.5) / 4.0 - 0.5
                z0 = min(max(math.floor(fz), 0), nz - 1)
                z1 = min(z0 + 1, nz - 1)
                az = min(max(fz - z0, 0.0), 1.0)
                s, w, wt = 0.0, 0.0, 0.0
                for cx, bx in ((x0, 1.0 - ax), (x1, ax)):
                    for cy, by in ((y0, 1.0 - ay), (y1, ay)):
                        for cz, bz in ((z0, 1.0 - az), (z1, az)):
                            b = bx * by * bz
                            if b <= 0.0 or site[cx, cy, cz] != own:
                                continue
                            s += b * cells[cx, cy, cz]
                            w += b * wcells[cx, cy, cz]
                            wt += b
                if wt <= 0.0 or s <= 0.0:
                    continue
                s /= wt
                w /= wt
                tau = u[vi, vj, vk] if sheet[vi, vj, vk] else 0.5 + w * (u[vi, vj, vk] - 0.5)
                sat = min(max((s - tau) * 20.0 + 0.5, 0.0), 1.0)
                f = sat * porosity[vi, vj, vk]
                out[i, j, k] = f
                have[own] += f
    return have


@njit(cache=True, nogil=True)
def _scale(out, site, box, scale):  # pragma: no cover
    """Each voxel of ``out`` times its cell's site's ``scale``, at most 1."""
    ox, oy, oz = box[0] * 4, box[1] * 4, box[2] * 4
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for k in range(out.shape[2]):
                f = out[i, j, k]
                if f > 0.0:
                    own = site[(ox + i) // 4, (oy + j) // 4, (oz + k) // 4]
                    out[i, j, k] = min(f * scale[own], 1.0)
