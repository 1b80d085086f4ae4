"""Geometric checks of a ``lytic_lesion`` entry: its size, its centre inside the body, and its
``breaks``: a lesion that breaks a wall reaches it, one that does not stays inside the body.

The reach is measured from the nominal sphere (diameter ``size_mm``) to the inner face of the
broken cortex (``cortical_thickness_mm`` in from the outer surface); the painted lesion is
lobulated around that sphere and joined to the wall by its breach channel
(:mod:`simulator.anatomy.lesions`).
"""

from __future__ import annotations

import numpy as np

from simulator.anatomy.lesions import BREACH_WIDTH_FRACTION, EXIT_BEYOND_MM, breach_exit

LESION_SIZE_MM = (6.0, 25.0)
"""Diameters of a lytic lesion (mm): smaller ones are not seen on fluoroscopy; larger ones
leave too little bone to augment (approx.)."""
FEATURE_MAX_MM = 20.0
"""Largest crack, wall hole or cleft (mm; the key allows 25 for lytic lesions only)."""
BREACH_REACH_MM = 2.0
"""A lesion that breaks a wall comes within this distance of the wall's inner face (mm)."""


def size_problem(kind: str, size_mm: float) -> str:
    """A message when ``size_mm`` is out of the kind's range, else ``""``."""
    if kind == "lytic_lesion":
        lo, hi = LESION_SIZE_MM
        if not lo <= size_mm <= hi:
            return f"a lytic lesion is {lo:g} to {hi:g} mm across, got {size_mm:g}"
    elif size_mm > FEATURE_MAX_MM:
        return (
            f"a {kind.replace('_', ' ')} is at most {FEATURE_MAX_MM:g} mm (up to "
            f"{LESION_SIZE_MM[1]:g} only for a lytic_lesion), got {size_mm:g}"
        )
    return ""


def lesion_problem(geom, defect, *, cortex_mm: float) -> tuple[str, str]:
    """(field, message) of the first problem of a lytic lesion, or ("", "")."""
    body = geom.body
    c = np.asarray(defect.position_mm, dtype=float)
    shown = "[" + ", ".join(f"{v:g}" for v in c) + "]"
    radius = defect.size_mm / 2.0
    if not body.contains(*c, inset_mm=1.0):
        return "position_mm", (
            f"a lytic lesion's centre lies inside the vertebral body; {shown} is outside it"
        )
    breaks = defect.breaks
    if breaks != "none":
        msg = _breach_problem(geom, c, radius, breaks, cortex_mm)
        if msg:
            return "breaks", msg
    msg = _escape_problem(body, c, radius, breaks)
    return ("position_mm", msg) if msg else ("", "")


def _breach_problem(geom, c, radius: float, breaks: str, cortex_mm: float) -> str:
    body, canal = geom.body, geom.canal
    end = breach_exit(geom, c, breaks)
    where = breaks.replace("_", " ")
    if breaks in ("posterior_wall", "lateral_wall"):
        gap = float(np.linalg.norm(end - c)) - EXIT_BEYOND_MM - cortex_mm - radius
    else:  # a pedicle: its base is where its axis crosses the posterior wall's plane
        ped = geom.pedicles[breaks.split("_")[0]]
        t = (ped.isthmus_mm[1] - body.wall_y_mm) / max(-ped.axis[1], 1e-6)
        base = np.asarray(ped.isthmus_mm) + t * np.asarray(ped.axis)
        gap = float(np.linalg.norm(base - c)) - radius
    if gap > BREACH_REACH_MM:
        return (
            f"breaks = {breaks!r}, but a {2 * radius:g} mm lesion at {_fmt(c)} stops {gap:.1f} mm "
            f"short of the {where} (it must reach within {BREACH_REACH_MM:g} mm); move it "
            f"toward the {where}, make it larger, or set breaks to one of the walls it reaches"
        )
    width = BREACH_WIDTH_FRACTION * 2.0 * radius
    if breaks == "posterior_wall" and abs(c[0]) + width > canal.half_width_mm:
        return (
            f"breaks = 'posterior_wall' opens the wall {2 * width:g} mm wide around x = "
            f"{c[0]:g}, past the canal (|x| + {width:g} must be at most "
            f"{canal.half_width_mm:g} mm); move the lesion toward the midline"
        )
    if breaks in ("posterior_wall", "lateral_wall"):
        lo, hi = float(body.bottom_z(end[0], end[1])), float(body.top_z(end[0], end[1]))
        if c[2] - width < lo + 1.0 or c[2] + width > hi - 1.0:
            return (
                f"breaks = {breaks!r} opens the wall {2 * width:g} mm high at z = {c[2]:g}, "
                f"into an endplate: there the opening must lie within z {lo + 1.0:.1f} to "
                f"{hi - 1.0:.1f} (1 mm clear of both endplates); move the lesion or make it "
                "smaller"
            )
    return ""


def _escape_problem(body, c, radius: float, breaks: str) -> str:
    """The lesion's sphere stays inside the body, but toward the wall it breaks."""
    side = 1.0 if c[0] >= 0 else -1.0
    skip = {
        "posterior_wall": (1, 1.0),
        "left_pedicle": (1, 1.0),
        "right_pedicle": (1, 1.0),
        "lateral_wall": (0, side),
    }.get(breaks)
    names = {(0, 1.0): "left", (0, -1.0): "right", (1, 1.0): "posterior", (1, -1.0): "anterior"}
    for axis, sign, name in (
        *((a, s, names[(a, s)]) for a in (0, 1) for s in (1.0, -1.0)),
        (2, 1.0, "superior"),
        (2, -1.0, "inferior"),
    ):
        if (axis, sign) == skip:
            continue
        q = c.copy()
        q[axis] += sign * radius
        if not body.contains(*q, inset_mm=0.0):
            hint = {
                "posterior": ' into the canal; set breaks = "posterior_wall" or move it forward',
                "left": '; set breaks = "lateral_wall" or move it inward',
                "right": '; set breaks = "lateral_wall" or move it inward',
            }.get(name, "; move it inward or make it smaller")
            return (
                f"a {2 * radius:g} mm lytic lesion at {_fmt(c)} reaches past the {name} surface "
                f"of the body (breaks = {breaks!r}){hint}"
            )
    return ""


def _fmt(p) -> str:
    return "[" + ", ".join(f"{v:g}" for v in p) + "]"
