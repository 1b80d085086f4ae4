"""The radiographer's lead side marker on each image: ``R`` or ``L`` in an upper corner.

On a frontal image (the arm within 45° of the frontal beam) the letter names the patient's side
shown on that half of the image; on a lateral or steep oblique, the side nearer the detector.
The marker is lead on the patient's surface: it attenuates so strongly (``LEAD_INTEGRAL``) that
it shows as a solid dark letter through the whole image chain (noise, blur), as on real films.
"""

from __future__ import annotations

import numpy as np

from simulator.fluoro.geometry import PatientFrame, Projection

LEAD_INTEGRAL = 4.0
"""∫μ dl through the marker's letters (≈ 0.5 mm of lead at 50 keV), dimensionless."""

_GLYPHS = {
    "R": ("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
}


def glyph(letter: str) -> np.ndarray:
    """The 7 × 5 bitmap of a marker letter (bool)."""
    return np.array([[c == "1" for c in row] for row in _GLYPHS[letter]])


def marker_letter(proj: Projection, patient: PatientFrame) -> tuple[str, bool]:
    """(letter, on the image's left half) for ``proj``."""
    u, _, w = proj.axes  # anatomy-frame column and beam directions
    world_w = patient.world_from_anatomy @ w
    frontal = abs(world_w[1]) >= abs(world_w[0])
    if frontal:
        # the patient's right (−x) lies toward −u or +u on the image
        right_on_left = float(u[0]) > 0.0
        return "R", right_on_left
    return ("L" if float(w[0]) > 0.0 else "R"), False


def marker_patch(proj: Projection, patient: PatientFrame):
    """(row slice, col slice, ∫μ dl patch) of the side marker."""
    letter, left = marker_letter(proj, patient)
    n = proj.size_px
    scale = max(n // 64, 1)
    bitmap = np.kron(glyph(letter), np.ones((scale, scale), dtype=bool))
    h, w = bitmap.shape
    top = int(0.2 * n)
    col = int(0.2 * n) if left else int(0.8 * n) - w
    return slice(top, top + h), slice(col, col + w), (LEAD_INTEGRAL * bitmap).astype(np.float32)
