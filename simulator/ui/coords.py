"""The one place where window pixels, detector pixels and patient millimetres meet.

A fluoroscopy panel shows a detector image of ``n × n`` pixels scaled into a square screen
rect. Detector pixel ``(row, col)`` (integer = pixel centre) covers screen x from
``left + col·s`` to ``left + (col + 1)·s`` with ``s = size / n``.

The detector ↔ patient mapping is the one of the image shown:

* release 0.3.0 on, the perspective :class:`~simulator.fluoro.geometry.Projection` of the pose
  the image was taken at (anatomy-frame LPS mm, whatever the patient's lie on the table);
* older releases' logs (their replays), the fixed parallel
  :class:`~simulator.fluoro.views.View` (:meth:`View.project`).

The skin entry of a click on a frontal (``ap``) image: with a projection, the ray from the
focal spot through the clicked pixel is followed to where it leaves the body through the back,
the skin surface ``y = skin_y(x)`` (the back is +y; the skin does not depend on z), found by
sampling the ray and then bisection; the entry is that point's ``[x, z]``. With a parallel
AP view the beam runs along y, so the click gives ``[x, z]`` directly (the needle model puts
the tip on the skin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.fluoro.geometry import Projection
from simulator.fluoro.views import View

RAY_SAMPLE_MM = 1.0
"""Spacing (mm) of the samples along a clicked pixel's ray that bracket the skin crossing."""


@dataclass(frozen=True, kw_only=True)
class PanelMap:
    """Screen rect ``(left, top, size)`` in window pixels showing one detector image, mapped
    by its ``proj`` (perspective, release 0.3.0 on) or its legacy parallel ``view``."""

    left: int
    top: int
    size: int
    proj: Projection | None = None
    view: View | None = None

    def __post_init__(self):
        if (self.proj is None) == (self.view is None):
            raise ValueError("a panel map needs exactly one of proj and view")

    @property
    def size_px(self) -> int:
        """Detector pixels across the image."""
        return (self.proj or self.view).size_px

    @property
    def scale(self) -> float:
        """Window pixels per detector pixel."""
        return self.size / self.size_px

    def screen_to_detector(self, x: float, y: float) -> tuple[float, float]:
        """Detector ``(row, col)`` (float, pixel centres at integers) under a screen point."""
        return (y - self.top) / self.scale - 0.5, (x - self.left) / self.scale - 0.5

    def detector_to_screen(self, row: float, col: float) -> tuple[float, float]:
        """Screen ``(x, y)`` of a detector ``(row, col)``."""
        return self.left + (col + 0.5) * self.scale, self.top + (row + 0.5) * self.scale

    def inside_field(self, x: float, y: float) -> bool:
        """True when a screen point falls inside the circular collimated field."""
        row, col = self.screen_to_detector(x, y)
        c = (self.size_px - 1) / 2.0
        return (row - c) ** 2 + (col - c) ** 2 <= (self.size_px / 2.0) ** 2

    def project(self, points_mm) -> np.ndarray:
        """Detector ``(row, col)`` (floats, (..., 2)) of anatomy-frame LPS points (mm)."""
        return (self.proj or self.view).project(np.asarray(points_mm, dtype=float))

    def mm_to_screen(self, point_mm) -> tuple[float, float]:
        """Screen ``(x, y)`` of an LPS point (mm) as the image shows it."""
        row, col = self.project(point_mm)
        return self.detector_to_screen(float(row), float(col))

    def detector_to_mm(self, row: float, col: float) -> tuple[float, float]:
        """Parallel views only: the patient ``(a, z)`` in mm that project to detector
        ``(row, col)``; ``a`` is the coordinate along the view's column axis (x for AP)."""
        if self.view is None:
            raise ValueError("a perspective image maps a pixel to a ray: use pixel_ray")
        g = self.view.grid
        a = g.origin_mm[self.view.col_axis] + g.voxel_mm * (col + self.view.col0_index)
        z = g.origin_mm[2] + g.voxel_mm * (self.view.row0_index - row)
        return float(a), float(z)

    def screen_to_mm(self, x: float, y: float) -> tuple[float, float]:
        """Parallel views only: patient ``(a, z)`` mm under a screen point."""
        return self.detector_to_mm(*self.screen_to_detector(x, y))

    def pixel_ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """Perspective images only: (focal spot, detector point) in anatomy LPS mm of the ray
        that lands under a screen point."""
        if self.proj is None:
            raise ValueError("a parallel view has no focal spot")
        row, col = self.screen_to_detector(x, y)
        return self.proj.source_mm, self.proj.pixel_mm_world(row, col)


def skin_exit_mm(
    source_mm, through_mm, skin_y_mm: Callable, *, step_mm: float = RAY_SAMPLE_MM
) -> np.ndarray | None:
    """Where the ray from ``source_mm`` toward ``through_mm`` (LPS mm) first passes from in
    front of the back's skin (``y < skin_y(x)``) to behind it: the skin point (mm, (3,)) seen
    at that pixel, or None when the ray never crosses the back between the two points.
    Bracketed by samples ``step_mm`` apart, then bisected to < 1 µm."""
    s = np.asarray(source_mm, dtype=float)
    d = np.asarray(through_mm, dtype=float) - s
    reach = float(np.linalg.norm(d))
    d = d / reach
    t = np.linspace(0.0, reach, max(int(reach / step_mm), 2) + 1)
    p = s + t[:, None] * d
    f = p[:, 1] - skin_y_mm(p[:, 0])
    cross = np.nonzero((f[:-1] < 0.0) & (f[1:] >= 0.0))[0]
    if cross.size == 0:
        return None
    lo, hi = float(t[cross[0]]), float(t[cross[0] + 1])
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        q = s + mid * d
        if q[1] - float(skin_y_mm(q[0])) < 0.0:
            lo = mid
        else:
            hi = mid
    return s + 0.5 * (lo + hi) * d


def entry_from_ap_click(
    panel: PanelMap, x: float, y: float, skin_y_mm: Callable | None = None
) -> tuple[str, tuple[float, float]] | None:
    """The needle's ``side`` and skin ``entry_mm`` [x, z] (mm, 0.1 mm steps) for a click on a
    frontal (AP) image: the skin point the clicked pixel shows (``skin_y_mm(x)``: y of the back
    at x, needed for a perspective image), on the patient's left when x ≥ 0. None when the
    pixel's ray does not meet the back."""
    if panel.view is not None:
        if panel.view.name != "ap":
            raise ValueError("the skin entry is chosen on the AP image")
        x_mm, z_mm = panel.screen_to_mm(x, y)
    else:
        hit = skin_exit_mm(*panel.pixel_ray(x, y), skin_y_mm)
        if hit is None:
            return None
        x_mm, z_mm = float(hit[0]), float(hit[2])
    side = "left" if x_mm >= 0 else "right"
    return side, (round(x_mm, 1), round(z_mm, 1))


def skin_point_mm(entry_mm, skin_y_mm: Callable) -> np.ndarray:
    """The skin point (LPS mm, (3,)) of an entry ``[x, z]`` (mm)."""
    x, z = float(entry_mm[0]), float(entry_mm[1])
    return np.array([x, float(skin_y_mm(x)), z])
