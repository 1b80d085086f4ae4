"""The model of each release: what changed in the model between releases, so that a log is
re-simulated (verify, replay, recover) with the model of the release that wrote it and keeps
verifying after the model improves. The differences are ``assets/releases.toml``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.assets import load_table

VERSION = "0.8.0"
"""This release (``simulator.__version__``, the package's version, a log's
``simulator_version``)."""


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """Behaviours of the model that changed between releases. A log is re-simulated with the
    options of the release that made it (:func:`model_for_version`, ``assets/releases.toml``,
    where each is explained), so that a log verifies under the model that wrote it; new
    attempts use the defaults. ``yield_per_s`` None: ``assets/cement_model.toml``'s."""

    conservative_cement: bool = True
    keep_cg_state: bool = True
    geometric_aggregation: bool = True
    finite_batch: bool = True
    pulse_clock: bool = True
    wall_contact_events: bool = True
    carm_device: bool = True
    mesh_anatomy: bool = True
    visible_cement: bool = True
    phase_labels: bool = True
    disc_sheet: bool = True
    technique_scoring: bool = True
    two_needles: bool = True
    yield_per_s: float | None = None

    @property
    def rubric_version(self) -> int:
        """The rubric (``assets/rubric.toml``) this model's attempts are scored with: 1 before
        the technique scores (release 0.7.0), 2 before the two needles (0.8.0), 3 since."""
        if not self.technique_scoring:
            return 1
        return 3 if self.two_needles else 2

    @property
    def metrics_release(self) -> str | None:
        """The release whose metric names this model's attempts have (``metric_names(release=
        …)``): 0.2.0 before the C-arm device (no alignment metrics), 0.4.0 before the visible
        cement (no leak visibility), 0.6.0 before the technique scores (no image guidance
        metrics), 0.7.0 before the two needles (no per-needle metrics), None for today's
        (every metric)."""
        if not self.carm_device:
            return "0.2.0"
        if not self.visible_cement:
            return "0.4.0"
        if not self.technique_scoring:
            return "0.6.0"
        return None if self.two_needles else "0.7.0"

    def has_metrics_of(self, release: str) -> bool:
        """True when this model's attempts have the metrics added in ``release`` (its
        :attr:`metrics_release` is that one or later, or today's)."""
        mine = self.metrics_release
        if mine is None:
            return True
        return tuple(map(int, mine.split("."))) >= tuple(map(int, release.split(".")))

    def cement_options(self) -> dict:
        """The keyword options of :class:`~simulator.cement.injection.CementInjection`."""
        return {
            "finite_batch": self.finite_batch,
            "yield_per_s": self.yield_per_s,
            "conservative": self.conservative_cement,
            "keep_cg_state": self.keep_cg_state,
            "geometric_aggregation": self.geometric_aggregation,
            "visible": self.visible_cement,
            "disc_sheet": self.disc_sheet,
        }


def _released_models() -> dict[tuple[int, ...], ModelOptions]:
    table = load_table("releases")
    return {
        tuple(int(p) for p in version.split(".")): ModelOptions(**row)
        for version, row in table.items()
    }


RELEASED_MODELS = _released_models()
"""The model of each earlier release whose behaviour differs from today's (by version)."""


def model_for_version(version: str) -> ModelOptions:
    """The model options a log written by simulator ``version`` (``"0.1.0"``) was made with:
    today's for this release, a listed earlier release's own (``assets/releases.toml``), a
    ``ValueError`` for anything else (not a release, or newer than this one)."""
    shown = repr(version if len(version) <= 24 else version[:21] + "…")
    if not re.fullmatch(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}", version):
        raise ValueError(f"{shown} is not a version of this simulator (like {VERSION!r})")
    key = tuple(int(part) for part in version.split("."))
    current = tuple(int(part) for part in VERSION.split("."))
    if key > current:
        raise ValueError(f"made by version {version}, newer than this one ({VERSION})")
    if key == current:
        return ModelOptions()
    if key not in RELEASED_MODELS:
        known = ", ".join(".".join(map(str, v)) for v in sorted(RELEASED_MODELS))
        raise ValueError(f"{shown} is not a release this simulator can replay ({known}, {VERSION})")
    return RELEASED_MODELS[key]
