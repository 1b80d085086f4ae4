"""``python docs/make_fluoro_images.py`` rewrites the fluoroscopy images of the README
(docs/images/fluoro_*.png and carm_poses_posterior_wall_l1.png) from the current imager: the
expert persona on the first case at the C-arm's home poses (empty, with the needle placed, and
after the injection), and five poses of the rotated posterior-wall case with the needle on
the way in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.image import imsave

from simulator.actions import parse_script
from simulator.fluoro.alignment import plan_poses
from simulator.fluoro.poses import ArmPose
from simulator.personas import build
from simulator.planning import plan_trajectory
from simulator.procedure import Procedure
from simulator.scenario import load_scenario

OUT = Path(__file__).parent / "images"
HOME = {
    "lateral": ArmPose(rotation_deg=90.0, tilt_deg=0.0),
    "ap": ArmPose(rotation_deg=0.0, tilt_deg=0.0),
}


def save(name: str, pixels: np.ndarray) -> None:
    imsave(OUT / name, np.repeat(pixels[..., None], 3, axis=-1))


def expert(case: str) -> tuple[Procedure, list]:
    acts = parse_script(json.dumps(build(case)["expert"]).encode(), path="expert")
    proc = Procedure(load_scenario(case))
    for a in acts:
        proc.submit(a)
    return proc, acts


def first_case() -> None:
    proc, acts = expert("first_case_l1")
    im = proc.carm.imager
    for view, pose in HOME.items():
        save(f"fluoro_{view}.png", im.render(view, pose, pulse_index=1).pixels)
    mix = next(a for a in acts if a.do == "mix")
    proc.advance_to(mix.t)
    for view, pose in HOME.items():
        img = im.render(view, pose, pulse_index=2, needle=proc.needle_render())
        save(f"fluoro_{view}_needle.png", img.pixels)
    proc.advance_to(acts[-1].t)
    for view, pose in HOME.items():
        img = im.render(
            view, pose, pulse_index=3, needle=proc.needle_render(), cement=proc.cement.field()
        )
        save(f"fluoro_{view}_injection.png", img.pixels)


def rotated_case() -> None:
    case = "posterior_wall_l1"
    proc, acts = expert(case)
    first = next(a for a in acts if a.do == "advance")
    proc.advance_to(first.t + 8.0)  # the needle 15 mm in, still in the soft tissue
    poses = plan_poses(
        plan_trajectory(proc.phantom, proc.scenario, "left"), proc.scenario, proc.phantom
    )
    row = [
        ArmPose(rotation_deg=0.0, tilt_deg=0.0),
        ArmPose(**poses["true_ap"]),
        ArmPose(**poses["true_lateral"]),
        ArmPose(**poses["en_face"]),
        ArmPose(rotation_deg=-30.0, tilt_deg=0.0),
    ]
    tiles = [
        proc.carm.imager.render("ap", p, pulse_index=5, needle=proc.needle_render()).pixels
        for p in row
    ]
    save("carm_poses_posterior_wall_l1.png", np.hstack(tiles))


if __name__ == "__main__":
    first_case()
    rotated_case()
