"""Cement as points on the detector (simulator/fluoro/overlay.py::point_patch) and whether a
leak shows on an image (simulator/fluoro/visibility.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.anatomy.grid import Grid
from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
from simulator.fluoro.overlay import cement_patch, point_patch
from simulator.fluoro.projection import CementField

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
