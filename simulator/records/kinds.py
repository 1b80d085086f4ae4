"""What each kind of metric value may be (``assets/metrics.toml`` ``kind``), for the log
checker (:mod:`simulator.records.log`)."""

from __future__ import annotations

from simulator.inputs import is_finite_number as _is_num
from simulator.materials import outside_sites
from simulator.metrics import metric_table
from simulator.units import SIDES

LEAK_SITES = outside_sites()  # assets/materials.toml [[leak_sites]], in log order


def _needle_ok(own: dict) -> bool:
    """One needle's metrics (a ``needles`` entry): each a declared needle metric of its kind."""
    kinds = {m.name: m.kind for m in metric_table() if m.source == "procedure"}
    return all(name in kinds and metric_ok(kinds[name], v) for name, v in own.items())


def metric_ok(kind: str, v) -> bool:
    """True when ``v`` is a value of ``kind`` (``assets/metrics.toml``)."""
    if kind.endswith(" or null") and v is None:
        return True
    kind = kind.removesuffix(" or null")
    if kind == "number":
        return _is_num(v) and v >= 0
    if kind == "text":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "point":
        return v is None or (isinstance(v, list) and len(v) == 3 and all(map(_is_num, v)))
    if kind == "leaks":
        return isinstance(v, dict) and all(_is_num(v.get(s)) for s in LEAK_SITES)
    if kind == "endplates":
        return isinstance(v, dict) and all(
            isinstance(v.get(k), bool) for k in ("superior", "inferior")
        )
    if kind == "sites":
        return isinstance(v, dict) and all(
            v.get(s) is None or (_is_num(v.get(s)) and v.get(s) >= 0) for s in LEAK_SITES
        )
    if kind == "needles":
        return isinstance(v, dict) and all(
            side in SIDES and isinstance(own, dict) and _needle_ok(own) for side, own in v.items()
        )
    return isinstance(v, list) and all(  # breaches
        isinstance(b, dict)
        and isinstance(b.get("kind"), str)
        and _is_num(b.get("depth_mm"))
        and _is_num(b.get("t_s"))
        for b in v
    )


METRIC_ALLOWED = {
    "number": "a number ≥ 0",
    "number or null": "a number or null",
    "text": "text",
    "text or null": "text or null",
    "bool": "true or false",
    "point": "[x, y, z] in mm or null",
    "leaks": f"a number for each of {', '.join(LEAK_SITES)}",
    "endplates": "{superior: bool, inferior: bool}",
    "breaches": "a list of {kind, depth_mm, t_s}",
    "sites": f"a number ≥ 0 or null for each of {', '.join(LEAK_SITES)}",
    "needles": "{left, right}: each a table of that needle's metrics",
}
