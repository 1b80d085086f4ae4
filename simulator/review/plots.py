"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot, no global state) and
returned as PNG bytes.

Names from logs go into plot text through :func:`label`, which escapes ``$`` (mathtext) and
shortens long names.
"""

from __future__ import annotations

import functools
import io
from collections import defaultdict

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulator.inputs import printable
from simulator.review.collect import Attempt
from simulator.review.export_csv import LEAK_SITES
from simulator.review.summary import LEAK_MIN_ML, SITE_LABELS, leak_volumes

DPI = 100
ROLLING = 5  # attempts in the learning curve's moving average


def label(name: str, width: int = 24) -> str:
    """A log-supplied name made safe for matplotlib text (no mathtext) and at most ``width``
    characters."""
    name = name or "(none)"
    if len(name) > width:
        name = name[: width - 1] + "…"
    return printable(name).replace("\\", "\\\\").replace("$", r"\$")


PLAIN_TEXT = {"text.usetex": False}
"""Names from logs are drawn as plain text, never through LaTeX (whatever matplotlibrc says)."""


def _plain(fn):
    """Run a figure function with :data:`PLAIN_TEXT` settings (text takes them when made)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(PLAIN_TEXT):
            return fn(*args, **kwargs)

    return wrapper


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    fig.clear()
    return buf.getvalue()


def _colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def _horizontal() -> dict:
    """Keyword for a horizontal box plot: ``orientation`` from matplotlib 3.10 (``vert``
    is deprecated there), ``vert`` before."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


@_plain
def learning_curves(attempts: list[Attempt], *, per_scenario: bool = False) -> bytes:
    """Score (0–100) against the trainee's attempt number (``per_scenario``: at the one
    scenario of ``attempts``): faint points for each attempt, a line for the trailing mean of
    up to ``ROLLING`` attempts, one colour per trainee."""
    return _png(learning_curves_figure(attempts, per_scenario=per_scenario))


LEGEND_ROWS = 16
"""Trainees listed per column of the learning curves' legend."""


@_plain
def learning_curves_figure(attempts: list[Attempt], *, per_scenario: bool = False) -> Figure:
    """The figure of :func:`learning_curves`; attempt numbers are whole, so are its x ticks."""
    by: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for a in attempts:
        if a.total is not None:
            n = a.scenario_attempt_no if per_scenario else a.attempt_no
            by[a.trainee].append((n, a.total))
    fig = Figure(figsize=(11.5, 4.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for (name, pts), color in zip(sorted(by.items()), _colors(len(by)), strict=True):
        x, y = np.array(pts, dtype=float).T
        ax.plot(x, y, "o", ms=2.5, color=color, alpha=0.3)
        csum = np.concatenate([[0.0], np.cumsum(y)])
        start = np.maximum(np.arange(1, len(y) + 1) - ROLLING, 0)
        smooth = (csum[1:] - csum[start]) / (np.arange(1, len(y) + 1) - start)
        ax.plot(x, smooth, "-", lw=1.6, color=color, label=label(name))
    what = "at this scenario" if per_scenario else "per trainee"
    ax.set(xlabel=f"attempt number ({what})", ylabel="score (0–100)", ylim=(-2, 102))
    ax.set_title(f"Learning curves (line: mean of the last {ROLLING} attempts)", fontsize=11)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)
    if by:
        # ≈ 16 names fit the figure's height: more go into further columns
        columns = -(-len(by) // LEGEND_ROWS)
        ax.legend(
            loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False, ncols=columns
        )
    return fig


@_plain
def score_by_scenario(attempts: list[Attempt]) -> bytes:
    """Score distribution per scenario: box plot with every attempt as a jittered point."""
    by: dict[str, list[float]] = defaultdict(list)
    for a in attempts:
        if a.total is not None:
            by[a.scenario_id].append(a.total)
    names = sorted(by)
    fig = Figure(figsize=(5.6, 0.5 * max(len(names), 3) + 1.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    if names:
        data = [by[n] for n in names]
        ax.boxplot(data, widths=0.6, showfliers=False, **_horizontal())
        jitter = np.random.default_rng(0)  # fixed: the same report twice looks the same
        for i, values in enumerate(data, 1):
            ax.plot(values, i + jitter.uniform(-0.2, 0.2, len(values)), ".", ms=3, alpha=0.35)
        ax.set_yticks(range(1, len(names) + 1), [label(n) for n in names], fontsize=8)
    ax.set(xlabel="score (0–100)", xlim=(-2, 102))
    ax.set_title("Score by scenario", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


@_plain
def fluoro_vs_score(attempts: list[Attempt]) -> bytes:
    """Fluoroscopy time (s) against score, one colour per scenario."""
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for a in attempts:
        t = a.metrics.get("fluoro_time_s")
        if a.total is not None and isinstance(t, int | float):
            by[a.scenario_id].append((float(t), a.total))
    fig = Figure(figsize=(5.6, 4.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for (name, pts), color in zip(sorted(by.items()), _colors(len(by)), strict=True):
        x, y = np.array(pts, dtype=float).T
        ax.plot(x, y, ".", ms=4, alpha=0.5, color=color, label=label(name))
    ax.set(xlabel="fluoroscopy time (s)", ylabel="score (0–100)", ylim=(-2, 102))
    ax.set_title("Fluoroscopy time against score", fontsize=11)
    ax.grid(alpha=0.3)
    if by:
        ax.legend(fontsize=7, markerscale=2, loc="best", frameon=True, framealpha=0.8)
    return _png(fig)


@_plain
def leak_sites(attempts: list[Attempt]) -> bytes:
    """Per leak site: share of attempts with a leak (≥ ``LEAK_MIN_ML``) and total volume (ml)."""
    volumes = [leak_volumes(a) for a in attempts]
    n = max(len(volumes), 1)
    share = [100 * sum(1 for v in volumes if v[s] >= LEAK_MIN_ML) / n for s in LEAK_SITES]
    total = [sum(v[s] for v in volumes) for s in LEAK_SITES]
    names = [SITE_LABELS[s] if s != "paravertebral" else "paravert." for s in LEAK_SITES]
    fig = Figure(figsize=(11.5, 3.0), dpi=DPI, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(names, share, color="#c0504d")
    ax1.set(ylabel="attempts with a leak (%)")
    ax1.set_ylim(bottom=0.0, top=max(max(share, default=0.0) * 1.1, 1.0))  # no negative axis
    ax1.set_title(f"Leak frequency by site (≥ {LEAK_MIN_ML:g} ml)", fontsize=11)
    ax2.bar(names, total, color="#4f81bd")
    ax2.set(ylabel="cement leaked, all attempts (ml)")
    ax2.set_ylim(bottom=0.0, top=max(max(total, default=0.0) * 1.1, 0.1))
    ax2.set_title("Leaked volume by site", fontsize=11)
    for ax in (ax1, ax2):
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def thumbnail(png: bytes, *, width_px: int) -> bytes:
    """An 8-bit grey PNG reduced by an integer factor (block mean) to at most ``width_px``
    columns; raises ``ValueError`` if ``png`` is not a readable PNG image."""
    from matplotlib import image
    from PIL import Image  # matplotlib's own image dependency; writes 8-bit grey PNGs

    try:
        arr = image.imread(io.BytesIO(png), format="png")
    except Exception as exc:  # PIL raises a variety of types for bad bytes
        raise ValueError(f"not a PNG image ({type(exc).__name__})") from None
    if arr.ndim == 3:
        arr = arr[..., :3].mean(axis=2)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError("not a 2D image")
    f = max(1, -(-arr.shape[1] // width_px))
    h, w = max(arr.shape[0] // f, 1) * f, arr.shape[1] // f * f
    small = arr[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    buf = io.BytesIO()
    grey = np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(grey, mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()
