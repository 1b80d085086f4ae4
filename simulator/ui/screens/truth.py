"""The reveal after an attempt: label slices of the phantom through the needle, with the
cement (white in the body, red where it leaked) and the planned trajectory (green, dashed)
beside the real needle (orange). Both lines are projected onto the slice plane. Red means
leaked cement only: the great vessels (aorta, vena cava) have their own teal.

Axial slice: the plane z = tip z, viewed from the feet (anterior up, the patient's right on
the viewer's left). Sagittal slice: the plane x = tip x, anterior on the left, head up (like
the lateral image).
"""

from __future__ import annotations

import numpy as np
import pygame

from simulator.materials import tissues
from simulator.ui import render as r

LABEL_RGB = {
    "air": (0, 0, 0),
    "soft_tissue": (58, 44, 44),
    "cancellous": (150, 138, 116),
    "cortical": (232, 226, 208),
    "endplate": (232, 226, 208),
    "pedicle_cancellous": (150, 138, 116),
    "pedicle_cortex": (232, 226, 208),
    "posterior_bone": (196, 190, 174),
    "adjacent_cancellous": (112, 106, 94),
    "adjacent_cortical": (180, 174, 160),
    "disc": (86, 108, 160),
    "disc_fissure": (70, 86, 136),
    "thecal_sac": (64, 130, 200),
    "epidural_fat": (178, 168, 92),
    "epidural_vein": (150, 64, 160),
    "basivertebral_vein": (160, 52, 96),
    "segmental_vein": (160, 52, 96),
    "great_vessel": (64, 118, 122),  # slate teal: red is kept for leaked cement only
    "nerve_root": (238, 214, 80),
    "cleft": (76, 76, 66),
    "cortical_defect": (120, 82, 60),
    "endplate_crack": (120, 82, 60),
    "lytic_lesion": (132, 84, 104),  # tumour: darker than bone, not red (kept for leaks)
    "cleft_gas": (24, 24, 22),
}
GREAT_VESSEL_RGB = LABEL_RGB["great_vessel"]
CEMENT_RGB = np.array([255, 252, 236], dtype=float)
LEAK_RGB = np.array([255, 40, 30], dtype=float)
PLAN_RGB = (90, 230, 110)
NEEDLE_RGB = (255, 150, 40)


def _lut() -> np.ndarray:
    t = tissues()
    return np.array([LABEL_RGB.get(n, (128, 128, 128)) for n in t.names], dtype=float)


def slice_images(proc, centre_mm) -> dict[str, np.ndarray]:
    """``{"axial", "sagittal"}`` → uint8 (rows, cols, 3) label slices through ``centre_mm``
    with the cement painted in (white in the body, red outside it)."""
    ph = proc.phantom
    g = ph.grid
    i, _, k = (int(v) for v in np.clip(g.index_of(centre_mm), 0, np.asarray(g.shape) - 1))
    lut = _lut()
    body = np.isin(np.arange(len(lut)), tissues().group_ids("body"))
    field = proc.cement.field()
    out = {}
    cuts = {"axial": (slice(None), slice(None), k), "sagittal": (i, slice(None), slice(None))}
    for name, cut in cuts.items():
        labels = ph.labels[cut]
        rgb = lut[labels]
        c = np.zeros(labels.shape, dtype=np.float32)
        if field is not None and field.fraction is not None:
            sub = list(field.slices)
            axis, index = (2, k) if name == "axial" else (0, i)
            if sub[axis].start <= index < sub[axis].stop:
                part = np.take(field.fraction, index - sub[axis].start, axis=axis)
                keep = [a for a in range(3) if a != axis]
                c[tuple(sub[a] for a in keep)] = part
        if field is not None and field.points_mm3 is not None:
            _paint_points(c, g, field, name, (i, k))  # the veins' cement near the slice
        alpha = np.clip(c / 0.35, 0.0, 1.0)[..., None]
        colour = np.where(body[labels][..., None], CEMENT_RGB, LEAK_RGB)
        rgb = rgb * (1 - alpha) + colour * alpha
        if name == "axial":  # (x, y) → rows y (anterior up), cols x (patient's right left)
            out[name] = rgb.transpose(1, 0, 2)
        else:  # (y, z) → rows −z (head up), cols y (anterior left)
            out[name] = rgb[:, ::-1].transpose(1, 0, 2)
    return {k2: np.round(v).astype(np.uint8) for k2, v in out.items()}


def _paint_points(c: np.ndarray, g, field, name: str, index: tuple[int, int]) -> None:
    """Mark the vein cement points within 2 mm of slice ``name`` (voxel ``index`` (i, k)) in
    the cement share ``c`` (full where a point lies)."""
    ijk = np.round((field.points_mm - np.asarray(g.origin_mm)) / g.voxel_mm).astype(int)
    axis = 2 if name == "axial" else 0
    near = np.abs(ijk[:, axis] - index[1 if axis == 2 else 0]) * g.voxel_mm <= 2.0
    keep = [a for a in range(3) if a != axis]
    a, b = ijk[near][:, keep[0]], ijk[near][:, keep[1]]
    ok = (a >= 0) & (a < c.shape[0]) & (b >= 0) & (b < c.shape[1])
    c[a[ok], b[ok]] = 1.0


def slice_point(proc, name: str, point_mm) -> tuple[float, float]:
    """(row, col) of an LPS point (mm) projected onto slice ``name``."""
    g = proc.phantom.grid
    x, y, z = (np.asarray(point_mm, dtype=float) - np.asarray(g.origin_mm)) / g.voxel_mm
    if name == "axial":
        return y, x
    return g.shape[2] - 1 - z, y


class TruthView:
    """Draws the two slices with the plan and the needle; built once per debrief."""

    def __init__(self, proc, plans: dict | None = None):
        """``plans``: side → its planned trajectory (``simulator.planning.Plan``), drawn beside
        the needle of that side. The slices pass through the placed needles' tips (two: their
        mean, so that the sagittal slice shows where their cement meets)."""
        self.proc = proc
        self.plans = plans or {}
        tips = [proc.needles[k].state.tip_mm for k in proc.placed_sides()]
        if tips:
            centre = np.mean(tips, axis=0)
        elif self.plans:
            centre = np.asarray(next(iter(self.plans.values())).target_mm)
        else:
            centre = np.zeros(3)
        self.images = slice_images(proc, centre)
        self.vessels_shown = any(
            bool((a == GREAT_VESSEL_RGB).all(axis=-1).any()) for a in self.images.values()
        )
        self._surfaces = {n: r.rgb_surface(a) for n, a in self.images.items()}

    def draw(self, surf: pygame.Surface, rect: pygame.Rect) -> None:
        """Both slices side by side inside ``rect`` (each keeps its aspect ratio)."""
        gap = 12
        shapes = {n: a.shape[:2] for n, a in self.images.items()}
        total_w = sum(c for _, c in shapes.values())
        scale = min(
            (rect.width - gap) / total_w, (rect.height - 26) / max(rw for rw, _ in shapes.values())
        )
        x = rect.left
        tips = "tips" if len(self.proc.placed_sides()) > 1 else "tip"
        for name in ("axial", "sagittal"):
            rows, cols = shapes[name]
            dst = pygame.Rect(x, rect.top + 22, int(cols * scale), int(rows * scale))
            surf.blit(pygame.transform.smoothscale(self._surfaces[name], dst.size), dst)
            pygame.draw.rect(surf, r.FRAME, dst, 1)
            r.text(
                surf, f"{name} slice through the {tips}", (dst.left, rect.top), size=20, color=r.DIM
            )
            clip = surf.get_clip()
            surf.set_clip(dst)
            self._lines(surf, name, dst, scale)
            surf.set_clip(clip)
            x = dst.right + gap

    def _lines(self, surf: pygame.Surface, name: str, dst: pygame.Rect, scale: float) -> None:
        def to_screen(p):
            row, col = slice_point(self.proc, name, p)
            return dst.left + (col + 0.5) * scale, dst.top + (row + 0.5) * scale

        for plan in self.plans.values():
            a = np.asarray(plan.skin_point_mm)
            b = np.asarray(plan.target_mm)
            for t0 in np.arange(0.0, 1.0, 0.08):
                p0, p1 = a + (b - a) * t0, a + (b - a) * min(t0 + 0.045, 1.0)
                pygame.draw.line(surf, PLAN_RGB, to_screen(p0), to_screen(p1), 2)
        for side in self.proc.placed_sides():
            s = self.proc.needles[side].state
            pygame.draw.line(surf, NEEDLE_RGB, to_screen(s.skin_mm), to_screen(s.tip_mm), 3)
