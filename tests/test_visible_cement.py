"""Release 0.5.0's visible cement: the vein network, the voxel-resolution fill, cement that
leaks into a vein drawn as a streak behind the posterior wall."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from simulator.actions import make_action
from simulator.assets import load_table
from simulator.bench.leaks import held_tip_injection
from simulator.cement.flow import SITES, build_grid
from simulator.cement.injection import CementInjection
from simulator.cement.subgrid import SubgridFill, texture_weight
from simulator.cement.veins import build_network
from simulator.fluoro.alignment import make_carm
from simulator.fluoro.overlay import point_patch
from simulator.fluoro.visibility import (
    ImagingGeometry,
    cement_delta_mu_per_mm,
    contrast_threshold,
    leak_contrast,
)
from simulator.materials import tissues
from simulator.personas import build as personas
from simulator.personas import placement
from simulator.procedure import Procedure
from simulator.releases import VERSION, ModelOptions
from tests.conftest import DATA, scenario_and_phantom
from tests.test_cement import block, inject

DELTA_MU = cement_delta_mu_per_mm(0.30)  # the low-viscosity product's barium


def test_the_vein_network_keeps_every_drop():
    s, ph = scenario_and_phantom("venous_risk_l2")
    net = build_network(s, ph)
    rng = np.random.default_rng(3)
    cells = net.entry_cells(rng.uniform(-20, 20, (40, 3)))
    for k in range(400):
        net.step(0.1, cells, rng.uniform(0, 2e-9, cells.size), 10.0 * (1 + k))
        total = net.in_veins_m3() + net.embolised_m3
        assert total == pytest.approx(net.taken_m3, rel=1e-12)
        assert (net.cement_m3 <= net.cap_m3 * (1 + 1e-9)).all()
    assert net.embolised_m3 > 0  # the great vein carried some out of the field


def test_cement_pushed_into_the_hub_grows_a_column_behind_the_wall():
    s, ph = scenario_and_phantom("venous_risk_l2")
    net = build_network(s, ph)
    hub = net.entry_cells([s.veins[0].position_mm])
    wall = ph.geometry.canal.wall_y_mm
    reach = []
    for _ in range(4):
        for _ in range(10):
            net.step(0.1, hub, np.array([1e-8]), 20.0)  # 10 mm³ per 0.1 s
        pos, _vol = net.points()
        reach.append(float(pos[:, 1].max()))
    assert reach[0] < wall < reach[-1]  # the column reached the plexus behind the wall
    pos, _ = net.points()
    behind = pos[pos[:, 1] > wall]
    assert np.ptp(behind[:, 2]) > 4.0  # and runs up and down the plexus
    assert net.embolised_m3 == 0.0  # a plug in a small vein stays where it was pushed


def test_the_voxel_fill_of_a_homogeneous_block_is_a_sphere_within_5_percent():
    ph = block()
    grid, flow = inject(
        ph, viscosity_pa_s=100.0, ml=2.0, margin_mm=0.0, posterior_mm=0.0,
        perfusion_ml_min_per_ml=0.0,
    )  # fmt: skip
    sub = SubgridFill(grid, ph)
    w = np.full(grid.n, texture_weight(100.0))
    sl, frac = sub.fraction(flow.fill, w)
    vox = ph.grid.voxel_mm
    assert frac.sum() * vox**3 / 1000.0 == pytest.approx(2.0, rel=1e-4)  # volume kept
    filled = frac > 0.45
    r_eq = (3 * filled.sum() * vox**3 / (4 * math.pi)) ** (1 / 3)
    idx = np.argwhere(filled)
    pos = np.asarray(ph.grid.origin_mm) + vox * (idx + [s.start for s in sl])
    tip = grid.centre_mm[grid.cell_of((0.0, 0.0, 0.0))]
    r = np.linalg.norm(pos - tip, axis=1)
    # the outermost filled voxels in 26 directions: a sphere has them all at r_eq
    dirs = (pos - tip) / np.maximum(r, 1e-9)[:, None]
    reach = [r[dirs @ d > 0.97].max() for d in _directions()]
    assert np.mean(reach) == pytest.approx(r_eq, rel=0.05)
    assert np.std(reach) / np.mean(reach) < 0.08


def _directions():
    out = []
    for d in np.ndindex(3, 3, 3):
        v = np.array(d, dtype=float) - 1.0
        if v.any():
            out.append(v / np.linalg.norm(v))
    return out


def test_runny_cement_interdigitates_where_doughy_cement_is_compact():
    _, ph = scenario_and_phantom("venous_risk_l2")
    grid = build_grid(ph)
    sub = SubgridFill(grid, ph)
    centre = np.asarray(ph.landmarks.targets["left"].point_mm)
    d = np.linalg.norm(grid.centre_mm - centre, axis=1)
    fill = np.clip((9.0 - d) / 4.0, 0.0, 1.0) * (grid.site == 0)  # a soft 5–9 mm front
    shape = {}
    for name, k in (("runny", 10.0), ("doughy", 500.0)):
        sl, frac = sub.fraction(fill, np.full(grid.n, texture_weight(k)))
        idx = np.argwhere(np.ones(frac.shape, bool))
        pos = np.asarray(ph.grid.origin_mm) + ph.grid.voxel_mm * (idx + [a.start for a in sl])
        r = np.linalg.norm(pos - centre, axis=1).reshape(frac.shape)
        pore = ph.porosity[sl] > 0
        inner = (
            pore
            & (r > 5.0)
            & (r < 6.5)
            & (ph.labels[sl] == ph.labels[tuple(ph.grid.index_of(centre))])
        )
        shape[name] = {
            "reach_mm": float(r[frac > 0.05].max()),
            "holes": float((frac[inner] < 0.05).mean()),  # marrow left inside the front
        }
    runny, doughy = shape["runny"], shape["doughy"]
    assert runny["reach_mm"] > doughy["reach_mm"] + 1.0, shape  # fingers beyond the front
    assert runny["holes"] > 0.05 > 0.01 > doughy["holes"], shape


@functools.cache
def runny_venous_attempt(visible: bool = True):
    """Early, runny, fast: low-viscosity cement 30 s after mixing, 5 ml at 8 ml/min, in
    ``venous_risk_l2`` from the expert's placement."""
    s, ph = scenario_and_phantom("venous_risk_l2")
    expert = placement(personas("venous_risk_l2")["expert"]["actions"])
    cement = CementInjection(s, ph, visible=visible)
    proc = Procedure(s, phantom=ph, render_images=False, cement=cement)
    for a in expert:
        proc.submit(
            make_action(a["t"], a["do"], **{k: v for k, v in a.items() if k not in ("t", "do")})
        )
    t0 = expert[-1]["t"] + 1.0
    proc.submit(make_action(t0, "mix", cement="pmma_low"))
    proc.submit(make_action(t0 + 30.0, "inject", rate_ml_min=8.0, ml=5.0))
    for t in (t0 + 50.0, t0 + 60.0, t0 + 70.0):  # lateral shots while pushing and after
        proc.submit(make_action(t, "fluoro", view="lateral"))
    proc.advance_to(t0 + 30.0 + 37.5 + 5.0)
    return proc


def test_a_runny_fast_injection_leaks_into_a_vein_and_draws_a_streak_behind_the_wall():
    proc = runny_venous_attempt()
    c = proc.cement
    assert c.leak_ml()["vein"] >= 0.05
    c.check_balance(proc.t_s)
    parts = c.visible_parts()
    pts, vol = parts["vein"]
    assert vol.sum() / 1000.0 == pytest.approx(c.leak_ml()["vein"], rel=1e-6)
    # the watch saw it on an image: the script's lateral shots after the injection
    m = proc.metrics()
    assert m["leak_first_seen_s"]["vein"] is not None, m["leak_first_seen_s"]
    assert m["injected_after_leak_seen_ml"]["vein"] >= 0.0
    # on the lateral: the streak behind the posterior wall, in mm at the isocentre
    pose = proc.carm.pose_of("lateral")
    proj = ImagingGeometry.of_carm(proc.carm).projection(pose)
    r, cc, patch = point_patch(pts, vol, proj, delta_mu_per_mm=DELTA_MU)
    wall = proc.phantom.geometry.canal.wall_y_mm
    wall_col = proj.project(np.array([[0.0, wall, 0.0]]))[0, 1]
    front_col = proj.project(np.array([[0.0, proc.phantom.geometry.body.anterior_y_mm, 0.0]]))
    posterior = np.sign(wall_col - front_col[0, 1])
    cols = np.arange(cc.start, cc.stop)
    seen = (patch >= 0.05).any(axis=0)
    behind = seen & (posterior * (cols - wall_col) > 0)
    assert behind.any()
    rows = np.arange(r.start, r.stop)[(patch[:, behind] >= 0.05).any(axis=1)]
    mm_per_px = proj.pixel_mm / float(proj.magnification_at(np.zeros((1, 3)))[0])
    length_mm = np.ptp(rows) * mm_per_px
    assert length_mm >= 3.0, length_mm  # the plexus streak runs up and down behind the wall


def test_without_visible_cement_a_vein_holds_cement_in_the_grid_as_before():
    proc = runny_venous_attempt(visible=False)
    c = proc.cement
    assert c.visible_parts() is None
    assert "embolised_ml" not in c.metrics()
    vein = SITES.index("vein")
    assert float(c.flow.cement_m3()[c.grid.site == vein].sum()) > 0


def injected_at(case: str, tip, *, product="pmma_low", wait_s=30.0, rate=8.0, ml=4.0):
    """The cement model alone, its tip held at ``tip`` (mm): mix, wait, inject (runny and
    fast by default), 10 s more; checked for balance at every flow step by the model."""
    s, ph = scenario_and_phantom(case)
    c = held_tip_injection(s, ph, tip, product=product, wait_s=wait_s, rate_ml_min=rate, ml=ml)
    return s, ph, c


def lateral(case: str):
    """The projection of the true lateral of ``case``'s C-arm (headless)."""
    s, ph = scenario_and_phantom(case)
    carm = make_carm(s, ph, seed=1, images=False, model=ModelOptions())
    return ImagingGeometry.of_carm(carm).projection(carm.pose_of("lateral"))


def seen_extent_mm(part, proj, delta_mu):
    """(rows, cols) extent (mm at the isocentre) of the pixels where ``part`` adds at least
    the visibility threshold."""
    _, _, patch = point_patch(*part, proj, delta_mu_per_mm=delta_mu)
    on = patch >= contrast_threshold()
    rows, cols = np.nonzero(on)
    mm = proj.pixel_mm / float(proj.magnification_at(np.zeros((1, 3)))[0])
    return np.ptp(rows) * mm, np.ptp(cols) * mm


def test_a_disc_leak_through_the_crack_is_a_horizontal_band_on_the_lateral():
    _, ph, c = injected_at("endplate_crack_t12", (3.0, -4.0, 2.0))  # 4 mm under the crack
    assert c.leak_ml()["disc"] >= 0.02
    parts = c.visible_parts()
    pos, vol = parts["disc"]
    above = pos[:, 2] >= ph.geometry.body.top_z(3.0, -4.0) - 1.5
    assert vol[above].sum() >= 0.9 * vol.sum()  # in the disc above, through the crack
    proj = lateral("endplate_crack_t12")
    seen = leak_contrast(parts, proj, DELTA_MU)
    assert seen["disc"] >= contrast_threshold(), seen
    tall, wide = seen_extent_mm(parts["disc"], proj, DELTA_MU)
    disc_mm = load_table("anatomy")["levels"]["T12"]["disc_above_mm"]
    assert tall <= disc_mm + 2.0, (tall, wide)  # held between the endplates
    # 0.6.0: spread along the endplate (soaking the disc as in 0.5.0: 7.5 mm by 6.1 mm tall)
    assert wide >= 1.6 * tall, (tall, wide)
    # … as a solid sheet (soaking it filled at most its porosity, 0.1, of a voxel)
    voxel_mm3 = ph.grid.voxel_mm**3
    assert np.average(vol / voxel_mm3, weights=vol) > 0.5


def test_a_canal_leak_through_the_wall_defect_sits_behind_the_posterior_wall():
    _, ph, c = injected_at("posterior_wall_l1", (3.0, 8.0, -3.0))  # 5.6 mm before the wall
    assert c.leak_ml()["canal"] >= 0.05
    parts = c.visible_parts()
    pos, vol = parts["canal"]
    g = ph.grid
    at = np.round((pos - np.asarray(g.origin_mm)) / g.voxel_mm).astype(int)
    tissue = ph.labels[at[:, 0], at[:, 1], at[:, 2]]
    canal = tissues().ids("epidural_fat", "epidural_vein", "thecal_sac")
    assert vol[np.isin(tissue, canal)].sum() / vol.sum() > 0.5  # in the epidural space
    seen = leak_contrast(parts, lateral("posterior_wall_l1"), DELTA_MU)
    assert seen["canal"] >= contrast_threshold(), seen


def test_doughy_cement_at_the_same_place_leaks_less_into_the_canal():
    _, _, runny = injected_at("posterior_wall_l1", (3.0, 8.0, -3.0))
    _, _, doughy = injected_at(
        "posterior_wall_l1", (3.0, 8.0, -3.0), product="pmma_high", wait_s=120.0, rate=3.0
    )
    a, b = runny.leak_ml(), doughy.leak_ml()
    assert b["canal"] < 0.5 * a["canal"], (a, b)


def test_a_release_0_5_log_verifies_with_that_releases_disc_model():
    """A 0.5.0 log (runny cement pushed fast into endplate_crack_t12, laterals every 3 s,
    written by release 0.5.0) replays to its own metrics under 0.5.0's model, and today's
    model (the disc sheet) gives that attempt other leaks: the switch is what keeps it."""
    from simulator.records.log import read_log, rebuild
    from simulator.records.verify import verify_log
    from tests.make_personas import TEST_KEY

    path = DATA / "personas" / "release_0_5_0" / "runny_disc_endplate_crack_t12.json"
    assert verify_log(path, key=TEST_KEY) == []
    log = read_log(path)
    s, ph = scenario_and_phantom("endplate_crack_t12")
    today = rebuild({**log, "simulator_version": VERSION}, s, phantom=ph)
    logged, now = log["metrics"]["leak_ml"], today.cement.leak_ml()
    assert any(abs(now[k] - v) > 1e-5 for k, v in logged.items()), (logged, now)
