"""The image chain of the perspective imager, fused into two compiled passes (the exposure's
budget is a few milliseconds for both views at 368²).

Same steps as :func:`simulator.fluoro.chain.display_chain` (which the fixed parallel views of
older releases keep, bit for bit): photons λ = N_ref · exp(L_ref − ∫μ dl), quantum noise
λ + √λ·ε, the intensifier's blur (3 × 3, σ ≈ 0.7 px), veiling glare (a pose's wide-blurred
anatomy signal, cached with the pose, mixed in at its fraction), log, window, invert,
vignetting and the soft-edged field. ε comes from a bank of standard-normal frames made once
from the seed, each pulse taking one frame at a pulse-seeded circular offset, so the grain
changes from pulse to pulse and repeats for the same pulse.

The passes run on one thread: each takes well under a millisecond, and on a busy two-core
machine a parallel pass of that size waits for a core far longer than it computes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.anatomy.fields import rng_for

NOISE_FRAMES = 4
"""Standard-normal frames in the bank (the offsets make every pulse's grain different)."""


class NoiseBank:
    """Standard-normal noise frames of one image size, from one seed."""

    def __init__(self, seed: int, stream: int, shape: tuple[int, int]):
        rng = rng_for(seed, stream, 0x0BA4)
        self.frames = rng.standard_normal((NOISE_FRAMES, *shape), dtype=np.float32)
        self.seed, self.stream = int(seed), int(stream)

    def frame(self, pulse_index: int) -> tuple[np.ndarray, int, int]:
        """(frame, row offset, col offset) of one pulse."""
        r = rng_for(self.seed, self.stream, int(pulse_index))
        k, dr, dc = (int(v) for v in r.integers(0, (NOISE_FRAMES, *self.frames.shape[1:])))
        return self.frames[k], dr, dc


def blur_weights(sigma_px: float) -> np.ndarray:
    """The 3-tap Gaussian of σ ``sigma_px`` (normalised)."""
    w = np.exp(-0.5 * (np.arange(-1, 2) / max(sigma_px, 1e-6)) ** 2)
    return (w / w.sum()).astype(np.float32)


@njit(cache=True, nogil=True, fastmath=True)
def noisy_photons(line, ref, n_ref, eps, dr, dc, noise, out):  # pragma: no cover
    """``out`` = λ + √λ·ε (≥ 0), λ = n_ref · exp(ref − line); ε from ``eps`` rolled by
    (dr, dc); no noise when ``noise`` is False (float32 throughout)."""
    n, m = line.shape
    ref32, n_ref32, zero = np.float32(ref), np.float32(n_ref), np.float32(0.0)
    for i in range(n):
        e = eps[(i + dr) % n]
        for j in range(m):
            lam = n_ref32 * np.exp(ref32 - line[i, j])
            if noise:
                jj = j + dc
                if jj >= m:
                    jj -= m
                v = lam + np.sqrt(lam) * e[jj]
                out[i, j] = v if v > zero else zero
            else:
                out[i, j] = lam


@njit(cache=True, nogil=True, fastmath=True)
def finish(counts, w, glare, g, lo, hi, floor, invert, vignette, circle, pixels, blurred):
    # pragma: no cover
    """3 × 3 blur (weights ``w``, edges replicated), glare mix, log, window [lo, hi], invert,
    vignetting and field: uint8 ``pixels`` and the blurred counts ``blurred`` (row by row:
    the vertical pass into a row buffer, then the horizontal one, so the loops vectorise)."""
    n, m = counts.shape
    g32, lo32 = np.float32(g), np.float32(lo)
    scale = np.float32(1.0 / (hi - lo))
    floor32, one, zero = np.float32(floor), np.float32(1.0), np.float32(0.0)
    w0, w1, w2 = w[0], w[1], w[2]
    tmp = np.empty(m, dtype=np.float32)
    for i in range(n):
        up, mid, down = counts[max(i - 1, 0)], counts[i], counts[min(i + 1, n - 1)]
        for j in range(m):
            tmp[j] = w0 * up[j] + w1 * mid[j] + w2 * down[j]
        b = blurred[i]
        b[0] = (w0 + w1) * tmp[0] + w2 * tmp[1]
        b[m - 1] = w0 * tmp[m - 2] + (w1 + w2) * tmp[m - 1]
        for j in range(1, m - 1):
            b[j] = w0 * tmp[j - 1] + w1 * tmp[j] + w2 * tmp[j + 1]
        gl, vg, ci, px = glare[i], vignette[i], circle[i], pixels[i]
        for j in range(m):
            c = (one - g32) * b[j] + g32 * gl[j]
            b[j] = c
            d = (np.log(max(c, floor32)) - lo32) * scale
            d = min(max(d, zero), one)
            if invert:
                d = one - d
            px[j] = np.uint8(d * vg[j] * ci[j] * np.float32(255.0) + np.float32(0.5))
