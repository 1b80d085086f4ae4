"""The compiled ×2 zoom of the splats gives scipy's numbers to the bit (images of earlier
releases' logs must come out the same to verify)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from simulator.fluoro.zoom import zoom2


def sparse(rng, h: int, w: int) -> np.ndarray:
    """Lines and dots of cement on an empty accumulator, some of them on its edges."""
    acc = np.zeros((h, w))
    for _ in range(int(rng.integers(1, 8))):
        r, c = int(rng.integers(0, h)), int(rng.integers(0, w))
        kind = int(rng.integers(3))
        if kind == 0:  # a vertical streak
            acc[r : r + int(rng.integers(1, 60)), c : c + int(rng.integers(1, 4))] += rng.random()
        elif kind == 1:  # a horizontal band
            acc[r : r + int(rng.integers(1, 4)), c : c + int(rng.integers(1, 40))] += rng.random()
        else:  # a dot, faint to dense
            acc[r, c] += rng.random() * 10 ** rng.uniform(-8, 2)
    return acc


@pytest.mark.parametrize("seed", range(4))
def test_the_compiled_zoom_is_scipys_to_the_bit(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        acc = sparse(rng, h, w)
        want = ndimage.zoom(acc, 2.0, order=1, grid_mode=True, mode="nearest")
        np.testing.assert_array_equal(zoom2(acc), want)


def test_a_dense_patch_and_an_empty_one():
    rng = np.random.default_rng(7)
    dense = rng.random((37, 23))
    want = ndimage.zoom(dense, 2.0, order=1, grid_mode=True, mode="nearest")
    np.testing.assert_array_equal(zoom2(dense), want)
    assert not zoom2(np.zeros((5, 9))).any() and zoom2(np.zeros((5, 9))).shape == (10, 18)
