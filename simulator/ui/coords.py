"""The one place where window pixels, detector pixels and patient millimetres meet.

A fluoroscopy panel shows a detector image of ``n × n`` pixels scaled into a square screen
rect. Detector pixel ``(row, col)`` (integer = pixel centre) covers screen x from
``left + col·s`` to ``left + (col + 1)·s`` with ``s = size / n``. The detector ↔ patient
mapping is the view's own (:meth:`simulator.fluoro.views.View.project`); its inverse for the
AP view gives the skin entry ``[x, z]`` in LPS mm (the beam runs along y, so y is free: the
needle model puts the tip on the skin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.fluoro.views import View


@dataclass(frozen=True, kw_only=True)
class PanelMap:
    """Screen rect ``(left, top, size)`` in window pixels showing ``view``'s detector."""

    view: View
    left: int
    top: int
    size: int

    @property
    def scale(self) -> float:
        """Window pixels per detector pixel."""
        return self.size / self.view.size_px

    def screen_to_detector(self, x: float, y: float) -> tuple[float, float]:
        """Detector ``(row, col)`` (float, pixel centres at integers) under a screen point."""
        return (y - self.top) / self.scale - 0.5, (x - self.left) / self.scale - 0.5

    def detector_to_screen(self, row: float, col: float) -> tuple[float, float]:
        """Screen ``(x, y)`` of a detector ``(row, col)``."""
        return self.left + (col + 0.5) * self.scale, self.top + (row + 0.5) * self.scale

    def inside_field(self, x: float, y: float) -> bool:
        """True when a screen point falls inside the circular collimated field."""
        row, col = self.screen_to_detector(x, y)
        c = (self.view.size_px - 1) / 2.0
        return (row - c) ** 2 + (col - c) ** 2 <= (self.view.size_px / 2.0) ** 2

    def detector_to_mm(self, row: float, col: float) -> tuple[float, float]:
        """The patient coordinates ``(a, z)`` in mm that project to detector ``(row, col)``:
        ``a`` is the coordinate along the view's column axis (x for AP, y for lateral)."""
        g = self.view.grid
        a = g.origin_mm[self.view.col_axis] + g.voxel_mm * (col + self.view.col0_index)
        z = g.origin_mm[2] + g.voxel_mm * (self.view.row0_index - row)
        return float(a), float(z)

    def screen_to_mm(self, x: float, y: float) -> tuple[float, float]:
        """Patient ``(a, z)`` mm under a screen point (see :meth:`detector_to_mm`)."""
        return self.detector_to_mm(*self.screen_to_detector(x, y))

    def mm_to_screen(self, point_mm) -> tuple[float, float]:
        """Screen ``(x, y)`` of an LPS point (mm) projected along the view's beam."""
        row, col = self.view.project(np.asarray(point_mm, dtype=float))
        return self.detector_to_screen(float(row), float(col))


def entry_from_ap_click(panel: PanelMap, x: float, y: float) -> tuple[str, tuple[float, float]]:
    """The needle's ``side`` and skin ``entry_mm`` [x, z] (mm, 0.1 mm steps) for a click on
    the AP panel: right of the midline on screen is the patient's left (+x)."""
    if panel.view.name != "ap":
        raise ValueError("the skin entry is chosen on the AP image")
    x_mm, z_mm = panel.screen_to_mm(x, y)
    side = "left" if x_mm >= 0 else "right"
    return side, (round(x_mm, 1), round(z_mm, 1))
