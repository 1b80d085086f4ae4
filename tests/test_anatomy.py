"""The voxel phantom against the analytic shape and the anatomy it must contain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, ndimage

from simulator.anatomy.build import build_phantom
from simulator.anatomy.legacy import build_legacy_phantom
from simulator.materials import tissues
from simulator.scenario import load_scenario, parse_scenario
from tests.anatomy_checks import (
    SEALING_TISSUES,
    canal_region,
    cancellous_neighbours,
    pedicle_pieces,
)
from tests.conftest import SHIPPED, scenario_and_phantom

T = tissues()
BODY = T.ids(
    "cancellous",
    "cortical",
    "endplate",
    "cleft",
    "cortical_defect",
    "endplate_crack",
    "lytic_lesion",
    "cleft_gas",
)
INSIDE = T.ids(
    "cancellous",
    "cleft",
    "basivertebral_vein",
    "cortical_defect",
    "endplate_crack",
    "lytic_lesion",
    "cleft_gas",
)

TEMPLATE = """schema_version = 1
[scenario]
id = "synthetic"
title = "synthetic"
description = "synthetic test case"
level = "{level}"
seed = {seed}
[vertebra]
wedge_percent = {wedge}
"""


def synthetic(level="L1", wedge=0.0, seed=3, *, legacy=False):
    s = parse_scenario(
        TEMPLATE.format(level=level, wedge=wedge, seed=seed).encode(),
        path="synthetic.toml",
        stem="synthetic",
    )
    return s, (build_legacy_phantom if legacy else build_phantom)(s)


def analytic_cancellous_ml(body, t: float) -> float:
    """Volume of the cancellous core from the documented shape (geometry module docstring),
    integrated numerically: plan outline inset by t, heights inset by t on each endplate.

    Written out here independently of the voxel code: elliptic cylinder a × b, flat posterior
    wall at y_w, superior endplate falling linearly from H at the wall to H(1 − w) at the
    anterior rim, paraboloid dishes c_s and c_i centred between rim and wall.
    """
    a, b, H, w, yw = (
        body.half_width_mm,
        body.half_depth_mm,
        body.height_mm,
        body.wedge_fraction,
        body.wall_y_mm,
    )
    yc, bd = 0.5 * (yw - b), 0.5 * (yw + b)
    cs, ci = body.concavity_superior_mm, body.concavity_inferior_mm

    def height(x, y):
        h = H * (1 - w * (1 - (y + b) / (yw + b)))
        dish = max(0.0, 1 - (x / a) ** 2 - ((y - yc) / bd) ** 2)
        return max(0.0, h - (cs + ci) * dish - 2 * t)

    def half_width(y):
        return (a - t) * math.sqrt(max(0.0, 1 - (y / (b - t)) ** 2))

    vol, _ = integrate.dblquad(
        lambda x, y: height(x, y),
        -(b - t),
        yw - t,
        lambda y: -half_width(y),
        half_width,
        epsabs=1e-3,
    )
    return vol / 1000.0


@pytest.mark.parametrize("wedge", [0.0, 22.0, 40.0, 60.0])
def test_cancellous_volume_matches_analytic_within_10_percent(wedge):
    """The analytic phantom of releases ≤ 0.3.0 (the measured shape is not an ellipse)."""
    s, ph = synthetic(wedge=wedge, legacy=True)
    measured = np.isin(ph.labels, INSIDE).sum() * ph.grid.voxel_mm**3 / 1000.0
    expected = analytic_cancellous_ml(ph.geometry.body, s.vertebra.cortical_thickness_mm)
    assert abs(measured - expected) / expected < 0.10, (measured, expected)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cancellous_volume_matches_analytic(name):
    s = load_scenario(name)
    ph = build_legacy_phantom(s)
    measured = np.isin(ph.labels, INSIDE).sum() * ph.grid.voxel_mm**3 / 1000.0
    expected = analytic_cancellous_ml(ph.geometry.body, s.vertebra.cortical_thickness_mm)
    assert abs(measured - expected) / expected < 0.10, (measured, expected)


def _column_height_mm(ph, ix: int, y_index: int) -> float:
    return np.isin(ph.labels[ix, y_index, :], BODY).sum() * ph.grid.voxel_mm


@pytest.mark.parametrize("wedge", [0.0, 22.0, 45.0, 65.0])
def test_anterior_over_posterior_height_is_one_minus_wedge(wedge):
    """The analytic phantom's rims (the measured shape's: tests/test_morphometry.py)."""
    _, ph = synthetic(wedge=wedge, legacy=True)
    # a sagittal plane 6 mm off the midline, clear of the basivertebral vein's foramen
    ix = int(np.argmin(np.abs(ph.grid.axis_mm(0) - 6.0)))
    ys = np.nonzero(np.isin(ph.labels[ix], BODY).any(axis=1))[0]
    anterior = _column_height_mm(ph, ix, ys[0])
    posterior = _column_height_mm(ph, ix, ys[-1])
    assert abs(anterior - (1 - wedge / 100.0) * posterior) <= ph.grid.voxel_mm, (
        anterior,
        posterior,
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_each_pedicle_is_one_piece_joining_body_and_posterior_elements(name):
    _, ph = scenario_and_phantom(name)
    for n, touching in pedicle_pieces(ph):
        assert n == 1
        assert np.isin(touching, T.ids("cancellous")).any()
        assert np.isin(touching, T.ids("posterior_bone")).any()


@pytest.mark.parametrize("name", SHIPPED)
def test_canal_is_enclosed_on_the_axial_slice_through_the_pedicles(name):
    _, ph = scenario_and_phantom(name)
    bone = (
        "cancellous",
        "cortical",
        "endplate",
        "pedicle_cortex",
        "pedicle_cancellous",
        "posterior_bone",
        "cortical_defect",
        "basivertebral_vein",
    )
    sl, region = canal_region(ph, bone)
    assert np.isin(sl[region], T.ids("thecal_sac")).any()
    assert not np.isin(sl[region], T.ids("soft_tissue", "air")).any()
    assert not (region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any())


@pytest.mark.parametrize("name", SHIPPED)
def test_basivertebral_veins_join_the_interior_to_the_epidural_plexus(name):
    s, ph = scenario_and_phantom(name)
    six = ndimage.generate_binary_structure(3, 1)
    veins = np.isin(ph.labels, T.ids("basivertebral_vein", "epidural_vein"))
    comps, _ = ndimage.label(veins, structure=six)
    wall = ph.geometry.body.wall_y_mm
    for vein in (v for v in s.veins if v.kind == "basivertebral"):
        i, j, k = ph.grid.index_of(vein.position_mm)
        assert ph.labels[i, j, k] == T.id("basivertebral_vein")
        comp = comps == comps[i, j, k]
        assert (ph.labels[comp] == T.id("epidural_vein")).any()
        ys = ph.grid.axis_mm(1)[np.nonzero(comp)[1]]
        assert ys.min() < wall - 3.0 and ys.max() > wall  # through the posterior wall
        near = ph.labels[ndimage.binary_dilation(comp, structure=six) & ~comp]
        assert (near == T.id("cancellous")).any()


@pytest.mark.parametrize("name", SHIPPED)
def test_cancellous_bone_is_sealed_except_through_anatomical_openings(name):
    """Cement may leave the body only via veins, defects, pedicles and cracks: the
    cancellous core never touches soft tissue, canal or disc through a voxel face."""
    _, ph = scenario_and_phantom(name)
    bad = cancellous_neighbours(ph) - set(T.ids(*SEALING_TISSUES))
    assert not bad, [T.names[i] for i in bad]


def test_same_seed_same_volumes_other_seed_changes_only_heterogeneity():
    _, a = synthetic(seed=11)
    _, b = synthetic(seed=11)
    _, c = synthetic(seed=12)
    for name in ("labels", "porosity", "permeability_m2"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.labels, c.labels)
    canc = a.labels == T.id("cancellous")
    for name in ("porosity", "permeability_m2"):
        diff = getattr(a, name) != getattr(c, name)
        assert diff[canc].mean() > 0.9
        assert not diff[~canc].any()


@pytest.mark.parametrize("name", ["first_case_l1", "venous_risk_l2"])
def test_a_new_build_equals_the_sessions_shared_phantom(name):
    """What lets tests share one phantom per case (tests/conftest.py, ``shared_phantoms``):
    a new build of a shipped case, with its own seed given, is the cached one field for
    field (every volume bit for bit), all but the time it took."""
    s, shared = scenario_and_phantom(name)
    new = build_phantom(load_scenario(name), seed=s.scenario.seed)
    assert new is not shared
    assert_same_phantom(shared, new)


def assert_same_phantom(a_phantom, b_phantom) -> None:
    """Every field of two phantoms equal (volumes bit for bit, same dtype), all but the time
    the build took."""
    import dataclasses

    for field in dataclasses.fields(a_phantom):
        a, b = getattr(a_phantom, field.name), getattr(b_phantom, field.name)
        if field.name == "build_time_s":
            continue
        if isinstance(a, np.ndarray) or a is None:
            assert (a is None and b is None) or np.array_equal(a, b), field.name
            assert a is None or a.dtype == b.dtype, field.name
        else:
            assert a == b, field.name


def test_a_reseeded_phantom_is_the_build_with_that_seed():
    """What sweeps over seeds re-seed instead of building (``anatomy.build.reseeded``): the
    build with another seed, field for field, bit for bit (all but the time it took)."""
    from simulator.anatomy.build import reseeded

    s, shared = scenario_and_phantom("first_case_l1")
    seed = s.scenario.seed + 3
    new, again = build_phantom(s, seed=seed), reseeded(shared, s, seed)
    assert reseeded(shared, s, s.scenario.seed) is shared
    assert_same_phantom(new, again)
    assert not np.array_equal(shared.porosity, again.porosity)
    with pytest.raises(ValueError, match="a phantom of"):
        reseeded(shared, scenario_and_phantom("venous_risk_l2")[0], 5)


def test_permeability_field_is_lognormal_with_the_requested_spread():
    """The released log-normal field (alone in the analytic phantom; the measured-shape one
    multiplies it by the texture's Kozeny–Carman factor: tests/test_texture.py)."""
    s, ph = synthetic(seed=5, legacy=True)
    canc = ph.labels == T.id("cancellous")
    lnk = np.log(ph.permeability_m2[canc].astype(float))
    sigma = s.vertebra.permeability_heterogeneity
    assert abs(lnk.std() - sigma) < 0.15 * sigma
    mean_k = float(np.exp(lnk).mean())
    assert abs(mean_k / s.vertebra.permeability_m2 - 1.0) < 0.1
    phi = ph.porosity[canc]
    assert abs(float(phi.mean()) - s.vertebra.porosity) < 0.01
    assert np.corrcoef(phi, lnk)[0, 1] > 0.9  # more pore, more permeable
    assert ph.permeability_anisotropy == (1.0, 1.0, s.vertebra.permeability_anisotropy)


def test_volumes_are_read_only():
    _, ph = scenario_and_phantom("first_case_l1")
    with pytest.raises(ValueError):
        ph.labels[0, 0, 0] = 1


def test_required_tissues_are_present():
    _, ph = scenario_and_phantom("venous_risk_l2")
    present = {T.names[i] for i in np.unique(ph.labels)}
    for name in (
        "soft_tissue",
        "cancellous",
        "cortical",
        "endplate",
        "pedicle_cortex",
        "pedicle_cancellous",
        "posterior_bone",
        "adjacent_cancellous",
        "adjacent_cortical",
        "disc",
        "thecal_sac",
        "epidural_fat",
        "epidural_vein",
        "basivertebral_vein",
        "segmental_vein",
        "great_vessel",
        "nerve_root",
        "air",
    ):
        assert name in present, name


@pytest.mark.parametrize(
    ("name", "kind", "beyond"),
    [
        ("endplate_crack_t12", "endplate_crack", "disc_fissure"),
        ("posterior_wall_l1", "cortical_defect", "epidural_fat"),
        ("cleft_l1_grade3", "cleft", "cancellous"),
    ],
)
def test_defects_open_the_path_they_describe(name, kind, beyond):
    _, ph = scenario_and_phantom(name)
    six = ndimage.generate_binary_structure(3, 1)
    defect = ph.labels == T.id(kind)
    assert defect.sum() > 10
    near = ph.labels[ndimage.binary_dilation(defect, structure=six) & ~defect]
    assert (near == T.id(beyond)).any()
    assert (near == T.id("cancellous")).any()


def test_segmental_vein_joins_the_interior_through_a_cortical_foramen():
    _, ph = scenario_and_phantom("venous_risk_l2")
    six = ndimage.generate_binary_structure(3, 1)
    vein = ph.labels == T.id("segmental_vein")
    near = ph.labels[ndimage.binary_dilation(vein, structure=six) & ~vein]
    assert (near == T.id("cancellous")).any()
    assert (near == T.id("soft_tissue")).any()


def test_landmarks():
    _, ph = scenario_and_phantom("first_case_l1")
    lm = ph.landmarks
    body = ph.geometry.body
    depth = 2 * body.half_depth_mm
    for side, sign in (("left", 1), ("right", -1)):
        axis = lm.pedicle_axes[side]
        assert sign * axis.isthmus_mm[0] > 0
        assert axis.direction[1] < 0 and sign * axis.direction[0] < 0  # anteromedial
        zone = lm.targets[side]
        assert zone.contains(zone.point_mm)
        assert zone.hi_mm[1] <= body.anterior_y_mm + depth / 3 + 1e-9  # anterior third
        assert ph.labels[tuple(ph.grid.index_of(zone.point_mm))] == T.id("cancellous")
    assert 10.0 < lm.cancellous_ml < lm.body_ml < 40.0
