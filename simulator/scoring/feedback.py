"""Feedback sentences: what happened in an attempt, when, and on which view, in words a
resident understands (the ``feedback`` of the log's ``score``).

The sentences are built from the metrics and the events of the log (JSON forms), so that a
replayed or re-scored log gets the same words. Critical errors come first, then placement,
cement, radiation and time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simulator.cement.rheology import CementProduct, phase_label
from simulator.scoring.technique import expert_wait_s, required_wait_s, technique_sentences
from simulator.units import clock

BREACH_WORDS = {
    "medial_pedicle_wall": ("the medial pedicle wall", "AP"),
    "lateral_pedicle_wall": ("the lateral pedicle wall", "AP"),
    "superior_pedicle_wall": ("the superior pedicle wall", "lateral"),
    "inferior_pedicle_wall": ("the inferior pedicle wall", "lateral"),
    "canal": ("into the spinal canal", "AP and lateral"),
    "neural_foramen": ("into the neural foramen", "lateral"),
    "anterior_cortex": ("the anterior cortex of the body", "lateral"),
    "lateral_body_wall": ("the lateral wall of the body", "AP"),
    "disc": ("the endplate into the disc", "lateral"),
    "great_vessel": ("into a great vessel in front of the spine", "lateral"),
}
"""Breach kind → (words, the view on which it shows)."""

LEAK_WORDS = {
    "canal": ("into the spinal canal", "lateral view, behind the posterior wall line"),
    "disc": ("into the disc", "lateral view, beyond the endplate"),
    "vein": ("into a vein", "lateral and AP views, as a thin line leaving the bolus"),
    "paravertebral": ("beside the vertebra", "AP view, outside the body's outline"),
    "needle_tract": ("back along the needle tract", "lateral view, along the cannula"),
}
"""Leak site → (words, where it shows)."""


def _last_image_before(events: Sequence[Mapping], t_s: float, views: tuple[str, ...]) -> str:
    shots = [
        e
        for e in events
        if e["kind"] == "fluoro" and e["t_s"] <= t_s + 1e-9 and e["details"]["view"] in views
    ]
    if not shots:
        return f"You took no {' or '.join(views)} image before it."
    last = shots[-1]
    name = "AP" if last["details"]["view"] == "ap" else "lateral"
    return f"Your last {name} image before it was at {clock(last['t_s'])}."


def _view_names(view_words: str) -> tuple[str, ...]:
    out = []
    if "AP" in view_words:
        out.append("ap")
    if "lateral" in view_words:
        out.append("lateral")
    return tuple(out)


def breach_sentences(metrics: Mapping, events: Sequence[Mapping]) -> list[str]:
    """One sentence per moment the needle broke through something (breaches at the same
    moment, e.g. the medial wall and the canal, are told together)."""
    depth = {(b["kind"], round(b["t_s"], 3)): b["depth_mm"] for b in metrics["breaches"]}
    moments: dict[float, list[Mapping]] = {}
    for e in events:
        if e["kind"] == "breach":
            moments.setdefault(round(e["t_s"], 3), []).append(e["details"])
    out = []
    for t, group in moments.items():
        words = [BREACH_WORDS.get(d["kind"], (d["kind"], "lateral")) for d in group]
        what = " and ".join(w for w, _ in words)
        deepest = max(depth.get((d["kind"], t), 0.0) for d in group)
        behind = any(d.get("behind_posterior_wall") for d in group)
        when = ", before its tip had passed the posterior wall of the body" if behind else ""
        view = words[0][1]
        needle = f"the {group[0]['side']} needle" if "side" in group[0] else "the needle"
        sentence = (
            f"At {clock(t)} {needle} went through {what}, {deepest:.1f} mm deep{when}. "
            f"This shows on the {view} view. " + _last_image_before(events, t, _view_names(view))
        )
        out.append(sentence)
    return out


LEAK_SUBJECTS = {
    "canal": "Cement reached the spinal canal",
    "disc": "Cement entered the disc",
    "vein": "A vein filled",
    "paravertebral": "Cement leaked beside the vertebra",
    "needle_tract": "Cement ran back along the needle tract",
}
"""Leak site → the start of its sentence (release 0.5.0 logs on)."""


def leak_sentences(metrics: Mapping, events: Sequence[Mapping]) -> list[str]:
    """One sentence per leak site that reached the visible threshold: with release 0.5.0's
    metrics (``leak_first_seen_s``), when it filled and on which image it first showed, or
    why it never did; before, where it would show."""
    if "leak_first_seen_s" in metrics:
        return seen_leak_sentences(metrics, events)
    starts = [e["t_s"] for e in events if e["kind"] == "inject"]
    out = []
    for e in events:
        if e["kind"] != "leak":
            continue
        site = e["details"]["site"]
        words, where = LEAK_WORDS.get(site, (site, "lateral"))
        total = metrics["leak_ml"].get(site, 0.0)
        after = [s for s in starts if s <= e["t_s"]]
        since = f", {e['t_s'] - after[-1]:.0f} s into that injection" if after else ""
        shots = [
            x
            for x in events
            if x["kind"] == "fluoro" and after and after[-1] <= x["t_s"] <= e["t_s"]
        ]
        looked = (
            f"You took {len(shots)} image{'s' if len(shots) != 1 else ''} between the start of "
            "the injection and the leak."
            if after
            else ""
        )
        out.append(
            f"Cement leaked {words} at {clock(e['t_s'])}{since}; {total:.2f} ml in the end. "
            f"It shows on the {where}. {looked}".rstrip()
        )
    return out


def seen_leak_sentences(metrics: Mapping, events: Sequence[Mapping]) -> list[str]:
    """Per leak site: when it filled (its ``leak`` event, at 0.02 ml), how long into that
    injection, and the first image it showed on with the ml pushed after that image
    (``leak_first_seen_s``, ``injected_after_leak_seen_ml``), or that it was never seen and
    why: no image after it, or none that showed it. A site that showed on an image without
    reaching a ``leak`` event gets a sentence too."""
    starts = [e["t_s"] for e in events if e["kind"] == "inject"]
    seen_s, after_ml = metrics["leak_first_seen_s"], metrics["injected_after_leak_seen_ml"]
    out, told = [], set()
    for e in events:
        site = e["details"].get("site") if e["kind"] == "leak" else None
        if site is None or site in told:
            continue
        told.add(site)
        t = e["t_s"]
        begun = [s for s in starts if s <= t]
        since = f", {t - begun[-1]:.0f} s into that injection," if begun else ""
        total = metrics["leak_ml"].get(site, 0.0)
        subject = LEAK_SUBJECTS.get(site, f"Cement leaked into {site.replace('_', ' ')}")
        seen = seen_s.get(site)
        if seen is not None:
            shown = (
                f"first showed on your {_views_at(events, seen)} image at {clock(seen)}"
                if seen >= t - 0.5
                else f"had already shown on your {_views_at(events, seen)} image at "
                f"{clock(seen)}, while smaller"
            )
            out.append(
                f"{subject} at {clock(t)}{since} and {shown}; {_pushed(after_ml.get(site))} "
                f"({total:.2f} ml leaked there in the end)."
            )
            continue
        later = [x for x in events if x["kind"] == "fluoro" and x["t_s"] >= t - 1e-9]
        where = LEAK_WORDS.get(site, (site, "lateral view"))[1]
        if not later:
            why = "it was not seen because you took no image after it"
        else:
            n = len(later)
            why = (
                f"it did not show on the {n} image{'s' if n != 1 else ''} you took after it "
                "(too little cement, hidden in the bolus's shadow or outside the field)"
            )
        out.append(
            f"{subject} at {clock(t)}{since} but {why}; {total:.2f} ml leaked there in the "
            f"end. It would show on the {where}."
        )
    for site, seen in seen_s.items():
        if seen is not None and site not in told:
            words = LEAK_WORDS.get(site, (site.replace("_", " "), ""))[0]
            out.append(
                f"A little cement leaked {words} and showed on your {_views_at(events, seen)} "
                f"image at {clock(seen)}; {metrics['leak_ml'].get(site, 0.0):.2f} ml in the end."
            )
    return out


def _views_at(events: Sequence[Mapping], t_s: float) -> str:
    """The views of the exposures at ``t_s`` (s): ``lateral``, ``AP`` or ``AP and lateral``."""
    views = {
        x["details"]["view"] for x in events if x["kind"] == "fluoro" and abs(x["t_s"] - t_s) < 1e-6
    }
    names = sorted("AP" if v == "ap" else v for v in views)
    return " and ".join(names) if names else "last"


def _pushed(ml: float | None) -> str:
    """What was injected after the image (ml) in words."""
    if ml is None or ml < 0.005:
        return "you pushed no more after it"
    amount = f"{ml:.1f}" if ml >= 0.1 else f"{ml:.2f}"
    return f"you pushed {amount} ml more after it"


ALIGNMENT_TOLERANCE_DEG = 2.0
"""An AP or lateral this far (degrees) or more from the true one is told in the feedback."""


def alignment_sentences(metrics: Mapping) -> list[str]:
    """How true the frontal and lateral images were on which the needle was advanced to the
    posterior wall, and whether an en-face view was used (release 0.3.0 logs on)."""
    if "ap_alignment_error_deg" not in metrics or metrics["needle_tip_mm"] is None:
        return []
    out = []
    tol = ALIGNMENT_TOLERANCE_DEG
    if metrics["ap_alignment_error_deg"] is None:
        out.append(
            "You took no AP image before the tip passed the posterior wall: the medial pedicle "
            "wall can only be judged on one."
        )
    else:
        rot, tilt = metrics["ap_rotation_error_deg"], metrics["ap_tilt_error_deg"]
        if rot >= tol:
            out.append(
                "On your last AP image before the tip passed the posterior wall, the spinous "
                "process was not midway between the pedicles: the AP view was rotated "
                f"{rot:.0f}° from the treated level's true AP, so the pedicles' medial walls "
                "were not where they seemed. Turn the C-arm until the spinous process sits "
                "midway."
            )
        if tilt >= tol:
            out.append(
                f"The AP view was tilted {tilt:.0f}° from the treated level's endplates, which "
                "showed as ellipses instead of single lines; tilt the C-arm until they are lines."
            )
    lat = metrics["lateral_alignment_error_deg"]
    if lat is None:
        out.append("You took no lateral image before the tip passed the posterior wall.")
    elif lat >= tol:
        out.append(
            f"Your lateral view was {lat:.0f}° from a true lateral: the two pedicles and the "
            "posterior wall did not superimpose, so the depth of the tip was uncertain."
        )
    if metrics["en_face_used"]:
        out.append("You used an en-face view down the pedicle before entering the bone.")
    return out


def approach_sentences(scenario, metrics: Mapping, rubric) -> list[str]:
    """A bipedicular case: what the rubric made of the needles placed (rubric 3; before it,
    the one needle that the simulator had)."""
    if rubric.version < 3:
        return [
            "This case calls for a bipedicular approach; the simulator has one needle, so the "
            "side you chose is scored as the whole procedure."
        ]
    if metrics["needle_tip_mm"] is None or len(metrics.get("needles", {})) >= 2:
        return []
    lost = rubric["unipedicular_share"] * rubric["placement_points"]
    return [
        f"This case calls for a bipedicular approach: a needle through each pedicle, so that "
        f"the cement from the two sides meets across the midline. You placed only the "
        f"{metrics['needle_side']} needle, and the cement could fill one side of the body from "
        f"it: {lost:g} of the {rubric['placement_points']:g} placement points are lost."
    ]


def placement_sentence(metrics: Mapping) -> str:
    """Where the tip ended (with two needles, each)."""
    needles = metrics.get("needles") or {}
    if len(needles) > 1:
        return " ".join(
            _tip_sentence(f"The {side} tip", own["tip_zone"], own["tip_to_target_mm"])
            for side, own in needles.items()
        )
    if metrics["needle_tip_mm"] is None:
        return "The needle was never placed."
    return _tip_sentence("The tip", metrics["tip_zone"], metrics["tip_to_target_mm"])


def _tip_sentence(tip: str, zone: str, d: float) -> str:
    if zone == "anterior_third":
        return f"{tip} ended in the anterior third of the body, {d:.1f} mm from the target."
    if zone == "middle_third":
        return (
            f"{tip} ended in the middle third, {d:.1f} mm from the target; the anterior third "
            "lets cement fill the front of the body, where the fracture is."
        )
    if zone == "posterior_third":
        return (
            f"{tip} ended in the posterior third, {d:.1f} mm from the target: cement injected "
            "there runs toward the posterior wall and the canal."
        )
    where = zone.replace("_", " ")
    return f"{tip} ended outside the vertebral body ({where}), {d:.1f} mm from the target."


def injection_phase(scenario, metrics: Mapping) -> str | None:
    """The cement's phase id (``liquid``, ``paste``, ``working``, ``set``; ``phase_label``
    names it) when the first injection began, or None without an injection."""
    start = metrics["injection_start_after_mix_s"]
    if start is None or metrics["cement_product"] is None:
        return None
    try:
        product = CementProduct.load(metrics["cement_product"])
    except KeyError:  # a product this version does not know (an edited or foreign log)
        return None
    return product.phase(start, scenario.cement.room_temperature_c)


def cement_sentences(scenario, metrics: Mapping) -> list[str]:
    """Timing, volume and distribution of the cement."""
    if metrics["injected_ml"] <= 0.0:
        return ["No cement was injected."]
    out = []
    start = metrics["injection_start_after_mix_s"]
    phase = injection_phase(scenario, metrics)
    if start is not None and phase is not None:
        word = phase_label(phase)
        advice = {
            "liquid": f"while it was still {word}; {word} cement runs into veins and cracks",
            "paste": f"in its {word} phase, the safe time to inject",
            "working": f"late in its {word} time, when the pressure needed rises fast",
            "set": f"after it had {word}",
        }[phase]
        out.append(f"You began injecting {start:.0f} s after mixing, {advice}.")
    lo, hi = scenario.targets.fill_ml_min, scenario.targets.fill_ml_max
    body = metrics["in_body_ml"]
    if body < lo:
        judged = f"below the target of {lo:g}–{hi:g} ml"
    elif body > hi:
        judged = f"above the target of {lo:g}–{hi:g} ml"
    else:
        judged = f"within the target of {lo:g}–{hi:g} ml"
    out.append(f"{body:.2f} ml of cement ended in the body, {judged}.")
    reach = []
    if metrics["crosses_midline"]:
        reach.append("crossed the midline")
    missed = [p for p, v in metrics["endplate_contact"].items() if not v]
    touched = [p for p, v in metrics["endplate_contact"].items() if v]
    if touched:
        reach.append(
            "reached the " + " and ".join(touched) + " endplate" + "s" * (len(touched) > 1)
        )
    if reach:
        s = "The cement " + " and ".join(reach)
        if missed:
            s += f" but not the {' or '.join(missed)} endplate"
        out.append(s + ".")
    else:
        out.append("The cement stayed on one side and touched neither endplate.")
    return out


def radiation_sentence(metrics: Mapping, expert) -> str:
    """Shots and fluoroscopy time against the expert's."""
    s = (
        f"You took {metrics['fluoro_shots']} shot{'' if metrics['fluoro_shots'] == 1 else 's'} "
        f"({metrics['fluoro_shots_lateral']} lateral, "
        f"{metrics['fluoro_shots_ap']} AP) and {metrics['fluoro_time_s']:.1f} s of fluoroscopy; "
        f"an expert needs about {expert.fluoro_shots} shots and {expert.fluoro_time_s:g} s."
    )
    return s


def feedback_sentences(
    scenario, metrics: Mapping, events: Sequence[Mapping], critical: list[str], rubric
) -> list[str]:
    """The feedback of one attempt, most important first."""
    out = []
    if critical:
        names = ", ".join(c.replace("_", " ") for c in critical)
        out.append(f"The attempt fails on a critical error: {names}.")
    if scenario.targets.approach == "bipedicular":
        out += approach_sentences(scenario, metrics, rubric)
    if rubric.version >= 2:  # what the images were not used for, first
        out += technique_sentences(metrics, rubric, scenario.expert)
    out += breach_sentences(metrics, events)
    out += leak_sentences(metrics, events)
    out += alignment_sentences(metrics)
    out.append(placement_sentence(metrics))
    out += cement_sentences(scenario, metrics)
    if metrics["needle_tip_mm"] is None or metrics["in_body_ml"] <= 0.0:
        out.append(
            "No cement reached the body, so radiation and time were not scored: they count "
            "only for a completed procedure."
        )
    out.append(radiation_sentence(metrics, scenario.expert))
    out.append(time_sentence(scenario, metrics, rubric))
    return out


def time_sentence(scenario, metrics: Mapping, rubric) -> str:
    """The procedure's time against the expert's (rubric 2: without the cement's wait)."""
    took, ref = metrics["procedure_time_s"], scenario.expert.procedure_time_s
    s = f"The procedure took {clock(took)}; an expert takes about {clock(ref)}."
    if rubric.version >= 2:
        waited = required_wait_s(scenario, metrics)
        if waited > 0:
            s += (
                f" The {waited:.0f} s you waited for the cement to leave its liquid phase "
                f"are not counted against you (nor the expert's {expert_wait_s(scenario):.0f} s)."
            )
    return s
