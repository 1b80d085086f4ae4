"""The trabecular texture (simulator/anatomy/texture.py): its bone fraction, anisotropy, seeds,
the cement fields it feeds and the phantom without it (unchanged)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.anatomy.fields import make_fields
from simulator.anatomy.grid import Grid
from simulator.anatomy.texture import (
    DENSITY_SCALE,
    make_textured_fields,
    texture_params,
    textured_mu,
)
from simulator.fluoro.anatomy_cast import AnatomyVolume
from simulator.materials import tissues
from tests.conftest import scenario_and_phantom

T = tissues()
VOXEL = 0.5
VERTEBRA = scenario_and_phantom("first_case_l1")[0].vertebra


def _body(shape=(64, 64, 96)) -> np.ndarray:
    """A box vertebral body in soft tissue: a one-voxel cortical shell, endplates of two
    voxels at the top and bottom, cancellous bone inside."""
    lab = np.full(shape, T.id("soft_tissue"), dtype=np.uint8)
    lab[2:-2, 2:-2, 2:-2] = T.id("cortical")
    lab[3:-3, 3:-3, 2:4] = T.id("endplate")
    lab[3:-3, 3:-3, -4:-2] = T.id("endplate")
    lab[3:-3, 3:-3, 4:-4] = T.id("cancellous")
    return lab


def _grid(labels) -> Grid:
    origin = tuple(-(n - 1) / 2 * VOXEL for n in labels.shape)
    return Grid(origin_mm=origin, voxel_mm=VOXEL, shape=labels.shape)


def _fields(porosity=0.9, *, seed=11, labels=None, condensed=None):
    labels = _body() if labels is None else labels
    vert = dataclasses.replace(VERTEBRA, porosity=porosity)
    return labels, make_textured_fields(
        labels, _grid(labels), vert, T, seed=seed, condensed=condensed
    )


def _corr_length(a: np.ndarray, axis: int) -> float:
    """Lag (voxels) at which the autocorrelation of ``a`` along ``axis`` falls to 1/2
    (linear between lags)."""
    a = a - a.mean()
    prev = 1.0
    for lag in range(1, a.shape[axis] // 2):
        x = np.take(a, range(a.shape[axis] - lag), axis=axis)
        y = np.take(a, range(lag, a.shape[axis]), axis=axis)
        c = float((x * y).mean() / np.sqrt((x * x).mean() * (y * y).mean()))
        if c < 0.5:
            return lag - 1 + (prev - 0.5) / (prev - c)
        prev = c
    return float(a.shape[axis] // 2)


CORE = (slice(8, -8), slice(8, -8), slice(12, -12))
"""Inside the cancellous bone of :func:`_body`, clear of the subchondral bands."""


@pytest.mark.parametrize("porosity", [0.75, 0.9, 0.95])
def test_mean_bone_fraction_is_one_minus_porosity(porosity):
    labels, (phi, _, density) = _fields(porosity)
    canc = labels == T.id("cancellous")
    bv = density[canc] / DENSITY_SCALE
    assert bv.mean() == pytest.approx(1.0 - porosity, rel=0.02)
    assert 1.0 - phi[canc].mean() == pytest.approx(1.0 - porosity, rel=0.02)
    assert bv.std() > 0.5 * bv.mean()  # a structure, not a constant


def test_treated_phantom_bone_fraction_and_permeability_mean():
    scenario, ph = scenario_and_phantom("first_case_l1")
    v = scenario.vertebra
    _, k, density = make_textured_fields(ph.labels, ph.grid, v, T, seed=ph.seed)
    canc = ph.labels == T.id("cancellous")
    assert (density[canc] / DENSITY_SCALE).mean() == pytest.approx(1.0 - v.porosity, rel=0.02)
    assert k[canc].mean() == pytest.approx(v.permeability_m2, rel=1e-3)
    for name in ("adjacent_cancellous", "pedicle_cancellous"):
        sel = ph.labels == T.id(name)
        ratio = (1.0 - T.porosity[T.id(name)]) / (1.0 - T.porosity[T.id("cancellous")])
        want = (1.0 - v.porosity) * ratio
        # the measured shape's narrow pedicle cores saturate at solid bone in ≈ 5 % of their
        # voxels, which takes ≈ 3 % off the mean; the bodies' are within 2 %
        rel = 0.04 if name == "pedicle_cancellous" else 0.02
        assert (density[sel] / DENSITY_SCALE).mean() == pytest.approx(want, rel=rel)


def test_vertical_structure_is_longer_along_z():
    _, (_, _, density) = _fields(0.9)
    core = density[CORE].astype(np.float64)
    lx, ly, lz = (_corr_length(core, a) for a in range(3))
    assert lz >= 2.5 * lx and lz >= 2.5 * ly
    assert 0.6 <= lx * VOXEL <= 1.5  # ≈ 0.6–1 mm across


def test_more_porous_bone_is_more_vertical():
    lengths = []
    for porosity in (0.75, 0.95):
        _, (_, _, density) = _fields(porosity)
        core = density[CORE].astype(np.float64)
        lengths.append(_corr_length(core, 2) / _corr_length(core, 0))
    assert lengths[1] > lengths[0]


def test_same_seed_same_texture_other_seed_other_texture():
    labels, a = _fields(seed=3)
    _, b = _fields(seed=3)
    _, c = _fields(seed=4)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    canc = labels == T.id("cancellous")
    assert not np.array_equal(a[2][canc], c[2][canc])
    assert np.array_equal(a[2][~canc], c[2][~canc])


def test_more_porous_bone_attenuates_less():
    means = []
    for porosity in (0.8, 0.9, 0.95):
        labels, (_, _, density) = _fields(porosity)
        means.append(textured_mu(labels, density, T)[labels == T.id("cancellous")].mean())
    assert means[0] > means[1] > means[2]
    marrow, bone = texture_params()["marrow_mu_per_mm"], T.mu_per_mm[T.id("cortical")]
    assert means[1] == pytest.approx(0.1 * bone + 0.9 * marrow, rel=0.02)


def test_condensed_band_and_subchondral_bone_are_denser():
    labels = _body()
    band = np.zeros(labels.shape, dtype=bool)
    band[:, :, 40:46] = True
    _, (_, _, density) = _fields(labels=labels, condensed=band)
    canc = labels == T.id("cancellous")
    bv = density / DENSITY_SCALE
    middle = canc & ~band
    middle[:, :, :10] = middle[:, :, -10:] = False
    factor = texture_params()["condensed_factor"]
    assert bv[band & canc].mean() > 0.8 * factor * bv[middle].mean()
    under_plate = canc.copy()
    under_plate[:, :, 6:-6] = False  # the 1 mm under each endplate
    assert bv[under_plate].mean() > 1.3 * bv[middle].mean()


def test_shell_and_endplates_are_not_textured():
    labels, (phi, k, density) = _fields()
    plain_phi, plain_k = make_fields(labels, _grid(labels), VERTEBRA, T, seed=11)
    shell = np.isin(labels, T.ids("cortical", "endplate"))
    assert (density[shell] == 0).all()
    other = labels != T.id("cancellous")
    assert np.array_equal(phi[other], plain_phi[other])
    assert np.array_equal(k[other], plain_k[other])
    mu = textured_mu(labels, density, T)
    assert np.array_equal(mu[shell], T.mu_per_mm[labels[shell]])


def test_permeability_follows_porosity_and_keeps_its_mean():
    labels, (phi, k, _) = _fields(0.9)
    _, k_ln = make_fields(labels, _grid(labels), VERTEBRA, T, seed=11)
    canc = labels == T.id("cancellous")
    assert k[canc].mean() == pytest.approx(VERTEBRA.permeability_m2, rel=1e-3)
    ratio = np.log(k[canc] / k_ln[canc])
    assert np.corrcoef(ratio, phi[canc])[0, 1] > 0.3  # more porous, more permeable


def test_projection_shows_vertical_striation():
    """An AP-like projection (∫μ along y) of a textured block: its image is correlated
    further along z (rows of a radiograph) than along x."""
    labels, (_, _, density) = _fields(0.92)
    block = textured_mu(labels, density, T)[CORE].astype(np.float64)
    image = block.sum(axis=1) * VOXEL  # (x, z)
    assert _corr_length(image, 1) >= 2.0 * _corr_length(image, 0)
    assert image.std() > 0.005  # visible: ≳ 0.5 % of the transmitted intensity


def test_phantom_without_texture_is_unchanged():
    from simulator.anatomy.legacy import build_legacy_phantom
    from simulator.scenario import load_scenario

    ph = build_legacy_phantom(load_scenario("first_case_l1"))
    assert ph.bone_density is None
    plain = AnatomyVolume.from_phantom(ph)
    again = AnatomyVolume.from_labels(
        ph.labels,
        mu_per_mm=T.mu_per_mm,
        mu_soft_per_mm=float(T.mu_per_mm[T.id("soft_tissue")]),
        torso=plain.torso,
        origin_mm=ph.grid.origin_mm,
        voxel_mm=ph.grid.voxel_mm,
    )
    assert np.array_equal(plain.codes, again.codes)
    assert np.array_equal(plain.delta_lut, again.delta_lut)
    assert len(plain.delta_lut) == 128 + 2 * len(
        T.mu_per_mm
    ) and plain.tissue_codes.max() < 2 * len(T.mu_per_mm)
    # with the texture, only the textured voxels change code
    _, _, density = make_textured_fields(ph.labels, ph.grid, VERTEBRA, T, seed=ph.seed)
    textured = AnatomyVolume.from_phantom(dataclasses.replace(ph, bone_density=density))
    sel = np.isin(ph.labels, T.ids(*texture_params()["textured_labels"]))
    assert np.array_equal(textured.tissue_codes[~sel], plain.tissue_codes[~sel])
    assert (textured.tissue_codes[sel] >= 2 * len(T.mu_per_mm)).all()
    assert textured.tissue_codes.max() < 128
