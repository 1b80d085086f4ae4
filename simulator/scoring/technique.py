"""Rubric 2's technique rules (release 0.7.0 on): how the images guided the needle and the
injection, and what that does to the other components.

- **technique** (a component): the longest advance through bone without a fresh image
  (``max_blind_advance_mm``), the medial-wall rule checked on a frontal image before the tip
  passed the posterior wall (``medial_wall_checked``), each view used at least half as often as
  the expert uses it, the true AP and true lateral at entry (the alignment metrics), the
  injection screened (``max_unwatched_injection_ml``) and the injection stopped when a leak
  showed (``injected_after_leak_seen_ml`` of the sites whose leak then grew,
  ``leak_growth_after_seen_ml``);
- **guidance factor**: radiation and efficiency are earned in proportion to the blind-advance
  share, so that skipping images never pays;
- **the cement's wait**: the wait for the cement to leave its liquid phase (which the case asks
  for) is not counted in the procedure time, the attempt's nor the expert's;
- **critical**: a blind advance beyond ``blind_advance_limit_mm``.

``docs/SCORING.md`` gives each rule's reason and source. Inputs are the JSON metrics and the
rubric (:class:`~simulator.rubric.Rubric`).
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.cement.rheology import CementProduct
from simulator.units import clock

VIEWS = (("lateral", "fluoro_shots_lateral"), ("AP", "fluoro_shots_ap"))


def ramp(value: float, full: float, zero: float) -> float:
    """1 at or below ``full``, 0 at or beyond ``zero``, linear between (either direction)."""
    if zero == full:
        return 1.0 if value <= full else 0.0
    return min(1.0, max(0.0, (zero - value) / (zero - full)))


def guidance_factor(m: Mapping, r) -> float:
    """0–1: the share of the blind-advance rule earned (``max_blind_advance_mm`` between
    ``blind_full_mm`` and ``blind_zero_mm``); radiation and efficiency are scaled by it."""
    return ramp(m["max_blind_advance_mm"], r["blind_full_mm"], r["blind_zero_mm"])


def technique_critical(m: Mapping, r) -> list[str]:
    """``["blind_advance"]`` when the longest blind advance through bone is beyond
    ``blind_advance_limit_mm``, else none."""
    return ["blind_advance"] if m["max_blind_advance_mm"] > r["blind_advance_limit_mm"] else []


def view_factors(m: Mapping, r, expert) -> dict[str, float]:
    """Per view (``lateral``, ``AP``): its shots against ``view_min_ratio`` of the expert's
    shots of that view (half of the case's ``[expert] fluoro_shots``), 0–1."""
    need = max(r["view_min_ratio"] * expert.fluoro_shots / 2.0, 1.0)
    return {name: min(1.0, m[key] / need) for name, key in VIEWS}


def alignment_factor(m: Mapping, r) -> float:
    """0–1: the mean over the frontal and lateral beams at entry of their alignment shares
    (``ap_alignment_error_deg``, ``lateral_alignment_error_deg``; no image: none)."""
    out = 0.0
    for key in ("ap_alignment_error_deg", "lateral_alignment_error_deg"):
        err = m.get(key)
        if err is not None:
            out += ramp(err, r["alignment_full_deg"], r["alignment_zero_deg"])
    return out / 2.0


def seen_after_ml(m: Mapping, r) -> float | None:
    """The most cement injected after a leak first showed on an image while that leak went on
    growing (ml, the largest over the sites whose leak grew by ``reaction_growth_ml`` or more
    after it showed), None when no leak showed and grew."""
    grew = m["leak_growth_after_seen_ml"]
    vals = [
        v
        for site, v in m["injected_after_leak_seen_ml"].items()
        if v is not None and (grew.get(site) or 0.0) >= r["reaction_growth_ml"]
    ]
    return max(vals) if vals else None


def technique_parts(m: Mapping, r, expert) -> dict[str, float]:
    """Each technique rule's factor (0–1) by its share's name."""
    after = seen_after_ml(m, r)
    views = view_factors(m, r, expert)
    return {
        "blind_share": guidance_factor(m, r),
        "wall_check_share": 0.0 if m["medial_wall_checked"] is False else 1.0,
        "view_share": sum(views.values()) / len(views),
        "alignment_share": alignment_factor(m, r),
        "watch_share": ramp(m["max_unwatched_injection_ml"], r["watch_full_ml"], r["watch_zero_ml"])
        if m["injected_ml"] > 0
        else 0.0,
        "reaction_share": 1.0
        if after is None
        else ramp(after, r["reaction_full_ml"], r["reaction_zero_ml"]),
    }


def technique_points(m: Mapping, r, expert) -> tuple[float, list[str]]:
    """The technique component's points and notes."""
    parts = technique_parts(m, r, expert)
    points = r["technique_points"] * sum(r[k] * f for k, f in parts.items())
    notes = [
        f"longest advance in bone without an image {m['max_blind_advance_mm']:.0f} mm",
        {
            True: "medial wall checked on the AP before the posterior wall",
            False: "no AP with the needle in the pedicle before the posterior wall",
            None: "the tip never passed the posterior wall",
        }[m["medial_wall_checked"]],
        f"{m['fluoro_shots_lateral']} lateral and {m['fluoro_shots_ap']} AP shots",
    ]
    if m["injected_ml"] > 0:
        notes.append(f"at most {m['max_unwatched_injection_ml']:.2f} ml injected unseen")
    after = seen_after_ml(m, r)
    if after is not None:
        notes.append(f"{after:.2f} ml injected after a leak showed, and it grew")
    return points, notes


def required_wait_s(scenario, m: Mapping) -> float:
    """The wait the case asks for (s): from mixing until the cement leaves its liquid phase at
    the room's temperature, or until the injection began if that was sooner; 0 without an
    injection or with a product this version does not know."""
    start = m["injection_start_after_mix_s"]
    if start is None or m["cement_product"] is None:
        return 0.0
    try:
        liquid_s = liquid_phase_s(scenario, m["cement_product"])
    except KeyError:  # a product this version does not know
        return 0.0
    return max(0.0, min(float(start), liquid_s))


def liquid_phase_s(scenario, product_id: str) -> float:
    """How long ``product_id`` stays liquid after mixing at the case's room temperature (s)."""
    product = CementProduct.load(product_id)
    return product.liquid_end_s / product.clock_rate(scenario.cement.room_temperature_c)


def expert_wait_s(scenario) -> float:
    """The same wait for the expert reference: the case's own cement's liquid phase (s)."""
    return liquid_phase_s(scenario, scenario.cement.product)


def technique_sentences(m: Mapping, r, expert) -> list[str]:
    """What the images were not used for, and when, in the words a resident reads."""
    out = []
    blind = m["max_blind_advance_mm"]
    if blind > r["blind_full_mm"]:
        needle = _which(m, "max_blind_advance_from_s", "needle")
        out.append(
            f"You pushed {needle} {blind:.0f} mm through bone without a fresh image, from "
            f"{clock(m['max_blind_advance_from_s'])} to {clock(m['max_blind_advance_until_s'])}"
            f"; advance at most {r['blind_full_mm']:g} mm through the pedicle and body between "
            "images."
        )
    if m["medial_wall_checked"] is False:
        tip = _which(m, "passed_wall_s", "tip").capitalize()
        out.append(
            f"{tip} passed the posterior wall of the body at {clock(m['passed_wall_s'])} "
            "with no AP image taken since the needle entered bone"
            + (f" at {clock(m['entered_bone_s'])}" if m["entered_bone_s"] is not None else "")
            + ": check on the AP that the tip is still lateral to the medial pedicle border "
            "before it reaches the wall on the lateral."
        )
    for name, f in view_factors(m, r, expert).items():
        if f < 1.0:
            key = dict(VIEWS)[name]
            out.append(
                f"You took {m[key]} {name} shot{'s' * (m[key] != 1)}; an expert takes about "
                f"{expert.fluoro_shots / 2:.0f}: steer with both views."
            )
    if m["injected_ml"] > 0 and m["max_unwatched_injection_ml"] > r["watch_full_ml"]:
        out.append(
            f"Up to {m['max_unwatched_injection_ml']:.1f} ml went in between two images: "
            f"screen the lateral every {r['watch_full_ml']:g} ml or so, so that a leak is "
            "seen while it is small."
        )
    after = seen_after_ml(m, r)
    if after is not None and after > r["reaction_full_ml"]:
        out.append(
            f"You injected {after:.2f} ml more after a leak showed on the image, and the leak "
            "grew: stop the injection when cement leaves the body, and wait for it to thicken "
            "before going on."
        )
    return out


def _which(m: Mapping, key: str, noun: str) -> str:
    """ "the needle" (``noun``), or with two needles "the left needle": the one whose ``key``
    the attempt's metric took (release 0.8.0 on; ``needles``)."""
    needles = m.get("needles") or {}
    if len(needles) > 1:
        for side, own in needles.items():
            if own.get(key) == m[key]:
                return f"the {side} {noun}"
    return f"the {noun}"
