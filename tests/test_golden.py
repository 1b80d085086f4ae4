"""Golden images (first case, planned needle, a 7 mm cement bolus, pulse 1): the perspective
C-arm at its two home poses and an oblique, and the parallel views of releases ≤ 0.2.

A reference that is missing fails the test (the image is written to tests/golden_out/ to be
inspected and copied). A mismatch writes the actual image and a diff image there too. The
comparison is made after a light blur (σ 1.5 px) so that a different noise realisation of the
same physics (another numpy) passes, while a change in anatomy, geometry or display fails.
Regenerate on purpose with ``VSIM_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from simulator.planning import plan_trajectory
from tests.conftest import DATA, scenario_and_phantom
from tests.test_fluoro import bolus, imager, needle_to

GOLDEN = DATA / "golden"
OUT = Path(__file__).parent / "golden_out"
MEAN_TOLERANCE = 2.0  # grey levels, mean absolute difference after blur
PEAK_TOLERANCE = 16.0  # grey levels, 99.5th percentile of the absolute difference


def save_png(path: Path, pixels: np.ndarray) -> None:
    from matplotlib.image import imsave

    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, np.repeat(pixels[..., None], 3, axis=-1))  # RGB bytes: exact round trip


def load_png(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return np.round(imread(path)[..., 0] * 255.0).astype(np.uint8)


POSES = {"ap": (0.0, 0.0), "lateral": (90.0, 0.0), "oblique": (-30.0, 5.0)}
"""The perspective images' poses (rotation, tilt in degrees): the home poses and an LPO."""


def scene_image(view: str) -> np.ndarray:
    s, ph = scenario_and_phantom("first_case_l1")
    im = imager()
    plan = plan_trajectory(ph, s, "left")
    d = np.asarray(plan.target_mm) - np.asarray(plan.skin_point_mm)
    needle = needle_to(plan.target_mm, d)
    cement = bolus(im, plan.target_mm)
    if view.startswith("parallel_"):
        view = view.removeprefix("parallel_")
        return im.render(view, pulse_index=1, needle=needle, cement=cement).pixels
    from simulator.fluoro.alignment import make_carm
    from simulator.fluoro.poses import ArmPose
    from simulator.releases import ModelOptions

    cone = make_carm(s, ph, seed=s.scenario.seed, images=True, model=ModelOptions()).imager
    rot, tilt = POSES[view]
    pose = ArmPose(rotation_deg=rot, tilt_deg=tilt)
    return cone.render(view, pose, pulse_index=1, needle=needle, cement=cement).pixels


@pytest.mark.parametrize("view", ["ap", "lateral", "oblique", "parallel_lateral", "parallel_ap"])
def test_golden_image(view):
    actual = scene_image(view)
    ref_path = GOLDEN / f"first_case_{view}.png"
    if os.environ.get("VSIM_UPDATE_GOLDEN") == "1":
        save_png(ref_path, actual)
    if not ref_path.exists():
        save_png(OUT / f"first_case_{view}_actual.png", actual)
        pytest.fail(f"missing golden reference {ref_path}; the current image is in {OUT}")
    expected = load_png(ref_path)
    assert expected.shape == actual.shape
    diff = np.abs(
        ndimage.gaussian_filter(actual.astype(float), 1.5)
        - ndimage.gaussian_filter(expected.astype(float), 1.5)
    )
    mean, peak = float(diff.mean()), float(np.percentile(diff, 99.5))
    if mean > MEAN_TOLERANCE or peak > PEAK_TOLERANCE:
        save_png(OUT / f"first_case_{view}_actual.png", actual)
        save_png(OUT / f"first_case_{view}_diff.png", np.clip(diff * 8, 0, 255).astype(np.uint8))
        pytest.fail(
            f"{view}: differs from {ref_path} (mean {mean:.2f}, p99.5 {peak:.2f} "
            f"grey levels); see {OUT}"
        )


def test_png_round_trip_is_exact(tmp_path, rng):
    pixels = rng.integers(0, 256, (40, 30)).astype(np.uint8)
    save_png(tmp_path / "x.png", pixels)
    assert np.array_equal(load_png(tmp_path / "x.png"), pixels)


def test_a_changed_image_fails_the_comparison():
    """The tolerance is tight enough to see a 2 mm shift of the needle."""
    s, ph = scenario_and_phantom("first_case_l1")
    im = imager()
    plan = plan_trajectory(ph, s, "left")
    d = np.asarray(plan.target_mm) - np.asarray(plan.skin_point_mm)
    moved = needle_to(np.add(plan.target_mm, (0.0, 0.0, 2.0)), d)
    a = scene_image("parallel_lateral").astype(float)
    b = im.render(
        "lateral", pulse_index=1, needle=moved, cement=bolus(im, plan.target_mm)
    ).pixels.astype(float)
    diff = np.abs(ndimage.gaussian_filter(a, 1.5) - ndimage.gaussian_filter(b, 1.5))
    assert float(np.percentile(diff, 99.5)) > PEAK_TOLERANCE
