"""Perspective fluoroscopy at any C-arm pose (release 0.3.0 on).

Per pose (cached, :class:`PoseImager`): the anatomy's ∫μ dl by ray casting from the focal spot
to each detector pixel (:mod:`simulator.fluoro.raycast`), the exposure control's reference
(the median line integral behind the treated body, at the field's centre, where the arm's
isocentre puts it) and the display window set from the anatomy (automatic brightness). Per
exposure: the trocar and the cement (:mod:`simulator.fluoro.overlay`), the lead side marker,
then the image chain (:mod:`simulator.fluoro.fastchain`): quantum noise seeded by the pulse,
blur, the intensifier's veiling glare, window, vignetting and a soft-edged collimated circle.

A new pose's anatomy takes a ray cast (``render_new_pose_ms`` in ``bench``); the window asks
for it in the background (:meth:`PoseImager.prepare_async`) and keeps showing the last image
meanwhile. Poses are keyed to 0.01°.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from simulator.assets import load_table
from simulator.fluoro.anatomy_cast import AnatomyVolume, anatomy_line_integrals
from simulator.fluoro.chain import FLUORO_STREAM, DisplaySettings, FluoroImage, veiling_glare
from simulator.fluoro.fastchain import NoiseBank, blur_weights, finish, noisy_photons
from simulator.fluoro.geometry import PatientFrame, Projection
from simulator.fluoro.markers import marker_patch
from simulator.fluoro.overlay import cement_patch, needle_patches, point_patch
from simulator.fluoro.poses import ArmPose
from simulator.fluoro.visibility import ImagingGeometry, cement_delta_mu_per_mm

ABC_FIELD = 1.0 / 3.0
"""Diameter of the brightness control's central measuring field, as a fraction of the image."""
BODY_GREY = 0.45
"""Where the treated body sits on the grey scale (0 black, 1 white)."""
MIN_WIDTH = 2.2
"""Narrowest display window (log photons, e ^ 2.2 ≈ 9× in photons from black to white)."""
CACHE_POSES = 24
"""Poses whose anatomy image is kept (0.5 MB each at 368²)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class PoseImage:
    """What one pose's images share: the projection, the anatomy ∫μ dl, AEC and window."""

    proj: Projection
    anatomy: np.ndarray
    ref: float
    window: tuple[float, float]
    glare: np.ndarray
    """The wide-blurred photons of the anatomy (veiling glare, per unit dose)."""


_VOLUMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def volume_of(phantom) -> AnatomyVolume:
    """The phantom's :class:`AnatomyVolume` (its default trunk), made once per phantom: the
    imagers of every attempt on one phantom (a replayed batch of logs, the tests) share it;
    it is read-only."""
    with _SHARED_LOCK:
        volume = _VOLUMES.get(phantom)
    if volume is None:
        volume = AnatomyVolume.from_phantom(phantom)
        with _SHARED_LOCK:
            volume = _VOLUMES.setdefault(phantom, volume)
    return volume


class PoseImager:
    """Perspective images of one phantom lying as ``patient`` says, the arms' isocentre on
    ``iso_mm`` (world mm)."""

    def __init__(self, phantom, *, patient: PatientFrame, iso_mm, cement_barium_fraction, seed):
        table = load_table("fluoro")
        self.table = table
        self.det = table["detector"]
        self.geo = table["geometry"]
        self.seed = int(seed)
        self.grid = phantom.grid
        self.patient = patient
        self.geometry = ImagingGeometry.from_table(patient=patient, iso_mm=iso_mm, table=table)
        self.iso_mm = self.geometry.iso_mm
        self.beam = self.geometry.beam
        self.size_px = self.geometry.size_px
        self.mode = self.geometry.mode
        self.volume = volume_of(phantom)
        self._shared_key = (patient, tuple(float(v) for v in self.iso_mm))
        self.steel_per_mm = float(table["attenuation"]["steel_per_mm"])
        self.cement_delta_mu = cement_delta_mu_per_mm(cement_barium_fraction, table)
        n = self.size_px
        r = np.hypot(*np.meshgrid(*(np.arange(n) - (n - 1) / 2.0,) * 2, indexing="ij")) / (n / 2)
        self.radius_fraction = r
        self.circle = np.clip((1.0 - r) * n / 2.0 + 0.5, 0.0, 1.0).astype(np.float32)
        self.vignette = (1.0 - self.det["vignetting"] * r**2).astype(np.float32)
        intensifier = self.det["kind"] == "image_intensifier"
        self.distortion = self.geometry.distortion
        if not intensifier:  # a flat panel: no darkened rim, no glare, no pincushion
            self.vignette = np.ones_like(self.vignette)
        glare = float(self.det["glare_fraction"]) if intensifier else 0.0
        self.glare = (glare, float(self.det["glare_sigma_px"]))
        self.noise = NoiseBank(self.seed, FLUORO_STREAM, (n, n))
        self.blur = blur_weights(float(self.det["blur_px"]))
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # one cast at a time
        self._cache_lock = threading.Lock()  # the cache and the futures
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict = {}

    # ----- poses ----------------------------------------------------------------------------
    def projection(self, pose: ArmPose) -> Projection:
        """The projection of an arm at ``pose`` (:meth:`ImagingGeometry.projection`, the one
        the headless leak watch uses too)."""
        return self.geometry.projection(pose)

    @staticmethod
    def key(pose: ArmPose) -> tuple[int, int]:
        """The cache key of a pose (0.01° steps)."""
        return round(pose.rotation_deg * 100), round(pose.tilt_deg * 100)

    def ready(self, pose: ArmPose) -> bool:
        """True when ``pose``'s anatomy is computed."""
        with self._cache_lock:
            return self.key(pose) in self._cache

    def prepare(self, pose: ArmPose) -> PoseImage:
        """The anatomy of ``pose`` (computed now if not cached)."""
        k = self.key(pose)
        with self._cache_lock:
            hit = self._cache.get(k)
            if hit is not None:
                self._cache.move_to_end(k)
                return hit
            future = self._futures.get(k)
        if future is not None:
            return future.result()
        shared = self._shared_get(k)
        if shared is not None:
            return shared
        return self._compute(pose)

    def _shared_get(self, k) -> PoseImage | None:
        """A pose's anatomy another imager of the same volume, lie and isocentre computed (a
        pure function of those: the same arrays), kept in this imager's cache too."""
        with _SHARED_LOCK:
            hit = _POSES.get(self.volume, {}).get((self._shared_key, k))
        if hit is not None:
            with self._cache_lock:
                self._cache[k] = hit
                while len(self._cache) > CACHE_POSES:
                    self._cache.popitem(last=False)
        return hit

    def prepare_async(self, pose: ArmPose) -> None:
        """Start computing ``pose``'s anatomy on a background thread (no-op when cached or
        under way)."""
        k = self.key(pose)
        with self._cache_lock:
            if k in self._cache or k in self._futures:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vsim-raycast")
            self._futures[k] = self._pool.submit(self._compute, pose)

    def _compute(self, pose: ArmPose) -> PoseImage:
        try:
            return self._cast(pose)
        finally:  # done or failed: a later prepare() computes again (and shows the error)
            with self._cache_lock:
                self._futures.pop(self.key(pose), None)

    def _cast(self, pose: ArmPose) -> PoseImage:
        proj = self.projection(pose)
        with self._lock:  # one ray cast at a time (the kernel is parallel itself)
            line = anatomy_line_integrals(self.volume, proj)
        centre = self.radius_fraction <= 0.12  # the treated body, at the isocentre
        ref = float(np.median(line[centre]))
        n_ref = self.det["photons_per_pixel_at_reference"]
        lg = np.log(n_ref * np.exp(ref - line))
        window = self._window(lg, float(np.log(n_ref)))
        glare = veiling_glare(np.exp(lg).astype(np.float32), 1.0, self.glare[1])
        for arr in (line, glare):
            arr.setflags(write=False)  # shared with other imagers of this volume
        item = PoseImage(proj=proj, anatomy=line, ref=ref, window=window, glare=glare)
        k = self.key(pose)
        with _SHARED_LOCK:
            shared = _POSES.setdefault(self.volume, OrderedDict())
            shared[(self._shared_key, k)] = item
            while len(shared) > CACHE_POSES:
                shared.popitem(last=False)
        with self._cache_lock:
            self._cache[k] = item
            while len(self._cache) > CACHE_POSES:
                self._cache.popitem(last=False)
        return item

    def _window(self, lg: np.ndarray, level: float) -> tuple[float, float]:
        """The display window (log photons) the brightness control sets: the treated body
        (``level``, the exposure control's reference) at ``BODY_GREY`` of the scale, over a
        width of the anatomy's range plus headroom for steel and cement, at least
        ``MIN_WIDTH`` (an osteoporotic spine on a thin path stays faint rather than being
        stretched to full contrast)."""
        lo, hi = np.percentile(lg[self.radius_fraction <= 0.97], [0.5, 99.8])
        width = max(1.45 * float(hi - lo), MIN_WIDTH)
        return level - BODY_GREY * width, level + (1.0 - BODY_GREY) * width

    # ----- exposures --------------------------------------------------------------------------
    def scene_patches(self, pose: ArmPose, *, needle=None, cement=None) -> list:
        """The cement's and the trocars' (``needle``: one ``NeedleRender`` or a tuple of them)
        ∫μ dl at ``pose`` as (row slice, col slice, values) patches (no ray cast needed): made
        once per exposure, for the brightness control and the image alike."""
        proj = self.projection(pose)
        patches = []
        if cement is not None and getattr(cement, "fraction", None) is not None:
            patches.append(
                cement_patch(cement, proj, delta_mu_per_mm=self.cement_delta_mu, grid=self.grid)
            )
        points = getattr(cement, "points_mm3", None)
        if points is not None and points.size:  # the veins' cement (release 0.5.0 on)
            patches.append(
                point_patch(cement.points_mm, points, proj, delta_mu_per_mm=self.cement_delta_mu)
            )
        for one in needle if isinstance(needle, tuple) else (needle,):  # two needles: both
            if one is not None:
                patches += needle_patches(one, proj, steel_per_mm=self.steel_per_mm)
        return [p for p in patches if p is not None]

    def line_integral(
        self, pose: ArmPose, *, needle=None, cement=None, marker=True, patches=None
    ) -> np.ndarray:
        """∫μ dl on the detector at ``pose``: anatomy, cement, trocar (``patches``, else made
        from ``needle`` and ``cement``) and the lead marker."""
        item = self.prepare(pose)
        line = item.anatomy.copy()
        if patches is None:
            patches = self.scene_patches(pose, needle=needle, cement=cement)
        if marker:
            patches = [*patches, marker_patch(item.proj, self.patient)]
        for rs, cs, values in patches:
            line[rs, cs] += values
        return line

    def brightness_shortfall(
        self, pose: ArmPose, *, needle=None, cement=None, patches=None
    ) -> float:
        """What the trocar and the cement (``patches``, else made from ``needle`` and
        ``cement``) take from the automatic brightness control's measuring field (the central
        third of the image): −log of the mean fraction of the photons they let through there
        (0 when they are not in it). Needs no ray cast."""
        if patches is None:
            patches = self.scene_patches(pose, needle=needle, cement=cement)
        n = self.size_px
        lo, hi = int(n * (0.5 - ABC_FIELD / 2)), int(n * (0.5 + ABC_FIELD / 2))
        extra = np.zeros((hi - lo, hi - lo), dtype=np.float32)
        for rs, cs, values in patches:
            r0, r1 = max(rs.start, lo), min(rs.stop, hi)
            c0, c1 = max(cs.start, lo), min(cs.stop, hi)
            if r0 < r1 and c0 < c1:
                extra[r0 - lo : r1 - lo, c0 - lo : c1 - lo] += values[
                    r0 - rs.start : r1 - rs.start, c0 - cs.start : c1 - cs.start
                ]
        inside = self.radius_fraction[lo:hi, lo:hi] <= ABC_FIELD
        return float(-np.log(np.mean(np.exp(-extra[inside].astype(np.float64)))))

    def render(
        self,
        view: str,
        pose: ArmPose,
        *,
        pulse_index: int,
        needle=None,
        cement=None,
        dose_factor: float = 1.0,
        brightness: float = 0.0,
        patches=None,
        settings: DisplaySettings = DisplaySettings(),  # noqa: B008
    ) -> FluoroImage:
        """One exposure at ``pose`` (``view`` labels it) at ``dose_factor`` × the dose the
        exposure control sets, the brightness control's gain raised by ``brightness`` (log
        units: what it has settled to, :meth:`CArm.expose`)."""
        item = self.prepare(pose)
        line = self.line_integral(pose, needle=needle, cement=cement, patches=patches)
        n_ref = float(self.det["photons_per_pixel_at_reference"]) * dose_factor
        eps, dr, dc = self.noise.frame(pulse_index)
        lam = np.empty_like(line)
        noisy_photons(line, item.ref + brightness, n_ref, eps, dr, dc, settings.noise, lam)
        pixels = np.empty(line.shape, dtype=np.uint8)
        counts = np.empty_like(line)
        lo, hi = item.window
        lo, hi = lo + np.log(dose_factor), hi + np.log(dose_factor)  # the window is per dose
        finish(
            lam,
            self.blur,
            item.glare if dose_factor == 1.0 else item.glare * np.float32(dose_factor),
            self.glare[0],
            lo,
            hi,
            1e-4 * n_ref,
            settings.invert,
            self.vignette,
            self.circle,
            pixels,
            counts,
        )
        if settings.edge_enhancement > 0:
            pixels = enhance_edges(pixels, settings.edge_enhancement, self.circle)
        return FluoroImage(
            view=view,
            pixels=pixels,
            counts=counts,
            pulse_index=int(pulse_index),
            dose_factor=float(dose_factor),
        )


def enhance_edges(pixels: np.ndarray, gain: float, circle: np.ndarray) -> np.ndarray:
    """The monitor's unsharp mask (``gain`` × the difference from a σ = 2 px blur)."""
    d = pixels.astype(np.float32) / 255.0
    d = np.clip(d + gain * (d - ndimage.gaussian_filter(d, 2.0)), 0.0, 1.0) * circle
    return np.round(d * 255.0).astype(np.uint8)
