"""Perspective anatomy line integrals ∫μ dl: the trunk in closed form plus the phantom's
departures from it, ray-cast with empty-space skipping.

Split of the attenuation: μ = μ_soft · [inside the torso] + Δμ, with the :class:`Torso` solid
(``simulator.fluoro.torso``) and Δμ = μ − μ_soft · [voxel centre inside the torso] on the
phantom grid. Then ∫μ dl = μ_soft · chord + ∫Δμ dl: the chord of the ray through the torso is
closed-form and Δμ is zero in most of the phantom (the soft tissue inside the torso, the air
behind the skin outside it), so only bone, vessels, fat, the skin's edge … are sampled.

Storage: a uint8 *code* per voxel (the tissue label, plus ``n_labels`` where the voxel centre
lies outside the torso, plus the flag :data:`UNIFORM` where the trilinear cell starting at the
voxel reads one Δμ at all 8 corners) and a float32 lookup table ``delta_lut[code]`` = Δμ (1/mm).
Trilinear interpolation of the LUT values at the 8 corner codes equals trilinear interpolation
of Δμ and reads 8 bytes per sample instead of 32 (one byte in a flagged cell).

Textured bone (a phantom with ``bone_density``, ``simulator.anatomy.texture``): the voxels of
the textured labels get the codes 2 n_labels + b (+ n_bins outside the torso) of bin
b = round(BV (n_bins − 1)) of their bone volume fraction, whose LUT entries hold
μ = μ_marrow + b/(n_bins − 1) (μ_bone − μ_marrow) (− μ_soft inside the torso): the kernel and
the reference need no change. n_bins = :data:`TEXTURE_BINS` while the codes stay below the
flag (2 n_labels + 2 n_bins ≤ 128), at least 8.

Sampling (as in ``simulator.fluoro.raycast``): each ray is clipped to the box of non-zero Δμ
(plus the interpolation's one-voxel reach), split into equal steps of at most ``step_mm`` and
sampled at the steps' midpoints, Δμ interpolated trilinearly between voxel centres (clamped at
the grid's edge).

Empty-space skipping with the same samples (``simulator.fluoro.bricks``): the grid is cut into
bricks of ``brick``³ voxels (8 by default); a brick is *constant* when every sample whose cell
starts in it reads one value (its voxels and the one-voxel layer beyond its upper faces: the
trilinear reach), *empty* when that value is 0. The ray walks brick by brick (a 3-D DDA): the
lattice samples between a constant brick's entry and exit are counted (value × number, nothing
for an empty one), those of a varying brick are interpolated. Where a constant brick's
``reach`` (Chebyshev distance in bricks to the nearest brick of another value) exceeds 1, one
slab test on the cube of bricks within reach − 1 jumps to the first lattice sample past its
exit. The samples taken and their values are those of uniform stepping: the result equals it
to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.fluoro.air_cast import air_image, air_line_integrals
from simulator.fluoro.anatomy_kernel import UNIFORM, anatomy_kernel
from simulator.fluoro.bricks import brick_constant, brick_reach, occupied_box
from simulator.fluoro.geometry import Projection
from simulator.fluoro.raycast import _cast_numpy, _rays
from simulator.fluoro.torso import Torso, chords, skin_plane_index
from simulator.materials import tissues

TEXTURE_BINS = 32
"""Bins of the textured bone's μ between marrow and bone: steps of 0.0019/mm (≤ 0.001/mm off
the unquantised μ, a few per cent of the voxel's contrast to the mean cancellous bone)."""

BRICK = 8
"""Edge of a brick of the skipping maps (voxels, a power of two; 4 and 16 measured slower)."""

ANATOMY_STEP_MM = 0.5
"""Default sampling step of Δμ along the rays (mm): one voxel of the phantom. Against 0.1 mm
steps on first_case_l1 (368², four poses) the line integrals are off by ≤ 0.012 (p99 ≤ 0.005);
1 mm steps alias the thin cortices (≤ 0.063, p99 ≈ 0.03) for ≈ 25 % less time (``bench``)."""


def fit_torso(phantom, torso: dict | None = None, *, habitus: bool = True) -> Torso:
    """The trunk ``torso`` (``width_mm``, ``depth_mm``; default ``[torso]`` of
    ``assets/fluoro.toml``), grown by the phantom's habitus (``soft_tissue_mm``, unless
    ``habitus`` is False), placed by :meth:`Torso.fit` on the phantom's skin plane and its
    lateral faces."""
    from simulator.anatomy.habitus import torso_size
    from simulator.assets import load_table

    torso = torso or load_table("fluoro")["torso"]
    if habitus:
        torso = torso_size(torso, getattr(phantom, "soft_tissue_mm", 0.0))
    g = phantom.grid
    j_skin = skin_plane_index(phantom.labels, tissues().id("air"))
    skin_y = phantom.skin_y0_mm if j_skin is None else g.origin_mm[1] + j_skin * g.voxel_mm
    x0 = g.origin_mm[0] - 0.5 * g.voxel_mm
    x1 = g.origin_mm[0] + (g.shape[0] - 0.5) * g.voxel_mm
    return Torso.fit(
        width_mm=torso["width_mm"],
        depth_mm=torso["depth_mm"],
        skin_y_mm=skin_y,
        half_span_x_mm=max(abs(x0), abs(x1)),
    )


@dataclass(frozen=True, kw_only=True, eq=False)
class AnatomyVolume:
    """The phantom's attenuation as torso + Δμ, ready for :func:`anatomy_line_integrals`.

    ``codes``: uint8 C-ordered ``[x, y, z]`` (see the module docstring); ``delta_lut``: float32
    Δμ (1/mm) per code, flagged ones included; per brick of ``brick``³ voxels, ``constant``:
    float32 the one Δμ its samples read (NaN: they vary) and ``reach``: uint8 the Chebyshev
    distance in bricks to the nearest brick of another value (0: varying); ``box_lo``,
    ``box_hi``: voxel-unit box of non-zero Δμ; ``torso``: the trunk solid, of μ
    ``mu_soft_per_mm`` (1/mm); ``air_solids``: the phantom's lungs and bowel gas, added in
    closed form (``simulator.fluoro.air_cast``). Voxel ``[i, j, k]`` is centred at
    ``origin_mm + voxel_mm · (i, j, k)`` (LPS mm). About 11.5 MB for first_case_l1 (its
    float32 μ volume: 46 MB).
    """

    codes: np.ndarray
    delta_lut: np.ndarray
    reach: np.ndarray
    constant: np.ndarray
    origin_mm: tuple[float, float, float]
    voxel_mm: float
    box_lo: tuple[float, float, float]
    box_hi: tuple[float, float, float]
    torso: Torso
    mu_soft_per_mm: float
    brick: int = BRICK
    air_solids: tuple = ()

    @classmethod
    def from_phantom(cls, phantom, torso: dict | None = None, brick: int = BRICK) -> AnatomyVolume:
        """The phantom's tissues (``tissues().mu_per_mm[labels]``) inside the trunk
        ``torso`` (``width_mm``, ``depth_mm``; default ``[torso]`` of ``assets/fluoro.toml``),
        placed by :meth:`Torso.fit` on the phantom's skin plane and lateral faces."""
        t = tissues()
        g = phantom.grid
        solid = fit_torso(phantom, torso)
        texture = None
        if getattr(phantom, "bone_density", None) is not None:
            from simulator.anatomy.texture import bone_mu_per_mm, textured_label_ids

            texture = Texture(
                density=phantom.bone_density,
                label_ids=textured_label_ids(t),
                mu_per_mm=bone_mu_per_mm(t),
            )
        return cls.from_labels(
            phantom.labels,
            mu_per_mm=t.mu_per_mm,
            mu_soft_per_mm=float(t.mu_per_mm[t.id("soft_tissue")]),
            torso=solid,
            origin_mm=g.origin_mm,
            voxel_mm=g.voxel_mm,
            brick=brick,
            texture=texture,
            air_solids=tuple(getattr(phantom, "air_solids", ())),
        )

    @classmethod
    def from_labels(
        cls,
        labels,
        *,
        mu_per_mm,
        mu_soft_per_mm: float,
        torso: Torso,
        origin_mm,
        voxel_mm,
        brick: int = BRICK,
        texture: Texture | None = None,
        air_solids: tuple = (),
    ) -> AnatomyVolume:
        """From uint8 ``labels`` ``[x, y, z]`` with μ (1/mm) per label, the trunk's μ and solid;
        voxel [0, 0, 0] is centred at ``origin_mm`` (LPS mm); ``texture``: the textured bone's
        per-voxel μ (module docstring), None for one μ per label."""
        labels = np.asarray(labels)
        mu = np.asarray(mu_per_mm, dtype=np.float64)
        n_labels = len(mu)
        if labels.ndim != 3 or min(labels.shape) < 2:
            raise ValueError(f"labels: need a 3-D grid at least 2 voxels wide, got {labels.shape}")
        if brick < 1 or brick & (brick - 1):
            raise ValueError(f"brick: must be a power of two, got {brick}")
        if 2 * n_labels > UNIFORM:
            raise ValueError(f"mu_per_mm: at most 64 labels fit a uint8 code, got {n_labels}")
        h = float(voxel_mm)
        axes = [origin_mm[a] + h * np.arange(labels.shape[a]) for a in range(3)]
        x, y = axes[0][:, None], axes[1][None, :]
        inside = torso.contains(np.stack(np.broadcast_arrays(x, y, np.zeros_like(x * y)), -1))
        codes = labels.astype(np.uint8) + np.where(inside, 0, n_labels).astype(np.uint8)[..., None]
        lut = np.concatenate([mu - mu_soft_per_mm, mu]).astype(np.float32)
        if texture is not None:
            codes, lut = texture.coded(labels, codes, lut, inside, mu_soft_per_mm)
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        delta = lut[codes]
        codes |= np.where(_uniform_cells(delta), UNIFORM, 0).astype(np.uint8)
        lut = np.concatenate([lut, np.zeros(UNIFORM - len(lut), np.float32), lut])
        lo, hi = occupied_box(delta != 0.0)
        constant = brick_constant(delta, brick)
        return cls(
            codes=codes,
            delta_lut=lut,
            reach=brick_reach(constant),
            constant=constant,
            origin_mm=tuple(float(v) for v in origin_mm),
            voxel_mm=h,
            box_lo=lo,
            box_hi=hi,
            torso=torso,
            mu_soft_per_mm=float(mu_soft_per_mm),
            brick=int(brick),
            air_solids=tuple(air_solids),
        )

    @property
    def tissue_codes(self) -> np.ndarray:
        """The codes without the uniform-cell flag: label, + n_labels outside the torso (and
        the textured bone's bins past 2 n_labels)."""
        return self.codes & np.uint8(UNIFORM - 1)

    @property
    def delta_mu(self) -> np.ndarray:
        """Δμ (1/mm, float32 ``[x, y, z]``): the LUT applied to the codes."""
        return self.delta_lut[self.codes]

    @property
    def nbytes(self) -> int:
        """Memory held by the volume (bytes)."""
        return sum(a.nbytes for a in (self.codes, self.delta_lut, self.reach, self.constant))


@dataclass(frozen=True, kw_only=True, eq=False)
class Texture:
    """The textured bone of a phantom: ``density`` uint8 ``[x, y, z]`` (255 · bone volume
    fraction) read in the voxels of ``label_ids``, of μ ``mu_per_mm`` = (marrow, bone)
    (1/mm) at fractions 0 and 1."""

    density: np.ndarray
    label_ids: tuple[int, ...]
    mu_per_mm: tuple[float, float]

    def coded(self, labels, codes, lut, inside, mu_soft_per_mm: float):
        """(codes, lut) with the textured voxels moved to the bins' codes and the bins' Δμ
        appended to ``lut`` (module docstring); ``inside`` (x, y): voxel columns inside the
        torso."""
        first = len(lut)
        bins = min(TEXTURE_BINS, (UNIFORM - first) // 2)
        if bins < 8:
            raise ValueError(f"texture: {bins} bins left below the code flag, need at least 8")
        from simulator.anatomy.texture import DENSITY_SCALE

        b = np.rint(self.density.astype(np.float32) * ((bins - 1) / DENSITY_SCALE))
        b = b.astype(np.uint8) + np.where(inside, 0, bins).astype(np.uint8)[..., None]
        sel = np.isin(labels, self.label_ids)
        codes = np.where(sel, np.uint8(first) + b, codes).astype(np.uint8)
        marrow, bone = self.mu_per_mm
        mu = marrow + np.arange(bins) / (bins - 1) * (bone - marrow)
        return codes, np.concatenate([lut, mu - mu_soft_per_mm, mu]).astype(np.float32)


def _uniform_cells(delta: np.ndarray) -> np.ndarray:
    """True at voxel (i, j, k) when the 8 voxels of the cell starting there hold one value."""
    n0, n1, n2 = (n - 1 for n in delta.shape)
    first = delta[:n0, :n1, :n2]
    same = np.ones(first.shape, dtype=bool)
    for a, b, c in np.ndindex(2, 2, 2):
        same &= delta[a : a + n0, b : b + n1, c : c + n2] == first
    out = np.zeros(delta.shape, dtype=bool)
    out[:n0, :n1, :n2] = same
    return out


def anatomy_line_integrals(
    volume: AnatomyVolume,
    proj: Projection,
    *,
    step_mm: float = ANATOMY_STEP_MM,
    backend: str = "numba",
    skip: bool = True,
) -> np.ndarray:
    """∫μ dl (dimensionless, float32, detector (rows, cols)) from the source to each pixel of
    ``proj``: μ_soft × the chord through the torso + ∫Δμ dl sampled every ≤ ``step_mm`` mm
    + the air solids' closed form (both backends add the same one).

    ``backend``: ``"numba"`` (the kernel; ``skip`` turns the empty-space skipping off, for the
    tests) or ``"numpy"`` (the reference: every sample of uniform stepping, same lattice).
    """
    if not step_mm > 0.0:
        raise ValueError(f"step_mm: must be positive, got {step_mm}")
    source, corner, d_row, d_col = _rays(volume, proj)
    lo, hi = np.asarray(volume.box_lo), np.asarray(volume.box_hi)
    step = step_mm / volume.voxel_mm
    torso = volume.torso.params(volume.origin_mm, volume.voxel_mm)
    n = proj.size_px
    if backend == "numba":
        out = np.zeros((n, n), dtype=np.float32)
        anatomy_kernel(
            volume.codes,
            volume.delta_lut,
            volume.reach,
            volume.constant,
            volume.brick.bit_length() - 1 if skip else -1,
            source,
            corner,
            d_row,
            d_col,
            proj.ray_grid,
            lo,
            hi,
            step,
            torso,
            volume.mu_soft_per_mm,
            volume.voxel_mm,
            out,
        )
        if volume.air_solids:
            out += air_image(volume, source, corner, d_row, d_col, proj.ray_grid)
        return out
    if backend != "numpy":
        raise ValueError(f"unknown backend {backend!r}")
    grid = proj.ray_grid
    delta = _cast_numpy(volume.delta_mu, source, corner, d_row, d_col, lo, hi, step, n, grid=grid)
    px = corner + grid[..., :1] * d_row + grid[..., 1:] * d_col
    d = (px - source).reshape(-1, 3)
    length = np.linalg.norm(d, axis=1)
    chord = chords(source, d / length[:, None], length, torso).reshape(n, n)
    total = delta.astype(np.float64) + volume.mu_soft_per_mm * chord
    if volume.air_solids:
        air = air_line_integrals(volume, source, corner, d_row, d_col, grid)
        return (total * volume.voxel_mm + air).astype(np.float32)
    return (total * volume.voxel_mm).astype(np.float32)
