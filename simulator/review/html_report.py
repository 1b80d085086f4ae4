"""The self-contained HTML report: summary tables, figures and the latest attempts' final
lateral and AP images, all embedded (base64 PNG); no scripts, no external resources.

Every string that comes from a log (trainee names, scenario ids, critical errors, file
names) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from simulator import __version__
from simulator.inputs import printable
from simulator.review import plots
from simulator.review.collect import Attempt
from simulator.review.gather import notes
from simulator.review.stats import STATS_HEADER, stats_rows
from simulator.review.summary import LEAK_MIN_ML, SITE_LABELS, GroupSummary, group, leak_volumes
from simulator.review.trust import origin_text, trust_line, trust_warnings, trusted

THUMB_PX = 92  # thumbnail width; images are reduced to it, not just displayed smaller

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;
 background:#f4f5f7}
main{max-width:1232px;margin:0 auto;padding:12px 16px 40px;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:4px}
p.meta{color:#555;margin:2px 0}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}
.wide{overflow-x:auto}
th,td{border:1px solid #d8d8d8;padding:3px 5px;vertical-align:middle}
th{background:#eef1f5;text-align:left;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
.fig{display:block;max-width:100%;height:auto;margin:6px 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px;align-items:start}
.grid img{width:100%;height:auto}
td.img{padding:1px;background:#000 !important;text-align:center}
td.img img{display:block;width:92px;height:auto;image-rendering:auto}
.pass{color:#17703a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.good{color:#17703a}.bad{color:#b3261e}
.note{color:#555;font-size:12.5px}
td.file{max-width:150px;overflow-wrap:anywhere}
ul.skipped{font-size:12.5px;color:#7a3b00}
"""


def _e(value) -> str:
    return html.escape(printable(str(value)), quote=True)  # no NUL or control character


def _img(png: bytes, *, alt: str, cls: str = "fig") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _num(v: float | None, fmt: str = ".1f") -> str:
    return "–" if v is None else format(v, fmt)


def _trend(t) -> str:
    if t is None:
        return "–"
    cls = {"↓": "good", "↑": "bad"}.get(t.word[0], "")
    return f'{t.first:.1f}→{t.last:.1f} <span class="{cls}">{_e(t.word)}</span>'


def summary_table(groups: list[GroupSummary], label: str) -> str:
    """One HTML table row per trainee or scenario (the terminal tables' numbers)."""
    sites = "".join(f"<th>{_e(SITE_LABELS[s])}</th>" for s in SITE_LABELS)
    head = (
        f"<tr><th>{_e(label)}</th><th>attempts</th><th>scored</th><th>pass</th><th>best</th>"
        "<th>mean</th><th>critical</th><th>most common critical</th>"
        f"<th>fluoro s first→last</th><th>shots first→last</th>{sites}</tr>"
    )
    rows = []
    for g in groups:
        common = "–"
        if g.most_common_critical:
            common = f"{_e(g.most_common_critical[0])} ({g.most_common_critical[1]})"
        rate = "–" if g.pass_rate is None else f"{g.pass_rate:.0%}"
        leaks = "".join(f'<td class="n">{g.leak_attempts[s]}</td>' for s in SITE_LABELS)
        rows.append(
            f"<tr><td>{_e(g.name or '(none)')}</td><td class='n'>{g.attempts}</td>"
            f"<td class='n'>{g.scored}</td><td class='n'>{rate}</td>"
            f"<td class='n'>{_num(g.best)}</td><td class='n'>{_num(g.mean)}</td>"
            f"<td class='n'>{g.critical_count}</td><td>{common}</td>"
            f"<td class='n'>{_trend(g.fluoro_s)}</td><td class='n'>{_trend(g.shots)}</td>"
            f"{leaks}</tr>"
        )
    return f"<div class='wide'><table>{head}{''.join(rows)}</table></div>"


def _thumb(images: dict | None, view: str) -> str:
    raw = (images or {}).get(view)
    if not isinstance(raw, str) or not raw:
        return '<td class="img"><span class="note">–</span></td>'
    try:
        png = plots.thumbnail(base64.b64decode(raw, validate=True), width_px=THUMB_PX)
    except (ValueError, binascii.Error):
        return '<td class="img"><span class="note">unreadable</span></td>'
    return f'<td class="img">{_img(png, alt=f"{view} image", cls="thumb")}</td>'


_STATUS_CLASS = {"valid": "pass", "tampered": "fail", "unknown key": "fail"}


def attempts_table(shown: list[Attempt]) -> str:
    """The latest attempts, newest first, with their final lateral and AP images."""
    head = (
        "<tr><th>started</th><th>trainee</th><th>scenario</th><th>#</th><th>score</th>"
        "<th>result</th><th>critical</th><th>fluoro s</th><th>shots</th><th>leak ml</th>"
        "<th>lateral</th><th>AP</th><th>log</th><th>file</th></tr>"
    )
    rows = []
    for a in shown:
        if a.passed is None:
            result = '<span class="note">unscored</span>'
        else:
            result = (
                '<span class="pass">pass</span>' if a.passed else '<span class="fail">fail</span>'
            )
        leak = sum(leak_volumes(a).values())
        t, shots = a.metrics.get("fluoro_time_s"), a.metrics.get("fluoro_shots")
        rows.append(
            f"<tr><td>{_e(a.started_at)}</td><td>{_e(a.trainee)}</td><td>{_e(a.scenario_id)}</td>"
            f"<td class='n'>{a.attempt_no or '–'}</td><td class='n'>{_num(a.total)}</td>"
            f"<td>{result}</td><td>{_e('; '.join(a.critical)) or '–'}</td>"
            f"<td class='n'>{_num(t if isinstance(t, int | float) else None)}</td>"
            f"<td class='n'>{_e(shots) if shots is not None else '–'}</td>"
            f"<td class='n'>{leak:.2f}</td>{_thumb(a.images, 'lateral')}{_thumb(a.images, 'ap')}"
            f"<td><span class='{_STATUS_CLASS.get(a.verification, 'note')}'>"
            f"{_e(a.verification)}</span><br>{_e(origin_text(a))}</td>"
            f"<td class='note file' title='{_e(a.file)}'>{_e(Path(a.file).name)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def html_report(review, *, max_images: int) -> str:
    """The whole report page of a :class:`~simulator.review.gather.Review`: its attempts in
    ``started_at`` order, the latest ``max_images`` of them listed with their images."""
    every, attempts = review.attempts, trusted(review.attempts)  # tampered: warned, not counted
    trainees, scenarios = group(attempts, by="trainee"), group(attempts, by="scenario")
    shown = every[::-1][:max_images]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Vertebroplasty trainer: attempt review</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Attempt review</h1>",
        f"<p class='meta'>{len(attempts)} attempts by {len(trainees)} trainees on "
        f"{len(scenarios)} scenarios; {len(review.skipped)} files skipped. Generated {now} by "
        f"vsim {_e(__version__)} from {_e(', '.join(review.sources))}.</p>",
        *(f"<p class='note'>{_e(line)}</p>" for line in notes(review)),
        "<h2>Signatures and origin</h2>",
        f"<p>{_e(trust_line(every))}</p>",
        *(f"<p class='fail'>{_e(line)}</p>" for line in trust_warnings(every)),
        "<h2>Summary by trainee</h2>",
        summary_table(trainees, "trainee"),
        "<h2>Summary by scenario</h2>",
        summary_table(scenarios, "scenario"),
        "<p class='note'>Pass rate over scored attempts. Trends: least-squares line of the "
        "value against the attempt number, fitted first → last attempt (↓ improving: more "
        f"than 5 % lower). Leak columns: attempts with ≥ {LEAK_MIN_ML:g} ml of cement at "
        "the site (para = paravertebral, tract = needle tract).</p>",
        *_stats_section(attempts, review.reference),
        *_plots_section(attempts),
        *_attempts_section(every, shown),
    ]
    if review.skipped:
        items = "".join(f"<li>{_e(s.file)}: {_e(s.reason)}</li>" for s in review.skipped)
        parts += [f"<h2>Skipped {len(review.skipped)} files</h2><ul class='skipped'>{items}</ul>"]
    parts += ["</main></body></html>", ""]
    return "\n".join(parts)


def _stats_section(attempts: list[Attempt], reference: dict) -> list[str]:
    rows = stats_rows(attempts, reference)
    if not rows:
        return []
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in STATS_HEADER) + "</tr>"
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if k >= 2 else ''}>{_e(c)}</td>" for k, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return [
        "<h2>Per scenario and metric</h2>",
        f"<div class='wide'><table>{head}{body}</table></div>",
        "<p class='note'>Median and interquartile range (25th–75th percentile) over the "
        "attempts that have the metric; expert: the shipped expert persona on the case.</p>",
    ]


def _plots_section(attempts: list[Attempt]) -> list[str]:
    if not attempts:
        return []
    out = ["<h2>Learning curves</h2>"]
    by: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by[a.scenario_id].append(a)
    for sid in sorted(by):  # one per scenario: curves never pool different cases
        out += [
            f"<h3>{_e(sid)}</h3>",
            _img(plots.learning_curves(by[sid], per_scenario=True), alt=f"learning curves, {sid}"),
        ]
    out += [
        "<h2>Scores, fluoroscopy and leaks</h2><div class='grid'>",
        _img(plots.score_by_scenario(attempts), alt="score distribution by scenario"),
        _img(plots.fluoro_vs_score(attempts), alt="fluoroscopy time against score"),
        "</div>",
        _img(plots.leak_sites(attempts), alt="leaks by site"),
    ]
    return out


def _attempts_section(every: list[Attempt], shown: list[Attempt]) -> list[str]:
    capped = len(every) > len(shown)
    return [
        f"<h2>Latest {len(shown)} attempts with their final images</h2>",
        "<p class='note'>"
        + (
            f"Only the latest {len(shown)} of {len(every)} attempts are listed with images, "
            "to keep this file small; the CSV export has every attempt. "
            if capped
            else ""
        )
        + "Images are the last lateral and AP shots, reduced to thumbnails.</p>",
        attempts_table(shown),
    ]
