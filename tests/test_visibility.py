"""Cement as points on the detector (simulator/fluoro/overlay.py::point_patch) and whether a
leak shows on an image (simulator/fluoro/visibility.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from simulator.anatomy.grid import Grid
from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
from simulator.fluoro.overlay import cement_patch, point_patch
from simulator.fluoro.poses import ArmPose
from simulator.fluoro.projection import CementField
from simulator.fluoro.visibility import (
    ImagingGeometry,
    cement_delta_mu_per_mm,
    contrast_threshold,
    leak_contrast,
)

BEAM = ConeBeam.from_table()


def _projection(rotation_deg: float, tilt_deg: float, distortion: float) -> Projection:
    return Projection(
        pose=CArmPose(rotation_deg=rotation_deg, tilt_deg=tilt_deg, isocentre_mm=(0.0, 4.0, 0.0)),
        beam=BEAM,
        field_mm=170.0,
        size_px=368,
        distortion=distortion,
    )


def _field(rng) -> tuple[Grid, CementField]:
    """A lumpy bolus (fractions 0–1, some voxels empty) on a 0.5 mm grid off the isocentre."""
    grid = Grid(origin_mm=(-20.25, -20.25, -20.25), voxel_mm=0.5, shape=(82, 82, 82))
    sl = (slice(30, 52), slice(24, 40), slice(36, 60))
    shape = tuple(s.stop - s.start for s in sl)
    frac = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    frac[frac < 0.3] = 0.0
    return grid, CementField(slices=sl, fraction=frac, barium_mass_fraction=0.3)


def _points(grid: Grid, cement: CementField):
    """The field's voxel centres (mm) with volume v³ · f (mm³)."""
    idx = np.argwhere(cement.fraction > 0)
    off = np.array([s.start for s in cement.slices])
    points = np.asarray(grid.origin_mm) + grid.voxel_mm * (idx + off)
    volumes = cement.fraction[tuple(idx.T)].astype(np.float64) * grid.voxel_mm**3
    return points, volumes


@pytest.mark.parametrize("distortion", [0.0, 0.04])
@pytest.mark.parametrize(("rot", "tilt"), [(0.0, 0.0), (90.0, 0.0), (-37.0, 21.0)])
def test_points_at_voxel_centres_splat_as_the_voxel_field(rng, rot, tilt, distortion):
    """Voxel centres carrying v³ · f give :func:`cement_patch`'s patch (to float tolerance)."""
    grid, cement = _field(rng)
    proj = _projection(rot, tilt, distortion)
    ref = cement_patch(cement, proj, delta_mu_per_mm=0.21, grid=grid)
    points, volumes = _points(grid, cement)
    got = point_patch(points, volumes, proj, delta_mu_per_mm=0.21)
    assert got[:2] == ref[:2]
    assert got[2].max() > 0.1
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-5, atol=1e-6 * float(ref[2].max()))


@pytest.mark.parametrize("distortion", [0.0, 0.04])
def test_a_point_keeps_its_amount_times_magnification_squared(distortion):
    """Σ patch × pixel area (detector mm²) = Δμ · V · M² / the pincushion's area stretch
    (1 + k r²)(1 + 3 k r²), r the point's pinhole (undistorted) position as a fraction of the
    field radius: what ``_splat``
    conserves (the footprint (pitch / M)² of test_raycast's bolus test, rearranged). Checked
    away from the field's rim, where the zoom's edge mode would also copy values."""
    proj = _projection(20.0, -10.0, distortion)
    rng = np.random.default_rng(7)
    for _ in range(8):
        p = np.array([0.0, 4.0, 0.0]) + rng.uniform(-40.0, 40.0, size=3)
        got = point_patch(p[None], np.array([2.5]), proj, delta_mu_per_mm=0.3)
        mag = float(proj.magnification_at(p))
        q2 = float(np.sum(((proj.undistort(proj.project(p)) - 183.5) / 184.0) ** 2))
        stretch = (1 + distortion * q2) * (1 + 3 * distortion * q2)
        total = float(got[2].astype(np.float64).sum()) * proj.pixel_mm**2
        assert total == pytest.approx(0.3 * 2.5 * mag**2 / stretch, rel=1e-5)


def test_no_points_off_field_or_empty_volumes_give_none():
    proj = _projection(0.0, 0.0, 0.04)
    assert point_patch(np.zeros((0, 3)), np.zeros(0), proj, delta_mu_per_mm=0.3) is None
    assert point_patch(np.zeros((2, 3)), np.zeros(2), proj, delta_mu_per_mm=0.3) is None
    far = np.array([[900.0, 0.0, 0.0], [0.0, 0.0, 900.0], [np.nan, 0.0, 0.0]])
    assert point_patch(far, np.ones(3), proj, delta_mu_per_mm=0.3) is None
    with pytest.raises(ValueError):
        point_patch(np.zeros((2, 3)), np.ones(3), proj, delta_mu_per_mm=0.3)


# ----- visibility ---------------------------------------------------------------------------
SCENARIO = "first_case_l1"
VEIN_MM2 = np.pi * 0.5**2
"""Cross-section (mm²) of the fake 1 mm vein."""


def _ball(centre, radius_mm: float, volume_mm3: float):
    """Points on a 1 mm lattice inside a ball (mm), sharing ``volume_mm3`` (mm³)."""
    r = int(radius_mm)
    g = np.arange(-r, r + 1, dtype=float)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    pts = pts[np.linalg.norm(pts, axis=1) <= radius_mm]
    return pts + np.asarray(centre, dtype=float), np.full(len(pts), volume_mm3 / len(pts))


def _streak(start, direction, length_mm: float, fill: float = 1.0):
    """A vein segment from ``start`` along ``direction`` (mm), points every 0.25 mm each with
    its 0.25 mm of the vein's cross-section × ``fill`` (mm³)."""
    n = max(int(length_mm / 0.25), 1)
    s = (np.arange(n) + 0.5) * 0.25
    d = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    return np.asarray(start, dtype=float) + s[:, None] * d, np.full(n, 0.25 * VEIN_MM2 * fill)


def _parts(body, **leaks) -> dict:
    """visible_parts() as the cement model hands it: every site, None where empty."""
    out = dict.fromkeys(("body", "canal", "disc", "vein", "paravertebral", "needle_tract"))
    return {**out, "body": body, **leaks}


@functools.cache
def _geometry():
    """The first case's C-arm geometry (headless) and its body's posterior wall (y, mm)."""
    from simulator.fluoro.alignment import make_carm
    from simulator.fluoro.visibility import ImagingGeometry
    from simulator.releases import ModelOptions
    from tests.conftest import scenario_and_phantom

    s, ph = scenario_and_phantom(SCENARIO)
    carm = make_carm(s, ph, seed=1, images=False, model=ModelOptions())
    return ImagingGeometry.of_carm(carm), float(ph.geometry.body.wall_y_mm)


LATERAL = ArmPose(rotation_deg=90.0, tilt_deg=0.0)
AP = ArmPose(rotation_deg=0.0, tilt_deg=0.0)


def _scene(vein_length_mm=12.0, fill=1.0):
    geo, wall = _geometry()
    body = _ball((0.0, wall - 15.0, 0.0), 6.0, 900.0)
    return geo, _parts(body, vein=_streak((0.0, wall, 0.0), (0, 1, 0), vein_length_mm, fill))


def test_a_vein_streak_behind_the_wall_shows_on_the_lateral_not_on_the_ap():
    """Back from the posterior wall along +y, the streak lies beside the bolus on the lateral
    and in front of it on the AP (its dot inside the bolus's shadow)."""
    geo, parts = _scene()
    dmu = cement_delta_mu_per_mm(0.3)
    lateral = leak_contrast(parts, geo.projection(LATERAL), dmu)
    ap = leak_contrast(parts, geo.projection(AP), dmu)
    assert set(lateral) == {"canal", "disc", "vein", "paravertebral", "needle_tract"}
    assert lateral["vein"] >= 2 * contrast_threshold()
    assert lateral["canal"] == 0.0
    assert ap["vein"] < contrast_threshold()
    # without the bolus, the AP shows the streak end on (a dense dot: over Rose's area it is
    # still far above the threshold)
    assert leak_contrast({**parts, "body": None}, geo.projection(AP), dmu)["vein"] > 5 * 0.05


def test_a_faint_or_off_field_leak_does_not_show():
    geo, parts = _scene(fill=0.01)
    dmu = cement_delta_mu_per_mm(0.3)
    faint = leak_contrast(parts, geo.projection(LATERAL), dmu)["vein"]
    assert 0.0 < faint < contrast_threshold()
    # the same leak, 1 % full: the value over Rose's area is the vein's own, scaled
    full = leak_contrast(_scene()[1], geo.projection(LATERAL), dmu)["vein"]
    assert faint == pytest.approx(0.01 * full, rel=1e-4)
    far = _parts(parts["body"], vein=_streak((0.0, 0.0, 80.0), (0, 0, 1), 10.0))
    assert leak_contrast(far, geo.projection(LATERAL), dmu)["vein"] == 0.0  # beyond the field


def test_the_imager_projects_through_the_headless_geometry():
    """PoseImager.projection is ImagingGeometry.projection (one function), mirror included."""
    from simulator.fluoro.alignment import make_carm
    from simulator.releases import ModelOptions
    from tests.conftest import scenario_and_phantom

    s, ph = scenario_and_phantom("venous_risk_l2")
    carm = make_carm(s, ph, seed=1, images=True, model=ModelOptions())
    geo = ImagingGeometry.of_carm(carm)
    assert carm.imager.geometry == geo
    for rot, tilt in ((0.0, 0.0), (90.0, 5.0), (-90.0, -12.0), (33.0, 20.0)):
        pose = ArmPose(rotation_deg=rot, tilt_deg=tilt)
        a, b = carm.imager.projection(pose), geo.projection(pose)
        assert a == b
        np.testing.assert_array_equal(a.detector_from_world, b.detector_from_world)
    assert geo.projection(ArmPose(rotation_deg=-90.0, tilt_deg=0.0)).pose.mirror


class StreakCement:
    """A cement model without flow, for the leak watch: injects at its rate; the body's cement
    a ball in front of the posterior wall; past ``leak_after_ml`` a vein streak grows back
    from the wall (1 mm per 0.785 mm³, up to 15 mm; a ``leak`` event when it starts)."""

    def __init__(self, metrics: dict, *, wall_y_mm: float, leak_after_ml: float = 1.0):
        self._metrics = metrics
        self.wall_y_mm = wall_y_mm
        self.leak_after_m3 = leak_after_ml * 1e-6
        self.injected_m3 = 0.0
        self.rate_m3_s = 0.0

    @property
    def active(self) -> bool:
        return self.rate_m3_s > 0

    def mix(self, t_s, product):
        return None

    def inject(self, t_s, rate_ml_min, ml, needle):
        self.rate_m3_s = rate_ml_min / 60.0 * 1e-6
        return None

    def stop(self, t_s):
        self.rate_m3_s = 0.0
        return None

    def step(self, dt_s, t_s, needle):
        before = self.injected_m3
        self.injected_m3 += self.rate_m3_s * dt_s
        if before <= self.leak_after_m3 < self.injected_m3:
            return [("leak", {"site": "vein", "ml": 0.02})]
        return []

    def field(self):
        return None

    def display_state(self, t_s):
        return None

    def metrics(self):
        return {**self._metrics, "injected_ml": round(self.injected_m3 * 1e6, 6)}

    def visible_parts(self):
        if self.injected_m3 <= 0:
            return None
        in_body = min(self.injected_m3, self.leak_after_m3) * 1e9
        leaked = max(self.injected_m3 - self.leak_after_m3, 0.0) * 1e9
        vein = None
        if leaked > 0:
            vein = _streak((0.0, self.wall_y_mm, 0.0), (0, 1, 0), min(leaked / VEIN_MM2, 15.0))
        return _parts(_ball((0.0, self.wall_y_mm - 15.0, 0.0), 6.0, in_body), vein=vein)


def _watched(*, images: bool, visible: bool = True):
    """The first case with a StreakCement: inject 0.1 ml/s from 2 s (the vein fills at 12 s),
    a lateral at 5 s, an AP at 14 s (the streak hides in the bolus), a lateral at 20 s (it
    shows), stop at 30 s."""
    from simulator.actions import make_action
    from simulator.cement.injection import CementInjection
    from simulator.procedure import Procedure
    from simulator.releases import ModelOptions
    from tests.conftest import scenario_and_phantom

    s, ph = scenario_and_phantom(SCENARIO)
    wall = float(ph.geometry.body.wall_y_mm)
    base = CementInjection(s, ph, visible=visible).metrics()  # its release's names
    cement = StreakCement(base, wall_y_mm=wall)
    model = ModelOptions(visible_cement=visible)
    proc = Procedure(s, phantom=ph, render_images=images, cement=cement, model=model)
    actions = [
        make_action(1.0, "mix"),
        make_action(2.0, "inject", rate_ml_min=6.0),
        make_action(5.0, "fluoro", view="lateral", pulses=1),
        make_action(14.0, "fluoro", view="ap", pulses=1),
        make_action(20.0, "fluoro", view="lateral", pulses=1),
        make_action(30.0, "stop"),
        make_action(31.0, "finish"),
    ]
    return proc.run(actions)


def test_the_watch_finds_the_first_image_a_leak_shows_on_headless_and_with_images():
    headless = _watched(images=False)
    m = headless.metrics()
    assert m["leak_first_seen_s"] == {
        "canal": None,
        "disc": None,
        "vein": 20.0,
        "paravertebral": None,
        "needle_tract": None,
    }
    after = m["injected_after_leak_seen_ml"]
    assert after["vein"] == pytest.approx(1.0, abs=0.005)  # 2.8 ml at the stop, 1.8 at 20 s
    assert after["disc"] is None
    leaks = [e for e in headless.events if e.kind == "leak"]
    assert [e.t_s for e in leaks] == [pytest.approx(12.0, abs=0.03)]
    assert _watched(images=True).metrics() == m


def test_a_release_before_the_visible_cement_has_no_leak_visibility_metrics():
    m = _watched(images=False, visible=False).metrics()
    assert "leak_first_seen_s" not in m and "injected_after_leak_seen_ml" not in m


def test_the_debrief_tells_when_the_vein_filled_and_when_it_showed():
    from simulator.scoring.feedback import leak_sentences

    proc = _watched(images=False)
    metrics = proc.metrics()
    (sentence,) = leak_sentences(metrics, [e.as_json() for e in proc.events])
    assert sentence.startswith("A vein filled at 00:12, 10 s into that injection, and first")
    assert "showed on your lateral image at 00:20; you pushed 1.0 ml more after it" in sentence


def test_per_site_metrics_have_csv_columns_and_a_log_kind():
    from simulator.records.kinds import metric_ok as _metric_ok
    from simulator.review.export_csv import METRIC_COLUMNS, flat_metrics

    seen = {"canal": None, "disc": 12.5, "vein": None, "paravertebral": None, "needle_tract": 3}
    row = flat_metrics({"leak_first_seen_s": seen})
    assert row["leak_first_seen_s_disc"] == 12.5 and row["leak_first_seen_s_canal"] is None
    assert set(row) <= set(METRIC_COLUMNS)
    assert _metric_ok("sites", seen)
    assert not _metric_ok("sites", {**seen, "disc": -1.0})
    assert not _metric_ok("sites", {**seen, "vein": "soon"})
