"""The fluoroscopy image chain: geometry, contrast, noise, determinism, hold and dose."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from simulator.assets import load_table
from simulator.fluoro import CArm, CementField, DisplaySettings, Imager, NeedleRender
from simulator.materials import tissues
from tests.conftest import scenario_and_phantom

QUIET = DisplaySettings(noise=False)


@functools.cache
def imager(name: str = "first_case_l1") -> Imager:
    s, ph = scenario_and_phantom(name)
    barium = load_table("cements")["products"][s.cement.product]["barium_sulfate_mass_fraction"]
    return Imager(ph, cement_barium_fraction=barium, seed=s.scenario.seed)


def needle_to(tip, direction, *, stylet=True) -> NeedleRender:
    d = np.asarray(direction, dtype=float)
    return NeedleRender(
        tip_mm=tuple(tip),
        direction=tuple(d / np.linalg.norm(d)),
        length_mm=125.0,
        outer_radius_mm=1.524,
        inner_radius_mm=1.194,
        stylet_in=stylet,
    )


def bolus(im: Imager, centre, radius_mm: float = 7.0, fraction: float = 0.9) -> CementField:
    g = im.phantom.grid
    c = np.asarray(centre, dtype=float)
    box = g.box(c - radius_mm - 1, c + radius_mm + 1)
    inside = (box.X - c[0]) ** 2 + (box.Y - c[1]) ** 2 + (box.Z - c[2]) ** 2 <= radius_mm**2
    frac = (inside * fraction).astype(np.float32)
    return CementField(
        slices=box.slices, fraction=frac, barium_mass_fraction=im.cement_barium_fraction
    )


@pytest.mark.parametrize("view", ["lateral", "ap"])
def test_cement_adds_contrast_where_it_is_and_nowhere_else(view):
    im = imager()
    target = im.phantom.landmarks.targets["left"].point_mm
    cement = bolus(im, target)
    plain = im.render(view, pulse_index=1, settings=QUIET).pixels.astype(int)
    with_cement = im.render(view, pulse_index=1, cement=cement, settings=QUIET).pixels.astype(int)
    # footprint: where the projected cement is at least one voxel thick
    v = im.views[view]
    rc = v.project(np.asarray(target))
    rows, cols = np.indices(plain.shape)
    r_px = 7.0 / v.pixel_mm
    core = (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 <= (0.8 * r_px) ** 2
    # beyond the bolus by more than the intensifier blur's reach (4σ ≈ 3 px) nothing changes
    outside = (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 >= (r_px + 4) ** 2
    assert np.array_equal(plain[outside], with_cement[outside])
    assert (plain[core] - with_cement[core]).min() >= 40  # much darker: barium-loaded PMMA


@pytest.mark.parametrize("view", ["lateral", "ap"])
def test_projected_needle_tip_lands_on_the_tips_pixel(view, rng):
    im = imager()
    v = im.views[view]
    base = np.asarray(im.phantom.landmarks.targets["left"].point_mm)
    for _ in range(8):
        tip = base + rng.uniform(-8, 8, 3)
        direction = np.array([-rng.uniform(0.1, 0.6), -1.0, -rng.uniform(-0.3, 0.4)])
        direction /= np.linalg.norm(direction)
        needle = needle_to(tip, direction)
        steel = im.line_integral(view, needle=needle) - im.line_integral(view)
        rows, cols = np.nonzero(steel > 0.05)
        hub = tip - 125.0 * direction
        (r_h, c_h), (r_t, c_t) = v.project(np.stack([hub, tip]))
        axis = np.array([r_t - r_h, c_t - c_h])
        axis /= np.linalg.norm(axis)
        along = rows * axis[0] + cols * axis[1]
        end = np.argmax(along)
        # the far end of the steel on the image, measured along the needle
        tip_on_image = (r_t, c_t)
        gap = abs(along[end] - (tip_on_image[0] * axis[0] + tip_on_image[1] * axis[1]))
        assert gap <= 2.0
        across = abs((rows[end] - r_t) * axis[1] - (cols[end] - c_t) * axis[0])
        assert across <= 2.0 + 1.524 / v.pixel_mm


def test_signal_to_noise_rises_as_the_square_root_of_dose():
    im = imager()
    view = "lateral"
    circle = im.views[view].circle_mask()

    def snr(dose: float) -> float:
        noisy = im.render(view, pulse_index=7, dose_factor=dose).counts
        clean = im.render(view, pulse_index=7, dose_factor=dose, settings=QUIET).counts
        noise = (noisy - clean)[circle]
        return float(clean[circle].mean() / noise.std())

    base = snr(1.0)
    for dose in (0.25, 4.0, 9.0):
        assert snr(dose) / base == pytest.approx(np.sqrt(dose), rel=0.10)


def test_same_seed_and_pulse_same_image_otherwise_different():
    s, ph = scenario_and_phantom("first_case_l1")
    a = imager().render("ap", pulse_index=5).pixels
    b = Imager(ph, cement_barium_fraction=0.3, seed=s.scenario.seed).render("ap", pulse_index=5)
    assert np.array_equal(a, b.pixels)
    assert not np.array_equal(a, imager().render("ap", pulse_index=6).pixels)
    other = Imager(ph, cement_barium_fraction=0.3, seed=s.scenario.seed + 1)
    assert not np.array_equal(a, other.render("ap", pulse_index=5).pixels)


def test_dense_is_dark_and_invert_flips_it():
    im = imager()
    v = im.views["ap"]
    img = im.render("ap", pulse_index=1, settings=QUIET).pixels.astype(int)
    inv = im.render("ap", pulse_index=1, settings=DisplaySettings(noise=False, invert=True))
    body = v.project(np.array([0.0, 0.0, 0.0])).round().astype(int)
    soft = v.project(np.array([-40.0, 0.0, 0.0])).round().astype(int)
    assert img[tuple(body)] < img[tuple(soft)]
    assert inv.pixels[tuple(body)] > inv.pixels[tuple(soft)]
    assert img[0, 0] == 0 and inv.pixels[0, 0] == 0  # collimated corner stays black


def test_stylet_out_shows_a_tube():
    im = imager()
    target = im.phantom.landmarks.targets["left"].point_mm
    solid = needle_to(target, (-0.3, -1.0, -0.1))
    tube = needle_to(target, (-0.3, -1.0, -0.1), stylet=False)
    a = im.line_integral("lateral", needle=solid) - im.line_integral("lateral")
    b = im.line_integral("lateral", needle=tube) - im.line_integral("lateral")
    assert b.max() < a.max()
    assert (b > 0).sum() == pytest.approx((a > 0).sum(), rel=0.05)


def test_last_image_hold_and_dose_ledger():
    im = imager()
    arm = CArm(im, settings=QUIET)
    assert arm.held("lateral") is None
    target = im.phantom.landmarks.targets["left"].point_mm
    first = arm.expose("lateral", pulses=3)
    assert arm.held("lateral") is first and arm.held("ap") is None
    arm.expose("ap")
    assert arm.held("lateral") is first  # the other view keeps its last image
    second = arm.expose("lateral", needle=needle_to(target, (-0.3, -1.0, -0.1)))
    assert arm.held("lateral") is second and not np.array_equal(first.pixels, second.pixels)
    table = load_table("fluoro")
    rate = table["beam"]["pulse_rate_hz"]
    area = np.pi * (table["detector"]["field_diameter_mm"] / 20.0) ** 2
    kerma = table["beam"]["kerma_per_pulse_mgy"]
    m = arm.ledger.metrics()
    assert m["fluoro_shots"] == 3
    assert (m["fluoro_shots_lateral"], m["fluoro_shots_ap"]) == (2, 1)
    assert m["fluoro_time_s"] == pytest.approx(5 / rate)
    assert m["dose_dap_mgycm2"] == pytest.approx(area * (4 * kerma["lateral"] + kerma["ap"]))
    with pytest.raises(ValueError, match="view must be one of"):
        arm.ledger.record("oblique", 1)


def test_cement_attenuation_follows_the_barium_fraction():
    im = imager()
    assert 0.3 < im.cement_mu_per_mm < 0.5  # ≈ 5× cortical bone at 30 % BaSO4
    cortical = tissues().mu_per_mm[tissues().id("cortical")]
    assert im.cement_mu_per_mm > 4 * cortical
