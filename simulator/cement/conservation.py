"""The cement balance, checked after every flow step (in the spirit of py-pde's trackers).

Every cubic metre that left the syringe is somewhere the model books it: still in the cannula
(or in transit out of it), in the flow grid (per cell: fill × pore volume), carried out of the
grid through its boundary (per leak site), or in the needle tract outside the grid (tip outside
the body). :func:`check_balance` raises :class:`CementBalanceError` when these do not add up
to the injected volume within ``TOLERANCE`` (relative), so that a loss hidden by clipping the
fill, a double count or a forgotten term cannot pass silently.
"""

from __future__ import annotations

TOLERANCE = 1e-9
"""Relative tolerance of the balance (round-off of ≈ 10⁴ flow steps is ≈ 1e-13)."""


class CementBalanceError(RuntimeError):
    """Internal error: cement was created or lost by the model (not a user error)."""

    def __init__(self, t_s: float, injected_m3: float, terms_m3: dict[str, float]):
        self.t_s = t_s
        self.injected_m3 = injected_m3
        self.terms_m3 = dict(terms_m3)
        self.imbalance_m3 = injected_m3 - sum(terms_m3.values())
        listed = ", ".join(f"{k} {v * 1e6:.9g} ml" for k, v in terms_m3.items())
        super().__init__(
            f"cement balance broken at t = {t_s:.3f} s: injected {injected_m3 * 1e6:.9g} ml, "
            f"booked {sum(terms_m3.values()) * 1e6:.9g} ml ({listed}); imbalance "
            f"{self.imbalance_m3 * 1e6:.3g} ml "
            f"({relative_imbalance(injected_m3, terms_m3):.3g} relative, tolerance {TOLERANCE:g})"
        )


def relative_imbalance(injected_m3: float, terms_m3: dict[str, float]) -> float:
    """|injected − Σ terms| / injected (dimensionless; absolute when nothing was injected)."""
    gap = abs(injected_m3 - sum(terms_m3.values()))
    return gap / injected_m3 if injected_m3 > 0 else gap


def check_balance(t_s: float, injected_m3: float, terms_m3: dict[str, float]) -> float:
    """Raise :class:`CementBalanceError` unless the ``terms_m3`` (m³: where the cement is)
    add up to ``injected_m3`` (m³) within :data:`TOLERANCE`; returns the relative
    imbalance. ``t_s``: simulated time of the check (s), named in the error."""
    rel = relative_imbalance(injected_m3, terms_m3)
    if rel > TOLERANCE:
        raise CementBalanceError(t_s, injected_m3, terms_m3)
    return rel


def terms_m3(c) -> dict[str, float]:
    """Where the cement injected into ``c`` (a ``CementInjection``) is (m³): cannula (with
    what is in transit out of it), the grid's cells, out of the grid's boundary per leak site,
    the tract outside it (and, 0.5.0 on, the vein network's share)."""
    from simulator.cement.flow import SITES

    terms = {"cannula": c.in_cannula_m3, "in_transit": c._pending_m3}
    if c._other_cannulas:  # two needles: the cannula the syringe left keeps its cement
        terms["other_cannula"] = sum(c._other_cannulas.values())
    terms["grid_cells"] = float(c.flow.cement_m3().sum())
    for k, site in enumerate(SITES):
        terms[f"exited_{site}"] = float(c.flow.exited_m3[k])
    terms["tract_outside_grid"] = c.tract_m3
    if c.visible is not None:  # the grid's vein exits went on into the network
        del terms["exited_vein"]
        terms.update(c.visible.balance_terms_m3())
    if not c.flow.conservative:
        # the 0.1.0 model clipped overfull cells: that loss is booked so that logs of that
        # release re-simulate; the conservative model has no such term (a clip is an error)
        terms["removed_by_clipping"] = c.flow.clipped_m3
    return terms
