"""Voxel checks of the scenario's veins and defects on the built phantom: does each open the
path its kind describes in the labels the needle, the planner and the cement model read?

The scenario loader checks positions against the analytic body (fast, no phantom); ``validate``
then builds the phantom and asks here whether what was painted does what the entry says, so
that what ``validate`` accepts is what the model gets:

- a basivertebral vein joins the body's cancellous bone to the epidural plexus;
- a segmental vein joins the body's interior through its cortical foramen;
- a posterior wall defect joins the body to the canal, a lateral wall defect to the soft
  tissue outside, an endplate crack to the disc's fissure;
- a cleft or a lytic lesion is inside the body (painted, not all overwritten), and a lesion
  that ``breaks`` a wall reaches what lies beyond it.

Each check works on the entry's own neighbourhood (a box of its size plus 8 mm), 6-connected.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from simulator.materials import tissues

_SIX = ndimage.generate_binary_structure(3, 1)
REACH_MM = 8.0

_BEYOND = {
    "posterior_wall": ("epidural_fat", "epidural_vein", "thecal_sac"),
    "lateral_wall": ("soft_tissue", "segmental_vein"),
    "left_pedicle": ("pedicle_cancellous", "pedicle_cortex", "nerve_root", "soft_tissue"),
    "right_pedicle": ("pedicle_cancellous", "pedicle_cortex", "nerve_root", "soft_tissue"),
}


def _joins(phantom, centre, half_mm: float, path: tuple[str, ...], ends: tuple[str, ...]):
    """True when a 6-connected piece of the ``path`` labels near ``centre`` touches both the
    treated cancellous bone and one of the ``ends`` labels (mm)."""
    T = tissues()
    g = phantom.grid
    r = half_mm + REACH_MM
    c = np.asarray(centre, dtype=float)
    box = g.box(c - r, c + r)
    if box is None:
        return False
    sub = phantom.labels[box.slices]
    pieces, n = ndimage.label(np.isin(sub, T.ids(*path)), structure=_SIX)
    if n == 0:
        return False
    inner = ndimage.binary_dilation(np.isin(sub, T.ids("cancellous", "cleft")), structure=_SIX)
    outer = ndimage.binary_dilation(np.isin(sub, T.ids(*ends)), structure=_SIX)
    ids = np.arange(1, n + 1)
    touches_in = ndimage.maximum(inner, pieces, ids)
    touches_out = ndimage.maximum(outer, pieces, ids)
    return bool(np.any(np.asarray(touches_in) & np.asarray(touches_out)))


def _painted(phantom, centre, half_mm: float, names: tuple[str, ...]) -> bool:
    T = tissues()
    c = np.asarray(centre, dtype=float)
    box = phantom.grid.box(c - half_mm, c + half_mm)
    return box is not None and bool(np.isin(phantom.labels[box.slices], T.ids(*names)).any())


def opening_problems(scenario, phantom) -> list[tuple[str, str]]:
    """``(field, message)`` for each vein or defect whose painted voxels do not open the path
    its kind describes."""
    out = []
    for i, vein in enumerate(scenario.veins):
        half = vein.diameter_mm
        if vein.kind == "basivertebral":
            ok = _joins(
                phantom, vein.position_mm, half + 12.0, ("basivertebral_vein",), ("epidural_vein",)
            )
            what = "join the body's cancellous bone to the epidural plexus"
        elif vein.kind == "segmental":
            ok = _joins(
                phantom, vein.position_mm, half + 4.0, ("segmental_vein",), ("segmental_vein",)
            )
            what = "reach the body's interior through a cortical foramen"
        else:
            ok = _painted(phantom, vein.position_mm, half, ("epidural_vein",))
            what = "lie in the epidural space"
        if not ok:
            out.append(
                (f"veins[{i}].position_mm", f"on the built anatomy this vein does not {what}")
            )
    for i, d in enumerate(scenario.defects):
        half = d.size_mm / 2.0
        if d.kind == "posterior_wall":
            ok = _joins(phantom, d.position_mm, half, ("cortical_defect",), _BEYOND[d.kind])
            what = "open the body into the canal"
        elif d.kind == "lateral_wall":
            ok = _joins(phantom, d.position_mm, half, ("cortical_defect",), _BEYOND[d.kind])
            what = "open the body's side wall"
        elif d.kind == "endplate_crack":
            ok = _joins(phantom, d.position_mm, half, ("endplate_crack",), ("disc_fissure", "disc"))
            what = "open the endplate into the disc"
        elif d.kind == "cleft":
            ok = _painted(phantom, d.position_mm, half, ("cleft", "cleft_gas"))
            what = "leave a cleft inside the body"
        else:
            ok = _painted(phantom, d.position_mm, half, ("lytic_lesion",))
            if ok and d.breaks != "none":
                ok = _joins(
                    phantom,
                    d.position_mm,
                    d.size_mm,
                    ("lytic_lesion", "cortical_defect"),
                    _BEYOND[d.breaks],
                )
            what = "destroy bone inside the body" + (
                f" and break through the {d.breaks.replace('_', ' ')}" if d.breaks != "none" else ""
            )
        if not ok:
            out.append(
                (
                    f"defects[{i}].position_mm",
                    f"on the built anatomy this {d.kind.replace('_', ' ')} does not {what}",
                )
            )
    return out
