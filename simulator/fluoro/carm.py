"""The C-arm as the procedure uses it: exposures, last-image-hold and the dose ledger."""

from __future__ import annotations

from simulator.assets import load_table
from simulator.fluoro.chain import DisplaySettings, FluoroImage, Imager
from simulator.fluoro.dose import BeamModel, DoseLedger
from simulator.fluoro.projection import CementField, NeedleRender


class CArm:
    """Mutable imaging state of one attempt.

    Each :meth:`expose` books the shot in the ledger and replaces that view's held image; a
    view shows its last exposure until the next one (last-image-hold), whatever moves in the
    patient meanwhile. Pulses are numbered across the attempt, so the noise of every image is
    reproducible from the seed and the order of exposures.
    """

    def __init__(self, imager: Imager, *, settings: DisplaySettings = DisplaySettings()):  # noqa: B008
        self.imager = imager
        self.settings = settings
        self.ledger = DoseLedger(BeamModel.from_table(load_table("fluoro")))
        self.pulses_total = 0
        self._held: dict[str, FluoroImage] = {}

    def expose(
        self,
        view: str,
        *,
        pulses: int = 1,
        continued: bool = False,
        needle: NeedleRender | None = None,
        cement: CementField | None = None,
    ) -> FluoroImage:
        """Expose ``view`` for ``pulses`` pulses; returns (and holds) the last pulse's image."""
        self.ledger.record(view, pulses, continued=continued)
        self.pulses_total += pulses
        image = self.imager.render(
            view,
            pulse_index=self.pulses_total,
            needle=needle,
            cement=cement,
            settings=self.settings,
        )
        self._held[view] = image
        return image

    def held(self, view: str) -> FluoroImage | None:
        """The image a view is showing (its last exposure), or None before the first."""
        return self._held.get(view)
