"""The flow step's bookkeeping of where cement can move, compiled
(:class:`simulator.cement.solver.FlowSolver`): the faces open to cement and the stable step.

Both run once per flow step while cement reaches new cells (most steps of an injection), over
every face of the grid; the numpy forms they replaced built a handful of full-grid temporaries
each time. The arithmetic is the same operation for operation (a difference, an absolute
value, a product, a comparison; a division per cell and the minimum, NaN kept as numpy's
``min`` keeps it), so the faces and the step are exactly those of the numpy forms.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def open_faces(fill, source, up, down, face_i, face_j, pressure, site, flux_scale, threshold):
    """The faces (indices, ascending) whose upwind cell ``up`` holds cement or is the
    ``source``, less those from the body (site 0) into a leak site whose pressure difference
    (Pa) × ``flux_scale`` is below ``threshold`` (Pa; none when it is 0)."""
    out = np.empty(up.size, np.int64)
    k = 0
    for f in range(up.size):
        u = up[f]
        if not (fill[u] > 0.0 or u == source):
            continue
        if threshold > 0.0 and site[u] == 0 and site[down[f]] != 0:
            dp = abs(pressure[face_i[f]] - pressure[face_j[f]])
            if dp * flux_scale < threshold:
                continue
        out[k] = f
        k += 1
    return out[:k].copy()


@njit(cache=True, nogil=True)
def open_boundary(fill, source, cell, flux):
    """The boundary faces (indices, ascending) whose cell holds cement or is the ``source``
    and whose outward ``flux`` is positive."""
    out = np.empty(cell.size, np.int64)
    k = 0
    for b in range(cell.size):
        c = cell[b]
        if (fill[c] > 0.0 or c == source) and flux[b] > 0.0:
            out[k] = b
            k += 1
    return out[:k].copy()


@njit(cache=True, nogil=True, error_model="numpy")
def step_limit(fill, face_i, face_j, pore, outflow, exponent):
    """min φV / (a F_out) (s) over the cells with cement and their neighbours (inf: none; NaN
    when any is NaN, as numpy's ``min``)."""
    near = fill > 0.0
    for f in range(face_i.size):
        if fill[face_i[f]] > 0.0:
            near[face_j[f]] = True
        if fill[face_j[f]] > 0.0:
            near[face_i[f]] = True
    limit = np.inf
    for c in range(fill.size):
        if near[c]:
            v = pore[c] / (exponent * outflow[c])
            if v != v:
                return v
            if v < limit:
                limit = v
    return limit
