"""The cement of the 2 mm flow cells placed on the 0.5 mm voxels (release 0.5.0 on).

The flow grid knows how much cement each cell holds (its saturation S), not where in the cell
it sits. On the voxels, the saturation interpolated trilinearly between cell centres, S̃, is
continuous (no cell steps); a voxel holds cement where S̃ exceeds the voxel's threshold

    τ = 0.5 + w(K) · (U − 0.5),

``U`` the voxel's rank (0–1) among the body's pore voxels by ln k, most permeable first
(the trabecular texture of the phantom: wider pores, less resistance), so that U is uniform:
where w = 1 a cell of saturation S has about the share S of its voxels filled, the most
permeable first. ``w`` sets the pattern. Runny cement (low consistency K, w near 1) follows
the heterogeneity: an interdigitating cloud with fingers along the texture. Doughy cement
(w small) fills where S̃ > ½: a compact bolus with a smooth edge, the coarse front's own
shape. w falls log-linearly in K between the two ends of ``assets/cement_model.toml
[subgrid]`` (a model choice, after the filling patterns of low- and high-viscosity cement in
vertebroplasty: clouds against a compact bolus). The voxel fractions (S̃ past τ, times the
voxel porosity) of each cell are scaled to hold that cell's cement: no cement is drawn in a
cell that has none, and each leak site keeps its volume.

Only the box of cells that hold cement (and one around it) is computed: a compiled loop, a
few ms for a 3 ml bolus.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simulator.cement.flow import CELL, MODEL

SUBGRID = MODEL["subgrid"]


def texture_weight(consistency_pa_s: float) -> float:
    """w of the voxel threshold (0–1) for cement of consistency ``consistency_pa_s``
    (Pa·s^n)."""
    lo, hi = float(SUBGRID["runny_pa_s"]), float(SUBGRID["doughy_pa_s"])
    w_lo, w_hi = float(SUBGRID["runny_weight"]), float(SUBGRID["doughy_weight"])
    k = min(max(float(consistency_pa_s), lo), hi)
    s = (math.log(k) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return w_lo + s * (w_hi - w_lo)


class SubgridFill:
    """The voxel thresholds of one flow grid's sub-box of the phantom (built at mixing)."""

    def __init__(self, grid, phantom):
        self.grid = grid
        sl = grid.slices
        self.porosity = np.ascontiguousarray(phantom.porosity[sl], dtype=np.float32)
        self.vox_m3 = (phantom.grid.voxel_mm / 1000.0) ** 3
        lnk = np.log(np.maximum(phantom.permeability_m2[sl].astype(np.float64), 1e-30))
        pore = self.porosity > 0
        u = np.ones(lnk.shape, dtype=np.float32)  # no pore space: never first
        order = np.argsort(-lnk[pore], kind="stable")
        ranks = np.empty(order.size, dtype=np.float32)
        ranks[order] = (np.arange(order.size, dtype=np.float32) + 0.5) / max(order.size, 1)
        u[pore] = ranks
        self.u = u

    def fraction(self, fill: np.ndarray, w: np.ndarray):
        """(voxel slices of the phantom, cement volume fraction 0–1 float32) over the box of
        cells holding cement, for the cells' saturation ``fill`` and
        weights ``w`` (per cell: the cement's own, from when it arrived); each cell's voxels
        scaled to hold its own cement (a cell's site keeps its volume); None without
        cement."""
        shape = self.grid.shape
        cells = fill.reshape(shape)
        nz = np.nonzero(cells > 0)
        if nz[0].size == 0:
            return None
        lo = [int(a.min()) for a in nz]
        hi = [int(a.max()) + 1 for a in nz]
        out = np.zeros(tuple((h - l) * CELL for l, h in zip(lo, hi, strict=True)), np.float32)
        box = np.array([lo[0], lo[1], lo[2]], dtype=np.int64)
        cells = np.ascontiguousarray(cells)
        w = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(shape))
        want = np.ascontiguousarray(
            (fill * self.grid.pore_m3).reshape(shape)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
            / self.vox_m3
        )
        _place(cells, w, self.u, self.porosity, box, want, out)
        g = self.grid.slices
        sl = tuple(
            slice(s.start + l * CELL, s.start + h * CELL)
            for s, l, h in zip(g, lo, hi, strict=True)
        )
        return sl, out


@njit(cache=True, nogil=True)
def _place(cells, wcells, u, porosity, box, want, out):  # pragma: no cover
    """Fill ``out`` (the voxels of the cell box starting at ``box``) with S̃ past τ times the
    porosity, each cell's voxels scaled to its ``want`` (voxel volumes of cement; a cell
    where nothing passed τ holds its cement evenly in its pore space). S̃ and w: trilinear
    between cell centres, held at the grid's edge cells (as ``image.upsample_linear``)."""
    nx, ny, nz = cells.shape
    ox, oy, oz = box[0] * 4, box[1] * 4, box[2] * 4
    have = np.zeros(want.shape)
    for i in range(out.shape[0]):
        fx = (ox + i + 0.5) / 4.0 - 0.5
        x0 = min(max(int(math.floor(fx)), 0), nx - 1)
        x1 = min(x0 + 1, nx - 1)
        ax = min(max(fx - x0, 0.0), 1.0)
        for j in range(out.shape[1]):
            fy = (oy + j + 0.5) / 4.0 - 0.5
            y0 = min(max(int(math.floor(fy)), 0), ny - 1)
            y1 = min(y0 + 1, ny - 1)
            ay = min(max(fy - y0, 0.0), 1.0)
            for k in range(out.shape[2]):
                if want[i // 4, j // 4, k // 4] <= 0.0:
                    continue
                fz = (oz + k + 0.5) / 4.0 - 0.5
                z0 = min(max(int(math.floor(fz)), 0), nz - 1)
                z1 = min(z0 + 1, nz - 1)
                az = min(max(fz - z0, 0.0), 1.0)
                s = _tri(cells, x0, x1, y0, y1, z0, z1, ax, ay, az)
                w = _tri(wcells, x0, x1, y0, y1, z0, z1, ax, ay, az)
                vi, vj, vk = ox + i, oy + j, oz + k
                tau = 0.5 + w * (u[vi, vj, vk] - 0.5)
                sat = min(max((s - tau) * 20.0 + 0.5, 0.0), 1.0)
                f = sat * porosity[vi, vj, vk]
                out[i, j, k] = f
                have[i // 4, j // 4, k // 4] += f
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for k in range(out.shape[2]):
                c = (i // 4, j // 4, k // 4)
                if want[c] <= 0.0:
                    continue
                if have[c] > 0.0:
                    out[i, j, k] = min(out[i, j, k] * want[c] / have[c], 1.0)
                else:
                    out[i, j, k] = cells[c[0] + box[0], c[1] + box[1], c[2] + box[2]] * porosity[
                        ox + i, oy + j, oz + k
                    ]


@njit(cache=True, inline="always")
def _tri(a, x0, x1, y0, y1, z0, z1, ax, ay, az):  # pragma: no cover
    """Trilinear value of ``a`` between its eight cells."""
    c00 = a[x0, y0, z0] * (1 - ax) + a[x1, y0, z0] * ax
    c10 = a[x0, y1, z0] * (1 - ax) + a[x1, y1, z0] * ax
    c01 = a[x0, y0, z1] * (1 - ax) + a[x1, y0, z1] * ax
    c11 = a[x0, y1, z1] * (1 - ax) + a[x1, y1, z1] * ax
    return (c00 * (1 - ay) + c10 * ay) * (1 - az) + (c01 * (1 - ay) + c11 * ay) * az
