"""The veins around a vertebral body as a 1-D network that cement can fill (release 0.5.0 on).

Segments (anatomy-frame mm, after the venous anatomy of a vertebra: Groen 2004, the
vertebral venous system): the basivertebral tree inside the body (four branches into its
hub), the hub's exit through the posterior wall into the anterior internal (epidural)
plexus behind the body, the plexus' two longitudinal veins draining up and down to the
intervertebral foramina, the intervertebral veins out of the foramina to the ascending
lumbar (intercostal) veins down or up the body's side to the next body's waist, the lumbar
veins around that waist to the great vein
(vena cava or azygos, drawn where the phantom paints the vena cava), and the great vein up
and out of the field toward the heart and the lungs. Segmental veins of the scenario drain
along the body's side to the great vein; extra plexus veins join their side's foramen.

Each segment is cut into cells of ``[veins] cell_mm``, each with its lumen (π r² × length)
and blood speed, and one or two cells downstream (a junction divides). Cement that enters a
vein of the flow grid (:meth:`VeinNetwork.take`) is put in the nearest cell and moves:

- pushed: a cell holds at most its lumen; what the injection pushes in beyond it moves on
  downstream at once (cement is incompressible), so a filled vein grows as a column at the
  inflow's speed — the streak a leaking injection draws;
- carried: a plug that fills a small vein stays where the injection pushed it (the venous
  pressure, a few mmHg, moves it at the blood's speed × μ_blood / μ_cement ≈ 10⁻⁴ by
  Poiseuille, and less than that against the yield stress: nothing in the minutes of an
  attempt), while in the great vein cement is a drop in a wide lumen carried at the
  blood's speed;
- what leaves the last cell of the great vein has left the field toward the lungs:
  ``embolised_m3``.

Volumes are exact: taken = in the cells + embolised.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from simulator.assets import load_table
from simulator.cement.flow import MODEL

VEINS = MODEL["veins"]


class VeinNetwork:
    """Vein cells (read-only geometry) and the cement in them (``cement_m3``, mutable)."""

    def __init__(self, segments, *, seed: int = 0):
        """``segments``: (points (k, 3) mm, radius mm, blood speed mm/s, great, downstream
        segment indices with their shares, from the segment's last point). The small veins
        meander and their calibre varies along them (``[veins]`` ``meander_mm``,
        ``calibre_variation``, seeded by ``seed``): real veins are not ruled lines."""
        ds = float(VEINS["cell_mm"])
        rng = np.random.default_rng(seed)
        pos, radii, axis, speed, great, first, last = [], [], [], [], [], [], []
        for pts, radius, v, is_great, _ in segments:
            first.append(len(pos))
            if not is_great:
                pts = meander(pts, float(VEINS["meander_mm"]), rng)
            phase, wave = rng.uniform(0, 2 * math.pi), rng.uniform(4.0, 9.0)
            along = 0.0
            for a, b in itertools.pairwise(pts):
                n = max(1, math.ceil(np.linalg.norm(b - a) / ds))
                d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
                for k in range(n):
                    pos.append(a + (b - a) * (k + 0.5) / n)
                    along += ds
                    vary = 0.0 if is_great else float(VEINS["calibre_variation"])
                    radii.append(
                        radius * (1.0 + vary * math.sin(2 * math.pi * along / wave + phase))
                    )
                    axis.append(d)
                    speed.append(v / 1000.0)
                    great.append(is_great)
            last.append(len(pos) - 1)
        n = len(pos)
        self.pos_mm = np.array(pos)
        self.radius_mm = np.array(radii)
        self.axis = np.array(axis)
        area = np.pi * (self.radius_mm / 1000.0) ** 2
        self.length_m = np.full(n, ds / 1000.0)
        self.cap_m3 = area * self.length_m
        self.speed_m_s = np.array(speed)
        self.great = np.array(great, dtype=bool)
        down = np.full((n, 2), -1, dtype=np.int64)
        share = np.zeros((n, 2))
        down[:-1, 0] = np.arange(1, n)
        share[:, 0] = 1.0
        for s, (_, _, _, _, nexts) in enumerate(segments):
            i = last[s]
            down[i] = -1
            share[i] = 0.0
            for k, (target, w) in enumerate(nexts):
                j = first[target] if isinstance(target, int) else self.nearest(target, first, last)
                down[i, k], share[i, k] = j, w
            if not nexts:
                share[i, 0] = 1.0  # out of the field: embolised
        self.down, self.share = down, share
        self.order = _topological(down)
        self.cement_m3 = np.zeros(n)
        self.embolised_m3 = 0.0
        self.taken_m3 = 0.0
        self.version = 0
        """Counts the steps that moved cement (for the image's cache)."""
        self._tree = cKDTree(self.pos_mm)

    def nearest(self, spec, first, last) -> int:
        """The cell of segment ``spec[0]`` nearest the point ``spec[1]`` (mm)."""
        seg, point = spec
        cells = np.arange(first[seg], last[seg] + 1)
        d = np.linalg.norm(self.pos_mm[cells] - np.asarray(point), axis=1)
        return int(cells[np.argmin(d)])

    def entry_cells(self, points_mm: np.ndarray) -> np.ndarray:
        """The vein cell each point (mm) enters (the nearest)."""
        return self._tree.query(np.asarray(points_mm, dtype=float))[1].astype(np.int64)

    def step(self, dt_s: float, inflow_cell, inflow_m3, cement_pa_s: float) -> None:
        """Put ``inflow_m3`` into ``inflow_cell`` and move the cement for ``dt_s`` (s)
        (``cement_pa_s``, the consistency, kept for the record: a plug in a small vein does
        not move with the blood at any consistency)."""
        inflow = np.bincount(inflow_cell, inflow_m3, self.pos_mm.shape[0])
        if not inflow.any() and not self.cement_m3.any():
            return
        self.version += 1
        self.taken_m3 += float(np.sum(inflow_m3))
        mobility = np.where(self.great, 1.0, 0.0)
        u = self.speed_m_s * mobility
        subs = max(1, math.ceil(float((u * dt_s / self.length_m).max())))
        theta = u * (dt_s / subs) / self.length_m
        self.embolised_m3 += _move(
            self.cement_m3, inflow, self.cap_m3, theta, self.down, self.share, self.order, subs
        )

    def in_veins_m3(self) -> float:
        """Cement in the network's cells (m³)."""
        return float(self.cement_m3.sum())

    def points(self):
        """(positions (N, 3) mm, cement volumes (N,) mm³) of the cement in the cells, each
        cell's spread over its lumen's cross-section (the centre and six points at 0.6 r), so
        that a filled vein is drawn as wide as it is."""
        has = np.nonzero(self.cement_m3 > 0)[0]
        if has.size == 0:
            return np.zeros((0, 3)), np.zeros(0)
        centre, axis, r = self.pos_mm[has], self.axis[has], self.radius_mm[has]
        u = np.cross(axis, [0.0, 0.0, 1.0])
        flat = np.linalg.norm(u, axis=1) < 1e-6
        u[flat] = np.cross(axis[flat], [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u, axis=1)[:, None]
        w = np.cross(axis, u)
        pts = [centre]
        for k in range(6):
            a = k * math.pi / 3.0
            pts.append(centre + 0.6 * r[:, None] * (math.cos(a) * u + math.sin(a) * w))
        vol = np.tile(self.cement_m3[has] * 1e9 / 7.0, 7)
        return np.concatenate(pts), vol


@njit(cache=True)
def _move(c, inflow, cap, theta, down, share, order, subs):  # pragma: no cover
    """Inflow, then per sub-step each cell (upstream first) passes on the carried share
    ``theta`` and all above its lumen; returns what left the field (m³)."""
    gone = 0.0
    for s in range(subs):
        for idx in range(order.size):
            i = order[idx]
            if s == 0:
                c[i] += inflow[i]
            if c[i] <= 0.0:
                continue
            out = c[i] * min(theta[i], 1.0)
            over = c[i] - out - cap[i]
            if over > 0.0:
                out += over
            if out <= 0.0:
                continue
            c[i] -= out
            if down[i, 0] < 0:
                gone += out
                continue
            for k in range(2):
                j = down[i, k]
                if j >= 0:
                    c[j] += out * share[i, k]
    return gone


def _topological(down: np.ndarray) -> np.ndarray:
    """Cells ordered upstream first (Kahn)."""
    n = down.shape[0]
    indeg = np.zeros(n, dtype=np.int64)
    for k in range(2):
        d = down[:, k]
        np.add.at(indeg, d[d >= 0], 1)
    stack = list(np.nonzero(indeg == 0)[0][::-1])
    out = []
    while stack:
        i = stack.pop()
        out.append(i)
        for k in range(2):
            j = down[i, k]
            if j >= 0:
                indeg[j] -= 1
                if indeg[j] == 0:
                    stack.append(j)
    if len(out) != n:
        raise ValueError("the vein network has a loop")
    return np.array(out, dtype=np.int64)


def build_network(scenario, phantom) -> VeinNetwork:
    """The vein network of ``phantom`` (its analytic frame) and ``scenario``'s veins."""
    geom = phantom.geometry
    body, canal = geom.body, geom.canal
    anat = load_table("anatomy")
    shape, level = anat["shape"], anat["levels"][scenario.scenario.level]
    sp = VEINS["speed_mm_s"]
    hw, front, wall = body.half_width_mm, body.anterior_y_mm, canal.wall_y_mm
    yp = wall + shape["epidural_vein_diameter_mm"] / 2.0 + 0.5
    xp = 0.45 * canal.half_width_mm
    r_epi = shape["epidural_vein_diameter_mm"] / 2.0
    rv = shape["ivc_diameter_mm"] / 2.0
    zf = {
        "up": body.height_mm / 2.0 + level["disc_above_mm"] / 2.0,
        "dn": -(body.height_mm / 2.0 + level["disc_below_mm"] / 2.0),
    }
    (_, _), _, (z0, z1) = phantom.grid.extent_mm
    gx, gy = -0.9 * hw, front - rv + 2.0
    P = np.array
    segs = [(P([(gx, gy, z0), (gx, gy, z1)]), rv, sp["great"], True, [])]  # 0: great vein
    foramen = {}
    for side, s in (("left", 1.0), ("right", -1.0)):
        for end in ("up", "dn"):
            z = zf[end]  # out of the foramen, along the ascending lumbar (intercostal) vein
            z_n = z + (1.0 if end == "up" else -1.0) * body.height_mm / 2.0  # the next waist
            z_n = min(max(z_n, z0 + 1.0), z1 - 1.0)
            route = smooth(
                P(
                    [
                        (s * xp, yp, z),
                        (s * (canal.half_width_mm + 6.0), wall + 6.0, z),
                        (s * (hw + 4.0), wall - 2.0, z),
                        (s * (hw + 4.0), wall - 2.0, z_n),
                        (s * (hw + 3.0), 0.5 * front, z_n),
                        (s * 0.8 * hw, front - 3.0, z_n),
                        (gx, gy + rv * 0.5, z_n),
                    ]
                )
            )
            foramen[side, end] = len(segs)
            r_lumbar = float(VEINS["lumbar_diameter_mm"]) / 2.0
            segs.append((route, r_lumbar, sp["lumbar"], False, [((0, (gx, gy, z_n)), 1.0)]))
        for end in ("up", "dn"):  # the plexus' longitudinal vein, from mid-height to a foramen
            pts = P([(s * xp, yp, 0.0), (s * xp, yp, zf[end])])
            segs.append((pts, r_epi, sp["epidural"], False, [(foramen[side, end], 1.0)]))
    epidural = {
        (side, end): foramen[side, "up"] + 2 + k
        for side in ("left", "right")
        for k, end in enumerate(("up", "dn"))
    }
    for vein in scenario.veins:
        segs += _scenario_vein(vein, body, wall, yp, xp, epidural, len(segs), sp)
    return VeinNetwork(segs, seed=scenario.scenario.seed)


def meander(points: np.ndarray, amplitude_mm: float, rng) -> np.ndarray:
    """A polyline resampled at 1 mm and moved sideways by a seeded sum of two waves (a few
    mm and about a centimetre long) of about ``amplitude_mm``, its ends kept."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(s[-1])
    if total < 2.0 or amplitude_mm <= 0:
        return points
    t = np.linspace(0.0, total, max(int(total), 2) + 1)
    line = np.stack([np.interp(t, s, points[:, k]) for k in range(3)], 1)
    tangent = np.gradient(line, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1), 1e-9)[:, None]
    side = np.cross(tangent, rng.normal(size=3))
    side /= np.maximum(np.linalg.norm(side, axis=1), 1e-9)[:, None]
    envelope = np.sin(np.pi * t / total)  # ends in place: the junctions still meet
    wave = sum(
        rng.uniform(0.4, 0.7) * np.sin(2 * np.pi * t / rng.uniform(lo, hi) + rng.uniform(0, 6.3))
        for lo, hi in ((3.0, 6.0), (8.0, 14.0))
    )
    return line + (amplitude_mm * envelope * wave)[:, None] * side


def smooth(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """A polyline's corners rounded (Chaikin's corner cutting, ends kept): veins curve."""
    for _ in range(rounds):
        a, b = points[:-1], points[1:]
        cut = np.empty((2 * len(a), 3))
        cut[0::2], cut[1::2] = 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b
        points = np.vstack([points[:1], cut, points[-1:]])
    return points


def _scenario_vein(vein, body, wall, yp, xp, epidural, start, sp):
    """The segments of one scenario vein (joining the network's plexus or great vein)."""
    x, y, z = vein.position_mm
    r = vein.diameter_mm / 2.0
    P = np.array
    end = "up" if z >= 0 else "dn"
    if vein.kind == "basivertebral":
        trunk = P([(x, y, z), (x, wall, z), (x, yp, z)])  # straight through the foramen
        # the retro-corporeal anastomosis to both sides, each then up and down the plexus
        segs = [(trunk, r, sp["intraosseous"], False, [(start + 1, 0.5), (start + 2, 0.5)])]
        for side, sx in (("left", xp), ("right", -xp)):
            join = [
                ((epidural[side, "up"], (sx, yp, max(z, 0.0))), 0.5),
                ((epidural[side, "dn"], (sx, yp, min(z, 0.0))), 0.5),
            ]
            across = P([(x, yp, z), (sx, yp, z)])
            segs.append((across, 0.8 * r, sp["epidural"], False, join))  # as painted
        depth, width = 2.0 * body.half_depth_mm, 2.0 * body.half_width_mm
        for s in (1.0, -1.0):
            for length, angle in ((0.45 * depth, 35.0), (0.3 * width, 80.0)):
                a = math.radians(angle)
                tip = (x + s * length * math.sin(a), y - length * math.cos(a), z)
                branch = P([tip, (x, y, z)])
                segs.append((branch, 0.5 * r, sp["intraosseous"], False, [(start, 1.0)]))
        return segs
    side = "left" if x >= 0 else "right"
    if vein.kind == "segmental":
        s = 1.0 if x >= 0 else -1.0
        y_front = body.anterior_y_mm * 0.7
        side_y = 0.5 * (y + y_front)
        pts = smooth(
            P(
                [
                    (x, y, z),
                    (s * (body.half_width_at(side_y) + r + 0.3), side_y, z),
                    (s * (body.half_width_mm * 0.8), y_front, z),
                ]
            )
        )
        return [(pts, r, sp["lumbar"], False, [((0, (pts[-1][0], pts[-1][1], z)), 1.0)])]
    pts = P([(x, y, 0.0), (x, y, 0.0 + (1 if end == "up" else -1) * 8.0)])
    return [(pts, r, sp["epidural"], False, [((epidural[side, end], (x, y, 0.0)), 1.0)])]
