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
from pyamg.util.linalg import norm

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
