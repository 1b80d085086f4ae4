"""The cement model the procedure drives (its interface, :class:`CementModel`, and the image's
:class:`CementFill` are in ``model.py`` and importable from here).

:class:`CementInjection` is the model: curing rheology (``rheology.py``), cannula pressure
and the syringe's limit, Darcy flow in the phantom (``flow.py``, ``solver.py``) and leaks by
site; the cement balance is checked after every flow step (``conservation.py``). Its numerical
and calibration choices are read from ``assets/cement_model.toml``.
"""

from __future__ import annotations

import math

from simulator.anatomy.phantom import Phantom
from simulator.assets import load_table
from simulator.cement.conservation import check_balance, terms_m3
from simulator.cement.flow import MARROW_VISCOSITY_PA_S, MODEL, SITES, FlowGrid, build_grid
from simulator.cement.image import voxel_fraction
from simulator.cement.model import CementFill, CementModel
from simulator.cement.report import cement_metrics, gauges, stall_events
from simulator.cement.rheology import (
    CementProduct,
    cannula_pressure_pa,
    entry_threshold_pa,
    rate_within_limit_m3_s,
)
from simulator.cement.solver import FlowSolver
from simulator.cement.visible import VisibleCement

__all__ = ["CementFill", "CementInjection", "CementModel"]


class CementInjection:
    """The cement model: curing, cannula pressure and syringe limit, flow in the body, leaks.

    Volumes: ``injected`` leaves the syringe; the first ``cannula`` millilitres fill the
    cannula; the rest enters the bone at the needle tip (or, with the tip outside the flow
    grid, the needle tract). Conservation: injected = in cannula + in the grid + carried out
    of the grid (veins, boundary) + needle tract outside the grid.
    """

    # values and reasons: assets/cement_model.toml [injection] and [entry]
    SOLVE_EVERY_S = float(MODEL["injection"]["solve_every_s"])
    SOLVE_GROWTH = float(MODEL["injection"]["solve_growth"])
    CONSISTENCY_CHANGE = float(MODEL["injection"]["consistency_change"])
    RATE_CHANGE = float(MODEL["injection"]["rate_change"])
    FLOW_DT_S = float(MODEL["injection"]["flow_step_s"])
    ITER_PER_STEP = int(MODEL["injection"]["iterations_per_step"])
    STALL_FRACTION = float(MODEL["injection"]["stall_fraction"])
    LEAK_EVENT_ML = float(MODEL["injection"]["leak_event_ml"])
    YIELD_PER_S = float(MODEL["entry"]["yield_per_s"])  # τ_y / K of doughy PMMA (s⁻¹)
    OPENING_MM = float(MODEL["entry"]["opening_mm"])

    def __init__(
        self,
        scenario,
        phantom: Phantom,
        *,
        finite_batch: bool = True,
        yield_per_s: float | None = None,
        visible: bool = False,
        disc_sheet: bool = True,
        **solver_options: bool,
    ):
        """``finite_batch``: the kit holds ``[cement] batch_ml`` (else, as in release 0.1.0,
        an injection without ``ml`` runs until the cement sets). ``yield_per_s``: the entry
        threshold's yield factor (s⁻¹; None: the table's). ``visible``: release 0.5.0's
        vein network and voxel-resolution cement (:mod:`simulator.cement.visible`), with
        ``disc_sheet`` 0.6.0's disc leak.
        ``solver_options``:
        ``keep_cg_state``, ``conservative``, ``geometric_aggregation`` of
        :class:`FlowSolver` (its defaults: today's model)."""
        self.solver_options = solver_options
        if yield_per_s is not None:
            self.YIELD_PER_S = float(yield_per_s)
        self.batch_m3 = scenario.cement.batch_ml * 1e-6 if finite_batch else math.inf
        self.scenario = scenario
        self.phantom = phantom
        # the flow grid is built at mixing: attempts without cement do not pay for it
        self.grid: FlowGrid | None = None
        self.flow: FlowSolver | None = None
        self.visible_on, self.disc_sheet = visible, disc_sheet
        self.visible: VisibleCement | None = None
        self._k = 0.0  # the consistency the cement last moved with (Pa·s^n)
        eq = scenario.equipment
        gauge = load_table("equipment")["gauges"][str(eq.needle_gauge)]
        self.radius_m = gauge["inner_diameter_mm"] / 2000.0
        self.length_m = eq.needle_length_mm / 1000.0
        self.cannula_m3 = math.pi * self.radius_m**2 * self.length_m
        self.limit_pa = load_table("equipment")["syringes"][eq.syringe]["pressure_limit_kpa"] * 1e3
        self.temperature_c = scenario.cement.room_temperature_c
        self.product: CementProduct | None = None
        self.mixed_at_s: float | None = None
        self.first_inject_s: float | None = None
        self.injecting = False
        self.rate_req_m3_s = 0.0
        self.target_m3: float | None = None
        self.injected_m3 = 0.0
        self.in_cannula_m3 = 0.0
        """Cement in the cannula the syringe is on (m³)."""
        self._cannula: int | None = None  # that cannula's needle (id of its state)
        self._other_cannulas: dict[int, float] = {}  # two needles: the other one's (m³)
        self.tract_m3 = 0.0
        self.max_pressure_pa = 0.0
        self.pressure_pa = 0.0
        self.stalled = False
        self.set_reported = False
        self._reported: set[str] = set()
        self._source: int | None = None
        self._solved_at = (-math.inf, 0.0, 0.0, 0.0)  # t, volume, viscosity, rate
        self._r_bone = 0.0
        self._solving_meta = self._solved_at
        self._solving_source: int | None = None
        self._pending_m3 = 0.0  # left the cannula, not yet moved into the bone (in transit)
        self._pending_s = 0.0
        self._field: tuple[int, CementFill] | None = None

    # ----- protocol ----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Stepped while mixed and not yet set (curing runs; injection may run)."""
        return self.mixed_at_s is not None and not self.set_reported

    def next_change_s(self, t_s: float) -> float:
        """The next time (s) at or after ``t_s`` at which a step changes the cement: ``t_s``
        while it moves (injecting, in transit, in the veins), the set while it only cures,
        never (inf) unmixed or once set. A step before then changes nothing but the curing
        clock, which is a function of time."""
        if not self.active:
            return math.inf
        moving = self.visible is not None and self.visible.active
        if self.injecting or self._pending_m3 > 0 or moving:
            return t_s
        return self.mixed_at_s + self.product.set_after_s(self.temperature_c)

    def mix(self, t_s: float, product: str) -> str | None:
        """Start the curing clock of ``product`` (the flow grid is built at the first
        injection: a wait for the cement does not pay for it)."""
        if self.mixed_at_s is not None:
            return "the cement is already mixed"
        self.product = CementProduct.load(product)
        self.mixed_at_s = t_s
        return None

    def ensure_flow(self) -> None:
        """Build the flow grid, its solver and (0.5.0 on) the visible cement, once mixed (they
        are a function of the phantom alone: when they are built changes nothing)."""
        if self.grid is not None or self.product is None:
            return
        self.grid = build_grid(self.phantom, sheet=self.visible_on and self.disc_sheet)
        self.flow = FlowSolver(self.grid, **self.solver_options)
        if self.visible_on:
            self.visible = VisibleCement(
                self.scenario, self.phantom, self.grid, self.flow, disc_sheet=self.disc_sheet
            )

    def inject(self, t_s, rate_ml_min, ml, needle) -> str | None:
        """Start injecting (pushes the stylet out of the cannula first)."""
        if self.product is None:
            return "mix the cement first"
        if self.set_reported:
            return "the cement has set"
        if not needle.placed:
            return "aim the needle first"
        if self.injecting:
            return "already injecting"
        if self.injected_m3 >= self.batch_m3 - 1e-15:
            return f"the cement is used up (the kit's {self.batch_m3 * 1e6:g} ml)"
        if self._cannula not in (None, id(needle)) and self._pending_m3 > 0:
            return "the last cement is still leaving the other needle"
        self.ensure_flow()
        self._syringe_on(needle)
        needle.stylet_in = False
        self.injecting = True
        self.rate_req_m3_s = rate_ml_min * 1e-6 / 60.0
        self.target_m3 = None if ml is None else self.injected_m3 + ml * 1e-6
        if self.first_inject_s is None:
            self.first_inject_s = t_s
        return None

    def _syringe_on(self, needle) -> None:
        """Put the syringe on ``needle``'s cannula: the cannula it leaves keeps its cement (two
        cannulas, one syringe), the one it joins holds what it held."""
        key = id(needle)
        if self._cannula is not None and key != self._cannula:
            self._other_cannulas[self._cannula] = self.in_cannula_m3
            self.in_cannula_m3 = self._other_cannulas.pop(key, 0.0)
        self._cannula = key

    def cannula_fill_m3(self, needle) -> float:
        """Cement in ``needle``'s cannula (m³)."""
        if self._cannula is None or id(needle) == self._cannula:
            return self.in_cannula_m3
        return self._other_cannulas.get(id(needle), 0.0)

    def cannulas_m3(self) -> float:
        """Cement in every cannula (m³)."""
        return self.in_cannula_m3 + sum(self._other_cannulas.values())

    def stop(self, t_s: float) -> str | None:
        """Stop injecting (what is in transit still reaches the bone at the next step)."""
        if not self.injecting:
            return "no injection is running"
        self.injecting = False
        return None

    def step(self, dt_s: float, t_s: float, needle) -> list[tuple[str, dict]]:
        """Advance the cement by ``dt_s`` (curing; flow while injecting)."""
        events: list[tuple[str, dict]] = []
        since = t_s - self.mixed_at_s
        if since >= self.product.set_after_s(self.temperature_c):
            self.set_reported = True
            if self.injecting:
                self.injecting = False
                events.append(("injection_stopped", {"reason": "the cement has set"}))
            events.append(("cement_set", {"after_mix_s": round(since, 3)}))
            return events
        self._k = self.product.consistency_pa_s(since, self.temperature_c)
        if self.visible is not None and self.visible.active and not self.injecting:
            self.visible.drain(dt_s, self._k)  # cement in the veins moves on with the blood
        if not self.injecting:
            if self._pending_m3 > 0:
                k = self.product.consistency_pa_s(since, self.temperature_c)
                rate = self._pending_m3 / self._pending_s
                if self._flow(rate, self._pending_s, t_s, k, needle):
                    self._pending_m3 = self._pending_s = 0.0
                self.check_balance(t_s)
                events += self._leak_events()
            return events
        k = self.product.consistency_pa_s(since, self.temperature_c)
        n = self.product.power_law_index
        rate = self._achievable_rate(k, n)
        r_bone = self._r_bone  # the bone resistance this rate was chosen with
        events += stall_events(self, rate)
        volume = rate * dt_s
        if self.target_m3 is not None:
            volume = min(volume, max(self.target_m3 - self.injected_m3, 0.0))
        volume = min(volume, max(self.batch_m3 - self.injected_m3, 0.0))
        self.injected_m3 += volume
        to_cannula = min(volume, self.cannula_m3 - self.in_cannula_m3)
        self.in_cannula_m3 += to_cannula
        self._pending_m3 += volume - to_cannula
        self._pending_s += dt_s
        self.pressure_pa = cannula_pressure_pa(
            consistency_pa_s=k,
            power_law_index=n,
            rate_m3_s=rate,
            radius_m=self.radius_m,
            length_m=self.length_m,
        )
        done = self.target_m3 is not None and self.injected_m3 >= self.target_m3 - 1e-15
        used_up = self.injected_m3 >= self.batch_m3 - 1e-15
        if self._pending_s >= self.FLOW_DT_S - 1e-12 or done or used_up:
            # the bone takes up what left the cannula, in steps of FLOW_DT_S
            moved = self._pending_m3 <= 0 or self._flow(
                self._pending_m3 / self._pending_s, self._pending_s, t_s, k, needle
            )
            if moved:
                self._pending_m3 = self._pending_s = 0.0
            self.check_balance(t_s)
        self.pressure_pa += r_bone * rate  # bone back-pressure at this rate
        self.max_pressure_pa = max(self.max_pressure_pa, self.pressure_pa)
        events += self._leak_events()
        if done or used_up:
            self.injecting = False
            kind = "injection_done" if done else "cement_used_up"
            events.append((kind, {"injected_ml": round(self.injected_m3 * 1e6, 4)}))
        return events

    # ----- internals ---------------------------------------------------------------------------
    def _achievable_rate(self, k: float, n: float) -> float:
        """The requested rate, or the lower one at which cannula + bone meet the syringe."""
        return rate_within_limit_m3_s(
            self.rate_req_m3_s,
            limit_pa=self.limit_pa,
            consistency_pa_s=k,
            power_law_index=n,
            radius_m=self.radius_m,
            length_m=self.length_m,
            bone_pa_s_per_m3=self._r_bone,
        )

    def _flow(self, rate_m3_s: float, dt_s: float, t_s: float, k: float, needle) -> bool:
        """Move ``rate_m3_s × dt_s`` of cement into the bone at the needle tip; False when it
        has to wait (in transit) for the first pressure field at this tip position."""
        source = self.grid.cell_of(needle.tip_mm)
        if source is None:
            self.tract_m3 += rate_m3_s * dt_s  # the tip is outside the body: into the tract
            return True
        vol = float(self.flow.cement_m3().sum())
        t0, v0, k0, q0 = self._solved_at
        due = (
            self._source != source
            or t_s - t0 >= self.SOLVE_EVERY_S
            or vol > v0 * (1 + self.SOLVE_GROWTH)
            or abs(k - k0) > self.CONSISTENCY_CHANGE * k0
            or abs(rate_m3_s - q0) > self.RATE_CHANGE * q0
        )
        # a new pressure field is assembled in one flow step and iterated over the next ones,
        # so that no 20 ms tick carries a whole solve; cement keeps moving on the old field
        if self.flow.solving:
            if self.flow.continue_solve(max_iter=self.ITER_PER_STEP):
                self._adopted(self._solving_source, self._solving_meta)
        elif due:
            self.flow.start_solve(source_cell=source, rate_m3_s=rate_m3_s, cement_pa_s=k)
            self._solving_meta = (t_s, vol, k, rate_m3_s)
            self._solving_source = source
        if self._source != source:
            return False  # no pressure field for this tip position yet: stays in transit
        a = 1.0 + math.log10(max(k / MARROW_VISCOSITY_PA_S, 1.0))
        left = dt_s
        q_scale = rate_m3_s / self._solved_at[3]
        while left > 1e-12:
            h = min(left, self.flow.max_step_s(a) / max(q_scale, 1e-12))
            self.flow.advance(
                h,
                source_cell=source,
                rate_m3_s=rate_m3_s,
                exponent=a,
                flux_scale=q_scale,
                entry_threshold_pa=entry_threshold_pa(
                    self.product,
                    t_s - self.mixed_at_s,
                    self.temperature_c,
                    yield_per_s=self.YIELD_PER_S,
                    length_mm=self.grid.cell_mm,
                    opening_mm=self.OPENING_MM,
                ),
            )
            if self.visible is not None:
                self.visible.drain(h, k)
            left -= h
        return True

    def balance_terms_m3(self) -> dict[str, float]:
        """Where the injected cement is (m³; :func:`~simulator.cement.conservation.terms_m3`)."""
        return terms_m3(self)

    def check_balance(self, t_s: float) -> float:
        """After a flow step at ``t_s`` (s): raise ``CementBalanceError`` unless injected =
        Σ :meth:`balance_terms_m3` within 1e-9 relative; returns the relative imbalance."""
        return check_balance(t_s, self.injected_m3, self.balance_terms_m3())

    def _adopted(self, source: int, meta: tuple) -> None:
        """A new pressure field is in use: remember what it was solved for."""
        self._source = source
        self._solved_at = meta
        self._r_bone = float(self.flow.pressure_pa[source]) / meta[3]

    def _leak_events(self) -> list[tuple[str, dict]]:
        events = []
        for site, ml in self.leak_ml().items():
            if ml >= self.LEAK_EVENT_ML and site not in self._reported:
                self._reported.add(site)
                events.append(("leak", {"site": site, "ml": round(ml, 4)}))
        return events

    def leak_ml(self) -> dict[str, float]:
        """Cement outside the body by site (ml; none before mixing)."""
        if self.flow is None:
            return dict.fromkeys(SITES[1:], 0.0)
        by_site = self.flow.volume_by_site_m3() * 1e6
        out = {s: float(by_site[SITES.index(s)]) for s in SITES if s != "none"}
        out["needle_tract"] += self.tract_m3 * 1e6
        if self.visible is not None:
            out["vein"] = self.visible.vein_ml()
        return out

    def in_body_ml(self) -> float:
        """Cement inside the treated body (ml)."""
        if self.flow is None:
            return 0.0
        return float(self.flow.volume_by_site_m3()[SITES.index("none")]) * 1e6

    def field(self) -> CementFill | None:
        """Cement volume fraction per voxel over the grid's sub-box (computed again only once
        the fill has changed)."""
        if self.flow is None:
            return None
        if not self.flow.fill.any() and not (self.visible and self.visible.network.version):
            return None
        key = (self.flow.version, self.visible and self.visible.network.version)
        if self._field is None or self._field[0] != key:
            self._field = (key, self._make_field())
        return self._field[1]

    def _make_field(self) -> CementFill | None:
        barium = self.product.barium_sulfate_mass_fraction
        if self.visible is None:
            return CementFill(
                slices=self.grid.slices,
                fraction=voxel_fraction(self.flow, self.phantom),
                barium_mass_fraction=barium,
            )
        return self.visible.cement_fill(barium)

    def visible_parts(self) -> dict | None:
        """The cement as points by site, {site: (positions (N, 3) mm, volumes (N,) mm³)}
        ("body": in the treated body), or None (no cement, or a model before 0.5.0)."""
        if self.visible is None:
            return None
        field = self.field()
        return None if field is None else field.parts()

    def display_state(self, t_s: float) -> dict | None:
        """The trainee's gauges at ``t_s`` (s), None before mixing (:func:`gauges`)."""
        return gauges(self, t_s)

    def metrics(self) -> dict:
        """The cement metrics (``assets/metrics.toml``)."""
        return cement_metrics(self)
