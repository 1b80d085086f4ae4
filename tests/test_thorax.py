"""Thorax and habitus (issue 14): ribs and lungs painted on a T8 phantom, the lungs' and bowel
gas's closed form outside the grid against brute-force sampling, the new levels and
[patient] keys, and the habitus's kerma (simulator/anatomy/thorax.py, habitus.py, air.py,
simulator/fluoro/air_cast.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from simulator.anatomy.air import AirSolid
from simulator.anatomy.build import build_phantom
from simulator.anatomy.habitus import bowel_gas_solids, skin_offset_mm
from simulator.anatomy.legacy import build_legacy_phantom
from simulator.anatomy.parts import Painter
from simulator.anatomy.thorax import (
    paint_air_solids,
    rib_points_mm,
    thorax_air_solids,
)
from simulator.assets import load_table
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.fluoro.anatomy_cast import AnatomyVolume, anatomy_line_integrals
from simulator.fluoro.geometry import CArmPose, Projection
from simulator.fluoro.raycast import _rays
from simulator.fluoro.torso import Torso
from simulator.materials import tissues
from simulator.scenario import parse_scenario

T = tissues()
SHAPE = load_table("anatomy")["shape"]

CASE = """schema_version = 1

[scenario]
id = "{id}"
title = "A mid-thoracic case"
description = "Mid-thoracic levels need a thin needle and two of them."
level = "{level}"
seed = 7

[equipment]
needle_gauge = 13

[targets]
approach = "bipedicular"

[pedicles]
width_mm = 6.0

[patient]
{patient}
"""


def _scenario(level: str, patient: str = "", sid: str = "thorax_case"):
    text = CASE.format(id=sid, level=level, patient=patient)
    return parse_scenario(text.encode(), path=f"{sid}.toml", stem=sid)


def _painted(level: str):
    """The level's phantom (the builder paints ribs and lungs) and its labels."""
    scenario = _scenario(level)
    phantom = build_phantom(scenario)
    return scenario, phantom, phantom.labels


@pytest.fixture(scope="module")
def t8():
    return _painted("T8")


def _touching(labels, a_ids, b_ids) -> np.ndarray:
    """Voxels of ``a_ids`` with a face neighbour in ``b_ids``."""
    near = ndimage.binary_dilation(np.isin(labels, b_ids))
    return np.isin(labels, a_ids) & near


def _mm(phantom, idx):
    return np.asarray(phantom.grid.origin_mm) + phantom.grid.voxel_mm * idx


def test_t5_to_t9_levels_load_and_validate(tmp_path):
    levels = load_table("anatomy")["levels"]
    assert list(levels)[:6] == ["T5", "T6", "T7", "T8", "T9", "T10"]
    assert set(levels["T7"]) == set(levels["T10"])
    s = _scenario("T7", 'soft_tissue_mm = 20.0\nbowel_gas = "little"')
    assert s.scenario.level == "T7"
    assert s.canal.width_mm == levels["T7"]["canal_width_mm"]
    assert (s.patient.soft_tissue_mm, s.patient.bowel_gas) == (20.0, "little")
    assert skin_offset_mm(s) == 20.0
    path = tmp_path / "thorax_case.toml"
    path.write_text(CASE.format(id="thorax_case", level="T7", patient=""), encoding="utf-8")
    assert main(["validate", str(path)]) == 0


@pytest.mark.parametrize(
    ("patient", "field", "allowed"),
    [
        ("soft_tissue_mm = 61.0", "patient.soft_tissue_mm", "from 0 to 60 mm"),
        ('bowel_gas = "lots"', "patient.bowel_gas", "'none', 'little', 'much'"),
    ],
)
def test_bad_patient_keys_give_one_line(tmp_path, capsys, patient, field, allowed):
    with pytest.raises(ScenarioError) as err:
        _scenario("L3", patient)
    assert [f for f, _ in err.value.problems] == [field]
    path = tmp_path / "thorax_case.toml"
    path.write_text(CASE.format(id="thorax_case", level="L3", patient=patient), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    lines = [x for x in (captured.err + captured.out).splitlines() if x.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: {field}: ") and allowed in lines[0]


def test_defaults_leave_the_patient_as_before():
    s = _scenario("L1")
    assert (s.patient.soft_tissue_mm, s.patient.bowel_gas) == (0.0, "none")
    assert skin_offset_mm(s) == 0.0
    assert bowel_gas_solids(s.geometry, 7, "none") == ()


def test_ribs_touch_the_body_side_and_the_transverse_process(t8):
    scenario, phantom, labels = t8
    geom, body = phantom.geometry, phantom.geometry.body
    rib = T.id("rib")
    # the analytic phantom of releases ≤ 0.3.0 has none
    assert not np.isin(build_legacy_phantom(scenario).labels, [rib, T.id("lung")]).any()
    span = load_table("anatomy")["levels"]["T8"]["transverse_span_mm"]
    joint = T.ids("cortical", "endplate", "adjacent_cortical", "disc")  # the demifacets
    on_body = np.argwhere(_touching(labels, [rib], joint))
    on_tp = np.argwhere(_touching(labels, [rib], T.ids("posterior_bone")))
    for s in (1.0, -1.0):
        _, tubercle = rib_points_mm(geom, side="left" if s > 0 else "right", dz=0.0, span=span)
        p = _mm(phantom, on_body)
        p = p[s * p[:, 0] > 0]
        assert len(p) > 20
        assert np.abs(p[:, 2] - body.height_mm / 2).min() < 3.0  # near the upper endplate
        assert np.abs(np.abs(p[:, 0]) - body.half_width_mm).min() < 3.0  # on its side
        q = _mm(phantom, on_tp)
        q = q[(s * q[:, 0] > span - 8.0) & (np.abs(q[:, 2] - tubercle[2]) < 8.0)]
        assert len(q) > 20  # the tubercle on the transverse process's tip


def test_lungs_fill_both_sides_but_not_the_canal_or_the_body(t8):
    _, phantom, labels = t8
    geom, g = phantom.geometry, phantom.grid
    lung = labels == T.id("lung")
    x = g.axis_mm(0)
    ml = g.voxel_mm**3 / 1000.0
    assert lung[x > 0].sum() * ml > 100.0 and lung[x < 0].sum() * ml > 100.0
    X, Y = g.axis_mm(0)[:, None], g.axis_mm(1)[None, :]
    plan = geom.canal.contains_plan(X, Y) | geom.body.in_plan(X, Y)
    assert not (lung & plan[..., None]).any()
    margin = geom.body.half_width_mm + 8.0
    assert np.abs(X[lung.any(axis=2)[:, :].nonzero()[0], 0]).min() >= margin - 0.5
    # at T8 the sides beside the body are lung at its mid-height; at L1 only the tips show
    i = g.index_of((50.0, 0.0, 0.0))
    assert lung[i[0], i[1], i[2]] and lung[g.index_of((-50.0, 0.0, 0.0))[0], i[1], i[2]]
    _, _, l1 = _painted("L1")
    assert (l1 == T.id("lung")).sum() < 0.1 * lung.sum()


def _soft_volume(phantom, solids, *, paint: bool, closed: bool):
    """Soft tissue over the phantom's grid inside a trunk that holds it, with ``solids``
    painted (``paint``) and in closed form (``closed``)."""
    g = phantom.grid
    labels = np.full(g.shape, T.id("soft_tissue"), dtype=np.uint8)
    if paint:
        paint_air_solids(Painter(g, labels), solids, T)
    torso = Torso(half_width_mm=400.0, half_depth_mm=400.0, centre_y_mm=0.0, skin_y_mm=400.0)
    return AnatomyVolume.from_labels(
        labels,
        mu_per_mm=T.mu_per_mm,
        mu_soft_per_mm=float(T.mu_per_mm[T.id("soft_tissue")]),
        torso=torso,
        origin_mm=g.origin_mm,
        voxel_mm=g.voxel_mm,
        air_solids=tuple(solids) if closed else (),
    )


def _brute(solids, source_mm, px_mm, step_mm=0.05, box=None) -> float:
    """Σ Δμ · path (dimensionless) by sampling the solids every ``step_mm`` along the ray;
    with ``box`` (lo, hi) mm, the painted solids only outside it."""
    d = px_mm - source_mm
    length = float(np.linalg.norm(d))
    t = (np.arange(int(length / step_mm)) + 0.5) * step_mm
    pts = source_mm + t[:, None] * (d / length)
    out = np.ones(len(pts), dtype=bool)
    if box is not None:
        out = ~np.all((pts >= box[0]) & (pts <= box[1]), axis=1)
    return sum(
        s.delta_mu_per_mm
        * step_mm
        * (s.contains(pts[:, 0], pts[:, 1], pts[:, 2]) & (out | (s.in_grid_label is None))).sum()
        for s in solids
    )


@pytest.mark.parametrize(("level", "rot"), [("T8", 90.0), ("T8", 0.0), ("T12", 90.0)])
def test_grid_lungs_plus_closed_form_equal_brute_force(t8, level, rot):
    _, phantom = (t8[0], t8[1]) if level == "T8" else _painted(level)[:2]
    gas = bowel_gas_solids(phantom.geometry, 3, "much")
    solids = (*thorax_air_solids(phantom.geometry, level), *gas)
    with_air = _soft_volume(phantom, solids, paint=True, closed=True)
    closed = _soft_volume(phantom, solids, paint=False, closed=True)
    plain = _soft_volume(phantom, solids, paint=False, closed=False)
    proj = Projection.make(CArmPose(rotation_deg=rot, isocentre_mm=(0.0, 0.0, 0.0)), size_px=64)
    base = anatomy_line_integrals(plain, proj)
    air = anatomy_line_integrals(with_air, proj) - base
    outside = anatomy_line_integrals(closed, proj) - base
    ref = anatomy_line_integrals(with_air, proj, backend="numpy")
    ref = ref - anatomy_line_integrals(plain, proj, backend="numpy")
    assert air == pytest.approx(ref, rel=1e-4, abs=1e-4)  # both backends add the same
    source, corner, d_row, d_col = _rays(with_air, proj)
    o, h = np.asarray(phantom.grid.origin_mm), phantom.grid.voxel_mm
    box = (o - 0.5 * h, o + (np.asarray(phantom.grid.shape) - 0.5) * h)
    errors = []
    for r in range(4, 64, 6):
        for c in range(4, 64, 6):
            px = corner + r * d_row + c * d_col
            # the closed form outside the grid's box is exact (to the brute force's sampling)
            want_out = _brute(solids, o + h * source, o + h * px, box=box)
            assert outside[r, c] == pytest.approx(want_out, rel=1e-3, abs=2e-3)
            want = _brute(solids, o + h * source, o + h * px)
            if want < -0.2:
                errors.append(abs(air[r, c] / want - 1.0))
    # with the grid's voxels: a ray nearly along the mediastinal face (AP) crosses it
    # obliquely, so one voxel's aliasing there reaches ≈ 1.5 %; on average well within 1 %
    assert len(errors) >= 20
    assert max(errors) < 0.02 and np.mean(errors) < 0.01


def test_air_solids_lie_inside_the_trunk():
    s = _scenario("L3", "soft_tissue_mm = 0.0")
    phantom = build_phantom(s)
    from simulator.fluoro.anatomy_cast import fit_torso

    torso = fit_torso(phantom)
    rng = np.random.default_rng(0)
    for solid in (*thorax_air_solids(s.geometry, "T8"), *bowel_gas_solids(s.geometry, 5, "much")):
        lo, hi = solid.bounds_mm()
        pts = rng.uniform(lo, hi, size=(20000, 3))
        inside = solid.contains(pts[:, 0], pts[:, 1], pts[:, 2])
        assert inside.any() and torso.contains(pts[inside]).all()


def test_bowel_gas_is_seeded():
    geom = _scenario("L3").geometry
    a, b = bowel_gas_solids(geom, 11, "much"), bowel_gas_solids(geom, 11, "much")
    assert a == b and len(a) == 10 and len(bowel_gas_solids(geom, 11, "little")) == 4
    assert a != bowel_gas_solids(geom, 12, "much")
    for solid in a:
        assert solid.in_grid_label is None and solid.delta_mu_per_mm < 0
        assert solid.centre_mm[1] + solid.semi_axes_mm[1] <= -60.0 + 1e-9
        assert min(solid.semi_axes_mm) >= 7.5 and max(solid.semi_axes_mm) <= 25.0


def test_soft_tissue_raises_the_lateral_kerma():
    from simulator.fluoro.alignment import make_carm
    from simulator.fluoro.device import HOME

    scenario = _scenario("L3")
    phantom = build_phantom(scenario)
    model = SimpleNamespace(carm_device=True)
    kerma = []
    for mm in (0.0, 30.0):
        ph = dataclasses.replace(phantom, soft_tissue_mm=mm)
        carm = make_carm(scenario, ph, seed=1, images=False, model=model)
        kerma.append(carm.kerma_per_pulse_mgy(HOME["lateral"]))
    table = load_table("fluoro")["beam"]["kerma_per_pulse_mgy"]
    assert kerma[0] == pytest.approx(table["lateral"], rel=1e-9)
    assert kerma[1] > 1.2 * kerma[0]


def test_air_solid_chord_matches_its_definition():
    solid = AirSolid(
        centre_mm=(0.0, 0.0, 0.0),
        semi_axes_mm=(10.0, 20.0, 30.0),
        delta_mu_per_mm=-1.0,
        planes=((1.0, 0.0, 0.0, 5.0),),
        minus_centre_mm=(0.0, 0.0, -30.0),
        minus_semi_axes_mm=(40.0, 40.0, 30.0),
    )
    d = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    # along z at x = y = 0: the ellipsoid spans z ∈ [−30, 30], the dome removes z ≤ 0
    assert solid.chord_mm((0.0, 0.0, -100.0), d[:1], 200.0) == pytest.approx([30.0])
    # along x at z = 10: the ellipsoid spans |x| ≤ 10 √(1 − 1/9), the plane cuts x > 5
    half = 10.0 * np.sqrt(1.0 - 1.0 / 9.0)
    assert solid.chord_mm((-100.0, 0.0, 10.0), d[1:], 200.0) == pytest.approx([5.0 + half])


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ('level = "T4"', "scenario.level", "one of 'T5'"),
        ('level = "T6"\n[pedicles]\nwidth_mm = 3.0', "pedicles", "too narrow"),
        ('level = "T8"\n[patient]\nsoft_tissue_mm = 90', "patient.soft_tissue_mm", "0 to 60"),
    ],
)
def test_impossible_thoracic_cases_get_one_line_and_exit_2(tmp_path, extra, field, words):
    import subprocess
    import sys

    path = tmp_path / "case.toml"
    head = 'schema_version = 1\n[scenario]\nid = "case"\ntitle = "t"\ndescription = "d"\n'
    path.write_text(head + extra + "\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "run_sim.py"), "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith(f"{path}: {field}: ") and words in line
    assert "Traceback" not in proc.stdout + proc.stderr
