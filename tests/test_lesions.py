"""Lytic lesions (metastases) and the new looks of fracture features (``look=True``); the old
painting (``look=False``) kept voxel for voxel."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from simulator.anatomy.build import build_phantom
from simulator.anatomy.legacy import build_legacy_phantom
from simulator.anatomy.parts import Painter
from simulator.anatomy.soft import paint_defects
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.materials import tissues
from simulator.scenario import load_scenario, parse_scenario
from tests.conftest import ROOT_SCENARIOS, scenario_and_phantom

T = tissues()
SIX = ndimage.generate_binary_structure(3, 1)
# L3 with the level's anatomy (body x ±23.5, posterior wall y 14.8, cortex 0.5 mm)
L3 = """schema_version = 1
[scenario]
id = "case"
title = "case"
description = "a test case"
level = "L3"
seed = 7
[vertebra]
wedge_percent = 8.0
[[veins]]
kind = "basivertebral"
position_mm = [-1.0, 9.0, 4.5]
diameter_mm = 2.5
"""
# sha256 of build_phantom(...).labels for these shipped cases, computed with the painting of
# release 0.3.0 (before this module's features existed): look=False must keep them.
LABELS_SHA256 = {
    "endplate_crack_t12": "8c7bb9290a61f619c527b9a695864198a2539e6279c1512ffafddf14071618b7",
    "posterior_wall_l1": "d9ac5bc46d3446f39b4392b9fa0fe2846a866c163c20b1378c5cc2e6c1d79f03",
    "cleft_l1_grade3": "0de66e3eb37dba18acea285a86cd8958c5c6954374ced7914529f901504b8af4",
}


def lesion_case(position=(0.0, 0.0, 0.0), size_mm=14.0, breaks="none", extra=""):
    """The L3 case's TOML text with one lytic lesion."""
    return (
        L3 + f'[[defects]]\nkind = "lytic_lesion"\nposition_mm = {list(position)}\n'
        f'size_mm = {size_mm}\nbreaks = "{breaks}"\n{extra}'
    )


def parse(text: str):
    return parse_scenario(text.encode(), path="case.toml", stem="case")


def problems(text: str) -> list[tuple[str, str]]:
    try:
        parse(text)
    except ScenarioError as err:
        return err.problems
    return []


@functools.cache
def bare(ref: str, *, legacy: bool = False):
    """(scenario, grid, labels without any defect, the phantom's analytic frame) of a shipped
    case or of TOML text; ``legacy``: the analytic phantom of releases ≤ 0.3.0 (whose defects
    ``look=False`` paints), else the measured-shape one (``look=True``)."""
    s = load_scenario(ref) if ref in LABELS_SHA256 else parse(ref)
    build = build_legacy_phantom if legacy else build_phantom
    ph = build(dataclasses.replace(s, defects=()))
    return s, ph.grid, ph.labels, ph.geometry


def painted(ref: str, *, look: bool, seed: int = 0, defects=None, legacy=False) -> np.ndarray:
    """Labels of ``ref`` with its defects (or ``defects``) painted on a writable copy (of the
    measured-shape phantom, or with ``legacy`` the analytic one)."""
    s, grid, labels, geom = bare(ref, legacy=legacy)
    out = labels.copy()
    paint_defects(Painter(grid, out), geom, s.defects if defects is None else defects, T,
                  look=look, seed=seed)  # fmt: skip
    return out


def touches(labels: np.ndarray, names) -> bool:
    """Whether the lytic lesion, through lesion and cortical-defect voxels, touches one of
    ``names`` through a voxel face."""
    path = np.isin(labels, T.ids("lytic_lesion", "cortical_defect"))
    comps, _ = ndimage.label(path, structure=SIX)
    ids = np.unique(comps[labels == T.id("lytic_lesion")])
    comp = np.isin(comps, ids[ids > 0])
    return bool(np.isin(labels[ndimage.binary_dilation(comp, structure=SIX)], T.ids(*names)).any())


def test_a_lytic_lesion_is_lobulated_tumour_inside_the_body():
    text = lesion_case(position=(0.0, -2.0, 0.0), size_mm=14.0)
    _s, grid, _, geom = bare(text)
    labels = painted(text, look=True, seed=7)
    lesion = labels == T.id("lytic_lesion")
    i, j, k = np.nonzero(lesion)
    x, y, z = grid.axis_mm(0)[i], grid.axis_mm(1)[j], grid.axis_mm(2)[k]
    assert geom.body.contains(x, y, z, inset_mm=-1.0).all()
    r2 = x**2 + (y + 2.0) ** 2 + z**2
    sphere = 4.0 / 3.0 * np.pi * 7.0**3 / grid.voxel_mm**3
    assert 0.6 * sphere < lesion.sum() < 1.4 * sphere
    # not a sphere: voxels outside the sphere, and sphere voxels of bone left out
    outside = int((r2 > 7.0**2).sum())
    spared = sphere - (lesion.sum() - outside)
    assert outside > 0.1 * sphere and spared > 0.1 * sphere, (outside, spared, sphere)
    assert abs(lesion.sum() / sphere - 1.0) > 0.02
    # its soft tissue is a lucency: the attenuation of soft tissue, below the bone it replaces
    assert T.mu_per_mm[T.id("lytic_lesion")] < T.mu_per_mm[T.id("cancellous")]


def test_the_lobulation_is_reproducible_for_a_seed():
    text = lesion_case(position=(0.0, -2.0, 0.0))
    a = painted(text, look=True, seed=7)
    assert np.array_equal(a, painted(text, look=True, seed=7))
    assert np.array_equal(a, painted(text, look=False, seed=7))  # a new kind: no old look
    assert not np.array_equal(a, painted(text, look=True, seed=8))


def test_a_lesion_that_breaks_the_posterior_wall_opens_into_the_canal():
    text = lesion_case(position=(2.0, 7.0, -3.0), breaks="posterior_wall")
    labels = painted(text, look=True, seed=7)
    assert touches(labels, ["epidural_fat"])
    gap = labels == T.id("cortical_defect")
    assert gap.sum() > 50
    contained = lesion_case(position=(2.0, 6.0, -3.0), breaks="none")
    labels = painted(contained, look=True, seed=7)
    assert (labels == T.id("lytic_lesion")).sum() > 1000
    assert not touches(labels, ["epidural_fat", "epidural_vein", "thecal_sac"])


@pytest.mark.parametrize(
    ("position", "breaks", "beyond"),
    [
        ((-16.0, -2.0, -2.0), "lateral_wall", ["soft_tissue", "segmental_vein"]),
        ((10.0, 9.0, 3.0), "left_pedicle", ["epidural_fat", "nerve_root", "soft_tissue"]),
    ],
)
def test_lateral_and_pedicle_breaches_open_beyond_the_body(position, breaks, beyond):
    labels = painted(lesion_case(position=position, size_mm=12.0, breaks=breaks), look=True)
    assert touches(labels, beyond)
    assert not touches(painted(lesion_case(position=position, size_mm=6.0), look=True), beyond)


def test_the_shipped_metastasis_breaks_its_posterior_wall():
    s, ph = scenario_and_phantom("lytic_metastasis_l3")
    (defect,) = s.defects
    assert defect.kind == "lytic_lesion" and defect.breaks == "posterior_wall"
    assert touches(ph.labels, ["epidural_fat"])


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (lesion_case(position=(0.0, -30.0, 0.0)), "defects[0].position_mm", "centre lies inside"),
        (
            lesion_case(position=(0.0, -4.0, 0.0), breaks="posterior_wall"),
            "defects[0].breaks",
            "short of the posterior wall",
        ),
        (lesion_case(position=(0.0, 9.0, 0.0)), "defects[0].position_mm", "into the canal"),
        (lesion_case(size_mm=4.0), "defects[0].size_mm", "6 to 25 mm"),
        (
            L3 + '[[defects]]\nkind = "cleft"\nposition_mm = [0.0, -3.0, 0.0]\nsize_mm = 10.0\n'
            'breaks = "posterior_wall"\n',
            "defects[0].breaks",
            "only for kind 'lytic_lesion'",
        ),
        (lesion_case(extra="gas = true\n"), "defects[0].gas", "only for kind 'cleft'"),
        (
            L3 + '[[defects]]\nkind = "cleft"\nposition_mm = [0.0, -3.0, 0.0]\nsize_mm = 10.0\n'
            'gas = "yes"\n',
            "defects[0].gas",
            "expected true or false",
        ),
        (
            L3 + '[[defects]]\nkind = "cleft"\nposition_mm = [0.0, -3.0, 0.0]\nsize_mm = 22.0\n',
            "defects[0].size_mm",
            "at most 20 mm",
        ),
    ],
)
def test_a_misplaced_lesion_or_misused_key_is_one_line_and_exit_2(text, field, words, tmp_path):
    found = problems(text)
    assert len(found) == 1 and found[0][0] == field and words in found[0][1], found
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2


def test_validate_refuses_a_breach_it_cannot_reach_from_the_command_line(tmp_path):
    path = tmp_path / "case.toml"
    path.write_text(lesion_case(position=(0.0, -4.0, 0.0), breaks="posterior_wall"), "utf-8")
    root = ROOT_SCENARIOS.parent
    proc = subprocess.run(
        [sys.executable, str(root / "run_sim.py"), "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert proc.returncode == 2
    (line,) = proc.stdout.splitlines()
    assert line.startswith(f"{path}: defects[0].breaks: ") and "within 2 mm" in line
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(LABELS_SHA256))
def test_look_false_paints_what_release_0_3_0_painted(name):
    labels = build_legacy_phantom(load_scenario(name)).labels
    assert hashlib.sha256(labels.tobytes()).hexdigest() == LABELS_SHA256[name]
    assert np.array_equal(painted(name, look=False, legacy=True), labels)


def test_look_true_steps_the_endplate_beside_a_crack():
    s, grid, _, _geom = bare("endplate_crack_t12")
    x, y, _ = s.defects[0].position_mm  # a superior endplate crack along x at y = -4
    ix = grid.index_of((x, y, 0.0))[0]
    zs = grid.axis_mm(2)

    def endplate_top(labels, y_mm):
        col = labels[ix, grid.index_of((x, y_mm, 0.0))[1]]
        return zs[np.nonzero(col == T.id("endplate"))[0]].max()

    old, new = painted("endplate_crack_t12", look=False), painted("endplate_crack_t12", look=True)
    assert endplate_top(new, y - 3.0) == endplate_top(old, y - 3.0)  # the side that stays
    step = endplate_top(old, y + 2.0) - endplate_top(new, y + 2.0)  # the depressed fragment
    assert 1.0 <= step <= 1.5 + 1e-9, step
    # the crack still runs into the disc, and the body stays sealed elsewhere
    assert (new == T.id("disc_fissure")).sum() > 10
    canc = new == T.id("cancellous")
    assert not (new[ndimage.binary_dilation(canc, structure=SIX)] == T.id("disc")).any()


def test_look_true_cuts_a_gap_through_the_whole_posterior_wall():
    s, grid, _, geom = bare("posterior_wall_l1")
    body, canal = geom.body, geom.canal
    z = s.defects[0].position_mm[2]
    old, new = painted("posterior_wall_l1", look=False), painted("posterior_wall_l1", look=True)
    cortical = T.id("cortical")
    # the column through the wall (along y) at a point of the gap: no cortex left
    _, j0, kz = grid.index_of((0.0, body.wall_y_mm - 2.0, z))
    for x in (-6.0, 0.0, 6.0):
        i = grid.index_of((x, 0.0, 0.0))[0]
        column = new[i, j0:, kz]
        assert not (column == cortical).any() and (column == T.id("epidural_fat")).any()
        assert (old[i, j0:, kz] == cortical).any()
    # along the lateral ray through the wall (x), what cortex is left is the curved corners'
    _, jw, _ = grid.index_of((0.0, body.wall_y_mm - 0.25, z))
    xs = grid.axis_mm(0)
    inner = np.abs(xs) <= canal.half_width_mm - 1.0
    assert not (new[inner, jw, kz] == cortical).any()


def test_look_true_makes_a_cleft_a_thin_slit_and_gas_is_air():
    s, grid, _, _geom = bare("cleft_l1_grade3")
    gas = [dataclasses.replace(d, gas=True) for d in s.defects]
    old = painted("cleft_l1_grade3", look=False)
    new = painted("cleft_l1_grade3", look=True, defects=gas)
    assert not (new == T.id("cleft")).any()
    slit = new == T.id("cleft_gas")
    _, _, k = np.nonzero(slit)
    height = (k.max() - k.min() + 1) * grid.voxel_mm
    old_height = (old == T.id("cleft")).any(axis=(0, 1)).sum() * grid.voxel_mm
    assert 0.15 * 12.0 <= height <= 0.3 * 12.0 < old_height, (height, old_height)
    assert T.mu_per_mm[T.id("cleft_gas")] == 0.0
    for prop in (T.porosity, T.permeability_scale):
        assert prop[T.id("cleft_gas")] == prop[T.id("cleft")]
    assert T.leak_site[T.id("cleft_gas")] == T.leak_site[T.id("lytic_lesion")] == "none"
