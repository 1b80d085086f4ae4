"""Whether a leak shows on an image: measured on the detector, headless or not.

A C-arm pose's projection needs only the patient's lie, the isocentre, the beam, the detector's
size, field mode and pincushion (:class:`ImagingGeometry`; the imager uses the same one), so
the cement can be put on the detector without the anatomy's ray cast.

For each leak site :func:`leak_contrast` splats the leaked cement (points with volumes,
:func:`~simulator.fluoro.overlay.point_patch`) and reads the ∫Δμ dl it reaches over at least
Rose's area (``[visibility] min_area_mm2``) of the collimated field, at the pixels where it adds
at least as much as the body's own cement (where the bolus is the denser cement, the leak in
its shadow cannot be told from it). It shows when that reaches the threshold
(``[visibility] contrast_line_integral`` of ``assets/fluoro.toml``).

:class:`LeakWatch` (held by the procedure when ``ModelOptions.visible_cement``) does this at
every exposure, whatever the pose, and keeps per site the first exposure time on which the leak
showed and the volume injected by then: the metrics ``leak_first_seen_s`` and
``injected_after_leak_seen_ml``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.assets import load_table
from simulator.fluoro.geometry import CArmPose, ConeBeam, PatientFrame, Projection
from simulator.fluoro.overlay import point_patch
from simulator.fluoro.poses import ArmPose
from simulator.fluoro.projection import cement_mu_per_mm
from simulator.materials import outside_sites

MIRROR_FROM_DEG = 70.0
"""An arm turned this far toward the patient's right (a lateral from the right) shows its
image reversed left–right, as the radiographer sets the monitor, so anterior stays on the left;
an oblique short of it (an en-face view, say) is shown as it falls."""


@dataclass(frozen=True, kw_only=True)
class ImagingGeometry:
    """What a C-arm pose's :class:`Projection` needs: the patient's lie, the arms' isocentre
    (world mm), the cone beam, the detector's pixels across, field mode and pincushion (0: a
    flat panel)."""

    patient: PatientFrame
    iso_mm: tuple[float, float, float]
    beam: ConeBeam
    size_px: int
    mode: str
    distortion: float

    @classmethod
    def from_table(
        cls, *, patient: PatientFrame, iso_mm, table: dict | None = None
    ) -> ImagingGeometry:
        """From ``assets/fluoro.toml`` (or ``table``): ``[geometry]`` and ``[detector]``."""
        table = table or load_table("fluoro")
        det = table["detector"]
        intensifier = det["kind"] == "image_intensifier"
        return cls(
            patient=patient,
            iso_mm=tuple(float(v) for v in iso_mm),
            beam=ConeBeam.from_table(table),
            size_px=int(table["geometry"]["detector_size_px"]),
            mode=table["geometry"]["default_mode"],
            distortion=float(det["pincushion"]) if intensifier else 0.0,
        )

    @classmethod
    def of_carm(cls, carm, table: dict | None = None) -> ImagingGeometry:
        """The geometry of a :class:`~simulator.fluoro.device.CArm`'s images: its patient
        frame turns about the isocentre (``pivot_mm``), where the arms point."""
        patient = carm.patient
        return cls.from_table(
            patient=patient, iso_mm=patient.to_world(patient.pivot_mm), table=table
        )

    def projection(self, pose: ArmPose) -> Projection:
        """The projection of an arm at ``pose`` (a lateral from the patient's right is shown
        mirrored, ``MIRROR_FROM_DEG``)."""
        cpose = CArmPose(
            rotation_deg=pose.rotation_deg,
            tilt_deg=pose.tilt_deg,
            isocentre_mm=self.iso_mm,
            mirror=pose.rotation_deg <= -MIRROR_FROM_DEG,
        )
        return Projection.make(
            cpose,
            size_px=self.size_px,
            mode=self.mode,
            beam=self.beam,
            patient=self.patient,
            distortion=self.distortion,
        )


def cement_delta_mu_per_mm(barium_mass_fraction: float, table: dict | None = None) -> float:
    """Cement's attenuation over the marrow it displaces (1/mm) at 50 keV, for a product's
    barium sulphate mass fraction (``[attenuation]`` of ``assets/fluoro.toml``)."""
    att = (table or load_table("fluoro"))["attenuation"]
    return float(cement_mu_per_mm(barium_mass_fraction, att) - att["marrow_per_mm"])


def contrast_threshold(table: dict | None = None) -> float:
    """The ∫Δμ dl (dimensionless) a leak must add to show on an image (``[visibility]
    contrast_line_integral``, its reasoning beside it)."""
    return float((table or load_table("fluoro"))["visibility"]["contrast_line_integral"])


def leak_contrast(parts: dict, proj: Projection, delta_mu_per_mm: float) -> dict[str, float]:
    """Per leak site of ``parts``, the ∫Δμ dl (dimensionless) its cement adds on the detector
    of ``proj`` over at least ``[visibility] min_area_mm2`` (Rose's area) inside the
    collimated circle, at pixels where it is at least what the body's cement
    (``parts["body"]``) adds there; 0 for a site with no cement on the field. It shows when
    that reaches ``threshold`` (default :func:`contrast_threshold`).

    ``parts``: site → (positions (N, 3) anatomy mm, volumes (N,) mm³) or None, as
    ``CementInjection.visible_parts()`` gives them; ``delta_mu_per_mm``: cement over what it
    displaced (1/mm)."""
    leaks = {s: _patch(p, proj, delta_mu_per_mm) for s, p in parts.items() if s != "body"}
    return _contrast(leaks, parts.get("body"), proj, delta_mu_per_mm)


def _contrast(leaks: dict, body_part, proj: Projection, delta_mu_per_mm: float):
    """:func:`leak_contrast` of the sites' patches ``leaks`` (site → patch or None)."""
    body = _patch(body_part, proj, delta_mu_per_mm)
    fluoro = load_table("fluoro")
    table = fluoro["visibility"]
    sod = float(fluoro["geometry"]["source_isocentre_distance_mm"])
    iso_px_mm = proj.pixel_mm * sod / proj.beam.sid_mm  # a pixel at the isocentre
    area_px = max(1, round(float(table["min_area_mm2"]) / iso_px_mm**2))
    return {
        site: 0.0 if leak is None else _peak_outside(leak, body, proj.size_px, area_px=area_px)
        for site, leak in leaks.items()
    }


def _patch(part, proj: Projection, delta_mu_per_mm: float):
    """``point_patch`` of one site's (positions, volumes), or None without cement."""
    if part is None or len(part[1]) == 0:
        return None
    return point_patch(part[0], part[1], proj, delta_mu_per_mm=delta_mu_per_mm)


def _peak_outside(leak, body, n: int, *, area_px: int = 1) -> float:
    """The value the ``leak`` patch reaches over at least ``area_px`` pixels (its
    ``area_px``-th largest) inside the field's circle (radius n/2 px about the centre), at
    pixels where it is at least the ``body`` patch's (or None): where the bolus is the denser
    cement, the leak in its shadow cannot be told from it."""
    rs, cs, values = leak
    rows = np.arange(rs.start, rs.stop, dtype=float)[:, None]
    cols = np.arange(cs.start, cs.stop, dtype=float)[None, :]
    c = (n - 1) / 2.0
    keep = np.hypot(rows - c, cols - c) <= n / 2.0
    if body is not None:
        brs, bcs, bvalues = body
        shadow = np.zeros(values.shape, dtype=np.float32)
        r0, r1 = max(rs.start, brs.start), min(rs.stop, brs.stop)
        c0, c1 = max(cs.start, bcs.start), min(cs.stop, bcs.stop)
        if r0 < r1 and c0 < c1:
            shadow[r0 - rs.start : r1 - rs.start, c0 - cs.start : c1 - cs.start] = bvalues[
                r0 - brs.start : r1 - brs.start, c0 - bcs.start : c1 - bcs.start
            ]
        keep &= values >= shadow
    kept = values[keep]
    if kept.size < area_px:
        return 0.0
    return float(np.partition(kept, kept.size - area_px)[kept.size - area_px])


class LeakWatch:
    """Per leak site, the first exposure on which its cement showed (mutable).

    ``geometry``: the C-arm's :class:`ImagingGeometry`; ``delta_mu_per_mm``: the cement's Δμ
    (1/mm, as the image draws it); ``threshold``: :func:`contrast_threshold`'s ∫Δμ dl."""

    def __init__(
        self,
        geometry: ImagingGeometry,
        *,
        delta_mu_per_mm: float,
        threshold: float,
        growth: bool = True,
    ):
        """``growth``: also ``leak_growth_after_seen_ml`` (release 0.7.0 on)."""
        self.geometry = geometry
        self.growth = growth
        self.delta_mu_per_mm = float(delta_mu_per_mm)
        self.threshold = float(threshold)
        self.seen_s: dict[str, float | None] = dict.fromkeys(outside_sites())
        """Site → simulated time (s) of the first exposure the leak showed on, None before."""
        self.injected_at_seen_m3: dict[str, float | None] = dict.fromkeys(outside_sites())
        """Site → volume injected (m³) at that exposure, None before."""
        self.leak_at_seen_ml: dict[str, float | None] = dict.fromkeys(outside_sites())
        """Site → its leak's volume (ml) at that exposure, None before."""

    @classmethod
    def for_attempt(cls, carm, scenario, model) -> LeakWatch | NoLeakWatch:
        """The watch of one attempt: its C-arm's geometry, the scenario's cement product (the
        one the images draw); a :class:`NoLeakWatch` when ``model`` (``ModelOptions``) is of a
        release before ``visible_cement``."""
        if not model.visible_cement:
            return NoLeakWatch()
        product = load_table("cements")["products"][scenario.cement.product]
        return cls(
            ImagingGeometry.of_carm(carm),
            delta_mu_per_mm=cement_delta_mu_per_mm(product["barium_sulfate_mass_fraction"]),
            threshold=contrast_threshold(),
            growth=model.has_metrics_of("0.7.0"),
        )

    def expose(self, t_s: float, pose: ArmPose, cement) -> None:
        """An exposure at ``t_s`` (s) at ``pose``: note the sites whose leak shows on it for
        the first time (``cement``: the model, with ``visible_parts()`` and ``injected_m3``)."""
        unseen = [s for s, t in self.seen_s.items() if t is None]
        parts = _visible_parts(cement) if unseen else None
        if not parts:
            return
        leaks = {s: parts.get(s) for s in unseen if _has_cement(parts.get(s))}
        if not leaks:
            return  # nothing outside the body yet (most exposures): no splat
        proj = self.geometry.projection(pose)
        patches = {s: _patch(p, proj, self.delta_mu_per_mm) for s, p in leaks.items()}
        if all(p is None or float(p[2].max()) < self.threshold for p in patches.values()):
            return  # too faint to show even beside the bolus: no need to splat the body
        shown = _contrast(patches, parts.get("body"), proj, self.delta_mu_per_mm)
        for site, peak in shown.items():
            if peak >= self.threshold:
                self.seen_s[site] = float(t_s)
                self.injected_at_seen_m3[site] = float(cement.injected_m3)
                self.leak_at_seen_ml[site] = _leak_ml(cement).get(site, 0.0)

    def metrics(self, cement) -> dict:
        """``leak_first_seen_s`` {site: s or None} and ``injected_after_leak_seen_ml``
        {site: ml injected after that exposure, or None} and, from release 0.7.0 on,
        ``leak_growth_after_seen_ml`` {site: ml its leak grew by after that exposure, or None}
        (``assets/metrics.toml``)."""
        now = float(getattr(cement, "injected_m3", 0.0))
        after = {
            s: None if v is None else round(max(now - v, 0.0) * 1e6, 6)
            for s, v in self.injected_at_seen_m3.items()
        }
        out = {
            "leak_first_seen_s": {
                s: None if t is None else round(t, 6) for s, t in self.seen_s.items()
            },
            "injected_after_leak_seen_ml": after,
        }
        if self.growth:
            seen = any(v is not None for v in self.leak_at_seen_ml.values())
            final = _leak_ml(cement) if seen else {}
            out["leak_growth_after_seen_ml"] = {
                s: None if v is None else round(max(final.get(s, 0.0) - v, 0.0), 6)
                for s, v in self.leak_at_seen_ml.items()
            }
        return out


class NoLeakWatch:
    """The watch of a release before the visible cement: notes nothing, has no metrics."""

    def expose(self, t_s: float, pose: ArmPose, cement) -> None:
        """Nothing to note."""

    def metrics(self, cement) -> dict:
        """No metrics (``leak_first_seen_s`` is of release 0.5.0 on)."""
        return {}


def _visible_parts(cement) -> dict | None:
    # the voxel-resolution cement model provides visible_parts(); a model without it has no
    # cement as points to show (its leaks leave the image: issue 15)
    method = getattr(cement, "visible_parts", None)
    return None if method is None else method()


def _leak_ml(cement) -> dict[str, float]:
    method = getattr(cement, "leak_ml", None)  # a model without it: no leak volumes
    return {} if method is None else method()


def _has_cement(part) -> bool:
    return part is not None and len(part[1]) > 0 and float(np.max(part[1])) > 0.0
