"""The voxel grid of the phantom and the painting primitives on it.

A :class:`Grid` maps LPS millimetres to ``[x, y, z]`` voxel indices. Shapes are painted on the
smallest sub-box that holds them (:meth:`Grid.box`), with broadcast coordinate arrays, so the
cost of a primitive scales with its own size, not the volume's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Grid:
    """A regular grid: voxel ``[i, j, k]`` is centred at ``origin_mm + voxel_mm * (i, j, k)``."""

    origin_mm: tuple[float, float, float]
    voxel_mm: float
    shape: tuple[int, int, int]

    @classmethod
    def covering(cls, lo_mm, hi_mm, voxel_mm: float) -> Grid:
        """The grid of voxel size ``voxel_mm`` whose centres cover the box [lo, hi] (mm)."""
        # voxel centres sit at odd multiples of half a voxel, so that the surfaces of shapes
        # with whole- or half-millimetre sizes fall between centres, never on them
        lo = (np.floor(np.asarray(lo_mm, dtype=float) / voxel_mm) + 0.5) * voxel_mm
        hi = np.asarray(hi_mm, dtype=float)
        n = np.ceil((hi - lo) / voxel_mm).astype(int) + 1
        return cls(
            origin_mm=tuple(float(v) for v in lo), voxel_mm=voxel_mm, shape=tuple(int(v) for v in n)
        )

    def axis_mm(self, axis: int) -> np.ndarray:
        """Voxel-centre coordinates (mm) along ``axis`` (0 = x, 1 = y, 2 = z)."""
        return self.origin_mm[axis] + self.voxel_mm * np.arange(self.shape[axis])

    @property
    def extent_mm(self) -> tuple[tuple[float, float], ...]:
        """(first, last) voxel-centre coordinate per axis (mm)."""
        return tuple(
            (self.origin_mm[a], self.origin_mm[a] + self.voxel_mm * (self.shape[a] - 1))
            for a in range(3)
        )

    def index_of(self, points_mm) -> np.ndarray:
        """Nearest voxel index (int, may fall outside the grid) of LPS points (..., 3) in mm."""
        p = np.asarray(points_mm, dtype=float)
        return np.rint((p - np.asarray(self.origin_mm)) / self.voxel_mm).astype(np.int64)

    def inside(self, index) -> np.ndarray:
        """True where integer indices (..., 3) lie inside the grid."""
        idx = np.asarray(index)
        return np.all((idx >= 0) & (idx < np.asarray(self.shape)), axis=-1)

    def box(self, lo_mm, hi_mm) -> Box | None:
        """The sub-box of voxels whose centres lie in [lo, hi] (mm), or None if empty."""
        sl = []
        for a in range(3):
            i0 = int(np.ceil((lo_mm[a] - self.origin_mm[a]) / self.voxel_mm - 1e-9))
            i1 = int(np.floor((hi_mm[a] - self.origin_mm[a]) / self.voxel_mm + 1e-9)) + 1
            i0, i1 = max(i0, 0), min(i1, self.shape[a])
            if i1 <= i0:
                return None
            sl.append(slice(i0, i1))
        return Box(self, tuple(sl))


class Box:
    """A sub-box of a grid with broadcast coordinates X (n,1,1), Y (1,m,1), Z (1,1,l) in mm.

    A box made by a :class:`Frame` carries local coordinates instead (Y and Z then both have
    shape (1,m,l)); ``slices`` always select world voxels.
    """

    def __init__(self, grid: Grid, slices: tuple[slice, slice, slice], frame: Frame | None = None):
        self.slices = slices
        ax = [grid.axis_mm(a)[slices[a]] for a in range(3)]
        self.X = ax[0][:, None, None]
        self.Y = ax[1][None, :, None]
        self.Z = ax[2][None, None, :]
        self.bounds = None
        if frame is not None:
            self.Y, self.Z = frame.to_local(self.Y, self.Z)

    def in_bounds(self) -> np.ndarray | bool:
        """For a framed box, True where the local coordinates lie in the requested local box
        (its world sub-box is larger once rotated); True everywhere otherwise."""
        if self.bounds is None:
            return True
        lo, hi = self.bounds
        return (
            (lo[0] <= self.X)
            & (hi[0] >= self.X)
            & (lo[1] <= self.Y)
            & (hi[1] >= self.Y)
            & (lo[2] <= self.Z)
            & (hi[2] >= self.Z)
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel counts of the box."""
        return (self.X.shape[0], self.Y.shape[1], self.Z.shape[2])


@dataclass(frozen=True, kw_only=True)
class Frame:
    """A rigid motion in the sagittal (y, z) plane from a vertebra's own frame to the world:
    ``world = pivot_world + R(angle) (local − pivot_local)``, R rotating +y toward +z.

    The vertebra above a wedged body is painted in such a frame, tilted forward by the wedge
    angle about its posterior-inferior corner (the kyphosis of a compression fracture).
    """

    pivot_world_mm: tuple[float, float]
    pivot_local_mm: tuple[float, float]
    angle_deg: float = 0.0

    def to_local(self, y, z):
        """World (y, z) → local (y, z), broadcasting."""
        c, s = np.cos(np.radians(self.angle_deg)), np.sin(np.radians(self.angle_deg))
        dy, dz = np.asarray(y) - self.pivot_world_mm[0], np.asarray(z) - self.pivot_world_mm[1]
        return (self.pivot_local_mm[0] + c * dy + s * dz, self.pivot_local_mm[1] - s * dy + c * dz)

    def to_world(self, y, z):
        """Local (y, z) → world (y, z), broadcasting."""
        c, s = np.cos(np.radians(self.angle_deg)), np.sin(np.radians(self.angle_deg))
        dy, dz = np.asarray(y) - self.pivot_local_mm[0], np.asarray(z) - self.pivot_local_mm[1]
        return (self.pivot_world_mm[0] + c * dy - s * dz, self.pivot_world_mm[1] + s * dy + c * dz)

    def box(self, grid: Grid, lo_mm, hi_mm) -> Box | None:
        """The world sub-box covering the local box [lo, hi], with local coordinates."""
        ys, zs = np.meshgrid([lo_mm[1], hi_mm[1]], [lo_mm[2], hi_mm[2]])
        wy, wz = self.to_world(ys.ravel(), zs.ravel())
        world = grid.box((lo_mm[0], wy.min(), wz.min()), (hi_mm[0], wy.max(), wz.max()))
        if world is None:
            return None
        box = Box(grid, world.slices, self)
        box.bounds = (tuple(lo_mm), tuple(hi_mm))
        return box


def cylinder_mask(box: Box, p0, p1, radius_mm: float) -> np.ndarray:
    """Voxels of ``box`` within ``radius_mm`` of the segment p0–p1 (mm)."""
    p0 = np.asarray(p0, dtype=float)
    d = np.asarray(p1, dtype=float) - p0
    length2 = float(d @ d)
    rx, ry, rz = box.X - p0[0], box.Y - p0[1], box.Z - p0[2]
    t = np.clip((rx * d[0] + ry * d[1] + rz * d[2]) / length2, 0.0, 1.0)
    ex, ey, ez = rx - t * d[0], ry - t * d[1], rz - t * d[2]
    return ex * ex + ey * ey + ez * ez <= radius_mm * radius_mm


def segment_box(p0, p1, radius_mm: float):
    """The (lo, hi) mm bounds of a capsule around the segment p0–p1."""
    p0 = np.asarray(p0, dtype=float)
    p1 = np.asarray(p1, dtype=float)
    return np.minimum(p0, p1) - radius_mm, np.maximum(p0, p1) + radius_mm


def column_frames(
    body, *, disc_up: float, disc_down: float, lordosis_up: float, lordosis_down: float
) -> dict[str, Frame]:
    """Frames of the vertebrae above and below on the column (degrees, mm).

    Above: its inferior posterior corner ``disc_up`` above the treated body's posterior-superior
    corner, tilted forward by the wedge angle (the kyphosis of a compression fracture) less the
    segment's lordosis ``lordosis_up`` (negative: a thoracic kyphosis). Below: its superior
    posterior corner ``disc_down`` under the treated body's, tilted by the lower segment's
    lordosis. A lordotic segment's disc is taller in front.
    """
    H = body.height_mm
    yw = body.wall_y_mm
    wedge = np.degrees(np.arctan2(H * body.wedge_fraction, yw - body.anterior_y_mm))
    return {
        "above": Frame(
            pivot_world_mm=(yw, H / 2 + disc_up),
            pivot_local_mm=(yw, -H / 2),
            angle_deg=float(wedge - lordosis_up),
        ),
        "below": Frame(
            pivot_world_mm=(yw, -H / 2 - disc_down),
            pivot_local_mm=(yw, H / 2),
            angle_deg=float(lordosis_down),
        ),
    }
