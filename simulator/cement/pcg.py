"""Preconditioned conjugate gradients that can be run a few iterations at a time.

The iteration is pyamg's ``krylov.cg`` with the residual criterion (``‖r‖ < tol ‖b‖``, the
recursive residual recomputed from ``b − A x`` every 8 iterations), written out so that its
state (x, r, z, p, rz and the iteration count) survives between calls: a solve spread over
several flow steps then does the iterations of one CG run instead of restarting CG (and
losing its Krylov space) at every step. :meth:`PCG.restart` gives the old behaviour, a fresh
CG from the current x, operation for operation the same as ``pyamg.krylov.cg``.
"""

from __future__ import annotations

import numpy as np
import pyamg
import scipy.sparse as sp
from pyamg.util.linalg import norm

from simulator.cement.flow import MODEL

SOLVER = MODEL["solver"]

RECOMPUTE_R = 8  # as pyamg: the true residual every 8 iterations


class PCG:
    """CG on ``a x = b`` (a symmetric positive definite) preconditioned by ``m`` (anything
    with ``m @ r``), from ``x0``; ``tol`` is relative to ‖b‖ (dimensionless)."""

    def __init__(self, a, b: np.ndarray, x0: np.ndarray, m, *, tol: float):
        self.a, self.b, self.m = a, b, m
        self.x = np.array(x0, dtype=float)
        normb = norm(b)
        self.rtol = tol * (normb if normb != 0.0 else 1.0)
        self.restart()

    def restart(self) -> None:
        """Forget the search directions: a new CG run from the current ``x``."""
        self.r = self.b - self.a @ self.x
        self.z = self.m @ self.r
        self.p = self.z.copy()
        self.rz = np.inner(self.r, self.z)
        self.it = 0
        self.normr = np.linalg.norm(self.r)

    @property
    def converged(self) -> bool:
        """True when the (recursive) residual norm is below the tolerance."""
        return bool(self.normr < self.rtol)

    def iterate(self, max_iter: int) -> bool:
        """Run up to ``max_iter`` iterations (fewer once converged); True when converged."""
        if self.converged:
            return True
        a, m = self.a, self.m
        for _ in range(max_iter):
            ap = a @ self.p
            rz_old = self.rz
            alpha = self.rz / np.inner(ap, self.p)
            self.x += alpha * self.p
            if np.mod(self.it, RECOMPUTE_R) and self.it > 0:
                self.r -= alpha * ap
            else:
                self.r = self.b - a @ self.x
            self.z = m @ self.r
            self.rz = np.inner(self.r, self.z)
            self.p *= self.rz / rz_old
            self.p += self.z
            self.it += 1
            self.normr = np.linalg.norm(self.r)
            if self.converged:
                return True
        return False


def multigrid(a: sp.csr_matrix, shape: tuple[int, int, int] | None = None):
    """Smoothed-aggregation hierarchy for ``a`` with its levels converted to CSR (pyamg builds
    the coarse levels as 1×1-block BSR, whose Gauss–Seidel kernel is slower). With the grid's
    ``shape``, the first level aggregates 2 × 2 × 2 blocks of cells (geometric) instead of
    pyamg's strength-based aggregation."""
    aggregate = "standard"
    if shape is not None:
        aggregate = [("predefined", {"AggOp": block_aggregation(shape)}), "standard"]
    ml = pyamg.smoothed_aggregation_solver(
        a,
        max_coarse=int(SOLVER["max_coarse"]),
        smooth=None,
        coarse_solver=str(SOLVER["coarse_solver"]),
        aggregate=aggregate,
    )
    for level in ml.levels:
        level.A = level.A.tocsr()
        for name in ("P", "R"):
            if hasattr(level, name):
                setattr(level, name, getattr(level, name).tocsr())
    return ml


def block_aggregation(shape: tuple[int, int, int]) -> sp.csr_matrix:
    """The (cells × aggregates) 0/1 matrix putting each 2 × 2 × 2 block of cells (fewer at
    odd edges) into one aggregate."""
    n = int(np.prod(shape))
    idx = np.unravel_index(np.arange(n), shape)
    coarse = tuple((m + 1) // 2 for m in shape)
    agg = np.ravel_multi_index(tuple(i // 2 for i in idx), coarse)
    return sp.csr_matrix((np.ones(n), (np.arange(n), agg)), shape=(n, int(np.prod(coarse))))
