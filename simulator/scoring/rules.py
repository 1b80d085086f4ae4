"""Metrics → score (the log's ``score``; rules in ``docs/SCORING.md``).

The rubric is ``assets/rubric.toml`` with the scenario's ``[scoring]`` overrides on top. Four
components earn points — placement, cement, radiation and efficiency — and critical errors fail
the attempt and cap its total. Each rule is one small function of the metrics (and, for the
feedback, of the events) so that the same code scores a live attempt and a replayed log.
``docs/SCORING.md`` explains every rule in the words a resident reads.

All inputs are the JSON forms (``Procedure.metrics()``, ``Event.as_json()``), so a log can be
re-scored without re-simulating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from simulator.cement.rheology import phase_label
from simulator.rubric import Rubric, rubric_for
from simulator.scoring.feedback import clock, feedback_sentences, injection_phase
from simulator.scoring.technique import (
    expert_wait_s,
    guidance_factor,
    ramp,
    required_wait_s,
    technique_critical,
    technique_points,
)

__all__ = ["Component", "critical_errors", "ramp", "score_attempt"]


@dataclass
class Component:
    """One component's points (0..max) and the notes that explain them."""

    name: str
    max: float
    points: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The log form."""
        return {"points": round(self.points, 2), "max": round(self.max, 2), "notes": self.notes}


# ----- critical errors --------------------------------------------------------------------------


def critical_errors(m: Mapping, r: Rubric) -> list[str]:
    """Names of the critical errors: ``needle_in_canal``, ``cement_in_canal``,
    ``anterior_cortex_perforation`` (deeper than ``anterior_cortex_limit_mm``), ``venous_leak``
    (more than ``venous_leak_limit_ml``) and, in rubric 2, ``blind_advance`` (beyond
    ``blind_advance_limit_mm``)."""
    out = []
    deepest: dict[str, float] = {}
    for b in m["breaches"]:  # a kind may recur (withdrawn behind the wall, then again)
        deepest[b["kind"]] = max(deepest.get(b["kind"], 0.0), b["depth_mm"])
    if "canal" in deepest or m["tip_zone"] == "canal":
        out.append("needle_in_canal")
    if m["leak_ml"]["canal"] > r["canal_leak_limit_ml"]:
        out.append("cement_in_canal")
    if deepest.get("anterior_cortex", 0.0) > r["anterior_cortex_limit_mm"]:
        out.append("anterior_cortex_perforation")
    if m["leak_ml"]["vein"] > r["venous_leak_limit_ml"]:
        out.append("venous_leak")
    if r.version >= 2:
        out += technique_critical(m, r)
    return out


# ----- components -------------------------------------------------------------------------------


def placement(m: Mapping, r: Rubric, scenario=None) -> Component:
    """Distance of the tip to the planned target, the tip's zone, and a clean path (with two
    needles: the worse needle's distance and zone, both needles' breaches); in a bipedicular
    ``scenario``, a needle in one pedicle only loses ``unipedicular_share`` (rubric 3)."""
    c = Component(name="placement", max=r["placement_points"])
    if m["needle_tip_mm"] is None:
        c.notes.append("the needle was never placed")
        return c
    d = m["tip_to_target_mm"]
    f_target = ramp(d, r["target_full_mm"], r["target_zero_mm"])
    zone = m["tip_zone"]
    f_zone = r.table("zone_scores").get(zone, 0.0)
    n_breach = len(m["breaches"])
    f_clean = max(0.0, 1.0 - n_breach * r["breach_penalty_share"])
    c.points = c.max * (
        r["target_share"] * f_target + r["zone_share"] * f_zone + r["breach_share"] * f_clean
    )
    c.notes.append(f"tip {d:.1f} mm from the target ({zone.replace('_', ' ')})")
    if n_breach:
        c.notes.append(f"{n_breach} breach{'es' if n_breach > 1 else ''}")
    else:
        c.notes.append("no breach")
    if one_pedicle_of_two(m, scenario) and r["unipedicular_share"] > 0:
        c.points *= 1.0 - r["unipedicular_share"]
        c.notes.append("one pedicle of a bipedicular case")
    return c


def one_pedicle_of_two(m: Mapping, scenario) -> bool:
    """True when a bipedicular ``scenario`` was done through one pedicle (one needle placed)."""
    if scenario is None or scenario.targets.approach != "bipedicular":
        return False
    return m["needle_tip_mm"] is not None and len(m.get("needles", {})) < 2


def cement(m: Mapping, r: Rubric, scenario, *, phase_labels: bool = True) -> Component:
    """Volume in the target range, distribution (midline, both endplates), leaks, and the
    cement's phase when the injection began (named by its label, or by its id as releases
    ≤ 0.4.0 wrote it when ``phase_labels`` is False)."""
    c = Component(name="cement", max=r["cement_points"])
    fill_ml_min, fill_ml_max = scenario.targets.fill_ml_min, scenario.targets.fill_ml_max
    body = m["in_body_ml"]
    if m["injected_ml"] <= 0.0:
        c.notes.append("no cement injected")
        return c
    if body < fill_ml_min:
        f_vol = body / fill_ml_min
    else:
        f_vol = ramp(body, fill_ml_max, fill_ml_max + r["overfill_zero_ml"])
    w = r.table("distribution_weights")
    f_dist = w["crosses_midline"] * bool(m["crosses_midline"]) + w["per_endplate"] * sum(
        bool(v) for v in m["endplate_contact"].values()
    )
    used = 0.0
    for site, scale_key in r.table("leak_scales").items():
        ml = m["leak_ml"][site]
        if ml >= r["leak_visible_ml"]:
            used += ml / max(r[scale_key], 1e-9)
    f_leak = max(0.0, 1.0 - used)
    phase = injection_phase(scenario, m)
    f_timing = 1.0 if phase in r.table("timing")["good_phases"] else 0.0
    c.points = c.max * (
        r["volume_share"] * f_vol
        + r["distribution_share"] * f_dist
        + r["leak_share"] * f_leak
        + r["timing_share"] * f_timing
    )
    c.notes.append(f"{body:.2f} ml in the body (target {fill_ml_min:g}–{fill_ml_max:g} ml)")
    spread = ["crosses the midline" if m["crosses_midline"] else "stays on one side"]
    for plate, touched in m["endplate_contact"].items():
        spread.append(f"{'reaches' if touched else 'misses'} the {plate} endplate")
    c.notes.append(", ".join(spread))
    visible = r["leak_visible_ml"]
    leaks = [f"{s.replace('_', ' ')} {v:.2f} ml" for s, v in m["leak_ml"].items() if v >= visible]
    c.notes.append("leaks: " + ", ".join(leaks) if leaks else "no visible leak")
    if phase is not None:
        c.notes.append(
            f"injection began in the {phase_label(phase) if phase_labels else phase} phase"
        )
    return c


NOT_COMPLETED = "not scored: no cement reached the body"


def completed(m: Mapping) -> bool:
    """Whether the procedure was carried through: cement delivered into the body. Radiation
    and time are only scored for a completed procedure (otherwise doing nothing would earn
    them)."""
    return m["needle_tip_mm"] is not None and m["in_body_ml"] > 0.0


def radiation(m: Mapping, r: Rubric, expert) -> Component:
    """Shots and fluoroscopy time, each half the points, against the expert's (only for a
    completed procedure)."""
    c = Component(name="radiation", max=r["radiation_points"])
    if not completed(m):
        c.notes.append(NOT_COMPLETED)
        return c
    z = r["radiation_zero_ratio"]
    f_shots = ramp(m["fluoro_shots"], expert.fluoro_shots, z * expert.fluoro_shots)
    f_time = ramp(m["fluoro_time_s"], expert.fluoro_time_s, z * expert.fluoro_time_s)
    w = r.table("radiation_weights")
    c.points = c.max * (w["shots"] * f_shots + w["time"] * f_time)
    c.notes.append(f"{m['fluoro_shots']} shots (expert {expert.fluoro_shots})")
    _guided(c, m, r)
    c.notes.append(f"{m['fluoro_time_s']:.1f} s fluoroscopy (expert {expert.fluoro_time_s:g} s)")
    return c


def _guided(c: Component, m: Mapping, r: Rubric) -> None:
    """Rubric 2: scale ``c``'s points by the guidance factor (skipped images never pay)."""
    if r.version < 2:
        return
    f = guidance_factor(m, r)
    c.points *= f
    if f < 1.0:
        c.notes.append(f"× {f:.2f} for the needle advanced without images")


def efficiency(m: Mapping, r: Rubric, scenario) -> Component:
    """Procedure time against the expert's (only for a completed procedure); in rubric 2
    without the wait for the cement (both times) and scaled by the guidance factor."""
    c = Component(name="efficiency", max=r["efficiency_points"])
    if not completed(m):
        c.notes.append(NOT_COMPLETED)
        return c
    ref, took = scenario.expert.procedure_time_s, m["procedure_time_s"]
    if r.version >= 2:
        waited = required_wait_s(scenario, m)
        ref, took = max(ref - expert_wait_s(scenario), 1.0), took - waited
    c.points = c.max * ramp(took, ref, r["efficiency_zero_ratio"] * ref)
    c.notes.append(f"{clock(took)} (expert {clock(ref)})")
    if r.version >= 2:
        c.notes[-1] += " without the cement's wait"
        _guided(c, m, r)
    return c


def technique(m: Mapping, r: Rubric, expert) -> Component:
    """Rubric 2: how the images guided the needle and the injection
    (:mod:`simulator.scoring.technique`)."""
    c = Component(name="technique", max=r["technique_points"])
    c.points, c.notes = technique_points(m, r, expert)
    return c


# ----- the score --------------------------------------------------------------------------------


def score_attempt(
    scenario,
    metrics: Mapping,
    events: Sequence[Mapping],
    *,
    phase_labels: bool = True,
    rubric_version: int | None = None,
) -> dict:
    """The log's ``score`` for one attempt's metrics and events (JSON forms).
    ``phase_labels``: the release's ``ModelOptions.phase_labels`` (False: a note names the
    cement phase by its id, as releases ≤ 0.4.0 wrote it, so that their logs verify);
    ``rubric_version``: the release's ``ModelOptions.rubric_version`` (1: no technique rules,
    as releases before 0.7.0 scored; 2: one needle in any case, as 0.7.0 scored; None:
    today's).

    ``total`` is 0–100: the components' points scaled so that their maxima sum to 100, capped at
    ``critical_cap`` when there is a critical error. ``passed`` needs no critical error and a
    total at or above ``pass_mark``."""
    r = rubric_for(scenario, version=rubric_version)
    comps = [
        placement(metrics, r, scenario),
        cement(metrics, r, scenario, phase_labels=phase_labels),
        radiation(metrics, r, scenario.expert),
        efficiency(metrics, r, scenario),
    ]
    if r.version >= 2:
        comps.insert(2, technique(metrics, r, scenario.expert))
    most = sum(c.max for c in comps)
    total = 100.0 * sum(c.points for c in comps) / most if most > 0 else 0.0
    critical = critical_errors(metrics, r)
    if critical:
        total = min(total, r["critical_cap"])
    total = round(min(100.0, max(0.0, total)), 2)
    return {
        "total": total,
        "passed": not critical and total >= r["pass_mark"],
        "critical": critical,
        "components": {c.name: c.as_json() for c in comps},
        "feedback": feedback_sentences(scenario, metrics, events, critical, r),
        "rubric_version": r.version,
    }
