"""The mean L2 of the measured lumbar shape (:mod:`simulator.anatomy.mesh`) filled on a voxel
grid once, and the morphometry measured on it: the reference the phantom's vertebrae are
warped from (:mod:`simulator.anatomy.warp`).

Filling and measuring take ≈ 0.4 s; the result is cached on disk (:func:`cache_path`, keyed
by the mesh file's hash and :data:`CACHE_VERSION`) and in memory (:func:`source_bone`).

Frame of the source bone: LPS mm of the mesh, whose L2 stands with its endplates level
(checked: the midsagittal top and bottom of the body differ by < 1 mm front to back).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.anatomy.mesh import MESH_FILE, fill, lumbar_surfaces
from simulator.assets import assets_dir

SOURCE_LEVEL = "L2"
"""The mean-shape bone every vertebra is warped from (the most typical of the four)."""
SOURCE_VOXEL_MM = 0.25
"""Resolution of the filled source (mm): half the phantom's, so nearest sampling of the warp
places surfaces to a quarter of a phantom voxel."""


@dataclass(frozen=True, kw_only=True, eq=False)
class SourceBone:
    """The filled source vertebra and its measured morphometry (mm, source frame).

    ``mask``: bool ``[x, y, z]``, voxel ``[0, 0, 0]`` centred at ``origin_mm``. Body:
    ``anterior_y_mm`` (midline anterior rim), ``wall_y_mm`` (midline posterior wall),
    ``half_width_mm``, ``bottom_z_mm``/``top_z_mm`` (by the posterior wall). Canal and
    pedicles on the axial slice ``pedicle_z_mm`` (the pedicles' mid-height): the canal's
    ``canal_depth_mm`` behind the wall at the midline; per ``pedicle_y_mm`` (sampled behind the
    wall), the left pedicle's ``pedicle_medial_mm``/``pedicle_lateral_mm`` (|x|);
    ``isthmus_y_mm`` where it is narrowest, ``pedicle_lo_mm``/``pedicle_hi_mm`` its z-range
    there; ``transverse_tip_mm`` (|x| of the transverse processes' tips).
    """

    mask: np.ndarray
    origin_mm: np.ndarray
    voxel_mm: float
    anterior_y_mm: float
    wall_y_mm: float
    half_width_mm: float
    bottom_z_mm: float
    top_z_mm: float
    canal_depth_mm: float
    pedicle_z_mm: float
    pedicle_y_mm: np.ndarray
    pedicle_medial_mm: np.ndarray
    pedicle_lateral_mm: np.ndarray
    isthmus_y_mm: float
    pedicle_lo_mm: float
    pedicle_hi_mm: float
    transverse_tip_mm: float
    wall_by_x_mm: np.ndarray
    body_y_mm: np.ndarray
    """Source y samples from the anterior rim to the wall, for the rim heights below."""
    body_bottom_mm: np.ndarray
    body_top_mm: np.ndarray
    """Lowest and highest body bone over x at each ``body_y_mm`` (the endplate rims, mm)."""
    """Per source x (voxel index): y of the body's back (its posterior wall, the deepest over
    the body's height); the bone behind it is posterior elements. Beside the canal, the value
    at the canal's edge."""

    @property
    def height_mm(self) -> float:
        """Posterior body height (mm)."""
        return self.top_z_mm - self.bottom_z_mm

    def axis(self, a: int) -> np.ndarray:
        """Voxel-centre coordinates along axis ``a`` (mm)."""
        return self.origin_mm[a] + self.voxel_mm * np.arange(self.mask.shape[a])


def _runs(values: np.ndarray, step: float) -> list[tuple[float, float]]:
    """Contiguous runs (first, last) of sorted sample coordinates ``values`` spaced ``step``."""
    if not len(values):
        return []
    cuts = np.nonzero(np.diff(values) > 1.5 * step)[0] + 1
    return [(float(r[0]), float(r[-1])) for r in np.split(values, cuts)]


def _run_at(values: np.ndarray, step: float, near: float) -> tuple[float, float] | None:
    """The run of ``values`` that holds (or comes nearest to) ``near``."""
    runs = _runs(values, step)
    if not runs:
        return None
    return min(
        runs, key=lambda r: 0.0 if r[0] <= near <= r[1] else min(abs(r[0] - near), abs(r[1] - near))
    )


CACHE_VERSION = 1
"""Bump when the fill or the measurements change: the disk cache's key includes it."""


def cache_path() -> Path:
    """Where the filled and measured source is cached: ``$VSIM_CACHE_DIR`` or the user's cache
    directory (``$XDG_CACHE_HOME`` or ``~/.cache``)/vsim, a file named by the SHA-256 of the
    mesh file, the resolution and :data:`CACHE_VERSION` (so a new mesh or a new measurement
    is a new file; old files are never read again)."""
    mesh = assets_dir().joinpath(*MESH_FILE).read_bytes()
    key = hashlib.sha256(mesh + f"{SOURCE_VOXEL_MM}:{CACHE_VERSION}".encode()).hexdigest()[:16]
    root = os.environ.get("VSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vsim"
    )
    return Path(root) / f"mean_{SOURCE_LEVEL.lower()}_{key}.npz"


def _load(path: Path) -> SourceBone | None:
    try:
        with np.load(path) as data:
            shape = tuple(int(v) for v in data["shape"])
            mask = np.unpackbits(data["mask"], count=int(np.prod(shape))).reshape(shape)
            fields = {k: data[k] for k in data.files if k not in ("mask", "shape")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    scalars = {k: float(v) for k, v in fields.items() if v.ndim == 0}
    arrays = {k: v for k, v in fields.items() if v.ndim > 0}
    return SourceBone(mask=mask.astype(bool), **scalars, **arrays)


def _save(path: Path, bone: SourceBone) -> None:
    """Write the cache atomically; a directory that cannot be written is skipped."""
    values = {f.name: getattr(bone, f.name) for f in dataclasses.fields(bone)}
    mask = values.pop("mask")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            np.savez(tmp, mask=np.packbits(mask), shape=np.array(mask.shape), **values)
        os.replace(tmp.name, path)
    except OSError:
        return


@functools.cache
def source_bone() -> SourceBone:
    """The source vertebra, filled and measured: from the disk cache (:func:`cache_path`) when
    it is there, else made and cached (once per process either way)."""
    path = cache_path()
    cached = _load(path)
    if cached is not None:
        return cached
    bone = _make_source_bone()
    _save(path, bone)
    return bone


def _make_source_bone() -> SourceBone:
    """Fill the mean L2 at :data:`SOURCE_VOXEL_MM` and measure it."""
    surf = lumbar_surfaces()[SOURCE_LEVEL]
    lo, hi = surf.bounds_mm
    v = SOURCE_VOXEL_MM
    origin = lo - 2.0
    shape = np.ceil((hi - lo + 4.0) / v).astype(int)
    mask = fill(surf, origin_mm=origin, voxel_mm=v, shape=shape)
    X, Y, Z = (origin[a] + v * np.arange(shape[a]) for a in range(3))
    ix0 = int(np.argmin(np.abs(X)))
    sag = mask[ix0]
    # body: the midsagittal bone in front of the canal's first gap
    ys = Y[sag.any(axis=1)]
    anterior = float(ys.min())
    wall = _runs(ys, v)[0][1]
    jw = int(np.argmin(np.abs(Y - (wall - 2.0))))
    zs = Z[sag[jw]]
    bottom, top = float(zs.min()), float(zs.max())
    mid = int(np.argmin(np.abs(Z - 0.5 * (bottom + top))))
    body_sl = mask[:, :, mid] & (wall >= Y)[None, :]
    half_width = 0.5 * float(np.ptp(X[body_sl.any(axis=1)]) + v)
    # pedicle mid-height: iterate once from the body's upper half
    zp = bottom + 0.55 * (top - bottom)
    for _ in range(3):
        kp = int(np.argmin(np.abs(Z - zp)))
        jy = int(np.argmin(np.abs(Y - (wall + 5.0))))
        run = _run_at(X[mask[:, jy, kp] & (X > 2.0)], v, half_width * 0.75)
        ic = int(np.argmin(np.abs(X - 0.5 * (run[0] + run[1]))))
        zrun = _run_at(Z[mask[ic, jy]], v, zp)
        zp = 0.5 * (zrun[0] + zrun[1])
    kp = int(np.argmin(np.abs(Z - zp)))
    sl = mask[:, :, kp]
    behind = Y[(wall + 1.0 < Y) & sl[ix0]]
    canal_depth = float(behind.min() - wall) if len(behind) else 15.0
    ped_y = np.arange(wall + 1.0, wall + 0.75 * canal_depth, v)
    med, lat = [], []
    for y in ped_y:
        j = int(np.argmin(np.abs(Y - y)))
        run = _run_at(X[sl[:, j] & (X > 2.0)], v, half_width * 0.75)
        med.append(run[0])
        lat.append(run[1])
    med, lat = np.asarray(med), np.asarray(lat)
    inner = (ped_y >= wall + 2.0) & (ped_y <= wall + 9.0)
    j_isth = int(np.flatnonzero(inner)[np.argmin((lat - med)[inner])])
    isthmus = float(ped_y[j_isth])
    ic = int(np.argmin(np.abs(X - 0.5 * (med[j_isth] + lat[j_isth]))))
    zrun = _run_at(Z[mask[ic, int(np.argmin(np.abs(Y - isthmus)))]], v, zp)
    tips = X[mask.any(axis=(1, 2))]
    wall_by_x = _wall_by_x(mask, Y, Z, bottom, top, edge=float(med[j_isth]), X=X)
    return SourceBone(
        mask=mask,
        origin_mm=origin,
        voxel_mm=v,
        anterior_y_mm=anterior,
        wall_y_mm=wall,
        half_width_mm=half_width,
        bottom_z_mm=bottom,
        top_z_mm=top,
        canal_depth_mm=canal_depth,
        pedicle_z_mm=float(zp),
        pedicle_y_mm=ped_y,
        pedicle_medial_mm=med,
        pedicle_lateral_mm=lat,
        isthmus_y_mm=isthmus,
        pedicle_lo_mm=zrun[0],
        pedicle_hi_mm=zrun[1],
        transverse_tip_mm=float(0.5 * (tips.max() - tips.min())),
        wall_by_x_mm=wall_by_x,
        **_rims(mask, Y, Z, anterior, wall),
    )


def _rims(mask, Y, Z, anterior: float, wall: float) -> dict:
    """The body's endplate rims: lowest and highest bone over x per y (mm), smoothed over
    1 mm; from 1.5 mm behind the anterior rim (the rounded corner) to the wall."""
    ys = np.arange(anterior + 1.5, wall - 0.5, 0.25)
    bottom, top = [], []
    for y in ys:
        zs = Z[mask[:, int(np.argmin(np.abs(Y - y)))].any(axis=0)]
        bottom.append(zs.min())
        top.append(zs.max())
    k = np.ones(5) / 5.0
    smooth = lambda a: np.convolve(np.pad(a, 2, mode="edge"), k, mode="valid")  # noqa: E731
    return {
        "body_y_mm": ys,
        "body_bottom_mm": smooth(np.asarray(bottom)),
        "body_top_mm": smooth(np.asarray(top)),
    }


def _wall_by_x(mask, Y, Z, bottom: float, top: float, *, edge: float, X) -> np.ndarray:
    """The body's back surface y per x column (see :attr:`SourceBone.wall_by_x_mm`)."""
    ks = (bottom + 1.0 < Z) & (top - 1.0 > Z)
    sub = mask[:, :, ks]  # (x, y, z)
    j = np.arange(sub.shape[1])[None, :, None]
    first = np.argmax(sub, axis=1)[:, None, :]  # the body's front, per (x, z)
    gap = np.argmax(~(sub | (j < first)), axis=1)  # the first empty voxel behind it
    back = np.where(sub.any(axis=1) & (gap > 0), Y[np.maximum(gap - 1, 0)], -np.inf).max(axis=1)
    inside = np.abs(X) <= edge - 0.5
    left = back[np.flatnonzero(inside & (X > 0))[-1]]
    right = back[np.flatnonzero(inside & (X < 0))[0]]
    return np.where(inside, back, np.where(X > 0, left, right)).astype(np.float64)
