"""Geometric checks of ``[[veins]]`` and ``[[defects]]``: is each where its kind says?

A basivertebral vein must start inside the body and leave it through the posterior wall into
the canal; a segmental vein must lie on the lateral surface; an epidural plexus vein in the
anterior epidural space; a wall defect on its wall; an endplate crack on an endplate; a cleft
inside the body; a lytic lesion inside it, reaching the wall it breaks
(:mod:`simulator.scenario.lesion_placement`). Each miss is one problem naming the entry and
what the body spans.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.scenario.lesion_placement import lesion_problem, size_problem
from simulator.scenario.model import Scenario

WALL_TOLERANCE_MM = 3.0


def check_placements(scenario: Scenario, add: Callable[[str, str], None]) -> None:
    """Report every misplaced vein or defect through ``add(field, message)``."""
    geom = scenario.geometry
    body = geom.body
    span = (
        f"the body spans x ±{body.half_width_mm:g}, y {body.anterior_y_mm:g} to "
        f"{body.wall_y_mm:.1f} (posterior wall), z {-body.height_mm / 2:g} to "
        f"{body.height_mm / 2:g} mm"
    )
    for i, vein in enumerate(scenario.veins):
        msg = _vein_problem(geom, vein.kind, vein.position_mm, vein.diameter_mm)
        if msg:
            add(f"veins[{i}].position_mm", f"{msg}; {span}")
    cortex = scenario.vertebra.cortical_thickness_mm
    for i, defect in enumerate(scenario.defects):
        msg = size_problem(defect.kind, defect.size_mm)
        if msg:
            add(f"defects[{i}].size_mm", msg)
            continue
        if defect.kind == "lytic_lesion":
            field, msg = lesion_problem(geom, defect, cortex_mm=cortex)
        else:
            field = "position_mm"
            msg = _defect_problem(geom, defect.kind, defect.position_mm, defect.size_mm)
        if msg:
            add(f"defects[{i}].{field}", f"{msg}; {span}")


def _fmt(p) -> str:
    return "[" + ", ".join(f"{v:g}" for v in p) + "]"


def _vein_problem(geom, kind: str, p, diameter_mm: float) -> str:
    body, canal = geom.body, geom.canal
    x, y, z = p
    r = diameter_mm / 2.0
    if kind == "basivertebral":
        if not body.contains(x, y, z, inset_mm=r):
            return (
                f"a basivertebral vein starts inside the vertebral body; {_fmt(p)} is "
                "outside it (or closer to its surface than the vein's radius)"
            )
        if abs(x) > canal.half_width_mm - r:
            return (
                f"a basivertebral vein runs straight back into the canal; at x = {x:g} it "
                f"misses the canal (|x| must be below {canal.half_width_mm - r:g} mm)"
            )
        reach = body.wall_y_mm - y
        depth = 2.0 * body.half_depth_mm
        if reach > 0.5 * depth:
            return (
                f"a basivertebral vein reaches at most half the body depth in from the "
                f"posterior wall ({0.5 * depth:g} mm); {_fmt(p)} is {reach:.1f} mm in"
            )
        return ""
    if kind == "segmental":
        rho = body.plan_radius(x, y)
        tol = (WALL_TOLERANCE_MM + r) / min(body.half_width_mm, body.half_depth_mm)
        on_side = abs(rho - 1.0) <= tol and abs(x) >= 0.5 * body.half_width_mm
        in_height = (
            float(body.bottom_z(x, y)) - 1.0 <= z <= float(body.top_z(x, y)) + 1.0
            if body.in_plan(x, y)
            else -body.height_mm / 2 <= z <= body.height_mm / 2
        )
        if not (on_side and in_height and y < body.wall_y_mm):
            return (
                f"a segmental vein lies on the lateral surface of the body (within "
                f"{WALL_TOLERANCE_MM:g} mm); {_fmt(p)} misses it"
            )
        return ""
    # epidural_plexus
    if not (canal.contains_plan(x, y) and y <= canal.wall_y_mm + canal.depth_mm / 3.0):
        return (
            f"an epidural plexus vein lies in the anterior third of the canal "
            f"(y {canal.wall_y_mm:.1f} to {canal.wall_y_mm + canal.depth_mm / 3:.1f}, "
            f"|x| < {canal.half_width_mm:g} mm); {_fmt(p)} is not there"
        )
    return ""


def _defect_problem(geom, kind: str, p, size_mm: float) -> str:
    body = geom.body
    x, y, z = p
    tol = WALL_TOLERANCE_MM
    if kind == "cleft":
        if not body.contains(x, y, z, inset_mm=1.0):
            return f"a cleft lies inside the vertebral body; {_fmt(p)} is outside it"
        hz = max(size_mm / 5.0, 1.5)
        half = size_mm / 2.0
        extremes = [
            (x + dx, y + dy, z + dz)
            for dx, dy, dz in (
                (half, 0, 0),
                (-half, 0, 0),
                (0, half, 0),
                (0, -half, 0),
                (0, 0, hz),
                (0, 0, -hz),
            )
        ]
        if not all(body.contains(*q, inset_mm=0.5) for q in extremes):
            return (
                f"a cleft of {size_mm:g} mm at {_fmt(p)} reaches outside the body "
                "(it is painted as a flat ellipsoid, size × size × size/5); make it smaller "
                "or move it inward"
            )
        return ""
    if kind == "endplate_crack":
        if not body.in_plan(x, y, inset_mm=1.0):
            return f"an endplate crack lies on an endplate; {_fmt(p)} is outside the body's outline"
        near_top = abs(z - float(body.top_z(x, y))) <= tol
        near_bottom = abs(z - float(body.bottom_z(x, y))) <= tol
        if not (near_top or near_bottom):
            return (
                f"an endplate crack lies on an endplate (within {tol:g} mm); at {_fmt(p)} "
                f"the endplates are at z {float(body.bottom_z(x, y)):.1f} and "
                f"{float(body.top_z(x, y)):.1f}"
            )
        if not (
            body.in_plan(x - size_mm / 2, y, inset_mm=1.0)
            and body.in_plan(x + size_mm / 2, y, inset_mm=1.0)
        ):
            return (
                f"an endplate crack {size_mm:g} mm long (along x) at {_fmt(p)} runs past "
                "the edge of the endplate"
            )
        return ""
    return _wall_defect_problem(geom, kind, p, size_mm)


def _wall_defect_problem(geom, kind: str, p, size_mm: float) -> str:
    """A posterior or lateral wall defect: first is it on its wall (how far off, and where the
    wall is at that height), then does the hole stay 1 mm clear of both endplates there."""
    body = geom.body
    x, y, z = p
    tol = WALL_TOLERANCE_MM
    half = size_mm / 2.0
    where = f"{_fmt(p)} is {{:.1f}} mm {{}} it"
    if kind == "posterior_wall":
        off = y - body.wall_y_mm
        if abs(off) > tol:
            return (
                f"a posterior wall defect lies on the posterior wall (within {tol:g} mm); at "
                f"x = {x:g}, z = {z:g} the wall is at y = {body.wall_y_mm:.1f}; "
                + where.format(abs(off), "behind" if off > 0 else "in front of")
            )
        if abs(x) + half > geom.canal.half_width_mm:
            return (
                f"a posterior wall defect opens into the canal (|x| + size/2 ≤ "
                f"{geom.canal.half_width_mm:g} mm); {size_mm:g} mm across at {_fmt(p)} "
                f"reaches |x| = {abs(x) + half:g} mm"
            )
        wx, wy = x, body.wall_y_mm - 0.5
    else:  # lateral_wall
        xw = body.half_width_at(min(y, body.wall_y_mm))
        if xw <= 0.0 or y >= body.wall_y_mm:
            return (
                f"a lateral wall defect lies on the side wall of the body, which runs from y "
                f"{body.anterior_y_mm:g} to {body.wall_y_mm:.1f}; {_fmt(p)} is beyond it"
            )
        rtol = tol / min(body.half_width_mm, body.half_depth_mm)
        on_wall = abs(body.plan_radius(x, y) - 1.0) <= rtol and abs(x) >= 0.5 * body.half_width_mm
        if not on_wall:
            off = abs(x) - xw
            return (
                f"a lateral wall defect lies on the side wall of the body (within {tol:g} mm); "
                f"at y = {y:g}, z = {z:g} the wall is at x = ±{xw:.1f}; "
                + where.format(abs(off), "outside" if off > 0 else "inside")
            )
        wx, wy = (1.0 if x >= 0 else -1.0) * max(xw - 0.5, 0.0), y
    return _height_problem(body, kind, p, size_mm, wx, wy)


def _height_problem(body, kind: str, p, size_mm: float, wx: float, wy: float) -> str:
    """A wall hole at height ``p[2]`` must stay 1 mm clear of both endplates where the wall is
    (``wx``, ``wy``, mm)."""
    z, half = p[2], size_mm / 2.0
    lo, hi = float(body.bottom_z(wx, wy)), float(body.top_z(wx, wy))
    name = f"a {kind.replace('_', ' ')} defect {size_mm:g} mm across at {_fmt(p)}"
    if not lo <= z <= hi:
        return (
            f"{name} is {'above' if z > hi else 'below'} the body: at the wall there the body "
            f"spans z {lo:.1f} to {hi:.1f}"
        )
    if z - half < lo + 1.0 or z + half > hi - 1.0:
        which = "superior" if z + half > hi - 1.0 else "inferior"
        return (
            f"{name} reaches the {which} endplate: at the wall there the hole must lie within "
            f"z {lo + 1.0:.1f} to {hi - 1.0:.1f} (1 mm clear of both endplates); make it "
            "smaller or move it"
        )
    return ""
