"""``python docs/make_realism_sheet.py [LEVEL_OR_CASE ...]`` writes docs/images/realism_sheet.png:
the lateral and AP fluoroscopy at the true poses (the treated level's endplates square to the
beam, ``plan``'s true AP and true lateral) of levels T6, T10, T12, L1, L3 and L5 (a plain
osteoporotic case at each level, 20 % wedge) and of the shipped lytic and cleft cases, with
the planned needle half-way down the left pedicle."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simulator.anatomy.build import build_phantom
from simulator.fluoro.alignment import make_carm, plan_poses
from simulator.fluoro.poses import ArmPose
from simulator.planning import plan_trajectory
from simulator.releases import ModelOptions
from simulator.scenario import load_scenario, parse_scenario

OUT = Path(__file__).parent / "images" / "realism_sheet.png"
LEVELS = ("T6", "T10", "T12", "L1", "L3", "L5")
CASES = ("lytic_metastasis_l3", "cleft_l1_grade3")
PLAIN = """schema_version = 1
[scenario]
id = "plain_{lower}"
title = "{level}, 20 % wedge"
description = "a plain osteoporotic wedge fracture at {level}"
level = "{level}"
seed = 11
[vertebra]
wedge_percent = 20.0
"""


def scenario_for(name: str):
    """A shipped case by id, or a plain case at a level."""
    if name.startswith(("T", "L")) and len(name) <= 3:
        text = PLAIN.format(level=name, lower=name.lower()).encode()
        return parse_scenario(text, path=f"plain_{name}.toml", stem=f"plain_{name.lower()}")
    return load_scenario(name)


def views(name: str):
    """(title, lateral pixels, AP pixels) at the true poses."""
    scenario = scenario_for(name)
    phantom = build_phantom(scenario)
    plan = plan_trajectory(phantom, scenario, "left")
    poses = plan_poses(plan, scenario, phantom)
    imager = make_carm(scenario, phantom, seed=1, images=True, model=ModelOptions()).imager
    out = []
    for view, key in (("lateral", "true_lateral"), ("ap", "true_ap")):
        img = imager.render(view, ArmPose(**poses[key]), pulse_index=1)
        out.append(img.pixels)
    return f"{name} ({scenario.scenario.level})", *out


def main(names) -> None:
    rows = [views(n) for n in names]
    fig, axes = plt.subplots(len(rows), 2, figsize=(8.0, 3.9 * len(rows)))
    for (title, lat, ap), (a, b) in zip(rows, axes.reshape(len(rows), 2), strict=True):
        for ax, pix, view in ((a, lat, "true lateral"), (b, ap, "true AP")):
            ax.imshow(pix, cmap="gray")
            ax.set_title(f"{title}: {view}", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(OUT, dpi=60)
    print(OUT)


if __name__ == "__main__":
    main(sys.argv[1:] or [*LEVELS, *CASES])
