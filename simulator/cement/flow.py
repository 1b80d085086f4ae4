"""Flow of cement through the porous vertebral body: Darcy displacement of marrow by cement.

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

Pressure (implicit). Incompressible flow with total mobility λ(S) = 1 / (μ_m^(1−S) μ_c^S):

    Σ_faces T_f λ_f (p_i − p_j) = q_i ,   λ_f the harmonic mean of the two cells' mobilities,

q_i the injection at the needle tip plus the blood perfusing the marrow of every body cell
not yet filled with cement (``assets/materials.toml [marrow]``), which drains through the
veins: a vein is a stream that carries away runny cement, and a plug of viscous cement in it
chokes that stream.

solved with smoothed-aggregation multigrid (pyamg) as a CG preconditioner, warm-started; the
hierarchy is rebuilt only every few solves.

Cement (explicit). S is the cement fill of a cell's pore volume. Across each face the upwind
cell sends the fraction f(S) = S^a of the total flux as cement, with a = 1 + log10(μ_c/μ_m):
cement leaves a cell only as it nears full, more sharply the more viscous it is than marrow.
This is a regularised form of the two-phase fractional flow S/(S + M(1−S)) (whose slope M at
S = 1 would force time steps of microseconds): it keeps the behaviours that matter — a stable,
compact front for viscous cement, and early, runny cement that is flushed along
high-permeability channels with the marrow. Steps obey dt ≤ φV / (a F_out) in every cell with
cement, which keeps 0 ≤ S ≤ 1; every face moves the same cement out of one cell and into the
other, so cement is conserved exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyamg
import scipy.sparse as sp

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.materials import site_names, tissues

CELL = 4  # voxels per cell edge
MARROW_VISCOSITY_PA_S = 0.04  # REFERENCE: ≈ 0.04 Pa·s at body temperature (materials.toml)
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


OUTLET_SCALE = {
    "none": 1e-4,
    "canal": 1e-2,
    "disc": 1e-2,
    "vein": 1.0,
    "paravertebral": 1e-2,
    "needle_tract": 1e-2,
}
"""How freely each kind of boundary cell lets fluid out of the grid (× its own half-cell
transmissibility): marrow leaves a vertebral body through its veins; bone, disc and soft
tissue beyond the grid give way only slowly (model parameters, approx.)."""


def build_grid(
    phantom: Phantom,
    *,
    margin_mm: float = 4.0,
    posterior_mm: float = 5.0,
    perfusion_ml_min_per_ml: float | None = None,
    outlet_scale: dict | None = None,
) -> FlowGrid:
    """The flow grid around the treated body of ``phantom``."""
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
    site_of_label = np.array([SITES.index(s) for s in t.leak_site], dtype=np.int8)
    for name in t.group("needle_tract"):
        site_of_label[t.id(name)] = SITES.index("needle_tract")
    votes = blocks(site_of_label[labels]).reshape(*shape, -1)
    pores = blocks(phantom.porosity[sl]).reshape(*shape, -1)
    share = np.stack(
        [np.where(votes == k, pores, 0.0).sum(axis=-1) for k in range(len(SITES))], axis=-1
    )
    share /= np.maximum(share.sum(axis=-1, keepdims=True), 1e-12)
    # a leak site owns a cell once it holds a quarter of the cell's pore space (where cement
    # would sit): a vein thinner than a cell still counts, a sliver of disc behind an
    # endplate does not
    outside = share[..., 1:]
    site = np.where(outside.max(axis=-1) >= 0.25, outside.argmax(axis=-1) + 1, 0).astype(np.int8)
    ep = blocks(labels == t.id("endplate")).any(axis=(3, 4, 5))
    if perfusion_ml_min_per_ml is None:
        perfusion_ml_min_per_ml = load_table("materials")["marrow"]["perfusion_ml_min_per_ml"]
    canc = blocks(labels == t.id("cancellous")).mean(axis=(3, 4, 5))
    cell_ml = (CELL * vox) ** 3 / 1000.0
    perfusion = (canc * cell_ml * perfusion_ml_min_per_ml * 1e-6 / 60.0).ravel()

    aniso = phantom.permeability_anisotropy
    faces_i, faces_j, faces_t, b_cell, b_t = [], [], [], [], []
    index = np.arange(np.prod(shape)).reshape(shape)
    for axis in range(3):
        k = np.maximum(phantom.permeability_m2[sl].astype(np.float64) * aniso[axis], 1e-30)
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


class FlowSolver:
    """Pressure and cement fill on a :class:`FlowGrid` (mutable state ``fill``)."""

    REBUILD_EVERY = 1

    def __init__(self, grid: FlowGrid):
        self.grid = grid
        self.fill = np.zeros(grid.n)
        self.pressure_pa = np.zeros(grid.n)
        self.exited_m3 = np.zeros(len(SITES))
        self._ml = None
        self._solves = 0
        self._flux = None
        self._active = None
        self._threshold = 0.0
        self._pending: dict | None = None

    # ----- pressure -------------------------------------------------------------------------
    def solve_pressure(self, *, source_cell: int, rate_m3_s: float, cement_pa_s: float) -> None:
        """Solve for the pressure with ``rate_m3_s`` entering ``source_cell``; stores fluxes."""
        self.start_solve(source_cell=source_cell, rate_m3_s=rate_m3_s, cement_pa_s=cement_pa_s)
        self.continue_solve(max_iter=None)

    @property
    def solving(self) -> bool:
        """True while a pressure solve started by :meth:`start_solve` is unfinished."""
        return self._pending is not None

    def start_solve(self, *, source_cell: int, rate_m3_s: float, cement_pa_s: float) -> None:
        """Assemble the pressure system for the current fill and set up its multigrid; the
        iterations run in :meth:`continue_solve` (so that a window can spread them over
        frames while the cement moves on the previous fluxes)."""
        g = self.grid
        lam = 1.0 / (MARROW_VISCOSITY_PA_S ** (1.0 - self.fill) * cement_pa_s**self.fill)
        li, lj = lam[g.face_i], lam[g.face_j]
        c = g.face_t * 2.0 * li * lj / (li + lj)
        cb = g.boundary_t * lam[g.boundary_cell]
        scale = 1.0 / float(np.median(c))  # O(1) coefficients for the solver
        n = g.n
        diag = np.bincount(g.face_i, c, n) + np.bincount(g.face_j, c, n)
        diag += np.bincount(g.boundary_cell, cb, n)
        a = sp.coo_matrix(
            (
                np.concatenate([-c, -c, diag]) * scale,
                (
                    np.concatenate([g.face_i, g.face_j, np.arange(n)]),
                    np.concatenate([g.face_j, g.face_i, np.arange(n)]),
                ),
            ),
            shape=(n, n),
        ).tocsr()
        b = g.perfusion_m3_s * (1.0 - self.fill)  # cement-filled bone takes no blood
        b[source_cell] += rate_m3_s
        b = b * scale
        if self._ml is None or self._solves % self.REBUILD_EVERY == 0:
            self._ml = pyamg.smoothed_aggregation_solver(a, max_coarse=200, smooth=None)
        x0 = self.pressure_pa.copy() if self._solves else np.zeros(n)
        self._pending = {
            "a": a,
            "b": b,
            "c": c,
            "cb": cb,
            "x": x0,
            "norm_b": float(np.linalg.norm(b)) or 1.0,
        }

    def continue_solve(self, *, max_iter: int | None) -> bool:
        """Run up to ``max_iter`` preconditioned CG iterations (all that are needed when
        None); adopt the pressure and fluxes once the relative residual is below 1e-6."""
        job = self._pending
        a, b = job["a"], job["b"]
        x, _ = pyamg.krylov.cg(
            a,
            b,
            x0=job["x"],
            tol=1e-6,
            maxiter=200 if max_iter is None else max_iter,
            M=self._ml.aspreconditioner(),
        )
        job["x"] = x
        if max_iter is not None and np.linalg.norm(b - a @ x) > 1e-6 * job["norm_b"]:
            return False
        self._pending = None
        self._adopt(x, job["c"], job["cb"])
        return True

    def _adopt(self, p: np.ndarray, c: np.ndarray, cb: np.ndarray) -> None:
        g = self.grid
        n = g.n
        self._solves += 1
        self.pressure_pa = p
        self._flux = c * (p[g.face_i] - p[g.face_j])  # m³/s, i → j
        self._bflux = cb * p[g.boundary_cell]  # m³/s, out of the domain
        self._up = np.where(self._flux >= 0, g.face_i, g.face_j)
        self._down = np.where(self._flux >= 0, g.face_j, g.face_i)
        self._absflux = np.abs(self._flux)
        self._active = None
        out = np.bincount(g.face_i, np.maximum(self._flux, 0), n)
        out += np.bincount(g.face_j, np.maximum(-self._flux, 0), n)
        out += np.bincount(g.boundary_cell, np.maximum(self._bflux, 0), n)
        self._out = out

    # ----- cement ----------------------------------------------------------------------------
    def max_step_s(self, exponent: float) -> float:
        """Largest stable step (s) for the current fluxes: dt ≤ φV / (a F_out) wherever
        cement is or can arrive."""
        g = self.grid
        has = self.fill > 0
        near = has.copy()
        near[g.face_j[has[g.face_i]]] = True
        near[g.face_i[has[g.face_j]]] = True
        out = self._out[near]
        with np.errstate(divide="ignore"):
            limits = g.pore_m3[near] / (exponent * out)
        return float(limits.min()) if limits.size else math.inf

    def advance(
        self,
        dt_s: float,
        *,
        source_cell: int,
        rate_m3_s: float,
        exponent: float,
        flux_scale: float = 1.0,
        entry_threshold_pa: float = 0.0,
    ) -> None:
        """Move cement for ``dt_s`` seconds with the stored fluxes × ``flux_scale``.

        Cement crosses from the body into a leak site (vein, canal, disc, soft tissue, tract)
        only where the pressure difference across that face exceeds ``entry_threshold_pa``
        (the yield stress of doughy cement holding it out of narrow openings)."""
        g = self.grid
        if self._active is None or entry_threshold_pa != self._threshold:
            has = self.fill > 0
            has[source_cell] = True
            open_ = has[self._up]
            if entry_threshold_pa > 0:
                dp = np.abs(self.pressure_pa[g.face_i] - self.pressure_pa[g.face_j])
                into_leak = (g.site[self._up] == 0) & (g.site[self._down] != 0)
                open_ &= ~(into_leak & (dp * flux_scale < entry_threshold_pa))
            self._active = np.nonzero(open_)[0]
            self._active_b = np.nonzero(has[g.boundary_cell] & (self._bflux > 0))[0]
            self._threshold = entry_threshold_pa
        act = self._active
        up, down = self._up[act], self._down[act]
        moved = self.fill[up] ** exponent * (self._absflux[act] * (flux_scale * dt_s))
        delta = np.zeros(g.n)
        np.add.at(delta, down, moved)
        np.subtract.at(delta, up, moved)
        bc = g.boundary_cell[self._active_b]
        out_b = self.fill[bc] ** exponent * (self._bflux[self._active_b] * (flux_scale * dt_s))
        np.subtract.at(delta, bc, out_b)
        np.add.at(self.exited_m3, g.site[bc], out_b)
        delta[source_cell] += rate_m3_s * dt_s
        before = self.fill > 0
        self.fill = np.clip(self.fill + delta / g.pore_m3, 0.0, 1.0)
        if np.any((self.fill > 0) & ~before):
            self._active = None  # cement reached new cells

    def cement_m3(self) -> np.ndarray:
        """Cement volume per cell (m³)."""
        return self.fill * self.grid.pore_m3

    def volume_by_site_m3(self) -> np.ndarray:
        """Cement in the grid per leak site plus what left through the boundary (m³)."""
        return np.bincount(self.grid.site, self.cement_m3(), len(SITES)) + self.exited_m3
