"""Pressure and cement fill on a :class:`~simulator.cement.flow.FlowGrid`.

Pressure (implicit). Incompressible flow with total mobility λ(S) = 1 / (μ_m^(1−S) μ_c^S):

    Σ_faces T_f λ_f (p_i − p_j) = q_i ,   λ_f the harmonic mean of the two cells' mobilities,

q_i the injection at the needle tip plus the blood perfusing the marrow of every body cell
not yet filled with cement (``assets/materials.toml [marrow]``), which drains through the
veins: a vein is a stream that carries away runny cement, and a plug of viscous cement in it
chokes that stream. Solved by CG (:mod:`.pcg`) preconditioned with smoothed-aggregation
multigrid (pyamg), warm-started from the previous pressure; the hierarchy is rebuilt every
``rebuild_every`` solves and its levels are converted to CSR (pyamg keeps them as 1×1-block
BSR, whose Gauss–Seidel kernel is slower; same arithmetic).

Cement (explicit). S is the cement fill of a cell's pore volume. Across each face the upwind
cell sends the fraction f(S) = S^a of the total flux as cement, with a = 1 + log10(μ_c/μ_m):
cement leaves a cell only as it nears full, more sharply the more viscous it is than marrow.
This is a regularised form of the two-phase fractional flow S/(S + M(1−S)) (whose slope M at
S = 1 would force time steps of microseconds): it keeps the behaviours that matter — a stable,
compact front for viscous cement, and early, runny cement that is flushed along
high-permeability channels with the marrow. Steps obey dt ≤ φV / (a F_out) in every cell with
cement; every face moves the same cement out of one cell and into the other. The fill is
clipped to [0, 1] against round-off; whatever that would remove is not hidden: the injection
model checks the cement balance after every flow step (:mod:`.conservation`).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

from simulator.cement.faces import open_boundary, open_faces, step_limit
from simulator.cement.flow import MARROW_VISCOSITY_PA_S, MODEL, SITES, FlowGrid
from simulator.cement.pcg import PCG, multigrid

SOLVER = MODEL["solver"]


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_single_thread():
    """A context in which BLAS (OpenBLAS, MKL…) runs on one thread."""
    return _blas_controller().limit(limits=1, user_api="blas")


class FlowSolver:
    """Pressure and cement fill on a :class:`FlowGrid` (mutable state ``fill``).

    The defaults are today's model; release 0.1.0 had all three options off, and its logs are
    re-simulated that way (``simulator.releases.model_for_version``).

    ``conservative``: cement that would fill a cell beyond its pore volume (a cell whose
    faces into a leak site are held shut by the entry threshold receives more than it can
    send on) spills on downstream instead of being clipped away (off: clipped, the loss
    booked in ``clipped_m3``). ``keep_cg_state``: a solve spread over several
    :meth:`continue_solve` calls continues one CG run (fewer iterations) instead of
    restarting CG at each call. ``geometric_aggregation``: the multigrid's first level
    aggregates 2 × 2 × 2 blocks of cells (fewer CG iterations)."""

    REBUILD_EVERY = int(SOLVER["rebuild_every"])

    def __init__(
        self,
        grid: FlowGrid,
        *,
        keep_cg_state: bool = True,
        conservative: bool = True,
        geometric_aggregation: bool = True,
    ):
        self.grid = grid
        self.keep_cg_state = keep_cg_state
        self.geometric_aggregation = geometric_aggregation
        self.conservative = conservative
        self.clipped_m3 = 0.0
        """Cement removed by clipping the fill to [0, 1] so far (m³; > 0: lost)."""
        self._graphs = None
        self._scratch = None
        self._spill_scratch = None
        self.fill = np.zeros(grid.n)
        self.pressure_pa = np.zeros(grid.n)
        self.exited_m3 = np.zeros(len(SITES))
        self.exited_cell_m3 = np.zeros(grid.n)
        """What left the grid so far by the boundary cell it left from (m³)."""
        self.entered_m3 = 0.0
        """Cement put in at the source cell so far (m³)."""
        self.iterations = 0
        """CG iterations run so far (all solves)."""
        self.version = 0
        """Counts the changes of ``fill`` (for caches of what is derived from it)."""
        self._ml = None
        self._solves = 0
        self._flux = None
        self._active = None
        self._threshold = 0.0
        self._pending: dict | None = None
        self._step_limit: float | None = None
        self._by_site: np.ndarray | None = None
        self._sinks: np.ndarray | None = None  # cells that :meth:`take` empties

    # ----- pressure -------------------------------------------------------------------------
    def solve_pressure(self, *, source_cell: int, rate_m3_s: float, cement_pa_s: float) -> None:
        """Solve for the pressure (Pa) with ``rate_m3_s`` (m³/s) entering ``source_cell`` and
        cement of viscosity ``cement_pa_s`` (Pa·s); stores the fluxes."""
        self.start_solve(source_cell=source_cell, rate_m3_s=rate_m3_s, cement_pa_s=cement_pa_s)
        self.continue_solve(max_iter=None)

    @property
    def solving(self) -> bool:
        """True while a pressure solve started by :meth:`start_solve` is unfinished."""
        return self._pending is not None

    def start_solve(self, *, source_cell: int, rate_m3_s: float, cement_pa_s: float) -> None:
        """Assemble the pressure system for the current fill, ``rate_m3_s`` (m³/s) entering
        ``source_cell``, cement of viscosity ``cement_pa_s`` (Pa·s), and set up its multigrid;
        the iterations run in :meth:`continue_solve` (so that a window can spread them over
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
            self._ml = multigrid(a, g.shape if self.geometric_aggregation else None)
        x0 = self.pressure_pa.copy() if self._solves else np.zeros(n)
        cg = PCG(a, b, x0, self._ml.aspreconditioner(), tol=float(SOLVER["cg_tolerance"]))
        self._pending = {"a": a, "b": b, "c": c, "cb": cb, "cg": cg, "norm_b": norm_or_one(b)}

    def continue_solve(self, *, max_iter: int | None) -> bool:
        """Run up to ``max_iter`` preconditioned CG iterations (all that are needed when
        None); adopt the pressure and fluxes once the relative residual ‖b − A x‖ / ‖b‖ is
        below ``cg_tolerance`` (``assets/cement_model.toml [solver]``)."""
        job = self._pending
        cg: PCG = job["cg"]
        if not self.keep_cg_state:
            cg.restart()
        it0 = cg.it
        cg.iterate(int(SOLVER["cg_max_iterations"]) if max_iter is None else max_iter)
        self.iterations += cg.it - it0 if self.keep_cg_state else cg.it
        a, b, x = job["a"], job["b"], cg.x
        tol = float(SOLVER["cg_tolerance"])
        if max_iter is not None and np.linalg.norm(b - a @ x) > tol * job["norm_b"]:
            return False
        self._pending = None
        self._adopt(x.copy(), job["c"], job["cb"])
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
        self._step_limit = None
        out = np.bincount(g.face_i, np.maximum(self._flux, 0), n)
        out += np.bincount(g.face_j, np.maximum(-self._flux, 0), n)
        out += np.bincount(g.boundary_cell, np.maximum(self._bflux, 0), n)
        self._out = out

    # ----- cement ----------------------------------------------------------------------------
    def max_step_s(self, exponent: float) -> float:
        """Largest stable step (s) for the current fluxes: dt ≤ φV / (a F_out) wherever
        cement is or can arrive (cached until the fluxes change or cement reaches a new
        cell)."""
        if self._step_limit is not None and self._step_limit[0] == exponent:
            return self._step_limit[1]
        g = self.grid
        limit = float(step_limit(self.fill, g.face_i, g.face_j, g.pore_m3, self._out, exponent))
        self._step_limit = (exponent, limit)
        return limit

    def _open_faces(self, source_cell: int, flux_scale: float, entry_threshold_pa: float):
        """Faces (and boundary faces) whose upwind cell holds cement (or is the source), less
        the faces into a leak site where the pressure difference × ``flux_scale`` is below
        ``entry_threshold_pa`` (Pa)."""
        g = self.grid
        self._active = act = open_faces(
            self.fill, source_cell, self._up, self._down, g.face_i, g.face_j,
            self.pressure_pa, g.site, float(flux_scale), float(entry_threshold_pa),
        )  # fmt: skip
        self._active_b = act_b = open_boundary(self.fill, source_cell, g.boundary_cell, self._bflux)
        self._threshold = entry_threshold_pa
        self._spill_op = None  # built when first needed for these faces
        # what advance needs of them, gathered once: the upwind cells (each raised to the
        # power a once per step), the fluxes, the cells that gain and lose
        up, down, bc = self._up[act], self._down[act], g.boundary_cell[act_b]
        # the distinct upwind cells in order, and each face's place among them (what
        # np.unique(…, return_inverse=True) gives, without its sort)
        used = np.zeros(g.n, dtype=bool)
        used[up] = True
        used[bc] = True
        cells = np.flatnonzero(used)
        place = np.zeros(g.n, dtype=np.intp)
        place[cells] = np.arange(cells.size)
        self._moves = {
            "cells": cells,
            "up": place[up],
            "b": place[bc],
            "flux": self._absflux[act],
            "bflux": self._bflux[act_b],
            "bsite": g.site[bc],
            "bcell": bc,
            "into": np.concatenate([down, up, bc]),
        }

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
        """Move cement for ``dt_s`` seconds with the stored fluxes × ``flux_scale``, with
        ``rate_m3_s`` (m³/s) of cement entering ``source_cell`` and fractional-flow exponent
        ``exponent``.

        Cement crosses from the body into a leak site (vein, canal, disc, soft tissue, tract)
        only where the pressure difference across that face exceeds ``entry_threshold_pa``
        (Pa; the yield stress of doughy cement holding it out of narrow openings)."""
        g = self.grid
        if self._active is None or entry_threshold_pa != self._threshold:
            self._open_faces(source_cell, flux_scale, entry_threshold_pa)
        mv = self._moves
        f_up = self.fill[mv["cells"]] ** exponent  # fractional flow of each upwind cell
        moved = f_up[mv["up"]] * (mv["flux"] * (flux_scale * dt_s))
        out_b = f_up[mv["b"]] * (mv["bflux"] * (flux_scale * dt_s))
        # one pass in the order in, out, out of the domain (as successive np.add.at calls)
        delta = np.bincount(mv["into"], np.concatenate([moved, -moved, -out_b]), g.n)
        np.add.at(self.exited_m3, mv["bsite"], out_b)
        np.add.at(self.exited_cell_m3, mv["bcell"], out_b)
        delta[source_cell] += rate_m3_s * dt_s
        self.entered_m3 += rate_m3_s * dt_s
        before = self.fill > 0
        raw = self.fill + delta / g.pore_m3
        if self.conservative:
            raw = self._spill(raw)
        self.fill = np.clip(raw, 0.0, 1.0)
        self.clipped_m3 += float(((raw - self.fill) * g.pore_m3).sum())
        self._by_site = None
        self.version += 1
        after = self.fill > 0
        changed = after != before
        if self._sinks is not None:  # emptied after every step (take): no new way on
            changed &= ~self._sinks
        if np.any(changed & after):
            self._active = None  # cement reached new cells
        if np.any(changed):
            self._step_limit = None

    def _spill(self, raw: np.ndarray, rounds: int = 20) -> np.ndarray:
        """``raw`` fill with what exceeds 1 passed on, in proportion to the flux, through the
        open outflow faces of each overfull cell (what reaches the domain boundary is booked
        as exited by site). What is still over after ``rounds`` (a cell with no open way out,
        its faces into a leak site held shut by the entry threshold, or cement circling among
        full cells) goes to the nearest body cells with room (:meth:`_deposit`): never through
        a shut face, so the yield stress that holds the cement out of a vein holds the excess
        out too."""
        from simulator.cement.overfull import gain_matrix, spill

        if not (raw > 1.0).any():
            return raw
        g = self.grid
        if self._spill_op is None:  # once per set of open faces: a sparse "share → gain"
            faces, bfaces = self._active, self._active_b
            up, down, wt = self._up[faces], self._down[faces], self._absflux[faces]
            bc, bwt = g.boundary_cell[bfaces], self._bflux[bfaces]
            csr, csc, repeats = gain_matrix(g.n, down, up, wt)
            if repeats:  # scipy's own sum of the repeated entries
                gain = sp.csr_matrix((wt, (down, up)), shape=(g.n, g.n))
                csr = (gain.indptr, gain.indices, gain.data)
            total = np.bincount(up, wt, g.n) + np.bincount(bc, bwt, g.n)
            self._spill_op = (csr, csc, total, bc, bwt, g.site[bc])
        csr, csc, total, bc, bwt, bsite = self._spill_op
        if self._spill_scratch is None:
            n = g.n
            self._spill_scratch = (np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.bool_))
        # the rounds, compiled: per round, the overfull cells keep 1 and share the rest out,
        # raw += (gain @ share) / pore, the boundary's part booked as exited (overfull.py)
        spill(raw, g.pore_m3, total, csr, csc, bc, bwt, bsite, self.exited_m3,
              self.exited_cell_m3, rounds, *self._spill_scratch)  # fmt: skip
        if (raw > 1.0).any():
            raw = self._deposit(raw)
        return raw

    def _deposit(self, raw: np.ndarray) -> np.ndarray:
        """Each overfull cell's excess into the nearest cells with room, breadth first through
        the grid's inner faces except those from the body into a leak site (the faces the
        entry threshold may hold shut). Only when the body around it is full is the cement
        forced through those faces (into the nearest leak-site cells with room) and, with the
        whole grid full, out of the grid at the cell's site. Exact, so the balance holds."""
        from simulator.cement.overfull import fill_nearest, scratch

        g = self.grid
        if self._graphs is None:
            keep = g.face_t > 0
            i, j = g.face_i[keep], g.face_j[keep]
            frm, to = np.concatenate([i, j]), np.concatenate([j, i])
            ok = ~((g.site[frm] == 0) & (g.site[to] != 0))  # never out of the body this way

            def graph(sel):
                m = sp.csr_matrix((np.ones(int(sel.sum())), (frm[sel], to[sel])), (g.n, g.n))
                return m.indptr, m.indices

            self._graphs = (graph(ok), graph(np.ones(frm.size, dtype=bool)))
            self._scratch = scratch(g.n)
        for cell in np.nonzero(raw > 1.0)[0]:
            excess = (raw[cell] - 1.0) * g.pore_m3[cell]
            raw[cell] = 1.0
            for indptr, indices in self._graphs:
                excess = fill_nearest(
                    indptr, indices, raw, g.pore_m3, int(cell), excess, *self._scratch
                )
                if excess <= 0.0:
                    break
            else:  # every cell it can reach is full: the cement leaves the grid here
                self.exited_m3[g.site[cell]] += excess
                self.exited_cell_m3[cell] += excess
        return raw

    def take(self, cells: np.ndarray) -> np.ndarray:
        """Remove the cement of ``cells`` (it moves on outside the grid: the vein network);
        returns it per cell (m³). Called after every step: these cells never hold cement
        when a step starts, so their faces need not be opened for it."""
        if self._sinks is None:
            self._sinks = np.zeros(self.grid.n, dtype=bool)
            self._sinks[cells] = True
        vol = self.fill[cells] * self.grid.pore_m3[cells]
        if vol.any():
            self.fill[cells] = 0.0
            self._by_site = None
            self.version += 1
        return vol

    def cement_m3(self) -> np.ndarray:
        """Cement volume per cell (m³)."""
        return self.fill * self.grid.pore_m3

    def volume_by_site_m3(self) -> np.ndarray:
        """Cement in the grid per leak site plus what left through the boundary (m³; cached
        until the cement moves)."""
        if self._by_site is None:
            self._by_site = (
                np.bincount(self.grid.site, self.cement_m3(), len(SITES)) + self.exited_m3
            )
        return self._by_site.copy()


def norm_or_one(b: np.ndarray) -> float:
    """‖b‖₂, or 1 for a zero vector (so that a tolerance relative to it stays meaningful)."""
    return float(np.linalg.norm(b)) or 1.0
