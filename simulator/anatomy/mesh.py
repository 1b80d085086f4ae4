"""The measured mean lumbar shape (``assets/anatomy_mesh/``, Clouthier et al. 2023, MIT): the
closed surfaces of L2–L5, turned into the phantom's frame and filled on a voxel grid.

Frames: the data's +x is anterior, y lateral, +z superior; the phantom's LPS frame has +x the
patient's left, +y posterior, +z superior. ``(x, y, z)_LPS = (y, −x, z)_data`` (a rotation, no
mirror; the mean shape is left–right symmetric to within a millimetre, so which lateral side
is the left does not matter).

Filling is by ray parity along z: every grid column (x, y) is crossed by the surface an even
number of times, and the voxels whose centres lie between the 1st and 2nd, 3rd and 4th, …
crossings are inside. A compiled pass finds each triangle's crossings with the columns under
it (two passes: count, then fill, so the crossings sit in one flat array per column).
Groundwork for issue 14: nothing builds the phantom from it yet.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import sparse

from simulator.assets import assets_dir

MESH_FILE = ("anatomy_mesh", "lumbar_mean_mesh.npz")
"""Where the mesh lies under ``assets/``."""
LEVELS = ("L2", "L3", "L4", "L5")
"""The bones of the mesh, top to bottom."""
_DATA_TO_LPS = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, kw_only=True, eq=False)
class Surface:
    """One closed triangle surface: ``vertices`` (n, 3) float64 LPS mm, ``faces`` (m, 3) int."""

    vertices: np.ndarray
    faces: np.ndarray

    @property
    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) corner of the vertices (LPS mm)."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def volume_ml(self) -> float:
        """Enclosed volume (ml) by the divergence theorem (orientation-free: absolute)."""
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return abs(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0) / 1000.0


@functools.cache
def lumbar_surfaces() -> dict[str, Surface]:
    """The mean L2–L5 surfaces by level, in LPS mm (read once)."""
    path = assets_dir().joinpath(*MESH_FILE)
    with np.load(path) as data:
        vertices = data["vertices"].astype(np.float64) @ _DATA_TO_LPS.T
        faces = data["faces"].astype(np.int64)
    labels = _components(len(vertices), faces)
    parts = []
    for label in np.unique(labels):
        used = np.flatnonzero(labels == label)
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        own = faces[labels[faces[:, 0]] == label]
        parts.append(Surface(vertices=vertices[used], faces=remap[own]))
    if len(parts) != len(LEVELS):
        raise ValueError(f"{path}: {len(parts)} surfaces, expected {len(LEVELS)}")
    parts.sort(key=lambda s: -float(s.vertices[:, 2].mean()))  # top first
    return dict(zip(LEVELS, parts, strict=True))


def _components(n: int, faces: np.ndarray) -> np.ndarray:
    """Connected-component label of every vertex (through the triangles' edges)."""
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = sparse.csgraph.connected_components(graph, directed=False)
    return labels


def fill(surface: Surface, *, origin_mm, voxel_mm: float, shape) -> np.ndarray:
    """Boolean ``shape`` grid (``[x, y, z]``, voxel [0, 0, 0] centred at ``origin_mm``) that is
    True where a voxel's centre lies inside the closed ``surface`` (ray parity along z)."""
    o = np.asarray(origin_mm, dtype=np.float64)
    v = (surface.vertices - o) / float(voxel_mm)  # voxel units: centres at integers
    tri = np.ascontiguousarray(v[surface.faces])  # (m, 3, 3)
    nx, ny, nz = (int(s) for s in shape)
    counts = np.zeros(nx * ny, dtype=np.int64)
    _crossings(tri, nx, ny, counts, np.empty(0), np.empty(0, dtype=np.int64))
    offsets = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    z = np.empty(int(offsets[-1]), dtype=np.float64)
    _crossings(tri, nx, ny, offsets[:-1].copy(), z, offsets)
    out = np.zeros((nx, ny, nz), dtype=bool)
    _parity_fill(z, offsets, out)
    return out


_EPS_X, _EPS_Y = 1.4142135e-7, 1.7320508e-7
"""The columns are tested a hair off the voxel centres (voxel units, incommensurate), so none
lies exactly on a triangle's edge or vertex: each crossing of a closed surface is counted once
and every column's parity stays even (no tie rules needed)."""


@njit(cache=True, nogil=True)
def _crossings(tri, nx, ny, cursor, z, offsets):  # pragma: no cover
    """For every triangle and every column (i, j) whose centre lies under it, either count the
    crossing
    (``z`` empty: ``cursor`` += 1 per column) or write its height at ``cursor`` (then += 1)."""
    counting = z.size == 0
    for t in range(tri.shape[0]):
        x0, y0, z0 = tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2]
        x1, y1, z1 = tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2]
        x2, y2, z2 = tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2]
        det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if det == 0.0:
            continue  # seen edge-on from above: no column crosses it
        i0 = max(int(np.ceil(min(x0, x1, x2) - _EPS_X)), 0)
        i1 = min(int(np.floor(max(x0, x1, x2) - _EPS_X)), nx - 1)
        j0 = max(int(np.ceil(min(y0, y1, y2) - _EPS_Y)), 0)
        j1 = min(int(np.floor(max(y0, y1, y2) - _EPS_Y)), ny - 1)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                px, py = i + _EPS_X, j + _EPS_Y
                a = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) / det
                b = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) / det
                c = 1.0 - a - b
                if a < 0.0 or b < 0.0 or c < 0.0:
                    continue
                col = i * ny + j
                if not counting:
                    z[cursor[col]] = a * z0 + b * z1 + c * z2
                cursor[col] += 1


@njit(cache=True, nogil=True)
def _parity_fill(z, offsets, out):  # pragma: no cover
    """Fill each column between its sorted crossings taken in pairs."""
    nx, ny, nz = out.shape
    for col in range(nx * ny):
        a, b = offsets[col], offsets[col + 1]
        if b - a < 2:
            continue
        hits = np.sort(z[a:b])
        i, j = col // ny, col % ny
        for p in range(0, (b - a) - 1, 2):
            k0 = max(int(np.ceil(hits[p])), 0)
            k1 = min(int(np.floor(hits[p + 1])), nz - 1)
            for k in range(k0, k1 + 1):
                out[i, j, k] = True
