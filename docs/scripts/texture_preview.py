"""Lateral and AP anatomy images of first_case_l1 without and with the trabecular texture
(``simulator.anatomy.texture``), with a condensed band under the superior endplate as the
wedge builder would pass it: ``docs/images/texture_preview.png``.

Run: ``PYTHONPATH=. python docs/scripts/texture_preview.py`` (≈ 10 s).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulator.anatomy.build import build_phantom
from simulator.anatomy.texture import make_textured_fields
from simulator.bench import body_centre_mm
from simulator.fluoro.anatomy_cast import AnatomyVolume, anatomy_line_integrals
from simulator.fluoro.geometry import CArmPose, Projection
from simulator.materials import tissues
from simulator.scenario import load_scenario

OUT = Path(__file__).resolve().parents[1] / "images" / "texture_preview.png"


def condensed_band(labels, T, *, depth_vox: int = 6) -> np.ndarray:
    """Cancellous voxels within ``depth_vox`` voxels below the superior endplate."""
    plate = labels == T.id("endplate")
    upper = plate & (np.arange(labels.shape[2]) > np.median(np.nonzero(plate)[2]))[None, None]
    band = np.zeros_like(plate)
    for dz in range(1, depth_vox + 1):
        band[..., :-dz] |= upper[..., dz:]
    return band & (labels == T.id("cancellous"))


def main() -> None:
    T = tissues()
    scenario = load_scenario("first_case_l1")
    ph = build_phantom(scenario)
    band = condensed_band(ph.labels, T)
    por, perm, density = make_textured_fields(
        ph.labels, ph.grid, scenario.vertebra, T, seed=ph.seed, condensed=band
    )
    textured = dataclasses.replace(ph, porosity=por, permeability_m2=perm, bone_density=density)
    iso = body_centre_mm(ph)
    views = {"lateral": 90.0, "AP": 0.0}
    fig, axes = plt.subplots(2, 2, figsize=(8, 8), dpi=90)
    for row, (name, phantom) in enumerate((("label μ", ph), ("textured", textured))):
        vol = AnatomyVolume.from_phantom(phantom)
        for col, (view, rot) in enumerate(views.items()):
            proj = Projection.make(
                CArmPose(rotation_deg=rot, tilt_deg=0.0, isocentre_mm=iso), size_px=400
            )
            img = np.exp(-anatomy_line_integrals(vol, proj))
            lo, hi = np.percentile(img[150:250, 150:250], [1, 99])
            ax = axes[row, col]
            ax.imshow(np.clip((img - lo) / (hi - lo), 0, 1), cmap="gray_r")
            ax.set_title(f"{view}, {name}", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT)
    print(OUT, OUT.stat().st_size // 1024, "kB")


if __name__ == "__main__":
    main()
