"""The cement in the cannula's lumen on the fluoroscopy (issue 15): both backends draw it
alike, μ_cement × the lumen's chord over the filled length plus the steel wall, filled from
the hub as the cement model says, and only in the releases that show it (0.5.0 on)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.actions import make_action
from simulator.anatomy.grid import Grid
from simulator.assets import load_table
from simulator.fluoro.geometry import CArmPose, ConeBeam, Projection
from simulator.fluoro.overlay import needle_patch
from simulator.fluoro.projection import (
    NeedleRender,
    cement_mu_per_mm,
    lumen_cement,
    needle_integral,
)
from simulator.fluoro.views import standard_views
from simulator.personas import build as personas
from simulator.personas import placement
from simulator.procedure import Procedure
from tests.conftest import scenario_and_phantom

ATT = load_table("fluoro")["attenuation"]
STEEL = float(ATT["steel_per_mm"])
MU = cement_mu_per_mm(0.30, ATT)  # 30 % BaSO4 PMMA, ≈ 0.41/mm
R_OUT, R_IN = 1.524, 1.194  # an 11 G cannula (assets/equipment.toml)
LENGTH_MM = 120.0
BACKENDS = ("numba", "numpy")


def lateral() -> Projection:
    """A lateral beam (along x) with the isocentre at the field's centre: y runs along the
    columns, z up the rows."""
    pose = CArmPose(rotation_deg=90.0, tilt_deg=0.0)
    return Projection(pose=pose, beam=ConeBeam.from_table(), field_mm=170.0, size_px=368)


def shaft(proj: Projection, *, stylet: bool, filled_mm: float = 0.0) -> NeedleRender:
    """A cannula across the field in the isocentre's plane, along +y from its hub at y = −60
    mm, its axis on the centres of one row of pixels (so that the row's rays cross it)."""
    o, up = proj.project(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    z0 = (o[0] - np.floor(o[0])) / (o[0] - up[0])  # to the centre of the row above
    return NeedleRender(
        tip_mm=(0.0, LENGTH_MM - 60.0, float(z0)),
        direction=(0.0, 1.0, 0.0),
        length_mm=LENGTH_MM,
        outer_radius_mm=R_OUT,
        inner_radius_mm=R_IN,
        stylet_in=stylet,
        lumen_cement_mm=filled_mm,
        cement_mu_per_mm=MU if filled_mm else 0.0,
    )


def along_axis(proj: Projection, needle: NeedleRender, backend: str) -> tuple:
    """(y of each column (mm, in the isocentre's plane), ∫μ dl on the axis's row there)."""
    rs, cs, values = needle_patch(needle, proj, steel_per_mm=STEEL, backend=backend)
    (row, _), (_, col0), (_, col1) = proj.project(
        np.array([needle.tip_mm, [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    )
    cols = np.arange(cs.start, cs.stop)
    return (cols - col0) / (col1 - col0), values[round(row) - rs.start]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_full_cannula_is_denser_than_an_empty_one_by_its_cement(backend):
    """Across the centre (beam ⟂ axis, chord = diameter): stylet in 2 r_out μ_steel, empty
    2 (r_out − r_in) μ_steel, full that plus 2 r_in μ_cement (0.5 % for the rays' slant)."""
    proj = lateral()
    ys, stylet = along_axis(proj, shaft(proj, stylet=True), backend)
    _, empty = along_axis(proj, shaft(proj, stylet=False), backend)
    _, full = along_axis(proj, shaft(proj, stylet=False, filled_mm=LENGTH_MM), backend)
    mid = np.abs(ys) < 40.0
    assert stylet[mid] == pytest.approx(2 * R_OUT * STEEL, rel=5e-3)  # 4.82
    assert empty[mid] == pytest.approx(2 * (R_OUT - R_IN) * STEEL, rel=5e-3)  # 1.04
    assert (full - empty)[mid] == pytest.approx(2 * R_IN * MU, rel=5e-3)  # + 0.97
    # steel (1.58/mm) is four times denser than barium PMMA: full stays well short of the stylet
    assert (full[mid] < 0.5 * stylet[mid]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_half_full_cannula_shows_its_cement_from_the_hub_to_the_filled_length(backend):
    proj = lateral()
    ys, empty = along_axis(proj, shaft(proj, stylet=False), backend)
    _, full = along_axis(proj, shaft(proj, stylet=False, filled_mm=LENGTH_MM), backend)
    _, half = along_axis(proj, shaft(proj, stylet=False, filled_mm=45.0), backend)
    end_y = -60.0 + 45.0  # the filled length's end
    hub_side = (ys > -55.0) & (ys < end_y - 1.0)
    tip_side = (ys > end_y + 1.0) & (ys < 55.0)
    assert (half - empty)[hub_side] == pytest.approx(2 * R_IN * MU, rel=5e-3)
    np.testing.assert_allclose(half[hub_side], full[hub_side], rtol=1e-5)
    np.testing.assert_allclose(half[tip_side], empty[tip_side], rtol=1e-5)


def test_the_parallel_views_of_the_first_releases_draw_it_alike():
    """``needle_integral`` (pixel = voxel, beam along x, the axis on a row of voxel centres):
    the same chords, filled from the hub."""
    g = Grid.covering((-80.0,) * 3, (80.0,) * 3, 0.5)
    view = standard_views(g, centre_mm=(0.0, 0.0, 0.0), field_diameter_mm=150.0, pixel_mm=0.5)
    lat = view["lateral"]
    z0 = float(g.origin_mm[2] + g.voxel_mm * round(-g.origin_mm[2] / g.voxel_mm))
    base = {"tip_mm": (0.0, 60.0, z0), "direction": (0.0, 1.0, 0.0), "length_mm": LENGTH_MM}
    radii = {"outer_radius_mm": R_OUT, "inner_radius_mm": R_IN, "stylet_in": False}
    empty = NeedleRender(**base, **radii)
    half = NeedleRender(**base, **radii, lumen_cement_mm=45.0, cement_mu_per_mm=MU)
    (rs, cs, a), (_, _, b) = (needle_integral(n, lat, steel_per_mm=STEEL) for n in (empty, half))
    row = round(float(lat.project(np.array(base["tip_mm"]))[0])) - rs.start
    ys = (np.arange(cs.start, cs.stop) - lat.project(np.zeros(3))[1]) * lat.pixel_mm
    assert a[row][np.abs(ys) < 50] == pytest.approx(2 * (R_OUT - R_IN) * STEEL, rel=1e-6)
    extra = (b - a)[row]
    assert extra[(ys > -55) & (ys < -16)] == pytest.approx(2 * R_IN * MU, rel=1e-6)
    assert (extra[(ys > -14) & (ys < 55)] == 0.0).all()


def test_with_the_stylet_in_there_is_no_lumen_to_fill():
    proj = lateral()
    solid = needle_patch(shaft(proj, stylet=True), proj, steel_per_mm=STEEL)
    said_full = needle_patch(shaft(proj, stylet=True, filled_mm=80.0), proj, steel_per_mm=STEEL)
    assert solid[:2] == said_full[:2]
    np.testing.assert_array_equal(solid[2], said_full[2])


def cement_model(in_cannula_ml: float, *, barium: float | None = 0.30, cannula_ml=0.5):
    """A stand-in with the cement model's cannula attributes (m³) and mixed product."""
    product = None if barium is None else SimpleNamespace(barium_sulfate_mass_fraction=barium)
    return SimpleNamespace(
        in_cannula_m3=in_cannula_ml * 1e-6, cannula_m3=cannula_ml * 1e-6, product=product
    )


def test_the_filled_length_follows_the_cannulas_fill():
    assert lumen_cement(cement_model(0.125), 120.0) == pytest.approx((30.0, MU))
    assert lumen_cement(cement_model(0.5), 120.0) == pytest.approx((120.0, MU))
    assert lumen_cement(cement_model(0.6), 120.0)[0] == pytest.approx(120.0)  # reaches the tip
    heavy = cement_mu_per_mm(0.35, ATT)
    assert lumen_cement(cement_model(0.25, barium=0.35), 120.0) == pytest.approx((60.0, heavy))
    assert lumen_cement(cement_model(0.0), 120.0) == (0.0, 0.0)
    assert lumen_cement(cement_model(0.1, barium=None), 120.0) == (0.0, 0.0)  # not mixed
    assert lumen_cement(object(), 120.0) == (0.0, 0.0)  # a model without a cannula


def test_the_procedure_draws_what_its_cement_model_has_put_in_the_cannula():
    """0.3 ml pushed at 2 ml/min by the expert of the first case (after the liquid phase):
    the lumen is filled over 0.3 ml / the cannula's volume of its length, from 0.5.0 on."""
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    for a in placement(personas("first_case_l1")["expert"]["actions"]):
        args = {k: v for k, v in a.items() if k not in ("t", "do")}
        proc.submit(make_action(a["t"], a["do"], **args))
    proc.submit(make_action(135.0, "mix"))
    proc.submit(make_action(461.0, "inject", rate_ml_min=2.0, ml=0.3))
    proc.advance_to(460.0)
    assert proc.needle_render().lumen_cement_mm == 0.0
    proc.advance_to(475.0)
    c = proc.cement
    assert c.in_cannula_m3 == pytest.approx(0.3e-6, rel=1e-9)
    render = proc.needle_render()
    assert not render.stylet_in
    filled = render.length_mm * 0.3e-6 / c.cannula_m3  # ≈ 67 mm of 125
    assert render.lumen_cement_mm == pytest.approx(filled, rel=1e-9)
    barium = c.product.barium_sulfate_mass_fraction
    assert render.cement_mu_per_mm == pytest.approx(cement_mu_per_mm(barium, ATT))
    proc.model = dataclasses.replace(proc.model, visible_cement=False)  # a ≤ 0.4.0 log's
    assert proc.needle_render() == dataclasses.replace(
        render, lumen_cement_mm=0.0, cement_mu_per_mm=0.0
    )
