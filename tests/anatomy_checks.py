"""Measurements of a phantom's anatomy shared by the anatomy tests (assertions stay in them)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from simulator.materials import tissues

T = tissues()
SIX = ndimage.generate_binary_structure(3, 1)
SEALING_TISSUES = (
    "cortical",
    "endplate",
    "pedicle_cancellous",
    "pedicle_cortex",
    "basivertebral_vein",
    "segmental_vein",
    "cleft",
    "cortical_defect",
    "endplate_crack",
    "lytic_lesion",
    "cleft_gas",
)
"""What the treated body's cancellous core may touch through a voxel face."""


def _box(mask) -> tuple[slice, ...]:
    """The bounding box of ``mask``'s voxels grown by one voxel (within the array): the
    6-connected pieces and the one-voxel ring around them lie in it."""
    where = [np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != d)))
             for d in range(mask.ndim)]  # fmt: skip
    if any(w.size == 0 for w in where):
        return tuple(slice(0, 0) for _ in range(mask.ndim))
    return tuple(
        slice(max(int(w[0]) - 1, 0), min(int(w[-1]) + 2, size))
        for w, size in zip(where, mask.shape, strict=True)
    )


def pedicle_pieces(ph):
    """Per side (left, right): (number of 6-connected pieces, labels touching the pedicle, in
    the volume's order), measured in the pedicle's bounding box (the same numbers as on the
    whole volume, at a fraction of the cost)."""
    ped = np.isin(ph.labels, T.ids("pedicle_cortex", "pedicle_cancellous"))
    x = ph.grid.axis_mm(0)[:, None, None]
    out = []
    for side in (ped & (x > 0), ped & (x < 0)):
        box = _box(side)
        side = side[box]
        _, n = ndimage.label(side, structure=SIX)
        out.append((n, ph.labels[box][ndimage.binary_dilation(side, structure=SIX) & ~side]))
    return out


def cancellous_neighbours(ph) -> set[int]:
    """Tissue ids that touch the treated cancellous bone through a voxel face."""
    canc = ph.labels == T.id("cancellous")
    return set(np.unique(ph.labels[ndimage.binary_dilation(canc, structure=SIX) & ~canc]).tolist())


def canal_region(ph, bone_tissues):
    """(axial slice through the pedicles, mask of the 4-connected non-bone region holding the
    canal's middle)."""
    axis = ph.landmarks.pedicle_axes["left"]
    iz = int(np.argmin(np.abs(ph.grid.axis_mm(2) - axis.isthmus_mm[2])))
    sl = ph.labels[:, :, iz]
    regions, _ = ndimage.label(~np.isin(sl, T.ids(*bone_tissues)))
    canal = ph.geometry.canal
    seed = ph.grid.index_of((0.0, canal.wall_y_mm + 0.6 * canal.depth_mm, 0.0))
    return sl, regions == regions[seed[0], seed[1]]
