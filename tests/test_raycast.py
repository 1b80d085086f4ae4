"""The anatomy ray caster: torso chord + Δμ with empty-space skipping (simulator/fluoro/
anatomy_cast.py, torso.py) against the numpy reference, uniform stepping and today's views."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from simulator.anatomy.texture import bone_mu_per_mm
from simulator.fluoro.anatomy_cast import (
    TEXTURE_BINS,
    AnatomyVolume,
    Texture,
    anatomy_line_integrals,
)
from simulator.fluoro.bricks import brick_constant, brick_occupancy, brick_reach
from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
from simulator.fluoro.raycast import MuVolume, _cast_numpy, _rays, line_integrals
from simulator.fluoro.torso import Torso, chords, skin_plane_index
from simulator.materials import tissues

BEAM = ConeBeam.from_table()
VOXEL = 0.5
T = tissues()
SOFT = float(T.mu_per_mm[T.id("soft_tissue")])
POSES = ((0.0, 0.0), (37.0, -21.0), (-90.0, 10.0), (68.0, 29.0), (-23.0, -30.0))


def _labels(shape=(48, 56, 40), skin_j=47) -> np.ndarray:
    """A phantom-like label volume: soft tissue, air behind the skin layer ``skin_j`` (a
    midline furrow one layer deeper sets the skin plane: the skin beside it lies behind the
    plane), a cortical box around cancellous bone, a disc, a vessel and a fat pad: Δμ of
    every kind (positive, negative, low contrast) and empty space."""
    lab = np.full(shape, T.id("soft_tissue"), dtype=np.uint8)
    lab[:, skin_j:] = T.id("air")
    lab[20:28, skin_j - 1 :] = T.id("air")  # the furrow
    lab[14:34, 18:36, 8:30] = T.id("cortical")
    lab[16:32, 20:34, 10:28] = T.id("cancellous")
    lab[16:32, 20:34, 18:20] = T.id("disc")
    xx, yy = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    lab[((xx - 30) ** 2 + (yy - 8) ** 2 <= 16)] = T.id("great_vessel")
    lab[6:12, 38:44, 4:36] = T.id("epidural_fat")
    return lab


def _volume(labels=None, *, brick=8, torso=None, texture=None) -> AnatomyVolume:
    """The small phantom on a grid centred near the world origin, inside a torso that cuts
    its front corners (codes of voxels outside it) and flattens its back at the skin."""
    labels = _labels() if labels is None else labels
    origin = tuple(-(n - 1) / 2 * VOXEL for n in labels.shape)
    if torso is None:
        skin_y = origin[1] + skin_plane_index(labels, T.id("air")) * VOXEL
        torso = Torso(half_width_mm=16.0, half_depth_mm=16.0, centre_y_mm=4.0, skin_y_mm=skin_y)
    return AnatomyVolume.from_labels(
        labels,
        mu_per_mm=T.mu_per_mm,
        mu_soft_per_mm=SOFT,
        torso=torso,
        origin_mm=origin,
        voxel_mm=VOXEL,
        brick=brick,
        texture=texture,
    )


def _texture(labels=None) -> Texture:
    """A texture of the cancellous bone of :func:`_labels`: bone fractions smoothed from
    seeded noise (0–255), so that neighbouring voxels differ but not always."""
    labels = _labels() if labels is None else labels
    noise = np.random.default_rng(14).standard_normal(labels.shape)
    smooth = ndimage.gaussian_filter(noise, (1.0, 1.0, 4.0))
    density = np.clip(128 + 255 * 2.5 * smooth, 0, 255).astype(np.uint8)
    return Texture(density=density, label_ids=(T.id("cancellous"),), mu_per_mm=bone_mu_per_mm(T))


def _proj(rot: float, tilt: float, *, size_px=48, field_mm=64.0, iso=(0.0, 0.0, 0.0)):
    """A small detector (≈ 40 mm at the isocentre) covering the small phantom."""
    pose = CArmPose(rotation_deg=rot, tilt_deg=tilt, isocentre_mm=iso)
    return Projection(pose=pose, beam=BEAM, field_mm=field_mm, size_px=size_px)


def test_codes_and_lut_are_delta_mu():
    vol = _volume()
    assert vol.codes.dtype == np.uint8 and vol.delta_lut.dtype == np.float32
    n = len(T.mu_per_mm)
    outside = vol.tissue_codes >= n
    assert outside.any() and (~outside).any()
    labels = vol.tissue_codes % n
    expect = T.mu_per_mm[labels] - SOFT * ~outside
    assert vol.delta_mu == pytest.approx(expect, abs=1e-7)
    # soft tissue inside the torso and air outside it are zero; skin behind the plane is μ_soft
    soft = labels == T.id("soft_tissue")
    assert (vol.delta_mu[soft & ~outside] == 0).all()
    assert (vol.delta_mu[labels == T.id("air")] == 0).all()
    assert vol.delta_mu[0, 46, 0] == pytest.approx(SOFT)
    assert vol.torso.skin_y_mm == pytest.approx(vol.origin_mm[1] + 45.5 * VOXEL)


@pytest.mark.parametrize(("rot", "tilt"), POSES)
def test_kernel_equals_numpy_reference(rot, tilt):
    vol = _volume()
    proj = _proj(rot, tilt)
    for step in (0.5, 0.7):
        fast = anatomy_line_integrals(vol, proj, step_mm=step)
        ref = anatomy_line_integrals(vol, proj, step_mm=step, backend="numpy")
        assert ref.max() > 0.3 and (ref > 0).mean() > 0.5
        assert fast == pytest.approx(ref, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("brick", [1, 2, 4, 8, 16])
def test_skipping_equals_uniform_stepping(brick):
    vol = _volume(brick=brick)
    assert (vol.reach == 0).any() and (brick > 4 or (vol.reach > 1).any())
    if brick <= 4:  # bricks of one non-zero value (bone, vessel), counted not sampled
        assert (np.nan_to_num(vol.constant) != 0).any()
    for rot, tilt in POSES:
        proj = _proj(rot, tilt, iso=(1.3, -0.7, 2.1))
        skipped = anatomy_line_integrals(vol, proj, step_mm=0.6)
        uniform = anatomy_line_integrals(vol, proj, step_mm=0.6, skip=False)
        assert skipped == pytest.approx(uniform, rel=1e-6, abs=1e-7)


def test_skipping_on_sparse_random_volume():
    rng = np.random.default_rng(7)
    labels = np.full((37, 45, 29), T.id("soft_tissue"), dtype=np.uint8)
    spots = rng.integers(0, labels.size, 60)
    labels.flat[spots] = rng.integers(2, 10, 60)
    labels[:, 0] = T.id("cortical")  # bone reaching the grid's clamped edge
    vol = _volume(
        labels,
        brick=4,
        torso=Torso(half_width_mm=400.0, half_depth_mm=400.0, centre_y_mm=0.0, skin_y_mm=400.0),
    )
    for rot, tilt in POSES:
        proj = _proj(rot, tilt, iso=tuple(rng.uniform(-4, 4, 3)))
        skipped = anatomy_line_integrals(vol, proj, step_mm=0.45)
        assert skipped == pytest.approx(
            anatomy_line_integrals(vol, proj, step_mm=0.45, skip=False), rel=1e-6, abs=1e-7
        )


def test_brick_maps_read_one_voxel_beyond():
    values = np.zeros((20, 9, 9), dtype=np.float32)
    values[8, 4, 4] = 0.05  # read by the cells i = 7 (brick 0) and i = 8 (brick 1)
    occ = brick_occupancy(values != 0, 8)
    assert occ.shape == (3, 1, 1)  # cells 0…18: bricks [0, 8), [8, 16), [16, 19)
    assert occ[:, 0, 0].tolist() == [1, 1, 0]
    const = brick_constant(values, 8)
    assert np.isnan(const[:2]).all() and const[2, 0, 0] == 0.0
    assert brick_reach(const)[:, 0, 0].tolist() == [0, 0, 1]
    # a constant non-zero run: its reach counts the bricks to the nearest other value
    values = np.full((41, 3, 3), 0.02, dtype=np.float32)
    values[36:] = 0.0
    const = brick_constant(values, 4)  # bricks of cells [0, 4) … [36, 40): 10 bricks
    assert const[:, 0, 0].tolist()[:8] == pytest.approx([0.02] * 8)
    assert np.isnan(const[8, 0, 0]) and const[9, 0, 0] == 0.0
    assert brick_reach(const)[:, 0, 0].tolist() == [8, 7, 6, 5, 4, 3, 2, 1, 0, 1]
    assert (brick_reach(np.zeros((2, 2, 2), np.float32)) == 255).all()


def test_torso_chord_through_its_centre():
    torso = Torso.fit(width_mm=320.0, depth_mm=230.0, skin_y_mm=82.5, half_span_x_mm=56.0)
    c = np.array([0.0, torso.centre_y_mm, 0.0])
    dirs = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    src = c - 1000.0 * dirs
    got = [float(torso.chord_mm(s, d, 2000.0)[0]) for s, d in zip(src, dirs, strict=True)]
    depth_clipped = 82.5 - (torso.centre_y_mm - 115.0)
    assert got[0] == pytest.approx(depth_clipped) and depth_clipped < 230.0
    assert got[1] == pytest.approx(320.0)
    assert got[2] == pytest.approx(depth_clipped)
    assert got[3] == pytest.approx(2000.0)  # along the cylinder: the whole ray
    # the ellipse meets the flat back at the phantom's sides
    assert torso.contains([[56.0, 82.49, 0.0], [-56.0, 82.49, 7.0]]).all()
    assert not torso.contains([[56.5, 82.49, 0.0], [0.0, 82.51, 0.0]]).any()
    # a ray stopping short of the torso, and one behind the skin running across the back
    assert torso.chord_mm(c - [0, 300.0, 0], [0.0, 1.0, 0.0], 100.0)[0] == 0.0
    assert torso.chord_mm([-500.0, 83.0, 0.0], [1.0, 0.0, 0.0], 1000.0)[0] == 0.0


@pytest.mark.parametrize(("rot", "expect"), [(0.0, "depth"), (90.0, "width"), (-90.0, "width")])
def test_kernel_chord_of_uniform_soft_tissue(rot, expect):
    labels = np.full((16, 16, 16), T.id("soft_tissue"), dtype=np.uint8)
    torso = Torso(half_width_mm=150.0, half_depth_mm=100.0, centre_y_mm=0.0, skin_y_mm=60.0)
    vol = _volume(labels, torso=torso)
    assert not vol.delta_mu.any()
    proj = _proj(rot, 0.0, size_px=5)
    img = anatomy_line_integrals(vol, proj)
    chord = 160.0 if expect == "depth" else 300.0  # back clipped at 60 mm / full width
    assert img[2, 2] == pytest.approx(SOFT * chord, rel=1e-6)
    assert img == pytest.approx(anatomy_line_integrals(vol, proj, backend="numpy"), rel=1e-6)


def _torso_outside_box(vol: AnatomyVolume, box: MuVolume, proj: Projection) -> np.ndarray:
    """μ_soft × the torso's chord outside ``box``'s occupied box, per pixel."""
    s, c0, dr, dc = _rays(box, proj)
    n = proj.size_px
    rc = np.arange(n, dtype=float)
    d = (c0 + rc[:, None, None] * dr + rc[None, :, None] * dc - s).reshape(-1, 3)
    length = np.linalg.norm(d, axis=1)
    d /= length[:, None]
    lo, hi = np.asarray(box.box_lo), np.asarray(box.box_hi)
    ta, tb = (lo - s) / d, (hi - s) / d  # no axis-parallel rays at these poses
    t0 = np.maximum(np.minimum(ta, tb).max(axis=1), 0.0)
    t1 = np.maximum(np.maximum(ta, tb).min(axis=1), t0)
    p = vol.torso.params(vol.origin_mm, vol.voxel_mm)
    out = chords(s, d, length, p) - (chords(s, d, t1, p) - chords(s, d, t0, p))
    return (SOFT * vol.voxel_mm * out).reshape(n, n)


def test_same_integral_as_the_full_mu_volume():
    """Torso + Δμ is the μ volume's integral plus the torso outside the grid (fine steps),
    with the torso fitted as on the real phantom (it holds every voxel in front of the skin,
    whose plane falls between two voxel layers)."""
    labels = _labels()
    skin_y = -(labels.shape[1] - 1) / 2 * VOXEL + skin_plane_index(labels, T.id("air")) * VOXEL
    half_x = labels.shape[0] / 2 * VOXEL
    torso = Torso.fit(width_mm=60.0, depth_mm=40.0, skin_y_mm=skin_y, half_span_x_mm=half_x)
    vol = _volume(labels, torso=torso)
    behind = np.arange(labels.shape[1])[None, :, None] >= 46
    assert ((vol.tissue_codes >= len(T.mu_per_mm)) == behind).all()
    mu = MuVolume.from_array(T.mu_per_mm[labels], origin_mm=vol.origin_mm, voxel_mm=VOXEL)
    for rot, tilt in POSES[1:]:
        proj = _proj(rot, tilt, size_px=40)
        new = anatomy_line_integrals(vol, proj, step_mm=0.1)
        old = line_integrals(mu, proj, step_mm=0.1) + _torso_outside_box(vol, mu, proj)
        assert new.max() > 1.0
        err = np.abs(new - old)
        # rays grazing the skin plane: a step there vs the voxels' linear ramp
        assert np.median(err) < 1e-5 and np.percentile(err, 99) < 2e-3 and err.max() < 5e-3


@pytest.fixture(scope="module")
def real():
    """The first_case_l1 phantom, its anatomy volume and the treated body's centre (mm)."""
    from tests.conftest import scenario_and_phantom

    _, phantom = scenario_and_phantom("first_case_l1")
    b = phantom.geometry.body
    return (
        phantom,
        AnatomyVolume.from_phantom(phantom),
        (0.0, 0.5 * (b.wall_y_mm + b.anterior_y_mm), 0.0),
    )


def test_real_phantom_volume(real):
    phantom, vol, _ = real
    g = phantom.grid
    # the skin plane: in front of the first y slab holding air (the midline furrow's floor)
    j_air = int(np.argmax((phantom.labels == T.id("air")).any(axis=(0, 2))))
    assert j_air > 0
    assert vol.torso.skin_y_mm == pytest.approx(g.origin_mm[1] + (j_air - 0.5) * g.voxel_mm)
    soft = phantom.labels == T.id("soft_tissue")
    in_front = np.arange(g.shape[1])[None, :, None] < j_air
    assert j_air > g.shape[1] * 0.8  # the back of the grid, not an air pocket inside
    assert (vol.delta_mu[soft & in_front] == 0).all()  # the torso holds the phantom's front
    assert (vol.delta_mu == 0).mean() > 0.8
    assert (vol.reach == 0).mean() < 0.35


@pytest.mark.parametrize(("view", "rot"), [("ap", 0.0), ("lateral", 90.0)])
def test_frontal_and_lateral_agree_with_todays_parallel_views(real, view, rot):
    from simulator.assets import load_table
    from simulator.fluoro.projection import anatomy_integral
    from simulator.fluoro.views import standard_views

    phantom, vol, centre = real
    proj = Projection.make(CArmPose(rotation_deg=rot, isocentre_mm=centre), size_px=185)
    img = anatomy_line_integrals(vol, proj)
    v = standard_views(phantom.grid, centre_mm=centre, field_diameter_mm=92.0, pixel_mm=0.5)[view]
    today = anatomy_integral(phantom, v, torso=load_table("fluoro")["torso"])
    # the central ray runs along the grid axis through the body centre: same line
    (r, c), (pr, pc) = v.project(np.asarray(centre)), proj.project(np.asarray(centre))
    assert (pr, pc) == pytest.approx((92.0, 92.0))
    parallel = ndimage.map_coordinates(today, [[r], [c]], order=1)[0]
    assert img[92, 92] == pytest.approx(parallel, rel=0.03)
    # beside the centre the difference is the trunk's shape: today's slab is as wide (deep)
    # everywhere, the torso is an ellipse
    t = load_table("fluoro")["torso"]
    for off in (-20.0, -10.0, 10.0, 20.0):
        pt = np.asarray(centre) + off * proj.axes[0]
        (r, c), (pr, pc) = v.project(pt), proj.project(pt)
        new = ndimage.map_coordinates(img, [[pr], [pc]], order=1)[0]
        old = ndimage.map_coordinates(today, [[r], [c]], order=1)[0]
        d = (pt - proj.source_mm) / np.linalg.norm(pt - proj.source_mm)
        chord = vol.torso.chord_mm(proj.source_mm, d, BEAM.sid_mm)[0]
        if view == "lateral":  # today: the phantom's width plus the slab, 320 mm of trunk
            old += SOFT * (chord - t["width_mm"])
        assert new == pytest.approx(old, rel=0.02), off


def test_real_phantom_skipping_and_reference(real):
    _, vol, centre = real
    proj = Projection.make(
        CArmPose(rotation_deg=-52.0, tilt_deg=17.0, isocentre_mm=centre), size_px=64
    )
    fast = anatomy_line_integrals(vol, proj)
    assert fast == pytest.approx(anatomy_line_integrals(vol, proj, skip=False), rel=1e-6)
    assert fast == pytest.approx(
        anatomy_line_integrals(vol, proj, backend="numpy"), rel=1e-5, abs=1e-6
    )
    assert vol.nbytes < 13e6  # a quarter of the float32 μ volume


def test_kernel_is_cached_parallel_and_releases_the_gil():
    from simulator.fluoro.anatomy_kernel import anatomy_kernel

    opts = anatomy_kernel.targetoptions
    assert opts["parallel"] and opts["nogil"]  # can run in a background thread
    assert type(anatomy_kernel._cache).__name__ == "FunctionCache"  # compiled once, on disk


def test_the_intensifier_pincushion_moves_a_bead_where_project_says():
    """With a pincushion, the cast bead lands where :meth:`Projection.project` (pinhole, then
    r (1 + k r²)) puts it, and farther out than the pinhole alone."""
    from scipy import ndimage

    from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
    from simulator.fluoro.torso import Torso

    shape, voxel = (64, 64, 64), 0.5
    origin = tuple(-(n - 1) / 2 * voxel for n in shape)
    nowhere = Torso(half_width_mm=1.0, half_depth_mm=1.0, centre_y_mm=-1e4, skin_y_mm=-1e4)
    beam = ConeBeam.from_table()
    rng = np.random.default_rng(41)
    for _ in range(6):
        labels = np.zeros(shape, dtype=np.uint8)
        i, j, k = rng.integers(8, 56, 3)
        labels[i - 1 : i + 2, j - 1 : j + 2, k - 1 : k + 2] = 1
        vol = AnatomyVolume.from_labels(
            labels,
            mu_per_mm=np.array([0.0, 1.58], dtype=np.float32),
            mu_soft_per_mm=0.0,
            torso=nowhere,
            origin_mm=origin,
            voxel_mm=voxel,
        )
        pose = CArmPose(
            rotation_deg=float(rng.uniform(-60, 60)), tilt_deg=float(rng.uniform(-20, 20))
        )
        bent = Projection(pose=pose, beam=beam, field_mm=60.0, size_px=96, distortion=0.08)
        img = anatomy_line_integrals(vol, bent, step_mm=0.25)
        found = np.asarray(ndimage.center_of_mass(img))
        point = np.asarray(origin) + voxel * np.array([i, j, k])
        assert np.hypot(*(found - bent.project(point))) < 0.5
        straight = Projection(pose=pose, beam=beam, field_mm=60.0, size_px=96)
        c = (96 - 1) / 2.0
        r_bent = np.hypot(*(bent.project(point) - c))
        r_pin = np.hypot(*(straight.project(point) - c))
        assert r_bent >= r_pin
        # a pixel's ray and the projection agree both ways
        rc = bent.project(point)
        assert np.allclose(bent.undistort(bent.distort(rc)), rc, atol=1e-9)


@pytest.mark.parametrize("filled_mm", [0.0, 70.0])
@pytest.mark.parametrize("stylet", [True, False])
@pytest.mark.parametrize("distortion", [0.0, 0.04])
def test_the_compiled_trocar_equals_the_numpy_reference(stylet, distortion, filled_mm):
    """At random poses, with the lumen empty or filled with cement over 70 mm from the hub
    (ignored with the stylet in)."""
    from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
    from simulator.fluoro.overlay import needle_patch
    from simulator.fluoro.projection import NeedleRender

    rng = np.random.default_rng(7)
    for _ in range(5):
        d = rng.normal(size=3)
        needle = NeedleRender(
            tip_mm=tuple(rng.uniform(-10, 10, 3)),
            direction=tuple(d / np.linalg.norm(d)),
            length_mm=125.0,
            outer_radius_mm=1.524,
            inner_radius_mm=1.194,
            stylet_in=stylet,
            lumen_cement_mm=filled_mm,
            cement_mu_per_mm=0.41,
        )
        pose = CArmPose(
            rotation_deg=float(rng.uniform(-90, 90)), tilt_deg=float(rng.uniform(-30, 30))
        )
        proj = Projection(
            pose=pose,
            beam=ConeBeam.from_table(),
            field_mm=170.0,
            size_px=184,
            distortion=distortion,
        )
        fast = needle_patch(needle, proj, steel_per_mm=1.58)
        ref = needle_patch(needle, proj, steel_per_mm=1.58, backend="numpy")
        assert (fast is None) == (ref is None)
        if fast is not None:
            assert fast[:2] == ref[:2]
            assert fast[2].max() > 0.5
            np.testing.assert_allclose(fast[2], ref[2], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("distortion", [0.0, 0.04])
def test_the_cement_splat_keeps_its_amount_and_lands_where_project_says(distortion):
    """Σ (patch × the pixel's footprint at the bolus, the pincushion's area stretch undone) is
    the bolus's Δμ · volume at every pose, and its centroid is where the bolus centre
    projects."""
    from scipy import ndimage

    from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
    from simulator.fluoro.overlay import cement_patch
    from simulator.fluoro.projection import CementField
    from tests.conftest import scenario_and_phantom

    _, ph = scenario_and_phantom("first_case_l1")
    centre = np.array([4.0, -6.0, 3.0])
    box = ph.grid.box(centre - 6.0, centre + 6.0)
    r2 = (box.X - centre[0]) ** 2 + (box.Y - centre[1]) ** 2 + (box.Z - centre[2]) ** 2
    frac = (r2 <= 16.0).astype(np.float32)
    cement = CementField(slices=box.slices, fraction=frac, barium_mass_fraction=0.3)
    amount = float(frac.sum()) * ph.grid.voxel_mm**3  # Δμ = 1/mm
    rng = np.random.default_rng(3)
    for _ in range(6):
        pose = CArmPose(
            rotation_deg=float(rng.uniform(-100, 100)),
            tilt_deg=float(rng.uniform(-30, 30)),
            isocentre_mm=(0.0, 9.6, 0.0),
        )
        proj = Projection(
            pose=pose,
            beam=ConeBeam.from_table(),
            field_mm=170.0,
            size_px=368,
            distortion=distortion,
        )
        rs, cs, patch = cement_patch(cement, proj, delta_mu_per_mm=1.0, grid=ph.grid)
        rc = proj.project(centre)
        q2 = float(np.sum(((rc - 183.5) / 184.0) ** 2))
        stretch = (1 + distortion * q2) * (1 + 3 * distortion * q2)
        footprint = (proj.pixel_mm / float(proj.magnification_at(centre))) ** 2 * stretch
        assert float(patch.sum()) * footprint == pytest.approx(amount, rel=0.03)
        found = np.asarray(ndimage.center_of_mass(patch)) + np.array([rs.start, cs.start])
        assert np.hypot(*(found - rc)) < 1.0


def test_textured_bone_codes_are_its_quantised_mu():
    texture = _texture()
    tex = _volume(texture=texture)
    outside = _volume().tissue_codes >= len(T.mu_per_mm)
    labels = _labels()
    canc = labels == T.id("cancellous")
    marrow, bone = bone_mu_per_mm(T)
    bins = np.rint(texture.density / 255.0 * (TEXTURE_BINS - 1)) / (TEXTURE_BINS - 1)
    mu = np.where(canc, marrow + bins * (bone - marrow), T.mu_per_mm[labels])
    assert tex.delta_mu == pytest.approx(mu - SOFT * ~outside, abs=1e-7)
    assert len(np.unique(tex.delta_mu[canc])) > TEXTURE_BINS // 2
    assert tex.tissue_codes.max() < 128


@pytest.mark.parametrize(("rot", "tilt"), POSES[:3])
def test_textured_cast_equals_brute_force_sampling(rot, tilt):
    """The cast of the textured volume minus the plain one equals the numpy sampling of the
    difference of their Δμ volumes built voxel by voxel."""
    labels, texture = _labels(), _texture()
    plain, tex = _volume(), _volume(texture=texture)
    canc = labels == T.id("cancellous")
    marrow, bone = bone_mu_per_mm(T)
    bins = np.rint(texture.density / 255.0 * (TEXTURE_BINS - 1)) / (TEXTURE_BINS - 1)
    diff = np.where(canc, marrow + bins * (bone - marrow) - T.mu_per_mm[labels], 0.0)
    proj = _proj(rot, tilt)
    source, corner, d_row, d_col = _rays(tex, proj)
    lo, hi = np.asarray(tex.box_lo), np.asarray(tex.box_hi)
    ref = _cast_numpy(
        diff.astype(np.float32),
        source,
        corner,
        d_row,
        d_col,
        lo,
        hi,
        1.0,
        proj.size_px,
        grid=proj.ray_grid,
    )
    ref = ref * VOXEL
    fast = anatomy_line_integrals(tex, proj) - anatomy_line_integrals(plain, proj)
    assert np.abs(ref).max() > 0.05
    assert fast == pytest.approx(ref, abs=2e-5)
    skipped = anatomy_line_integrals(tex, proj, step_mm=0.6)
    assert skipped == pytest.approx(
        anatomy_line_integrals(tex, proj, step_mm=0.6, skip=False), abs=1e-6
    )
    assert skipped == pytest.approx(
        anatomy_line_integrals(tex, proj, step_mm=0.6, backend="numpy"), abs=1e-5
    )
