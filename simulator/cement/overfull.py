"""Overfull cells (fill above 1, :class:`simulator.cement.solver.FlowSolver`), compiled.

:func:`spill`: the rounds of :meth:`~simulator.cement.solver.FlowSolver._spill`, each
overfull cell's excess passed on through its open outflow faces in proportion to the flux.
The numpy rounds it replaced cost ≈ 10 full-grid passes each (a mostly empty share vector,
a sparse product); this is the same arithmetic, operation for operation and in the same
order (the product summed along each CSR row as scipy's ``csr_matvec`` does), so the fill
is bit for bit the same.

:func:`fill_nearest`: what is still over after the rounds
(:meth:`~simulator.cement.solver.FlowSolver._deposit`) into the cells nearest the overfull
one, breadth first along a graph of the grid's faces. The breadth-first order is scipy's
``csgraph.breadth_first_order`` (directed, each node's neighbours in the order of the CSR
row), but this walk stops at the first cell that takes the last of the excess instead of
ordering the whole grid first (which made a full body cost ≈ 60 µs per overfull cell); the
fill arithmetic is the same, operation for operation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fill_nearest(indptr, indices, raw, pore, cell, excess_m3, seen, queue):
    """Put ``excess_m3`` (m³) into the cells with room nearest ``cell`` along the CSR graph
    (``indptr``, ``indices``), breadth first, raising their ``raw`` fill; returns what is left
    (m³). ``seen`` (bool, all False) and ``queue`` (int, as long as ``raw``) are scratch
    space; ``seen`` is all False again on return."""
    seen[cell] = True
    queue[0] = cell
    head, end = 0, 1
    done = False
    while head < end and not done:
        node = queue[head]
        head += 1
        for k in range(indptr[node], indptr[node + 1]):
            c = indices[k]
            if seen[c]:
                continue
            seen[c] = True
            queue[end] = c
            end += 1
            room = (1.0 - raw[c]) * pore[c]
            if room <= 0.0:
                continue
            put = excess_m3 if excess_m3 < room else room  # Python's min(room, excess_m3)
            raw[c] += put / pore[c]
            excess_m3 -= put
            if excess_m3 <= 0.0:
                done = True
                break
    for k in range(end):
        seen[queue[k]] = False
    return excess_m3


@njit(cache=True, nogil=True)
def spill(
    raw, pore, total, csr, csc, bc, bwt, bsite, exited, exited_cell, rounds, share, over, mark
):
    """Up to ``rounds`` rounds: every cell with ``raw`` > 1 and outflow ``total`` > 0 keeps a
    fill of 1 and sends its excess (m³) ``share`` = (raw − 1) · pore / total per unit of
    flux; the cells downstream gain the product of the gain matrix (``csr``: its CSR
    ``(indptr, indices, data)``; ``csc``: its columns' ``(indptr, row indices)``) with
    ``share``, over their ``pore``; the boundary faces (cells ``bc``, fluxes ``bwt``) book
    theirs in ``exited`` by site ``bsite`` and in ``exited_cell`` by cell. ``raw``,
    ``exited`` and ``exited_cell`` change in place.

    As numpy did it: ``raw += (gain @ share) / pore`` over every cell, each row summed in
    CSR order from 0 (``csr_matvec``). A row with no overfull column gains + 0.0, which
    changes nothing but a −0.0 to +0.0: the first round adds it to every cell, later rounds
    only to the rows below an overfull cell, the only cells whose fill changed, so only they
    can be over in the next round. ``share`` (float, all zero), ``over`` (int) and ``mark``
    (bool, all False) are scratch space as long as ``raw``, ``share`` and ``mark`` as they
    were on return."""
    indptr, indices, data = csr
    cptr, crow = csc
    n = raw.shape[0]
    out = np.empty(bc.shape[0])
    rows = np.empty(n, dtype=over.dtype)  # the rows below the overfull cells (this round)
    m = 0
    for i in range(n):
        if raw[i] > 1.0 and total[i] > 0:
            over[m] = i
            m += 1
    for r in range(rounds):
        if m == 0:
            break
        for k in range(m):
            i = over[k]
            share[i] = (raw[i] - 1.0) * pore[i] / total[i]
            raw[i] = 1.0
        nrows = 0
        for k in range(m):  # the rows the overfull cells' shares reach
            for jj in range(cptr[over[k]], cptr[over[k] + 1]):
                i = crow[jj]
                if not mark[i]:
                    mark[i] = True
                    rows[nrows] = i
                    nrows += 1
        if r == 0:  # every row, as the full product did
            for i in range(n):
                acc = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    acc += data[jj] * share[indices[jj]]
                raw[i] += acc / pore[i]
        else:
            for t in range(nrows):
                i = rows[t]
                acc = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    acc += data[jj] * share[indices[jj]]
                raw[i] += acc / pore[i]
        moved = False
        for k in range(bc.shape[0]):
            out[k] = bwt[k] * share[bc[k]]
            if out[k] != 0.0:
                moved = True
        if moved:  # as np.add.at, in order
            for k in range(bc.shape[0]):
                exited[bsite[k]] += out[k]
                exited_cell[bc[k]] += out[k]
        for k in range(m):
            share[over[k]] = 0.0
        # the next round's overfull cells: among the rows that gained (in index order, as
        # numpy's nonzero; the order changes nothing, each cell's share is its own)
        m = 0
        for t in range(nrows):
            i = rows[t]
            mark[i] = False
            if raw[i] > 1.0 and total[i] > 0:
                over[m] = i
                m += 1


@njit(cache=True, nogil=True)
def gain_matrix(n, rows, cols, vals):
    """The n × n matrix with ``vals`` at (``rows``, ``cols``) as scipy's
    ``csr_matrix((vals, (rows, cols)))`` stores it when no (row, column) pair repeats: CSR
    ``(indptr, indices, data)``, each row's entries by column (the order its product sums
    them in); and the rows of each column (``(indptr, row indices)``, for :func:`spill`).
    Returns those and whether a pair repeats (then scipy sums the repeats, in an order of
    its own: use scipy's matrix instead)."""
    nnz = rows.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    cptr = np.zeros(n + 1, np.int64)
    for k in range(nnz):
        indptr[rows[k] + 1] += 1
        cptr[cols[k] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
        cptr[i + 1] += cptr[i]
    indices = np.empty(nnz, np.int64)
    data = np.empty(nnz)
    crow = np.empty(nnz, np.int64)
    at, cat = indptr[:-1].copy(), cptr[:-1].copy()
    for k in range(nnz):
        r, c = rows[k], cols[k]
        indices[at[r]] = c
        data[at[r]] = vals[k]
        at[r] += 1
        crow[cat[c]] = r
        cat[c] += 1
    repeats = False
    for i in range(n):  # each row by column (insertion sort: rows hold a few faces)
        for a in range(indptr[i] + 1, indptr[i + 1]):
            c, v = indices[a], data[a]
            b = a - 1
            while b >= indptr[i] and indices[b] > c:
                indices[b + 1] = indices[b]
                data[b + 1] = data[b]
                b -= 1
            indices[b + 1] = c
            data[b + 1] = v
        for a in range(indptr[i] + 1, indptr[i + 1]):
            if indices[a] == indices[a - 1]:
                repeats = True
    return (indptr, indices, data), (cptr, crow), repeats


def scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``seen`` and ``queue`` arrays :func:`fill_nearest` needs for a grid of ``n``
    cells."""
    return np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int64)
