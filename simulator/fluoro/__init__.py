"""Simulated fluoroscopy: C-arm views, the image chain, last-image-hold and the dose ledger."""

from simulator.fluoro.carm import CArm
from simulator.fluoro.chain import DisplaySettings, FluoroImage, Imager, make_imager
from simulator.fluoro.dose import BeamModel, DoseLedger
from simulator.fluoro.projection import CementField, NeedleRender
from simulator.fluoro.views import VIEW_NAMES, View

__all__ = [
    "VIEW_NAMES",
    "BeamModel",
    "CArm",
    "CementField",
    "DisplaySettings",
    "DoseLedger",
    "FluoroImage",
    "Imager",
    "NeedleRender",
    "View",
    "make_imager",
]
