"""Lytic lesions (metastases) and the new looks of fracture features.

A lytic lesion is a region of the treated body where tumour soft tissue has replaced the
trabeculae: label ``lytic_lesion``, painted over cancellous bone only, so the cortex, the
endplates and the veins that cross it stay. Its surface is a sphere of radius R = size/2
modulated by a few seeded zonal harmonics (lobulated, as metastases are on CT):

    r(u) = R · clip(1 + Σ_k a_k P_{l_k}(u · v_k), 0.6, 1.4)

with u the unit direction from the centre, v_k random unit axes, l_k ∈ {2, 3, 4} (Legendre
P_l) and |a_k| 0.10–0.22, drawn from ``rng_for(seed, LESION_STREAM, index)``.

A lesion that ``breaks`` a wall destroys it over its footprint: a channel of radius
``BREACH_WIDTH_FRACTION · size`` from the centre to the exit point beyond that wall is tumour
where it was cancellous bone and ``cortical_defect`` where it was cortex, so the lesion is
face-connected to the canal (posterior wall, pedicle), the neural foramen (pedicle) or the
paravertebral space (lateral wall). The validator (``simulator.scenario.placement``) uses the
same exit points (:func:`breach_exit`).

The new looks (``paint_defects(..., look=True)``): a cleft as a thin horizontal slit, an
endplate crack with a step, a posterior wall defect as a gap across the whole wall.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre
from scipy import ndimage

from simulator.anatomy.fields import rng_for
from simulator.anatomy.geometry import VertebraGeometry
from simulator.anatomy.grid import cylinder_mask, segment_box
from simulator.anatomy.parts import Painter
from simulator.materials import TissueTable

LESION_STREAM = 0x7E50
"""Random stream of the lesions' lobulation (one generator per ``[[defects]]`` index)."""
LOBE_TERMS = 4
LOBE_CLIP = (0.6, 1.4)
BREACH_WIDTH_FRACTION = 0.3
"""Radius of a breach channel as a fraction of the lesion's diameter (a 14 mm lesion opens a
wall over 8.4 mm)."""
EXIT_BEYOND_MM = 0.6
"""How far past a wall's outer surface a breach (like a wall defect) is painted."""
ENDPLATE_STEP_MM = 1.5
"""Depression of the fragment beside an endplate crack (clinical steps ≈ 1–2 mm, approx.)."""
_SIX = ndimage.generate_binary_structure(3, 1)


def lobe_terms(seed: int, index: int) -> list[tuple[int, np.ndarray, float]]:
    """The (degree l, unit axis v, amplitude a) of each harmonic of lesion ``index``."""
    rng = rng_for(seed, LESION_STREAM, index)
    terms = []
    for _ in range(LOBE_TERMS):
        degree = int(rng.integers(2, 5))
        axis = rng.standard_normal(3)
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
        amplitude = float(rng.uniform(0.10, 0.22) * rng.choice((-1.0, 1.0)))
        terms.append((degree, axis, amplitude))
    return terms


def radius_factor(ux, uy, uz, terms) -> np.ndarray:
    """r(u)/R for unit directions (ux, uy, uz) (broadcast arrays)."""
    f = 1.0
    for degree, v, a in terms:
        cos = ux * v[0] + uy * v[1] + uz * v[2]
        coef = np.zeros(degree + 1)
        coef[degree] = 1.0
        f = f + a * legendre.legval(cos, coef)
    return np.clip(f, *LOBE_CLIP)


def breach_exit(geom: VertebraGeometry, centre, breaks: str) -> np.ndarray | None:
    """The point (mm) a breach channel from ``centre`` runs to, just past the broken wall;
    None for ``"none"``. Posterior wall: straight back; lateral wall: out along the outline's
    normal on the centre's side (x ≥ 0 left); a pedicle: its isthmus."""
    body = geom.body
    x, y, z = (float(v) for v in centre)
    if breaks == "posterior_wall":
        return np.array([x, body.wall_y_mm + EXIT_BEYOND_MM, z])
    if breaks == "lateral_wall":
        side = 1.0 if x >= 0 else -1.0
        yy = min(y, body.wall_y_mm - 0.5)
        on_wall = np.array([side * body.half_width_at(yy), yy, z])
        normal = np.array([on_wall[0] / body.half_width_mm**2, yy / body.half_depth_mm**2, 0.0])
        return on_wall + EXIT_BEYOND_MM * normal / np.linalg.norm(normal)
    if breaks in ("left_pedicle", "right_pedicle"):
        return np.array(geom.pedicles[breaks.split("_")[0]].isthmus_mm, dtype=float)
    return None


def paint_lytic_lesion(
    p: Painter, geom: VertebraGeometry, defect, T: TissueTable, *, seed: int, index: int
) -> None:
    """One lytic lesion (see the module docstring); ``index`` is its ``[[defects]]`` index."""
    c = np.asarray(defect.position_mm, dtype=float)
    radius = defect.size_mm / 2.0
    reach = radius * LOBE_CLIP[1] + p.grid.voxel_mm
    box = p.box(c - reach, c + reach)
    lesion = T.id("lytic_lesion")
    if box is not None:
        dx, dy, dz = box.X - c[0], box.Y - c[1], box.Z - c[2]
        dist = np.sqrt(dx * dx + dy * dy + dz * dz)
        safe = np.maximum(dist, 1e-9)
        f = radius_factor(dx / safe, dy / safe, dz / safe, lobe_terms(seed, index))
        p.paint(box, dist <= radius * f, lesion, over=T.ids("cancellous"))
    end = breach_exit(geom, c, defect.breaks)
    if end is None:
        return
    width = BREACH_WIDTH_FRACTION * defect.size_mm
    lo, hi = segment_box(c, end, width)
    box = p.box(lo, hi)
    if box is None:
        return
    channel = cylinder_mask(box, c, end, width)
    p.paint(box, channel, lesion, over=T.ids("cancellous", "pedicle_cancellous"))
    p.paint(box, channel, T.id("cortical_defect"), over=T.ids("cortical", "pedicle_cortex"))


def paint_cleft_slit(p: Painter, defect, T: TissueTable) -> None:
    """A cleft as a horizontal slit: size across, about a fifth of that high (≥ 2 mm), fluid
    (``cleft``) or gas (``cleft_gas``)."""
    x, y, z = defect.position_mm
    half = defect.size_mm / 2.0
    hz = max(defect.size_mm / 9.0, 1.0)
    box = p.box((x - half, y - half, z - hz), (x + half, y + half, z + hz))
    if box is None:
        return
    m = ((box.X - x) ** 2 + (box.Y - y) ** 2) / half**2 + ((box.Z - z) / hz) ** 2 <= 1.0
    label = T.id("cleft_gas" if defect.gas else "cleft")
    p.paint(box, m, label, over=T.ids("cancellous", "basivertebral_vein"))


def paint_endplate_step(p: Painter, geom: VertebraGeometry, defect, T: TissueTable) -> bool:
    """Depress the endplate on the central side of an endplate crack by
    ``ENDPLATE_STEP_MM`` (a strip ``size`` long along x and ``size/2`` wide), into the body;
    the disc fills the step. Returns whether the crack is on the superior endplate.

    Each voxel column of the strip is shifted whole (cancellous, endplate and disc together);
    cancellous bone left facing the disc at the strip's edges becomes endplate, so the body
    stays sealed except through the crack itself.
    """
    body, g = geom.body, p.grid
    x, y, z = defect.position_mm
    half = defect.size_mm / 2.0
    top = abs(z - float(body.top_z(x, y))) <= abs(z - float(body.bottom_z(x, y)))
    k = max(1, round(ENDPLATE_STEP_MM / g.voxel_mm))
    central = 0.5 * (body.wall_y_mm + body.anterior_y_mm)
    toward = -1.0 if y > central else 1.0  # the fragment lies toward the body's centre
    y0, y1 = sorted((y + toward * 0.6, y + toward * (0.6 + half)))
    box = p.box((x - half - 1.0, y0 - 1.0, z - 8.0), (x + half + 1.0, y1 + 1.0, z + 8.0))
    if box is None or box.shape[2] <= 2 * k:
        return top
    strip = (
        body.in_plan(box.X, box.Y, inset_mm=2.0)
        & (np.abs(box.X - x) <= half)
        & (np.abs(box.Y - 0.5 * (y0 + y1)) <= 0.5 * (y1 - y0))
    )[:, :, 0]
    surf = body.top_z(box.X, box.Y) if top else body.bottom_z(box.X, box.Y)
    near = np.abs(box.Z - surf) <= 6.0
    sub = p.labels[box.slices]
    old = sub.copy()
    movable = np.isin(old, T.ids("cancellous", "endplate", "disc"))
    new = np.empty_like(old)
    if top:  # the piece goes down: each voxel takes the label k above it
        new[:, :, :-k], new[:, :, -k:] = old[:, :, k:], old[:, :, -k:]
        ok = movable & np.concatenate([movable[:, :, k:], movable[:, :, -k:]], axis=2)
    else:
        new[:, :, k:], new[:, :, :k] = old[:, :, :-k], old[:, :, :k]
        ok = movable & np.concatenate([movable[:, :, :k], movable[:, :, :-k]], axis=2)
    shift = strip[:, :, None] & near & ok
    sub[shift] = new[shift]
    disc = sub == T.id("disc")
    exposed = ndimage.binary_dilation(disc, structure=_SIX) & (sub == T.id("cancellous"))
    sub[exposed] = T.id("endplate")
    return top


def paint_crack_fissure(p: Painter, geom: VertebraGeometry, defect, T, *, top, depth_mm):
    """The crack through the endplate (``depth_mm`` into the body, 0.6 mm out) and its fissure
    3 mm on into the disc, along x over ``size`` at the crack's y (1.2 mm wide)."""
    body = geom.body
    x, y, z = defect.position_mm
    size = defect.size_mm
    box = p.box((x - size / 2, y - 0.6, z - 8), (x + size / 2, y + 0.6, z + 8))
    if box is None:
        return
    surf = body.top_z(box.X, box.Y) if top else body.bottom_z(box.X, box.Y)
    inside = T.ids("cancellous", "cortical", "endplate", "basivertebral_vein")
    surf = _painted_surface(p, box, surf, inside, top=top)
    dz = (box.Z - surf) * (1.0 if top else -1.0)
    p.paint(box, (dz >= -depth_mm) & (dz <= 0.6), T.id("endplate_crack"), over=inside)
    p.paint(box, (dz > 0.0) & (dz <= 3.0), T.id("disc_fissure"), over=T.ids("disc"))


def _painted_surface(p: Painter, box, surf, ids, *, top: bool, reach_mm: float = 4.0):
    """Per column of ``box``, the outer face of the painted body (its highest voxel of
    ``ids`` for ``top``, else its lowest) within ``reach_mm`` of the analytic surface ``surf``;
    ``surf`` where the column has none. The measured-shape endplate sits up to ≈ 1.5 mm off
    the analytic surface, so a crack placed on the latter alone could stop short of the disc.
    """
    half = 0.5 * p.grid.voxel_mm
    shape = box.shape
    Z = np.broadcast_to(box.Z, shape)
    analytic = np.broadcast_to(surf, (*shape[:2], 1))
    near = (np.abs(Z - analytic) <= reach_mm) & box.in_bounds()
    bone = np.isin(p.labels[box.slices], ids) & near
    if top:
        face = np.where(bone, Z + half, -np.inf).max(axis=2, keepdims=True)
    else:
        face = np.where(bone, Z - half, np.inf).min(axis=2, keepdims=True)
    return np.where(np.isfinite(face), face, analytic)


def paint_wall_gap(p: Painter, geom: VertebraGeometry, defect, T: TissueTable) -> None:
    """A posterior wall defect as a horizontal gap across the whole posterior wall (|x| up to
    the canal's half-width less 0.5 mm), ``size`` high, through the full cortex (2.5 mm in
    from the wall's outer surface to 0.6 mm past it): the white posterior wall line of a
    lateral image is interrupted there, and the gap opens into the canal only."""
    body, canal = geom.body, geom.canal
    z = defect.position_mm[2]
    hw = canal.half_width_mm - 0.5
    half = defect.size_mm / 2.0
    box = p.box((-hw, body.wall_y_mm - 2.5, z - half), (hw, body.wall_y_mm + 0.6, z + half))
    if box is not None:
        p.paint(box, True, T.id("cortical_defect"), over=T.ids("cancellous", "cortical"))
