"""Name labels on a plot that never overlap: a small deterministic collision-avoiding layout.

Each label names a point (an *anchor*, in data coordinates). Labels are placed one at a time,
in the order given, on the first free spot of a fixed list of candidates:

1. a box beside the anchor, on rings of growing radius (``_RINGS_PT``) in eight directions,
   scored by its distance plus a penalty for every sample of a plotted line it covers; a box is
   free when it stays inside the axes and clear of every earlier label and of every marker;
2. failing that, a slot in a column along the left or right edge of the axes (the side nearer
   the anchor first), the slot nearest the anchor's height.

A label not right beside its anchor is joined to it by a leader line, which later labels
then avoid covering like the plotted lines.

Boxes are measured with the figure's renderer (``Text.get_window_extent``), so the layout
must run after the figure's own layout (``tight_layout``) has fixed where the axes are. The
labels are then fixed in axes-fraction coordinates. Geometry here is in display pixels,
boxes as ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

LABEL_GID = "feature-label"
"""The gid of every label Text, so that a test or a caller can find them on the figure."""

_RINGS_PT = (5.0, 14.0, 26.0)
"""Distances (points) from the anchor to the nearest edge of a label box beside it."""

_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
"""Unit steps tried at each ring, in this order: the four diagonals first, as they keep the
label off the horizontal and vertical lines through its own marker."""

_LEADER_FROM_PT = 8.0
"""A label farther than this (points) from its anchor is joined to it by a leader line."""

_GAP_PX = 3.0
"""Clear space kept between label boxes, and between a box and the axes' edge (px). A box is
the extent of the label's background patch (its text plus the patch's pad)."""

_MARK_PX = 5.0
"""Half size of the box kept clear around a marker (px): a 7 pt marker at 100 dpi."""

_LINE_PENALTY = 40.0
"""Cost (px of extra distance) of each line sample a candidate box covers."""


@dataclass(frozen=True, kw_only=True)
class LabelJob:
    """The labels of one axes and what they should keep clear of.

    ``anchors`` (n, 2) are the labelled points and ``marks`` (m, 2) every marker to leave
    uncovered, both in data coordinates (x, y); ``lines`` are polylines (k, 2) in data
    coordinates that labels should avoid covering when they can. ``style`` holds the keyword
    arguments of every label's ``Axes.text`` (font size, colour, background patch …).
    """

    ax: object
    names: tuple[str, ...]
    anchors: np.ndarray
    marks: np.ndarray
    lines: tuple[np.ndarray, ...] = ()
    style: tuple[tuple[str, object], ...] = ()


def place_labels(fig, jobs) -> list:
    """Add the labels of every job to its axes, laid out without overlaps. Returns the Texts."""
    renderer = fig.canvas.get_renderer()
    texts = []
    for job in jobs:
        texts += _place_axes_labels(job, renderer)
    return texts


def _place_axes_labels(job: LabelJob, renderer) -> list:
    """Lay out one axes' labels in order; each goes where it collides with nothing placed."""
    ax = job.ax
    ax.apply_aspect()  # where a fixed-aspect axes will be drawn, not the slot it was given
    frame = ax.get_window_extent(renderer)
    frame = (frame.x0, frame.y0, frame.x1, frame.y1)
    to_px = ax.transData.transform
    anchors = to_px(job.anchors) if len(job.anchors) else np.zeros((0, 2))
    marks = to_px(job.marks) if len(job.marks) else np.zeros((0, 2))
    mark_boxes = [(x - _MARK_PX, y - _MARK_PX, x + _MARK_PX, y + _MARK_PX) for x, y in marks]
    samples = [_densify(to_px(line)) for line in job.lines if len(line) > 1]
    line_pts = np.concatenate(samples) if samples else np.zeros((0, 2))
    px_per_pt = ax.figure.dpi / 72.0
    placed: list[tuple[float, float, float, float]] = []
    texts = []
    for name, anchor in zip(job.names, anchors, strict=True):
        text = ax.text(0, 0, name, transform=ax.transAxes, gid=LABEL_GID, **dict(job.style))
        extent = text.get_window_extent(renderer)
        pad = _patch_pad_px(text, px_per_pt)
        size = (extent.width + 2 * pad, extent.height + 2 * pad)  # the box its patch fills
        box = _beside(anchor, size, frame, placed, mark_boxes, line_pts, px_per_pt)
        if box is None:
            box = _in_column(anchor, size, frame, placed)
        placed.append(box)
        text.set_position(ax.transAxes.inverted().transform((box[0] + pad, box[1] + pad)))
        text.set_horizontalalignment("left")
        text.set_verticalalignment("bottom")
        end = _nearest_on(box, anchor)
        if np.hypot(*(end - anchor)) > _LEADER_FROM_PT * px_per_pt:
            _draw_leader(ax, anchor, end, text.get_color())
            line_pts = np.concatenate([line_pts, _densify(np.array([anchor, end]))])
        texts.append(text)
    return texts


def _patch_pad_px(text, px_per_pt: float) -> float:
    """How far the background patch of ``text`` (if any) reaches beyond its text (px): the
    box style's pad is a fraction of the font size."""
    patch = text.get_bbox_patch()
    if patch is None:
        return 0.0
    return float(getattr(patch.get_boxstyle(), "pad", 0.0)) * text.get_fontsize() * px_per_pt


def _beside(anchor, size, frame, placed, mark_boxes, line_pts, px_per_pt):
    """The cheapest free box next to ``anchor``, or None when every candidate collides."""
    best, best_cost = None, np.inf
    for ring_pt in _RINGS_PT:
        r = ring_pt * px_per_pt
        for dx, dy in _DIRECTIONS:
            box = _box_at(anchor, size, r, dx, dy)
            if not _inside(box, frame) or _hits_any(box, placed) or _hits_any(box, mark_boxes):
                continue
            cost = r + _LINE_PENALTY * _count_inside(box, line_pts)
            if cost < best_cost:
                best, best_cost = box, cost
    return best


def _box_at(anchor, size, r, dx, dy):
    """The box whose nearest edge (or corner) lies ``r`` px from ``anchor`` along (dx, dy)."""
    w, h = size
    norm = np.hypot(dx, dy)
    cx = anchor[0] + r * dx / norm + 0.5 * w * dx
    cy = anchor[1] + r * dy / norm + 0.5 * h * dy
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def _in_column(anchor, size, frame, placed):
    """A box in a column along the left or right edge of ``frame``: the side nearer the
    anchor first, the free slot nearest the anchor's height. If both columns are full (more
    labels than fit), the slot nearest the anchor on its own side, overlapping."""
    w, h = size
    fx0, fy0, fx1, fy1 = frame
    step = h + 2 * _GAP_PX
    tops = fy1 - _GAP_PX - step * np.arange(max(int((fy1 - fy0 - _GAP_PX) // step), 1))
    order = np.argsort(np.abs(tops - 0.5 * h - anchor[1]), kind="stable")
    left_first = anchor[0] < 0.5 * (fx0 + fx1)
    sides = (fx0 + _GAP_PX, fx1 - _GAP_PX - w)
    sides = sides if left_first else sides[::-1]
    for x in sides:
        for i in order:
            box = (x, tops[i] - h, x + w, tops[i])
            if not _hits_any(box, placed):
                return box
    return (sides[0], tops[order[0]] - h, sides[0] + w, tops[order[0]])


def _nearest_on(box, point) -> np.ndarray:
    """The point of ``box`` nearest to ``point`` (px)."""
    return np.array([np.clip(point[0], box[0], box[2]), np.clip(point[1], box[1], box[3])])


def _draw_leader(ax, start, end, colour) -> None:
    """A thin line from the anchor ``start`` to its label at ``end`` (px), drawn with a dark
    halo so that it shows on bright bone, fixed in axes-fraction coordinates."""
    from matplotlib import patheffects

    ends = ax.transAxes.inverted().transform(np.array([start, end]))
    halo = [patheffects.withStroke(linewidth=2.2, foreground="black", alpha=0.6)]
    ax.plot(
        ends[:, 0],
        ends[:, 1],
        lw=0.8,
        color=colour,
        transform=ax.transAxes,
        path_effects=halo,
        zorder=1.5,
    )


def _inside(box, frame) -> bool:
    """Is ``box`` inside ``frame`` with the gap to spare?"""
    return (
        box[0] >= frame[0] + _GAP_PX
        and box[1] >= frame[1] + _GAP_PX
        and box[2] <= frame[2] - _GAP_PX
        and box[3] <= frame[3] - _GAP_PX
    )


def _hits_any(box, others) -> bool:
    """Does ``box``, grown by the gap, meet any of ``others``?"""
    g = _GAP_PX
    return any(
        box[0] - g < o[2] and o[0] < box[2] + g and box[1] - g < o[3] and o[1] < box[3] + g
        for o in others
    )


def _count_inside(box, pts: np.ndarray) -> int:
    """How many of the points ``pts`` (n, 2) lie in ``box``."""
    if not len(pts):
        return 0
    x, y = pts[:, 0], pts[:, 1]
    return int(np.count_nonzero((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])))


def _densify(line: np.ndarray, step_px: float = 2.0) -> np.ndarray:
    """Points along the polyline ``line`` (k, 2) at most ``step_px`` apart."""
    out = [line[:1]]
    for a, b in itertools.pairwise(line):
        n = max(int(np.hypot(*(b - a)) // step_px), 1)
        out.append(a + (b - a) * (np.arange(1, n + 1)[:, None] / n))
    return np.concatenate(out)
