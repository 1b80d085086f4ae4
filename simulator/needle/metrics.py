"""The needle's metrics (``assets/metrics.toml``, source ``procedure``), and the attempt's
needle metrics from two needles' (release 0.8.0 on)."""

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


SHARED = ("carm_moves", "max_unwatched_injection_ml")
"""Metrics of the attempt, not of a needle: the same for both (left out of ``needles``)."""


def combined(per_side: dict[str, dict]) -> dict:
    """The attempt's needle metrics from each placed needle's (``per_side``: side → its
    metrics): those of the needle whose tip is further from its target (the placement is only
    as good as the worse needle; the left on a tie), except ``needle_side`` ("both" for two),
    ``breaches`` (every needle's, in time order), ``needle_repositions`` (the sum),
    ``max_blind_advance_mm`` (the longest, with its times) and ``medial_wall_checked``
    (false, with that needle's ``entered_bone_s`` and ``passed_wall_s``, when any needle
    passed the wall unchecked)."""
    if len(per_side) == 1:
        return dict(next(iter(per_side.values())))

    def far(side):
        d = per_side[side]["tip_to_target_mm"]
        return -1.0 if d is None else d

    worse = max(per_side, key=far)  # dicts keep left before right: max keeps the first
    out = dict(per_side[worse])
    every = list(per_side.values())
    out["needle_side"] = "both"
    out["breaches"] = sorted((b for m in every for b in m["breaches"]), key=lambda b: b["t_s"])
    out["needle_repositions"] = sum(m["needle_repositions"] for m in every)
    if "max_blind_advance_mm" in out:
        blind = max(every, key=lambda m: m["max_blind_advance_mm"])
        for k in ("max_blind_advance_mm", "max_blind_advance_from_s", "max_blind_advance_until_s"):
            out[k] = blind[k]
        # the wall check with the bone and wall times it was judged by: of a needle whose
        # wall went unchecked, else of the worse needle
        unchecked = [m for m in every if m["medial_wall_checked"] is False]
        if unchecked:
            for k in ("medial_wall_checked", "entered_bone_s", "passed_wall_s"):
                out[k] = unchecked[0][k]
    return out
