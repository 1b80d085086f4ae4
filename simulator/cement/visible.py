"""What release 0.5.0 adds to the cement model (``ModelOptions.visible_cement``): cement that
reaches a vein of the flow grid moves on in the vein network (:mod:`simulator.cement.veins`),
and the image gets the cement at voxel resolution (:mod:`simulator.cement.subgrid`) with the
veins' cement as points.

:class:`VisibleCement` is held by :class:`~simulator.cement.injection.CementInjection` from
mixing on; without it (logs of ≤ 0.4.0) cement in a vein stays in the grid until it leaves
it, and the image follows the 2 mm cells.
"""

from __future__ import annotations

import numpy as np

from simulator.cement.flow import CELL, SITES
from simulator.cement.model import CementFill
from simulator.cement.subgrid import SubgridFill, texture_weight
from simulator.cement.veins import build_network

VEIN = SITES.index("vein")


class VisibleCement:
    """The vein network and the voxel fill of one attempt's flow grid."""

    def __init__(self, scenario, phantom, grid, flow, *, disc_sheet: bool = True):
        """``disc_sheet``: a disc's cement drawn as a sheet on the endplate (0.6.0 on)."""
        self.grid, self.flow, self.phantom = grid, flow, phantom
        self.network = build_network(scenario, phantom)
        self.vein_cells = np.nonzero(grid.site == VEIN)[0]
        self.entry = self.network.entry_cells(grid.centre_mm[self.vein_cells])
        self.subgrid = SubgridFill(grid, phantom, sheet=disc_sheet)
        self._exited = 0.0  # the grid's vein exits already handed to the network (m³)
        self.weight = np.zeros(grid.n)  # the texture weight w of each cell's cement
        self._last = np.zeros(grid.n)  # each cell's cement at the last drain (m³)

    def _cell_site(self, sl) -> np.ndarray:
        """The site of each voxel of the phantom sub-box ``sl``: its flow cell's."""
        g = self.grid.slices
        lo = [(s.start - gs.start) // CELL for s, gs in zip(sl, g, strict=True)]
        hi = [(s.stop - gs.start) // CELL for s, gs in zip(sl, g, strict=True)]
        cells = self.grid.site.reshape(self.grid.shape)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        return np.repeat(np.repeat(np.repeat(cells, CELL, 0), CELL, 1), CELL, 2)

    def drain(self, dt_s: float, consistency_pa_s: float) -> None:
        """Move the cement in the grid's vein cells (and what left the grid through them) into
        the network, then the network's cement for ``dt_s`` (s). Each cell's texture weight
        is the volume-weighted mean of its cement's, at the consistency it arrived with."""
        now = self.flow.cement_m3()
        added = np.maximum(now - self._last, 0.0)
        grew = added > 0
        w = texture_weight(consistency_pa_s)
        self.weight[grew] = (self.weight[grew] * (now[grew] - added[grew]) + w * added[grew]) / now[
            grew
        ]
        vol = self.flow.take(self.vein_cells)
        now[self.vein_cells] = 0.0  # what take left: the cement per cell now (m³)
        self._last = now
        exited = self.flow.exited_cell_m3[self.vein_cells]
        new_exit = float(self.flow.exited_m3[VEIN]) - self._exited
        if new_exit > 0:  # through a vein cell at the grid's edge: into its network cell
            total = float(exited.sum())
            share = exited / total if total > 0 else np.full(exited.size, 1.0 / exited.size)
            vol = vol + new_exit * share
            self._exited += new_exit
        has = vol > 0
        self.network.step(dt_s, self.entry[has], vol[has], consistency_pa_s)

    @property
    def active(self) -> bool:
        """True while cement in the network may still move."""
        return self.network.in_veins_m3() > 0

    def vein_ml(self) -> float:
        """Cement that went into the veins (ml): in the grid's vein cells, the network and
        embolised."""
        grid_cells = float(self.flow.cement_m3()[self.vein_cells].sum())
        return (grid_cells + self.network.in_veins_m3() + self.network.embolised_m3) * 1e6

    def balance_terms_m3(self) -> dict[str, float]:
        """The network's share of the balance (replaces the grid's vein exits)."""
        return {
            "vein_network": self.network.in_veins_m3(),
            "embolised": self.network.embolised_m3,
            "vein_exits_not_yet_taken": float(self.flow.exited_m3[VEIN]) - self._exited,
        }

    def voxel_field(self):
        """(slices, cement volume fraction per voxel) of the grid's cement, or None."""
        return self.subgrid.fraction(self.flow.fill, self.weight)

    def cement_fill(self, barium_mass_fraction: float) -> CementFill | None:
        """The image's cement: the voxel fill and the veins' cement as points (None: none)."""
        voxels = self.voxel_field()
        pts, vol = self.points()
        if voxels is None and not vol.size:
            return None
        sl, frac = voxels if voxels is not None else (self.grid.slices, None)
        return CementFill(
            slices=sl,
            fraction=frac,
            barium_mass_fraction=barium_mass_fraction,
            points_mm=pts,
            points_mm3=vol,
            parts=lambda: self.parts(voxels),
        )

    def points(self):
        """(positions (N, 3) mm, volumes (N,) mm³) of the cement outside the voxel fill: the
        veins' and what left the grid through its edge elsewhere (at the edge cell it left
        from, so that no cement vanishes from the image)."""
        pts, vol = self.network.points()
        cells, out = self._edge_exits()
        if cells.size:
            pts = np.concatenate([pts, self.grid.centre_mm[cells]])
            vol = np.concatenate([vol, out * 1e9])
        return pts, vol

    def _edge_exits(self):
        """(boundary cells, m³) of the cement that left the grid there, veins excepted."""
        out = self.flow.exited_cell_m3.copy()
        out[self.vein_cells] = 0.0
        cells = np.nonzero(out > 0)[0]
        return cells, out[cells]

    def parts(self, field) -> dict | None:
        """The cement as points by site: {site: (positions (N, 3) mm, volumes (N,) mm³)}
        ("body" for the treated body), for the leak visibility; ``field``: the
        :meth:`voxel_field`."""
        out: dict = {}
        if field is not None:
            sl, frac = field
            idx = np.nonzero(frac > 1e-6)
            site = self._cell_site(sl)[idx]  # the flow's own booking: the cell's site
            g = self.phantom.grid
            pos = np.asarray(g.origin_mm) + g.voxel_mm * (
                np.stack(idx, 1) + np.array([s.start for s in sl])
            )
            vol = frac[idx].astype(np.float64) * g.voxel_mm**3
            for k, name in enumerate(SITES):
                sel = site == k
                if sel.any():
                    out["body" if name == "none" else name] = (pos[sel], vol[sel])
        cells, gone = self._edge_exits()
        for k, name in enumerate(SITES):  # what left the grid's edge, by its cell's site
            sel = self.grid.site[cells] == k
            if sel.any():
                p = self.grid.centre_mm[cells[sel]]
                v = gone[sel] * 1e9
                key = "body" if name == "none" else name
                if key in out:
                    p, v = np.concatenate([out[key][0], p]), np.concatenate([out[key][1], v])
                out[key] = (p, v)
        pts, vol = self.network.points()
        if vol.size:
            if "vein" in out:
                p0, v0 = out["vein"]
                pts, vol = np.concatenate([p0, pts]), np.concatenate([v0, vol])
            out["vein"] = (pts, vol)
        return out or None


def embolised_metric(cement) -> dict:
    """``embolised_ml`` of a :class:`~simulator.cement.injection.CementInjection` (release
    0.5.0 on, else nothing): cement carried out of the field toward the lungs."""
    if not cement.visible_on:
        return {}
    ml = 0.0 if cement.visible is None else cement.visible.network.embolised_m3 * 1e6
    return {"embolised_ml": round(ml, 6)}
