"""The patient's habitus and bowel gas (``[patient]`` soft_tissue_mm and bowel_gas; issue 14).

Both are off by default (0 mm, "none"), so a phantom built without them is the old one.

Habitus: ``soft_tissue_mm`` of extra subcutaneous tissue all round the trunk. The posterior
skin moves back by it (:func:`skin_offset_mm`, for the builder: the needle's path from the skin
grows) and the trunk solid of the fluoroscopy grows by twice it in width and depth
(:func:`torso_size`), so the exposure control raises the kerma and the image gets noisier.

Bowel gas: pockets of gas in the colon and small bowel in front of the lumbar spine, seeded by
the scenario's seed on their own stream. They lie in front of the phantom's grid (y ≤ −60 mm,
where the grid holds nothing but soft tissue, if anything), so the grid does not paint them and
the fluoroscopy counts each one's whole chord in closed form (``in_grid_label`` None).
"""

from __future__ import annotations

from simulator.anatomy.air import AirSolid
from simulator.anatomy.fields import rng_for
from simulator.anatomy.geometry import VertebraGeometry
from simulator.assets import load_table
from simulator.materials import tissues

BOWEL_GAS_STREAM = 0xB0E1
"""Stream id of the bowel gas's random numbers (see :func:`simulator.anatomy.fields.rng_for`)."""


def skin_offset_mm(scenario) -> float:
    """How far (mm) the posterior skin lies behind the standard
    ``skin_from_posterior_wall_mm``: the scenario's ``[patient] soft_tissue_mm`` (0 when the
    scenario predates the key)."""
    return float(getattr(scenario.patient, "soft_tissue_mm", 0.0))


def torso_size(torso: dict, soft_tissue_mm: float) -> dict:
    """The trunk table (``width_mm``, ``depth_mm``) grown by ``2 · soft_tissue_mm`` each; the
    same dict object when there is no extra tissue (the old trunk, bit for bit)."""
    if not soft_tissue_mm:
        return torso
    grow = 2.0 * float(soft_tissue_mm)
    return {**torso, "width_mm": torso["width_mm"] + grow, "depth_mm": torso["depth_mm"] + grow}


def bowel_gas_solids(geom: VertebraGeometry, seed: int, amount: str) -> tuple[AirSolid, ...]:
    """The gas pockets for ``amount`` ("none", "little", "much": ``gas_pockets`` of
    ``[thorax]`` in ``assets/anatomy.toml``): ellipsoids 15–50 mm across (each axis drawn
    uniformly), centres within ±``gas_x_mm`` of the midline and ±``gas_z_mm`` of the treated
    level, wholly inside ``gas_y_mm`` front to back, Δμ = μ_air − μ_soft. Reproducible by
    ``seed``. ``geom`` is accepted for the builder's uniform calls (the pockets lie in front
    of any vertebra)."""
    del geom
    thor = load_table("anatomy")["thorax"]
    n = int(thor["gas_pockets"][amount])
    if n == 0:
        return ()
    t = tissues()
    dmu = float(t.mu_per_mm[t.id("air")] - t.mu_per_mm[t.id("soft_tissue")])
    d_lo, d_hi = (float(v) for v in thor["gas_diameter_mm"])
    y_lo, y_hi = (float(v) for v in thor["gas_y_mm"])
    x_max, z_max = float(thor["gas_x_mm"]), float(thor["gas_z_mm"])
    rng = rng_for(seed, BOWEL_GAS_STREAM)
    out = []
    for _ in range(n):
        semi = 0.5 * rng.uniform(d_lo, d_hi, size=3)
        semi[1] = min(semi[1], 0.5 * (y_hi - y_lo))
        centre = (
            rng.uniform(-x_max + semi[0], x_max - semi[0]),
            rng.uniform(y_lo + semi[1], y_hi - semi[1]),
            rng.uniform(-z_max, z_max),
        )
        out.append(
            AirSolid(
                centre_mm=tuple(float(v) for v in centre),
                semi_axes_mm=tuple(float(v) for v in semi),
                delta_mu_per_mm=dmu,
            )
        )
    return tuple(out)
