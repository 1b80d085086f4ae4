"""The measured-shape phantom's morphometry, measured on its labels, against what the scenario
asked for: posterior body height, AP depth, width, pedicle width and height, canal depth, and
the wedge's anterior/posterior height ratio (each within one voxel + 5 %)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.anatomy.build import build_phantom
from simulator.materials import tissues
from simulator.scenario import parse_scenario
from simulator.scenario.catalog import catalog
from simulator.scenario.schema import LEVELS
from tests.conftest import scenario_and_phantom

T = tissues()
BODY = T.group_ids("body")
PEDICLE = T.ids("pedicle_cortex", "pedicle_cancellous")
PLAIN = """schema_version = 1
[scenario]
id = "plain"
title = "plain"
description = "plain"
level = "{level}"
seed = 5
[vertebra]
wedge_percent = {wedge}
"""


def plain(level: str, wedge: float = 0.0):
    text = PLAIN.format(level=level, wedge=wedge).encode()
    return parse_scenario(text, path="plain.toml", stem="plain")


def measure(ph) -> dict[str, float]:
    """Morphometry from the labels (mm): heights on the midsagittal-adjacent plane 6 mm left
    (clear of the basivertebral vein), 2 mm inside the rims; depth and width of the body at
    its mid-height; the left pedicle's width across its axis and its height through the
    analytic isthmus; the canal's depth: its contents behind the body at the midline."""
    g, L = ph.grid, ph.labels
    X, Y, Z = (g.axis_mm(a) for a in range(3))
    v = g.voxel_mm
    body = np.isin(L, BODY)
    k0 = int(np.argmin(np.abs(Z)))
    mid = body[:, :, k0]
    ys = Y[mid.any(axis=0)]
    xs = X[mid.any(axis=1)]
    ix = int(np.argmin(np.abs(X - 6.0)))
    col = body[ix]
    yb = Y[col.any(axis=1)]

    def height(y):
        return col[int(np.argmin(np.abs(Y - y)))].sum() * v

    ped = ph.geometry.pedicles["left"]
    cos = float(-ped.axis[1])
    kp = int(np.argmin(np.abs(Z - ped.isthmus_mm[2])))
    ip = int(np.argmin(np.abs(X - ped.isthmus_mm[0])))
    jp = int(np.argmin(np.abs(Y - ped.isthmus_mm[1])))
    row = np.isin(L[:, jp, kp], PEDICLE) & (X > 0)
    midline = L[int(np.argmin(np.abs(X - 3.0))), :, kp]  # beside the basivertebral vein
    in_body = np.isin(midline, T.ids("cancellous", "cortical", "endplate"))
    back = Y[in_body].max()
    canal = T.group_ids("canal")
    bone_behind = Y[(back + 1.0 < Y) & ~np.isin(midline, canal)]
    return {
        "posterior_height": height(yb.max() - 3.5),
        "anterior_height": height(yb.min() + 3.5),
        "rim_fraction": 3.5 / float(yb.max() - yb.min()),
        "depth": float(ys.max() - ys.min() + v),
        "width": float(xs.max() - xs.min() + v),
        "pedicle_width": float(row.sum() * v * cos),
        "pedicle_height": float(np.isin(L[ip, jp], PEDICLE).sum() * v),
        "canal_depth": float(bone_behind.min() - back - v) if len(bone_behind) else 0.0,
    }


def requested(s) -> dict[str, float]:
    return {
        "posterior_height": s.vertebra.body_height_mm,
        "depth": s.vertebra.body_depth_mm,
        "width": s.vertebra.body_width_mm,
        "pedicle_width": s.pedicles.width_mm,
        "pedicle_height": s.pedicles.height_mm,
        "canal_depth": s.canal.depth_mm,
    }


def check(s, ph) -> list[str]:
    got = measure(ph)
    bad = []
    for key, want in requested(s).items():
        if abs(got[key] - want) > ph.grid.voxel_mm + 0.05 * want:
            bad.append(f"{key}: measured {got[key]:.1f} mm, asked {want:.1f} mm")
    return bad


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_has_the_morphometry_it_asks_for(level):
    s = plain(level)
    assert check(s, build_phantom(s)) == []


@pytest.mark.parametrize("name", sorted(catalog()))
def test_shipped_scenarios_have_the_morphometry_they_ask_for(name):
    assert check(*scenario_and_phantom(name)) == []


@pytest.mark.parametrize("wedge", [0.0, 22.0, 45.0])
def test_the_wedge_lowers_the_front_of_the_body(wedge):
    ph = build_phantom(plain("L1", wedge))
    got = measure(ph)
    # heights are taken 3.5 mm inside either rim, where the linear height loss is
    w, f = wedge / 100.0, got["rim_fraction"]
    want = (1.0 - w * (1.0 - f)) / (1.0 - w * f) * got["posterior_height"]
    assert abs(got["anterior_height"] - want) <= ph.grid.voxel_mm + 0.05 * want, got


def test_the_levels_differ_and_the_column_curves():
    """T8's body is smaller than L4's; a lumbar case's neighbours lean the other way from a
    thoracic one's (lordosis against kyphosis)."""
    t8, l4 = measure(build_phantom(plain("T8"))), measure(build_phantom(plain("L4")))
    assert t8["width"] < l4["width"] - 8.0 and t8["depth"] < l4["depth"] - 4.0
