"""The cement metrics of an attempt (``assets/metrics.toml``, source ``cement``)."""

from __future__ import annotations

from simulator.cement.flow import SITES
from simulator.cement.visible import embolised_metric


def cement_metrics(c) -> dict:
    """The cement metrics of the :class:`~simulator.cement.injection.CementInjection` ``c``."""
    if c.product is None:
        return {
            "cement_product": None,
            "injected_ml": 0.0,
            "in_body_ml": 0.0,
            "in_cannula_ml": 0.0,
            "fill_fraction": 0.0,
            "leak_ml": dict.fromkeys(SITES[1:], 0.0),
            **embolised_metric(c),
            "injection_start_after_mix_s": None,
            "max_injection_pressure_kpa": 0.0,
            "crosses_midline": False,
            "endplate_contact": {"superior": False, "inferior": False},
        }
    c.ensure_flow()  # mixed, never injected: the empty grid's figures
    g = c.grid
    body = (g.site == SITES.index("none")) & (c.flow.fill > 0.5)
    x = g.centre_mm[body, 0]
    body_ml = c.phantom.landmarks.cancellous_ml
    start = None if c.first_inject_s is None else c.first_inject_s - c.mixed_at_s
    return {
        "cement_product": c.product.id,
        "injection_start_after_mix_s": None if start is None else round(start, 3),
        "injected_ml": round(c.injected_m3 * 1e6, 6),
        "in_body_ml": round(c.in_body_ml(), 6),
        "in_cannula_ml": round((c.cannulas_m3() + c._pending_m3) * 1e6, 6),
        "fill_fraction": round(c.in_body_ml() / body_ml, 6),
        "leak_ml": {s: round(v, 6) for s, v in c.leak_ml().items()},
        **embolised_metric(c),
        "max_injection_pressure_kpa": round(c.max_pressure_pa / 1e3, 3),
        "crosses_midline": bool((x < -2.0).any() and (x > 2.0).any()),
        "endplate_contact": {
            "superior": bool(((g.endplate > 0) & (c.flow.fill > 0.5)).any()),
            "inferior": bool(((g.endplate < 0) & (c.flow.fill > 0.5)).any()),
        },
    }


def gauges(c, t_s: float) -> dict | None:
    """The trainee's gauges of the cement model ``c`` (a ``CementInjection``) at ``t_s`` (s),
    None before mixing: the phase id, the next one (None once set) and s until it; s since
    mixing; kPa; ml injected = in cannula + in transit (out of it, not yet in the bone) +
    delivered, and delivered = in body + leaked, which only the image tells (the HUD shows
    those two with training hints only)."""
    if c.product is None or c.mixed_at_s is None:
        return None
    since = t_s - c.mixed_at_s
    clock = c.product.phase_clock(since, c.temperature_c)
    delivered = max(c.injected_m3 - c.cannulas_m3() - c._pending_m3, 0.0)
    return {
        "name": c.product.name,
        "phase": clock.phase,
        "next_phase": clock.next_phase,
        "next_phase_in_s": clock.next_in_s,
        "since_mix_s": since,
        "injected_ml": c.injected_m3 * 1e6,
        "in_cannula_ml": c.cannulas_m3() * 1e6,
        "in_transit_ml": c._pending_m3 * 1e6,
        "delivered_ml": delivered * 1e6,
        "in_body_ml": c.in_body_ml(),
        "leaked_ml": sum(c.leak_ml().values()),
        "injecting": bool(c.injecting),
        "pressure_kpa": c.pressure_pa / 1e3 if c.injecting else 0.0,
        "limit_kpa": c.limit_pa / 1e3,
    }


def stall_events(c, rate: float) -> list[tuple[str, dict]]:
    """The stall events of the model ``c`` (a ``CementInjection``, whose ``stalled`` it
    updates): ``stall`` when the achievable ``rate`` (m³/s) falls below its STALL_FRACTION of
    the requested one, ``stall_cleared`` when it is back above."""
    if rate < c.STALL_FRACTION * c.rate_req_m3_s and not c.stalled:
        c.stalled = True
        return [
            (
                "stall",
                {
                    "pressure_kpa": round(c.limit_pa / 1e3, 1),
                    "rate_ml_min": round(rate * 6e7, 4),
                },
            )
        ]
    if rate >= c.STALL_FRACTION * c.rate_req_m3_s and c.stalled:
        c.stalled = False
        return [("stall_cleared", {})]
    return []
