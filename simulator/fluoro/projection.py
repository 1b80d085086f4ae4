"""Line integrals ∫μ dl on the detector: anatomy (cached), needle and cement (per render).

Beer–Lambert: the photons reaching a pixel are N = N₀ exp(−∫μ dl) along the ray. The anatomy
integral is the sum of the tissue table's μ over the voxels on the ray plus a uniform slab for
the trunk outside the phantom; the needle is a steel cylinder (a tube once the stylet is out,
its lumen filled with cement from the hub as the injection pushes it through) whose chord along
each ray is computed in closed form; the cement in the bone adds its μ minus the marrow it
displaced, weighted by the cement volume fraction of each voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.fluoro.views import View
from simulator.materials import tissues


@dataclass(frozen=True, kw_only=True)
class NeedleRender:
    """What the image needs of the needle (LPS mm).

    The needle runs from its hub, ``length_mm`` behind the tip, to ``tip_mm`` along
    ``direction`` (unit, pointing to the tip). With the stylet in it is solid steel of
    ``outer_radius_mm``; with it out, a tube of inner radius ``inner_radius_mm`` whose lumen
    holds cement (linear attenuation ``cement_mu_per_mm``, 1/mm) over its first
    ``lumen_cement_mm`` from the hub (0: empty; ``length_mm``: full to the tip).
    """

    tip_mm: tuple[float, float, float]
    direction: tuple[float, float, float]
    length_mm: float
    outer_radius_mm: float
    inner_radius_mm: float
    stylet_in: bool = True
    lumen_cement_mm: float = 0.0
    cement_mu_per_mm: float = 0.0

    @classmethod
    def of(cls, state, *, cement=None) -> NeedleRender | None:
        """The render of a needle state (``simulator.needle.model.NeedleState``: tip,
        direction, length, radii, stylet), or None before it is placed. ``cement``: the
        cement model whose cannula fill the lumen shows (:func:`lumen_cement`), or None for an
        empty lumen (the images of releases before 0.5.0)."""
        if not state.placed:
            return None
        filled_mm, mu = (
            (0.0, 0.0) if cement is None else lumen_cement(cement, state.length_mm, needle=state)
        )
        return cls(
            tip_mm=tuple(float(v) for v in state.tip_mm),
            direction=tuple(float(v) for v in state.direction),
            length_mm=state.length_mm,
            outer_radius_mm=state.outer_radius_mm,
            inner_radius_mm=state.inner_radius_mm,
            stylet_in=state.stylet_in,
            lumen_cement_mm=filled_mm,
            cement_mu_per_mm=mu,
        )


def lumen_cement(cement, length_mm: float, *, needle=None) -> tuple[float, float]:
    """(length of the lumen filled from the hub (mm), the cement's μ (1/mm)) of a cannula
    ``length_mm`` long, from a cement model's ``in_cannula_m3`` and ``cannula_m3`` (the
    cannula fills from the hub; full, the cement reaches the tip) and its mixed
    ``product.barium_sulfate_mass_fraction`` (:func:`cement_mu_per_mm`). (0, 0) for a model
    without these (another cement model, or not mixed yet) or an empty cannula. ``needle``:
    whose cannula (the model's ``cannula_fill_m3``, two needles), else the syringe's."""
    in_m3 = getattr(cement, "in_cannula_m3", None)
    if needle is not None and hasattr(cement, "cannula_fill_m3"):
        in_m3 = cement.cannula_fill_m3(needle)
    full_m3 = getattr(cement, "cannula_m3", None)
    barium = getattr(getattr(cement, "product", None), "barium_sulfate_mass_fraction", None)
    if in_m3 is None or barium is None or not full_m3 or in_m3 <= 0.0:
        return 0.0, 0.0
    mu = cement_mu_per_mm(float(barium), load_table("fluoro")["attenuation"])
    return float(length_mm) * min(float(in_m3) / float(full_m3), 1.0), mu


@dataclass(frozen=True, kw_only=True)
class CementField:
    """Cement volume fraction (0–1) on a sub-box of the phantom grid.

    ``slices`` select the sub-box of the phantom's ``[x, y, z]`` volume; ``fraction`` has its
    shape. ``barium_mass_fraction`` is the product's radio-opacifier (0–1); the fluoroscopy turns
    it into an attenuation (:func:`cement_mu_per_mm`). The cement model hands over any object
    with these three attributes (``simulator.cement.injection.CementFill``).
    """

    slices: tuple[slice, slice, slice]
    fraction: np.ndarray
    barium_mass_fraction: float


def anatomy_integral(phantom: Phantom, view: View, *, torso: dict) -> np.ndarray:
    """∫μ dl of the anatomy on the detector (rows, cols), including the trunk outside the
    phantom as uniform soft tissue (``torso`` from ``assets/fluoro.toml``)."""
    t = tissues()
    mu = t.mu_per_mm[phantom.labels]
    g = phantom.grid
    line = mu.sum(axis=view.beam_axis, dtype=np.float64) * g.voxel_mm  # (col axis, z)
    extent = g.shape[view.beam_axis] * g.voxel_mm
    inside = phantom.labels != t.id("air")
    patient = inside.any(axis=view.beam_axis)  # rays that cross the patient
    soft = float(t.mu_per_mm[t.id("soft_tissue")])
    trunk = torso["width_mm"] if view.beam_axis == 0 else torso["depth_mm"]
    line = line + patient * soft * max(trunk - extent, 0.0)
    return plane_to_detector(line, view).astype(np.float32)


def plane_to_detector(plane: np.ndarray, view: View) -> np.ndarray:
    """Resample a (col axis, z) grid plane onto the detector (rows, cols); outside the phantom
    the nearest edge value is used."""
    n = view.size_px
    cols = np.clip(view.col0_index + np.arange(n), 0, plane.shape[0] - 1)
    zs = np.clip(view.row0_index - np.arange(n), 0, plane.shape[1] - 1)
    return plane[cols[None, :], zs[:, None]]


def needle_integral(needle: NeedleRender, view: View, *, steel_per_mm: float) -> tuple:
    """(row slice, col slice, ∫μ dl patch) of the needle, or None when it is off the field.

    Chord of a ray through a cylinder of radius r whose axis makes angle θ with the beam:
    2√(r² − d²)/sin θ, d the ray's distance from the axis (its 2D distance from the projected
    axis on the detector). Capped at the needle's length when it points down the beam. The
    cement in the lumen adds μ_cement × the lumen's chord where the projected axis is within
    its filled length from the hub.
    """
    tip = np.asarray(needle.tip_mm, dtype=float)
    d = np.asarray(needle.direction, dtype=float)
    hub = tip - needle.length_mm * d
    (r0, c0), (r1, c1) = view.project(np.stack([hub, tip]))
    pad = needle.outer_radius_mm / view.pixel_mm + 2
    n = view.size_px
    rlo, rhi = int(max(np.floor(min(r0, r1) - pad), 0)), int(min(np.ceil(max(r0, r1) + pad), n))
    clo, chi = int(max(np.floor(min(c0, c1) - pad), 0)), int(min(np.ceil(max(c0, c1) + pad), n))
    if rlo >= rhi or clo >= chi:
        return None
    rr = np.arange(rlo, rhi, dtype=float)[:, None]
    cc = np.arange(clo, chi, dtype=float)[None, :]
    seg = np.array([r1 - r0, c1 - c0])
    seg_len2 = float(seg @ seg)
    sin_theta = np.sqrt(max(1.0 - d[view.beam_axis] ** 2, 0.0))
    if seg_len2 < 1e-9 or sin_theta < 1e-6:
        # down the barrel: a disc of the needle's cross-section, as thick as the needle
        t = np.zeros_like(rr + cc)
        dist_px = np.hypot(rr - r1, cc - c1)
        chord_scale = None
    else:
        t = ((rr - r0) * seg[0] + (cc - c0) * seg[1]) / seg_len2
        pr, pc = r0 + t * seg[0], c0 + t * seg[1]
        dist_px = np.hypot(rr - pr, cc - pc)
        chord_scale = 1.0 / sin_theta
    dist_mm = dist_px * view.pixel_mm

    def chord(radius: float) -> np.ndarray:
        half = np.sqrt(np.clip(radius * radius - dist_mm * dist_mm, 0.0, None))
        if chord_scale is None:
            return np.where(half > 0, needle.length_mm, 0.0)
        return np.minimum(2.0 * half * chord_scale, needle.length_mm)

    path = chord(needle.outer_radius_mm)
    if not needle.stylet_in:
        path = path - chord(needle.inner_radius_mm)
    path = np.where((t >= 0.0) & (t <= 1.0), path, 0.0)
    mu_l = steel_per_mm * path
    if not needle.stylet_in and needle.lumen_cement_mm > 0.0:
        filled = (t >= 0.0) & (t <= needle.lumen_cement_mm / needle.length_mm)
        lumen = np.minimum(chord(needle.inner_radius_mm), needle.lumen_cement_mm)
        mu_l = mu_l + needle.cement_mu_per_mm * np.where(filled, lumen, 0.0)
    return slice(rlo, rhi), slice(clo, chi), mu_l.astype(np.float32)


def cement_integral(cement: CementField, view: View, *, att: dict, voxel_mm: float):
    """(row slice, col slice, ∫Δμ dl patch) of the cement, or None when off the field
    (``att``: the ``[attenuation]`` table of ``assets/fluoro.toml``)."""
    mu = cement_mu_per_mm(cement.barium_mass_fraction, att)
    delta = float(mu - att["marrow_per_mm"])
    line = cement.fraction.sum(axis=view.beam_axis, dtype=np.float64) * delta * voxel_mm
    col_sl, z_sl = (s for i, s in enumerate(cement.slices) if i != view.beam_axis)
    cols = np.arange(col_sl.start, col_sl.stop) - view.col0_index
    rows = view.row0_index - np.arange(z_sl.start, z_sl.stop)
    keep_c = (cols >= 0) & (cols < view.size_px)
    keep_r = (rows >= 0) & (rows < view.size_px)
    if not keep_c.any() or not keep_r.any():
        return None
    patch = line[keep_c][:, keep_r].T  # (z, col) → rows ordered by z ascending
    rows_k = rows[keep_r]
    cols_k = cols[keep_c]
    order = np.argsort(rows_k)
    patch = patch[order]
    r_sl = slice(int(rows_k.min()), int(rows_k.max()) + 1)
    c_sl = slice(int(cols_k.min()), int(cols_k.max()) + 1)
    return r_sl, c_sl, patch.astype(np.float32)


def cement_mu_per_mm(barium_mass_fraction: float, att: dict) -> float:
    """Linear attenuation (1/mm) of PMMA loaded with barium sulphate at mass fraction w."""
    w = barium_mass_fraction
    rho = 1.0 / ((1.0 - w) / att["pmma_density_g_cm3"] + w / att["baso4_density_g_cm3"])
    mass_att = w * att["baso4_mass_atten_cm2_g"] + (1.0 - w) * att["pmma_mass_atten_cm2_g"]
    return rho * mass_att / 10.0  # 1/cm → 1/mm
