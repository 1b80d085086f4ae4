"""The image chain: line integrals → photons → noise → intensifier look → 8-bit display.

1. ∫μ dl = anatomy (cached per view) + needle + cement (per render).
2. Mean photons per pixel λ = N_ref · dose · exp(L_ref − ∫μ dl). L_ref is the median line
   integral behind the treated body, so N_ref photons reach the detector there at the
   reference dose: the automatic exposure control.
3. Quantum noise: λ + √λ · ε with ε standard normal (the normal limit of Poisson noise, good
   for the λ ≳ 20 of every useful pixel), ε drawn from a generator seeded by
   (scenario seed, fluoroscopy stream, pulse index) — the same pulse gives the same image.
4. Intensifier/camera blur (Gaussian, ``blur_px``), logarithm, brightness/contrast window,
   optional edge enhancement (unsharp mask), vignetting toward the rim, circular collimation.
   The window is set once per view from the anatomy alone (automatic brightness/contrast
   settles on the patient), so what the procedure adds changes only the pixels it covers.
5. Dense is dark (low photon counts are dark); ``invert`` shows dense as bright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from simulator.anatomy.fields import rng_for
from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.fluoro.projection import (
    CementField,
    NeedleRender,
    anatomy_integral,
    cement_integral,
    cement_mu_per_mm,
    needle_integral,
    plane_to_detector,
)
from simulator.fluoro.views import View, standard_views
from simulator.materials import tissues

FLUORO_STREAM = 0xF1F1
"""Stream id of the image noise (see ``simulator.anatomy.fields.rng_for``)."""


@dataclass(frozen=True, kw_only=True)
class DisplaySettings:
    """User-facing image settings."""

    invert: bool = False
    edge_enhancement: float = 0.0
    noise: bool = True


@dataclass(frozen=True, kw_only=True, eq=False)
class FluoroImage:
    """One exposure: ``pixels`` uint8 (rows, cols) as displayed; ``counts`` float32 mean-plus-
    noise photons per pixel after blur (the physical signal, for analysis)."""

    view: str
    pixels: np.ndarray
    counts: np.ndarray
    pulse_index: int
    dose_factor: float


class Imager:
    """Renders fluoroscopic images of one phantom. Caches the anatomy per view."""

    def __init__(self, phantom: Phantom, *, cement_barium_fraction: float, seed: int):
        table = load_table("fluoro")
        det = table["detector"]
        self.phantom = phantom
        self.seed = int(seed)
        self.table = table
        body = phantom.geometry.body
        centre = (0.0, body.wall_y_mm - 4.0, 0.0)
        self.views: dict[str, View] = standard_views(
            phantom.grid,
            centre_mm=centre,
            field_diameter_mm=det["field_diameter_mm"],
            pixel_mm=det["pixel_mm"],
        )
        self.cement_barium_fraction = float(cement_barium_fraction)
        self.cement_mu_per_mm = cement_mu_per_mm(cement_barium_fraction, table["attenuation"])
        self._anatomy = {
            n: anatomy_integral(phantom, v, torso=table["torso"]) for n, v in self.views.items()
        }
        t = tissues()
        body_mask = np.isin(phantom.labels, t.group_ids("image_bone"))
        self._ref = {}
        self._window = {}
        self._circle = {}
        self._vignette = {}
        for name, view in self.views.items():
            behind_body = plane_to_detector(body_mask.any(axis=view.beam_axis), view)
            line = self._anatomy[name]
            self._ref[name] = float(np.median(line[behind_body])) if behind_body.any() else 0.0
            self._circle[name] = view.circle_mask()
            self._vignette[name] = 1.0 - det["vignetting"] * view.radius_fraction() ** 2
            lg = np.log(self._photons(name, line, 1.0))
            lg = ndimage.gaussian_filter(lg, det["blur_px"])
            lo, hi = np.percentile(lg[self._circle[name]], [0.5, 99.8])
            # headroom below the darkest anatomy so steel and cement stay distinguishable
            self._window[name] = (float(lo - 0.35 * (hi - lo)), float(hi))

    def _photons(self, view: str, line: np.ndarray, dose_factor: float) -> np.ndarray:
        n_ref = self.table["detector"]["photons_per_pixel_at_reference"]
        return n_ref * dose_factor * np.exp(self._ref[view] - line)

    def line_integral(
        self, view: str, *, needle: NeedleRender | None = None, cement: CementField | None = None
    ) -> np.ndarray:
        """∫μ dl on the detector of ``view`` (dimensionless), anatomy plus needle and cement."""
        v = self.views[view]
        line = self._anatomy[view].copy()
        att = self.table["attenuation"]
        if cement is not None:
            patch = cement_integral(cement, v, att=att, voxel_mm=self.phantom.grid.voxel_mm)
            if patch is not None:
                line[patch[0], patch[1]] += patch[2]
        if needle is not None:
            patch = needle_integral(needle, v, steel_per_mm=att["steel_per_mm"])
            if patch is not None:
                line[patch[0], patch[1]] += patch[2]
        return line

    def render(
        self,
        view: str,
        *,
        pulse_index: int,
        needle: NeedleRender | None = None,
        cement: CementField | None = None,
        dose_factor: float = 1.0,
        settings: DisplaySettings = DisplaySettings(),
    ) -> FluoroImage:
        """One exposure of ``view`` at ``dose_factor`` × the reference dose per pulse."""
        lam = self._photons(
            view, self.line_integral(view, needle=needle, cement=cement), dose_factor
        )
        pixels, counts = display_chain(
            lam,
            det=self.table["detector"],
            noise_rng=rng_for(self.seed, FLUORO_STREAM, int(pulse_index))
            if settings.noise
            else None,
            window=self._window[view],
            vignette=self._vignette[view],
            circle=self._circle[view],
            settings=settings,
            dose_factor=dose_factor,
        )
        return FluoroImage(
            view=view,
            pixels=pixels,
            counts=counts,
            pulse_index=int(pulse_index),
            dose_factor=float(dose_factor),
        )


def display_chain(
    lam, *, det, noise_rng, window, vignette, circle, settings, dose_factor: float, glare=None
):
    """Mean photons ``lam`` → (uint8 display pixels, float32 counts): quantum noise (if
    ``noise_rng``), blur, optional veiling ``glare`` (fraction of the blurred signal added,
    ``(fraction, sigma_px)``), log, window, edge enhancement, invert, vignetting (an array of
    gains) and the collimated field ``circle`` (a 0–1 array: soft at its edge)."""
    if noise_rng is not None:
        eps = noise_rng.standard_normal(lam.shape, dtype=np.float32)
        counts = np.maximum(lam + np.sqrt(lam) * eps, 0.0)
    else:
        counts = lam
    counts = ndimage.gaussian_filter(counts.astype(np.float32), det["blur_px"])
    if glare is not None:
        counts = veiling_glare(counts, *glare)
    lo, hi = window
    floor = 1e-4 * det["photons_per_pixel_at_reference"] * dose_factor
    lg = np.log(np.maximum(counts, floor) / dose_factor)
    disp = (lg - lo) / (hi - lo)
    gain = settings.edge_enhancement
    if gain > 0:
        disp = disp + gain * (disp - ndimage.gaussian_filter(disp, 2.0))
    disp = np.clip(disp, 0.0, 1.0)
    if settings.invert:
        disp = 1.0 - disp
    disp = disp * vignette
    if circle.dtype == bool:
        disp[~circle] = 0.0
    else:
        disp = disp * circle
    return np.round(disp * 255.0).astype(np.uint8), counts.astype(np.float32)


def veiling_glare(counts: np.ndarray, fraction: float, sigma_px: float) -> np.ndarray:
    """Light scattered in the intensifier: ``fraction`` of the signal spread with a wide
    Gaussian (σ ``sigma_px``), computed on a grid 8× coarser."""
    small = counts[::8, ::8]
    wide = ndimage.gaussian_filter(small, sigma_px / 8.0, mode="nearest")
    zoom = (counts.shape[0] / wide.shape[0], counts.shape[1] / wide.shape[1])
    up = ndimage.zoom(wide, zoom, order=1, grid_mode=True, mode="nearest")
    return (1.0 - fraction) * counts + fraction * up


def make_imager(scenario, phantom: Phantom, *, seed: int | None = None) -> Imager:
    """The imager of a scenario's phantom, with the scenario's cement and seed."""
    products = load_table("cements")["products"]
    barium = products[scenario.cement.product]["barium_sulfate_mass_fraction"]
    return Imager(
        phantom,
        cement_barium_fraction=barium,
        seed=scenario.scenario.seed if seed is None else seed,
    )
