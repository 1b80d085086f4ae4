"""Trabecular micro-structure of the cancellous bone: one field for the image and the cement.

Off unless asked for: :func:`make_textured_fields` is what a builder calls instead of
``make_fields`` (whose output stays as released, so old logs replay on the old phantom).
Parameters: ``assets/texture.toml``.

Structure. Over the box of the textured labels (``textured_labels``: the treated body's
cancellous bone, the neighbours', the pedicles'), from white noise of a generator seeded by
(seed, :data:`TEXTURE_STREAM`), two standardised Gaussian fields:

    v = G_z(σ_v) * (G_xy(a_f) − G_xy(a_c)) * w₁     vertical trabeculae: band-pass across,
                                                      long along z
    h = G_z(h_z) * G_xy(h_xy) * w₂                    horizontal trabeculae: thin along z
    g = (v + w_h h) / √(1 + w_h²)

σ_v grows and w_h falls linearly with the scenario's porosity φ₀ over ``porosity_range``
(osteoporosis thins the horizontal trabeculae first). A soft threshold turns g (≈ N(0, 1))
into a bone volume fraction per voxel, BV = Φ((g − t)/s) with softness s; for g ~ N(0, 1),
E[BV] = Φ(−t / √(1 + s²)), so t = −√(1 + s²) Φ⁻¹(m) gives the local mean m:

    m = (1 − φ₀) · r_label · f / mean_label(f)   (× ``condensed_factor`` in ``condensed``)

with r_label = (1 − φ_label)/(1 − φ_cancellous) from the tissue table (the pedicles are
denser) and f = ``subchondral_factor`` within ``subchondral_mm`` (along z) of an endplate
label, else 1. Each label's BV is then rescaled so its mean (condensed voxels aside) is
exactly (1 − φ₀) r_label. The cortical shell and endplates are labels and are not touched.

Effects. Image: μ = BV μ_cortical + (1 − BV) μ_marrow (``simulator.fluoro.anatomy_cast``
reads the uint8 :data:`DENSITY_SCALE` · BV volume). Cement, in the treated body's cancellous
bone: φ = 1 − BV and

    k = k_LN · KC(φ̄) / mean(k_LN · KC(φ̄)) · k₀,   KC(φ) = φ³ / (1 − φ)²

with k_LN the released log-normal heterogeneity (``make_fields``, kept: the cement model is
calibrated with it) and φ̄ the porosity averaged over ``kozeny_rev_mm`` (Darcy's law needs a
volume of a few pores) and clipped to ``porosity_range``; the mean over the body is k₀.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, special

from simulator.anatomy.fields import make_fields, rng_for
from simulator.anatomy.grid import Grid
from simulator.assets import load_table
from simulator.materials import TissueTable

TEXTURE_STREAM = 0x7E47
"""Stream id of the texture's random numbers (independent of the anatomy's)."""

DENSITY_SCALE = 255
"""``bone_density`` holds round(DENSITY_SCALE · BV) as uint8 (BV resolution 0.004)."""

TRUNCATE = 3.0
"""Gaussian kernels are cut at 3 σ (the kernel's tails beyond hold 0.3 % of its weight)."""


def texture_params() -> dict:
    """The ``[texture]`` table of ``assets/texture.toml``."""
    return load_table("texture")["texture"]


def make_textured_fields(
    labels: np.ndarray,
    grid: Grid,
    vertebra,
    T: TissueTable,
    *,
    seed: int,
    condensed: np.ndarray | None = None,
):
    """(porosity, permeability_m2, bone_density) for the label volume, with the trabecular
    texture (module docstring): float32 pore fraction and Darcy permeability (m²) as
    ``make_fields`` with the treated body's cancellous voxels replaced, and uint8
    ``bone_density`` (round(255 · BV) in the textured labels, 0 elsewhere).

    ``condensed``: optional boolean mask (grid shape) of condensed, fractured trabeculae (the
    band under a collapsed endplate); their BV is raised by ``condensed_factor``.
    """
    p = texture_params()
    porosity, permeability = make_fields(labels, grid, vertebra, T, seed=seed)
    density = np.zeros(labels.shape, dtype=np.uint8)
    ids = np.array([T.id(n) for n in p["textured_labels"]], dtype=np.uint8)
    sl = _box(np.isin(labels, ids))
    if sl is None:
        return porosity, permeability, density
    pad = round(p["subchondral_mm"] / grid.voxel_mm)  # the endplates above and below the box
    sl = (*sl[:2], slice(max(sl[2].start - pad, 0), min(sl[2].stop + pad, labels.shape[2])))
    lab = labels[sl]
    g = structure(tuple(s.stop - s.start for s in sl), grid.voxel_mm, vertebra.porosity, seed=seed)
    cond = None if condensed is None else np.asarray(condensed, dtype=bool)[sl]
    bv = bone_fraction(g, lab, vertebra.porosity, T, grid.voxel_mm, condensed=cond)
    density[sl] = np.rint(bv * DENSITY_SCALE).astype(np.uint8)
    body = _box(lab == T.id("cancellous"))
    if body is not None:
        canc = lab[body] == T.id("cancellous")
        phi = (1.0 - bv[body]).astype(np.float32)
        porosity[sl][body][canc] = phi[canc]
        k_box = permeability[sl][body]
        k = kozeny_carman_permeability(phi, canc, k_box, vertebra, grid.voxel_mm)
        k_box[canc] = k[canc]
    return porosity, permeability, density


def _box(mask: np.ndarray):
    """Slices of the bounding box of ``mask`` (None when it is empty)."""
    idx = [np.nonzero(mask.any(axis=tuple(b for b in range(3) if b != a)))[0] for a in range(3)]
    if any(i.size == 0 for i in idx):
        return None
    return tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)


def _lerp_porosity(at_dense: float, at_porous: float, porosity: float) -> float:
    """Linear in the scenario's porosity over ``porosity_range`` (clamped)."""
    lo, hi = texture_params()["porosity_range"]
    u = min(max((porosity - lo) / (hi - lo), 0.0), 1.0)
    return at_dense + u * (at_porous - at_dense)


def structure(shape, voxel_mm: float, porosity: float, *, seed: int) -> np.ndarray:
    """The standardised trabecular field g (float32, ``shape``), ≈ N(0, 1) per voxel, long
    along z (axis 2) and more so at higher ``porosity`` (module docstring)."""
    p = texture_params()
    rng = rng_for(seed, TEXTURE_STREAM)
    sigma_z = _lerp_porosity(p["vertical_mm_at_dense"], p["vertical_mm_at_porous"], porosity)
    w_h = _lerp_porosity(
        p["horizontal_weight_at_dense"], p["horizontal_weight_at_porous"], porosity
    )
    v = _filtered(rng, shape, sigma_z / voxel_mm, axes=(2,))
    fine = _smooth(v, p["across_fine_mm"] / voxel_mm, axes=(0, 1))
    v = fine - _smooth(v, p["across_coarse_mm"] / voxel_mm, axes=(0, 1))
    h = _filtered(rng, shape, p["horizontal_z_mm"] / voxel_mm, axes=(2,))
    h = _smooth(h, p["horizontal_across_mm"] / voxel_mm, axes=(0, 1))
    g = _standard(v) + np.float32(w_h) * _standard(h)
    g *= np.float32(1.0 / np.sqrt(1.0 + w_h * w_h))
    return g


def _filtered(rng: np.random.Generator, shape, sigma_vox: float, *, axes) -> np.ndarray:
    """float32 white noise smoothed along ``axes``."""
    return _smooth(rng.standard_normal(shape, dtype=np.float32), sigma_vox, axes=axes)


def _smooth(a: np.ndarray, sigma_vox: float, *, axes) -> np.ndarray:
    """Gaussian smoothing (σ in voxels) along ``axes``, periodic, cut at :data:`TRUNCATE` σ."""
    out = a
    for ax in axes:
        out = ndimage.gaussian_filter1d(
            out, sigma_vox, axis=ax, mode="wrap", truncate=TRUNCATE, output=np.float32
        )
    return out


def _standard(a: np.ndarray) -> np.ndarray:
    """``a`` shifted and scaled to zero mean and unit variance (float32)."""
    a = a - np.float32(a.mean(dtype=np.float64))
    return a * np.float32(1.0 / max(float(a.std(dtype=np.float64)), 1e-12))


def bone_fraction(g, lab, porosity: float, T: TissueTable, voxel_mm: float, *, condensed=None):
    """Bone volume fraction (float32, 0–1) of each voxel of the box ``lab`` (labels) from the
    structure ``g``: the soft threshold for the local mean m (module docstring); 0 outside
    the textured labels."""
    p = texture_params()
    m = target_mean(lab, porosity, T, voxel_mm)
    if condensed is not None:
        m = np.where(condensed & (m > 0), m * p["condensed_factor"], m)
    m = np.clip(m, 0.0, p["max_mean_bv"])
    s = float(p["softness"])
    t = -np.sqrt(1.0 + s * s) * special.ndtri(np.maximum(m, 1e-6))
    bv = special.ndtr((g - t) / s).astype(np.float32)
    bv[m <= 0] = 0.0
    base = 1.0 - float(porosity)
    for name in p["textured_labels"]:
        sel = lab == T.id(name)
        if condensed is not None:
            sel &= ~condensed
        if sel.any():
            want = base * _label_ratio(T, name)
            bv[sel] = np.minimum(bv[sel] * np.float32(want / float(bv[sel].mean())), 1.0)
    return bv


def _label_ratio(T: TissueTable, name: str) -> float:
    """(1 − φ_label) / (1 − φ_cancellous) of the tissue table: a label's bone relative to the
    treated body's."""
    return float((1.0 - T.porosity[T.id(name)]) / (1.0 - T.porosity[T.id("cancellous")]))


def target_mean(lab: np.ndarray, porosity: float, T: TissueTable, voxel_mm: float) -> np.ndarray:
    """The local mean BV m (float64, ``lab``'s shape) before the condensed band: (1 − φ₀)
    times each label's ratio times the subchondral factor, normalised per label."""
    p = texture_params()
    reach = round(p["subchondral_mm"] / voxel_mm)
    plate = np.isin(lab, [T.id(n) for n in p["endplate_labels"]])
    band = np.zeros_like(plate)
    for dz in range(1, reach + 1):
        band[..., dz:] |= plate[..., :-dz]
        band[..., :-dz] |= plate[..., dz:]
    f = np.where(band, float(p["subchondral_factor"]), 1.0)
    m = np.zeros(lab.shape)
    for name in p["textured_labels"]:
        sel = lab == T.id(name)
        if sel.any():
            m[sel] = (1.0 - porosity) * _label_ratio(T, name) * f[sel] / f[sel].mean()
    return m


def kozeny_carman_permeability(phi, canc, k_ln, vertebra, voxel_mm: float) -> np.ndarray:
    """float32 permeability (m²) on the box: the log-normal ``k_ln`` times the Kozeny–Carman
    factor of the REV-averaged porosity ``phi`` over the cancellous voxels ``canc``,
    normalised to mean ``vertebra.permeability_m2`` over them (module docstring)."""
    p = texture_params()
    lo, hi = p["porosity_range"]
    sigma = p["kozeny_rev_mm"] / voxel_mm
    w = canc.astype(np.float32)
    num = ndimage.gaussian_filter(phi * w, sigma, mode="nearest", truncate=TRUNCATE)
    den = ndimage.gaussian_filter(w, sigma, mode="nearest", truncate=TRUNCATE)
    rev = np.clip(num / np.maximum(den, 1e-6), lo, hi).astype(np.float64)
    kc = rev**3 / (1.0 - rev) ** 2
    k = k_ln.astype(np.float64) * kc
    k *= vertebra.permeability_m2 / k[canc].mean()
    return k.astype(np.float32)


def textured_label_ids(T: TissueTable) -> tuple[int, ...]:
    """The ids of the labels that carry the texture (``textured_labels``)."""
    return tuple(T.id(n) for n in texture_params()["textured_labels"])


def bone_mu_per_mm(T: TissueTable) -> tuple[float, float]:
    """(μ of marrow, μ of bone) (1/mm): a voxel of bone fraction BV has
    μ = BV μ_bone + (1 − BV) μ_marrow, μ_bone that of the cortical label."""
    return float(texture_params()["marrow_mu_per_mm"]), float(T.mu_per_mm[T.id("cortical")])


def textured_mu(labels: np.ndarray, density: np.ndarray, T: TissueTable) -> np.ndarray:
    """float32 μ (1/mm) per voxel: the tissue table's, with the textured labels' voxels mixed
    from marrow and bone at their ``density`` (uint8, :data:`DENSITY_SCALE` · BV)."""
    mu = T.mu_per_mm[labels].astype(np.float32)
    sel = np.isin(labels, textured_label_ids(T))
    marrow, bone = bone_mu_per_mm(T)
    bv = density[sel].astype(np.float32) / np.float32(DENSITY_SCALE)
    mu[sel] = marrow + bv * np.float32(bone - marrow)
    return mu
