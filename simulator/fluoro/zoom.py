"""The ×2 linear zoom of a splat's accumulator (:mod:`simulator.fluoro.overlay`), compiled.

The same numbers as ``scipy.ndimage.zoom(acc, 2.0, order=1, grid_mode=True, mode="nearest")``:
detector pixel o along an axis lies at coarse coordinate x = (o + ½)/2 − ½, between cells
⌊x⌋ and ⌊x⌋ + 1 (the edge cell repeated beyond the edge), with weights 1 − t and t, t = x − ⌊x⌋
(¼ or ¾, exact in binary), summed over the four cells in the same order as scipy's. Computed
only around the cells that hold something: the cement in the veins lands along a few thin
lines whose box spans much of the field and is mostly empty.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def zoom2(acc: np.ndarray) -> np.ndarray:
    """``ndimage.zoom(acc, 2.0, order=1, grid_mode=True, mode="nearest")`` of a 2-D float64
    array (float64, twice its shape)."""
    a = np.ascontiguousarray(acc, dtype=np.float64)
    out = np.zeros((2 * a.shape[0], 2 * a.shape[1]))
    _zoom2(a, out)
    return out


@njit(cache=True, nogil=True)
def _zoom2(a, out):  # pragma: no cover
    """Fill ``out`` (zeros, twice ``a``'s shape) with the zoom of ``a`` where any of the four
    cells a pixel reads is not zero."""
    n, m = a.shape
    for r in range(n):
        for c in range(m):
            if a[r, c] == 0.0:
                continue
            for orow in range(max(2 * r - 1, 0), min(2 * r + 3, 2 * n)):
                for ocol in range(max(2 * c - 1, 0), min(2 * c + 3, 2 * m)):
                    if out[orow, ocol] != 0.0:
                        continue  # done from an earlier cell
                    out[orow, ocol] = _pixel(a, orow, ocol)
    return out


@njit(cache=True, nogil=True, inline="always")
def _pixel(a, orow, ocol):  # pragma: no cover
    n, m = a.shape
    x = (orow + 0.5) * 0.5 - 0.5
    y = (ocol + 0.5) * 0.5 - 0.5
    r0 = int(np.floor(x))
    c0 = int(np.floor(y))
    tr, tc = x - r0, y - c0
    wr = (1.0 - tr, tr)
    wc = (1.0 - tc, tc)
    v = 0.0
    for i in range(2):
        rr = min(max(r0 + i, 0), n - 1)
        for j in range(2):
            cc = min(max(c0 + j, 0), m - 1)
            v += a[rr, cc] * wr[i] * wc[j]
    return v
