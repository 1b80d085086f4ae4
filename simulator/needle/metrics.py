"""The needle's metrics (``assets/metrics.toml``, source ``procedure``)."""

from __future__ import annotations

import numpy as np


def needle_metrics(needle) -> dict:
    """Where ``needle`` (a :class:`~simulator.needle.model.NeedleModel`) is and what it did:
    side, tip (mm), zone, distance to its side's target (mm), repositions, breaches."""
    s = needle.state
    tip = s.tip_mm
    out = {
        "needle_side": s.side,
        "needle_tip_mm": None if tip is None else [round(float(v), 3) for v in tip],
        "tip_zone": needle.tip_zone(),
    }
    if tip is None:
        out["tip_to_target_mm"] = None
    else:
        target = np.asarray(needle.phantom.landmarks.targets[s.side].point_mm)
        out["tip_to_target_mm"] = round(float(np.linalg.norm(tip - target)), 3)
    out["needle_repositions"] = s.repositions
    out["breaches"] = [b.as_metric() for b in s.breaches]
    return out
