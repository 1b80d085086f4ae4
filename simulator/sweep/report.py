"""The difficulty report of a sweep (:mod:`simulator.sweep`): a text table, a CSV of every
attempt, and a self-contained HTML page (tables and a score-distribution plot)."""

from __future__ import annotations

import csv
import html
import io

from simulator.sweep import SITES

SITE_WORDS = {
    "canal": "canal",
    "disc": "disc",
    "vein": "vein",
    "paravertebral": "paravertebral",
    "needle_tract": "needle tract",
}


def _pct(rate: float, ci: tuple[float, float]) -> str:
    return f"{100 * rate:.0f}% ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})"


def table_rows(summary: dict[str, dict]) -> list[list[str]]:
    """The report's rows: persona, n, pass rate (95 % interval), score median [IQR] and range,
    critical errors, leak risk per site."""
    rows = []
    for name, s in summary.items():
        crit = ", ".join(f"{k} {v}" for k, v in s["critical"].items()) or "–"
        rows.append(
            [
                name,
                str(s["n"]),
                _pct(s["pass_rate"], s["pass_ci"]),
                f"{s['median']:.1f} [{s['q1']:.1f}–{s['q3']:.1f}]",
                f"{s['min']:.1f}–{s['max']:.1f}",
                crit,
                *(_pct(s["leaks"][site]["rate"], s["leaks"][site]["ci"]) for site in SITES),
            ]
        )
    return rows


HEADER = ["persona", "n", "pass (95% CI)", "score median [IQR]", "range", "critical"] + [
    f"{SITE_WORDS[s]} leak" for s in SITES
]


def text_report(scenario, summary: dict[str, dict], seeds: int) -> str:
    """The terminal's report."""
    rows = [HEADER, *table_rows(summary)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"sweep of {scenario.id}: {seeds} seed(s) per persona, leak = ≥ 0.02 ml at the site"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["persona", "seed", "total", "passed", "critical", "in_body_ml", "blind_mm"]


def csv_text(rows: list[dict]) -> str:
    """One CSV row per attempt (leak volumes per site, component points)."""
    comps = sorted({c for r in rows for c in r["components"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS + [f"leak_{s}_ml" for s in SITES] + [f"{c}_points" for c in comps])
    for r in rows:
        w.writerow(
            [
                r["persona"],
                r["seed"],
                r["total"],
                r["passed"],
                ";".join(r["critical"]),
                round(r["in_body_ml"], 4),
                r["max_blind_advance_mm"],
                *(round(r["leak_ml"][s], 4) for s in SITES),
                *(r["components"].get(c, "") for c in comps),
            ]
        )
    return buf.getvalue()


def score_plot(rows: list[dict], pass_mark: float) -> bytes:
    """Each persona's scores over the seeds (a box and its points), with the pass mark."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from simulator.review.plots import _horizontal

    names = list(dict.fromkeys(r["persona"] for r in rows))
    fig = Figure(figsize=(8.0, 0.45 * len(names) + 1.2), dpi=100)
    ax = fig.add_subplot()
    data = [[r["total"] for r in rows if r["persona"] == n] for n in names]
    ax.boxplot(data, positions=range(len(names)), widths=0.5, **_horizontal())
    rng = np.random.default_rng(0)  # the points' vertical jitter only
    for i, vals in enumerate(data):
        colors = ["#17703a" if r["passed"] else "#b3261e" for r in rows if r["persona"] == names[i]]
        ax.scatter(vals, i + rng.uniform(-0.15, 0.15, len(vals)), s=12, c=colors, zorder=3)
    ax.axvline(pass_mark, color="#555", ls="--", lw=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (green: passed, red: failed; dashed: pass mark)")
    fig.tight_layout()
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;color:#222;margin:0;background:#f4f5f7}"
    "main{max-width:1100px;margin:0 auto;padding:12px 16px 40px;background:#fff}"
    "h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:12px}.wide{overflow-x:auto}"
    "th,td{border:1px solid #d8d8d8;padding:3px 5px}th{background:#eef1f5;text-align:left}"
    "td.n{text-align:right;white-space:nowrap}img{max-width:100%;height:auto}"
    ".note{color:#555;font-size:12.5px}"
)


def html_report(scenario, summary: dict[str, dict], rows: list[dict], *, pass_mark: float) -> str:
    """The self-contained HTML page."""
    import base64

    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEADER)
    text_columns = (0, 5)  # the persona and its critical errors: words, not numbers

    def cell(i: int, c: str) -> str:
        return f"<td>{e(c)}</td>" if i in text_columns else f'<td class="n">{e(c)}</td>'

    body = "".join(
        "<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in table_rows(summary)
    )
    png = base64.b64encode(score_plot(rows, pass_mark)).decode("ascii")
    seeds = sorted({r["seed"] for r in rows})
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Sweep of {e(scenario.id)}"
        f"</title><style>{CSS}</style></head><body><main>"
        f"<h1>Difficulty of {e(scenario.scenario.title)} ({e(scenario.id)})</h1>"
        f"<p class='note'>{len(rows)} headless attempts: {len(summary)} persona(s) × "
        f"{len(seeds)} seed(s) ({seeds[0]}–{seeds[-1]}; the seed changes the bone's "
        "heterogeneity, so the cement's spread and leaks). Rates with 95 % Wilson intervals; "
        "a leak is ≥ 0.02 ml at its site.</p>"
        f"<h2>Pass rate, scores and leak risk</h2><div class='wide'><table><tr>{head}</tr>"
        f"{body}</table></div><h2>Scores</h2>"
        f"<img alt='score of each attempt by persona' src='data:image/png;base64,{png}'>"
        "</main></body></html>\n"
    )
