"""Per-voxel porosity and permeability.

Outside the treated body's cancellous bone both come from the tissue table
(``assets/materials.toml``). Inside it, a seeded Gaussian random field ``Z`` (zero mean, unit
variance, correlation length ``heterogeneity_length_mm``) gives

    k = k0 · exp(σ Z − σ²/2)          (log-normal, mean k0; σ = permeability_heterogeneity)
    φ = clip(φ0 + 0.25 σ (1 − φ0) Z, 0.70, 0.97)

so more porous patches are also more permeable (the Kozeny–Carman trend). The field is drawn
on the body's bounding box only, from a generator seeded by (seed, stream), so another seed
changes these voxels and nothing else.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from simulator.anatomy.grid import Grid
from simulator.materials import TissueTable

ANATOMY_STREAM = 0xA7A7
"""Stream id of the anatomy's random numbers (other subsystems use other streams)."""


def rng_for(seed: int, stream: int, *more: int) -> np.random.Generator:
    """The generator of one subsystem (``stream``, plus e.g. a pulse index): independent
    streams from one scenario seed."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream), *map(int, more)]))


def make_fields(labels: np.ndarray, grid: Grid, vertebra, T: TissueTable, *, seed: int):
    """(porosity, permeability_m2) float32 volumes for the label volume."""
    porosity = T.porosity[labels]
    permeability = (T.permeability_scale[labels] * np.float32(vertebra.permeability_m2)).astype(
        np.float32
    )
    canc = labels == T.id("cancellous")
    idx = (
        np.nonzero(canc.any(axis=(1, 2)))[0],
        np.nonzero(canc.any(axis=(0, 2)))[0],
        np.nonzero(canc.any(axis=(0, 1)))[0],
    )
    if any(len(i) == 0 for i in idx):
        return porosity, permeability
    sl = tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)
    z = gaussian_field(
        tuple(s.stop - s.start for s in sl),
        length_vox=vertebra.heterogeneity_length_mm / grid.voxel_mm,
        rng=rng_for(seed, ANATOMY_STREAM),
    )
    m = canc[sl]
    sigma = vertebra.permeability_heterogeneity
    k = vertebra.permeability_m2 * np.exp(sigma * z - 0.5 * sigma * sigma)
    phi = np.clip(vertebra.porosity + 0.25 * sigma * (1.0 - vertebra.porosity) * z, 0.70, 0.97)
    permeability[sl][m] = k[m].astype(np.float32)
    porosity[sl][m] = phi[m].astype(np.float32)
    return porosity, permeability


def gaussian_field(shape, *, length_vox: float, rng: np.random.Generator) -> np.ndarray:
    """A correlated standard-normal field: white noise smoothed by a Gaussian of
    ``length_vox`` voxels, rescaled to unit variance."""
    noise = rng.standard_normal(shape)
    if length_vox > 0.3:
        noise = ndimage.gaussian_filter(noise, sigma=length_vox, mode="wrap")
    noise -= noise.mean()
    return noise / max(float(noise.std()), 1e-12)
