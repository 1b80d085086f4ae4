"""``python docs/calibrate_leaks.py [--attempts N] [--workers W] [--json]`` runs the jittered
injection batch of ``simulator/bench/leaks.py`` (the 60-attempt batch of
``tests/test_cement.py``: planned left trajectory, entry and depth jittered ±4 mm, injection
2.5 ml at 2 ml/min after a wait drawn in the product's window, headless) on populations that
compare one risk factor each, and prints the figures of ``docs/CALIBRATION.md``:

- per population: any leak (≥ 0.02 ml over all sites; and over the sites other than
  paravertebral) with its 95 % Wilson interval, each site's incidence (≥ 0.02 ml there), the
  volumes in leaking and non-leaking attempts, the peak injection pressure (mean, sd, max;
  early and late half of the window) and the cement carried toward the lungs
  (``embolised_ml``);
- per comparison: the relative risk (Katz log interval) and the odds ratio (Woolf interval) of
  any leak, the relative risks of a disc and of a vein leak, and, for the matched pairs (same
  draw, the factor added), how many attempts leaked only with it or only without it.

N attempts per population (default 30, the test's: its figures are the first two rows), on W
processes (default 2; each builds the phantoms it needs once). Exit 2 with one line on bad
arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from simulator.bench.leaks import Population, draws, run_attempt
from simulator.cement.flow import SITES
from simulator.releases import VERSION

LEAK_ML = 0.02
"""A leak counts from this volume (ml), over all sites for "any", at its own for a site (the
model's ``leak`` event, assets/cement_model.toml [injection] leak_event_ml)."""
Z95 = 1.959963984540054
MAX_ATTEMPTS = 300
MAX_WORKERS = 8
LEAK_SITES = SITES[1:]

POPULATIONS = (
    Population(name="low_viscosity", scenario="venous_risk_l2", product="pmma_low"),
    Population(name="high_viscosity", scenario="venous_risk_l2", product="pmma_high"),
    Population(name="posterior_wall", scenario="posterior_wall_l1", product="pmma_medium"),
    Population(
        name="posterior_wall_intact",
        scenario="posterior_wall_l1",
        product="pmma_medium",
        without="posterior_wall",
    ),
    Population(name="endplate_crack", scenario="endplate_crack_t12", product="pmma_medium"),
    Population(
        name="endplate_intact",
        scenario="endplate_crack_t12",
        product="pmma_medium",
        without="endplate_crack",
    ),
    Population(name="cleft", scenario="cleft_l1_grade3", product="pmma_medium"),
    Population(name="no_cleft", scenario="cleft_l1_grade3", product="pmma_medium", without="cleft"),
)
"""The risk-factor cases take the regular (medium) cement; a factor's control is the same case
with that defect taken out (same bone, same draws)."""
COMPARISONS = (
    ("viscosity", "high_viscosity", "low_viscosity"),
    ("low_viscosity", "low_viscosity", "high_viscosity"),
    ("cortical_disruption (posterior wall)", "posterior_wall", "posterior_wall_intact"),
    ("cortical_disruption (endplate)", "endplate_crack", "endplate_intact"),
    ("cleft", "cleft", "no_cleft"),
)
"""(name, exposed, reference): RR and OR of the exposed population against the reference."""


class ArgumentsError(Exception):
    """A bad command-line argument (one line, exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ArgumentsError(message)


def parse_args(argv) -> argparse.Namespace:
    parser = _Parser(prog="calibrate_leaks.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", default="30", help="attempts per population (1–300)")
    parser.add_argument("--workers", default="2", help="processes (1–8)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.attempts = _bounded_int("--attempts", args.attempts, MAX_ATTEMPTS)
    args.workers = _bounded_int("--workers", args.workers, MAX_WORKERS)
    return args


def _bounded_int(name: str, text: str, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= high:
        raise ArgumentsError(f"{name} must be a whole number from 1 to {high}, not {text!r}")
    return value


# ----- statistics -------------------------------------------------------------------------------
def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    p, z2 = k / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _corrected(*cells: int) -> tuple[float, ...]:
    """Haldane–Anscombe: add 0.5 to every cell of a table that has an empty one."""
    return tuple(c + 0.5 for c in cells) if 0 in cells else tuple(float(c) for c in cells)


def relative_risk(a: int, n1: int, c: int, n2: int) -> dict:
    """Risk a/n1 against c/n2 with the Katz log 95 % interval (0.5 added to the events and
    the non-events of both groups when a cell is empty; None when neither group has one)."""
    if a == c == 0:
        return {"value": None, "ci95": None, "zero_cell_corrected": False}
    a_, b_, c_, d_ = _corrected(a, n1 - a, c, n2 - c)
    rr = (a_ / (a_ + b_)) / (c_ / (c_ + d_))
    se = math.sqrt(1 / a_ - 1 / (a_ + b_) + 1 / c_ - 1 / (c_ + d_))
    return _estimate(rr, se, corrected=0 in (a, n1 - a, c, n2 - c))


def odds_ratio(a: int, n1: int, c: int, n2: int) -> dict:
    """Odds of a/n1 against c/n2 with the Woolf (log) 95 % interval (Haldane–Anscombe; None
    when neither group has an event)."""
    if a == c == 0:
        return {"value": None, "ci95": None, "zero_cell_corrected": False}
    a_, b_, c_, d_ = _corrected(a, n1 - a, c, n2 - c)
    se = math.sqrt(1 / a_ + 1 / b_ + 1 / c_ + 1 / d_)
    return _estimate(a_ * d_ / (b_ * c_), se, corrected=0 in (a, n1 - a, c, n2 - c))


def _estimate(value: float, se_log: float, *, corrected: bool) -> dict:
    lo, hi = (math.exp(math.log(value) + s * Z95 * se_log) for s in (-1, 1))
    return {"value": value, "ci95": [lo, hi], "zero_cell_corrected": corrected}


# ----- the batch ----------------------------------------------------------------------------------
def _attempt(task) -> dict:
    population, draw = task
    m = run_attempt(population, draw)
    return {
        "timing": draw.timing,
        "start_after_mix_s": m["injection_start_after_mix_s"],
        "injected_ml": m["injected_ml"],
        "in_body_ml": m["in_body_ml"],
        "in_cannula_ml": m["in_cannula_ml"],
        "leak_ml": m["leak_ml"],
        "embolised_ml": m.get("embolised_ml"),
        "max_injection_pressure_kpa": m["max_injection_pressure_kpa"],
    }


def run_batch(attempts: int, workers: int) -> dict[str, list[dict]]:
    """{population name: its attempts' records, in draw order}."""
    tasks = [(p, d) for p in POPULATIONS for d in draws(attempts)]
    if workers == 1:
        rows = [_attempt(t) for t in tasks]
    else:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # one core per worker
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            # a population per chunk: a worker builds only the phantoms of its populations
            rows = list(pool.map(_attempt, tasks, chunksize=attempts))
    return {p.name: rows[i * attempts : (i + 1) * attempts] for i, p in enumerate(POPULATIONS)}


def _leaked(row: dict, site: str | None = None) -> bool:
    ml = row["leak_ml"]
    return (sum(ml.values()) if site is None else ml[site]) >= LEAK_ML


def _leaked_besides_paravertebral(row: dict) -> bool:
    return sum(v for s, v in row["leak_ml"].items() if s != "paravertebral") >= LEAK_ML


def _mean(values) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def summarise(population: Population, rows: list[dict]) -> dict:
    """The figures of one population."""
    n = len(rows)
    k = sum(_leaked(r) for r in rows)
    kb = sum(_leaked_besides_paravertebral(r) for r in rows)
    leaking = [r for r in rows if _leaked(r)]
    dry = [r for r in rows if not _leaked(r)]
    pressure = [r["max_injection_pressure_kpa"] for r in rows]
    totals = sorted(sum(r["leak_ml"].values()) for r in leaking)
    out = {
        "scenario": population.scenario,
        "without": population.without,
        "product": population.product,
        "attempts": n,
        "any_leak": {"count": k, "incidence": k / n, "ci95": list(wilson(k, n))},
        "any_leak_besides_paravertebral": {
            "count": kb,
            "incidence": kb / n,
            "ci95": list(wilson(kb, n)),
        },
        "by_site": {},
        "leak_ml_median_of_leaking": statistics.median(totals) if totals else None,
        "leak_ml_max": totals[-1] if totals else None,
        "volumes_ml": {},
        "pressure_kpa": {
            "mean": statistics.fmean(pressure),
            "sd": statistics.stdev(pressure) if n > 1 else 0.0,
            "max": max(pressure),
            "mean_early_half": _mean(
                p for p, r in zip(pressure, rows, strict=True) if r["timing"] < 0.5
            ),
            "mean_late_half": _mean(
                p for p, r in zip(pressure, rows, strict=True) if r["timing"] >= 0.5
            ),
        },
    }
    for site in LEAK_SITES:
        ks = sum(_leaked(r, site) for r in rows)
        out["by_site"][site] = {"count": ks, "incidence": ks / n, "ci95": list(wilson(ks, n))}
    for key in ("injected_ml", "in_body_ml"):
        out["volumes_ml"][key] = {
            "leaking": _mean(r[key] for r in leaking),
            "not_leaking": _mean(r[key] for r in dry),
        }
    emb = [r["embolised_ml"] for r in rows if r["embolised_ml"] is not None]
    if emb:
        out["embolised_ml"] = {
            "mean": statistics.fmean(emb),
            "max": max(emb),
            "attempts_above_0": sum(e > 0 for e in emb),
        }
    return out


def compare(exposed: list[dict], reference: list[dict]) -> dict:
    """RR and OR of any leak, RR of disc and vein leaks, and the matched pairs' discordance."""
    n1, n2 = len(exposed), len(reference)
    out = {}
    for label, site in (("any", None), ("disc", "disc"), ("vein", "vein")):
        a = sum(_leaked(r, site) for r in exposed)
        c = sum(_leaked(r, site) for r in reference)
        out[f"rr_{label}"] = relative_risk(a, n1, c, n2)
        if site is None:
            out["or_any"] = odds_ratio(a, n1, c, n2)
    pairs = list(zip(exposed, reference, strict=True))
    out["pairs_leak_only_exposed"] = sum(_leaked(e) and not _leaked(r) for e, r in pairs)
    out["pairs_leak_only_reference"] = sum(_leaked(r) and not _leaked(e) for e, r in pairs)
    return out


def figures(attempts: int, workers: int) -> dict:
    t0 = time.perf_counter()
    rows = run_batch(attempts, workers)
    elapsed = time.perf_counter() - t0
    shipped = [r for p in POPULATIONS if p.without is None for r in rows[p.name]]
    k = sum(_leaked(r) for r in shipped)
    return {
        "simulator_version": VERSION,
        "attempts_per_population": attempts,
        "workers": workers,
        "elapsed_s": round(elapsed, 1),
        "populations": {p.name: summarise(p, rows[p.name]) for p in POPULATIONS},
        "any_leak_shipped_cases": {
            "count": k,
            "attempts": len(shipped),
            "incidence": k / len(shipped),
            "ci95": list(wilson(k, len(shipped))),
        },
        "comparisons": {
            name: {"exposed": a, "reference": b, **compare(rows[a], rows[b])}
            for name, a, b in COMPARISONS
        },
        "attempts": rows,
    }


# ----- text -------------------------------------------------------------------------------------
def _pct(d: dict, n: int) -> str:
    lo, hi = d["ci95"]
    return f"{d['count']}/{n} = {100 * d['incidence']:.0f} % ({100 * lo:.0f}–{100 * hi:.0f})"


def _est(d: dict) -> str:
    if d["value"] is None:
        return "– (no event)"
    lo, hi = d["ci95"]
    mark = "*" if d["zero_cell_corrected"] else ""
    return f"{d['value']:.2f}{mark} ({lo:.2f}–{hi:.2f})"


def _ml(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _kpa(v) -> str:
    return "–" if v is None else f"{v:.0f}"


def text(f: dict) -> str:
    lines = [
        f"simulator {f['simulator_version']}: {f['attempts_per_population']} attempts per "
        f"population, {f['workers']} workers, {f['elapsed_s']:.0f} s",
        "",
    ]
    for name, p in f["populations"].items():
        n = p["attempts"]
        case = p["scenario"] + (f" without its {p['without']}" if p["without"] else "")
        pr, vol = p["pressure_kpa"], p["volumes_ml"]
        lines += [
            f"{name}: {case}, {p['product']}",
            f"  any leak ≥ {LEAK_ML} ml: {_pct(p['any_leak'], n)}; besides paravertebral "
            f"{_pct(p['any_leak_besides_paravertebral'], n)}",
            "  by site: "
            + ", ".join(f"{s} {d['count']}" for s, d in p["by_site"].items())
            + f" of {n}",
            f"  leak ml of leaking attempts: median {_ml(p['leak_ml_median_of_leaking'])}, "
            f"max {_ml(p['leak_ml_max'])}",
            f"  injected ml leaking / not: {_ml(vol['injected_ml']['leaking'])} / "
            f"{_ml(vol['injected_ml']['not_leaking'])}; in body "
            f"{_ml(vol['in_body_ml']['leaking'])} / {_ml(vol['in_body_ml']['not_leaking'])}",
            f"  peak pressure kPa: mean {pr['mean']:.0f}, sd {pr['sd']:.0f}, max "
            f"{pr['max']:.0f}; early / late half of the window {_kpa(pr['mean_early_half'])}"
            f" / {_kpa(pr['mean_late_half'])}",
        ]
        if "embolised_ml" in p:
            e = p["embolised_ml"]
            lines.append(
                f"  embolised ml: mean {e['mean']:.4f}, max {e['max']:.4f}, "
                f"{e['attempts_above_0']} attempts > 0"
            )
    pooled = f["any_leak_shipped_cases"]
    lines += ["", f"any leak, shipped cases pooled: {_pct(pooled, pooled['attempts'])}", ""]
    for name, c in f["comparisons"].items():
        lines += [
            f"{name}: {c['exposed']} vs {c['reference']}",
            f"  RR any {_est(c['rr_any'])}, disc {_est(c['rr_disc'])}, vein {_est(c['rr_vein'])}",
            f"  OR any {_est(c['or_any'])}; matched pairs leaking only exposed / only "
            f"reference: {c['pairs_leak_only_exposed']} / {c['pairs_leak_only_reference']}",
        ]
    lines.append("(* 0.5 added to every cell: a count was zero)")
    return "\n".join(lines)


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except ArgumentsError as err:
        print(f"calibrate_leaks.py: error: {err}", file=sys.stderr)
        return 2
    f = figures(args.attempts, args.workers)
    print(json.dumps(f, indent=1) if args.json else text(f))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
