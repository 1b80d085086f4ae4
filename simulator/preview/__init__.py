"""The ``preview`` sheet: lateral and AP projections and three labelled slices of a scenario,
with the planned trajectories drawn on each.

The projections are single pulses of the fluoroscopy image chain (``simulator.fluoro``).
Display conventions: lateral view with anterior on the left and superior up; AP view and
the axial and coronal slices with the patient's right on the viewer's left (radiological
convention); the axial slice with anterior up.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from simulator.anatomy.phantom import Phantom
from simulator.fluoro import Imager
from simulator.materials import tissues
from simulator.planning import Plan, path_points
from simulator.preview.labels import LABEL_GID, LabelJob, place_labels

_COLOURS = {
    "air": "#000000",
    "soft_tissue": "#5a3d33",
    "cancellous": "#e8d9a8",
    "cortical": "#ffffff",
    "endplate": "#fff27a",
    "pedicle_cancellous": "#f2a93b",
    "pedicle_cortex": "#f0f0f0",
    "posterior_bone": "#8f8fa3",
    "adjacent_cancellous": "#a89f86",
    "adjacent_cortical": "#d6d6d6",
    "disc": "#4f9fd6",
    "thecal_sac": "#9ad0ff",
    "epidural_fat": "#f5c542",
    "epidural_vein": "#3060ff",
    "basivertebral_vein": "#0018a8",
    "segmental_vein": "#7040ff",
    "great_vessel": "#c03030",
    "nerve_root": "#ffe600",
    "cleft": "#00d0a0",
    "cortical_defect": "#ff00c8",
    "endplate_crack": "#ff5a00",
    "disc_fissure": "#ff9a50",
    "lytic_lesion": "#b0306e",
    "cleft_gas": "#102018",
}

_LABEL_COLOUR = "#ffb000"
_LABEL_STYLE = (
    ("fontsize", 8),
    ("color", _LABEL_COLOUR),
    ("parse_math", False),
    ("bbox", {"boxstyle": "round,pad=0.15", "facecolor": "black", "alpha": 0.55, "lw": 0}),
)
"""Feature labels on the projections: amber on a translucent dark patch, legible on bone."""
__all__ = ["LABEL_GID", "preview_figure", "scenario_features", "write_preview"]


def scenario_features(scenario) -> list[tuple[str, tuple[float, float, float]]]:
    """The ``(name, position_mm)`` pairs marked on the preview: the scenario's veins, then its
    defects, in file order (LPS, mm)."""
    features = [(v.kind.replace("_", " ") + " vein", v.position_mm) for v in scenario.veins]
    features += [(d.kind.replace("_", " "), d.position_mm) for d in scenario.defects]
    return features


def write_preview(
    phantom: Phantom,
    plans: list[Plan],
    out: str | Path,
    *,
    title: str,
    imager: Imager,
    features=(),
) -> Path:
    """Render the preview sheet to ``out`` (PNG), atomically. Returns the path.

    See :func:`preview_figure` for the sheet and its arguments.
    """
    fig = preview_figure(phantom, plans, title=title, imager=imager, features=features)
    return _save_atomic(fig, Path(out))


def preview_figure(
    phantom: Phantom,
    plans: list[Plan],
    *,
    title: str,
    imager: Imager,
    features=(),
):
    """The preview sheet as a matplotlib figure (Agg backend), laid out and ready to save.

    The two projections are single fluoroscopy pulses from ``imager`` (no needle, no cement).
    ``features`` are ``(name, position_mm)`` pairs (the scenario's veins and defects) marked on
    both projections so an educator sees where they are even off the slice planes. Their name
    labels (``Text`` artists with gid :data:`LABEL_GID`) are placed so that no two overlap and
    each stays inside its axes (see :mod:`simulator.preview.labels`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    T = tissues()
    g = phantom.grid
    (x0, x1), (y0, y1), (z0, z1) = g.extent_mm
    cmap = ListedColormap([_COLOURS.get(n, "#ff00ff") for n in T.names])
    fig = plt.figure(figsize=(20, 11), dpi=100)
    gs = fig.add_gridspec(2, 4, width_ratios=[1.25, 1.0, 1.0, 0.62])
    plan_pts = [path_points(p.skin_point_mm, p.target_mm, 1.0) for p in plans]
    colours = {"left": "#00e5ff", "right": "#ff3df2"}
    jobs: list[LabelJob] = []

    def show_proj(ax, view_name, title_, u, v):
        view = imager.views[view_name]
        img = imager.render(view_name, pulse_index=1).pixels
        n, vox = view.size_px, g.voxel_mm
        u0 = g.origin_mm[view.col_axis] + (view.col0_index - 0.5) * vox
        z_top = g.origin_mm[2] + (view.row0_index + 0.5) * vox
        extent = (u0, u0 + n * vox, z_top - n * vox, z_top)
        ax.imshow(img, cmap="gray", extent=extent, aspect="equal", vmin=0, vmax=255)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        for plan, pts in zip(plans, plan_pts, strict=True):
            ax.plot(pts[:, u], pts[:, v], color=colours[plan.side], lw=1.2)
            ax.plot(
                *[[plan.target_mm[u]], [plan.target_mm[v]]], "o", ms=4, color=colours[plan.side]
            )
        for _name, pos in features:
            ax.plot([pos[u]], [pos[v]], "x", ms=7, mew=2, color=_LABEL_COLOUR)
        ax.set_title(title_)
        jobs.append(
            LabelJob(
                ax=ax,
                names=tuple(name for name, _pos in features),
                anchors=np.array([(p[u], p[v]) for _n, p in features]).reshape(-1, 2),
                marks=np.array(
                    [(p[u], p[v]) for _n, p in features]
                    + [(q.target_mm[u], q.target_mm[v]) for q in plans]
                ).reshape(-1, 2),
                lines=tuple(pts[:, [u, v]] for pts in plan_pts),
                style=_LABEL_STYLE,
            )
        )

    ax = fig.add_subplot(gs[0, 0])
    show_proj(ax, "lateral", "Lateral fluoroscopy (anterior left)", 1, 2)
    ax.set_xlabel("y (mm, posterior →)")
    ax.set_ylabel("z (mm, superior ↑)")
    ax = fig.add_subplot(gs[0, 1])
    show_proj(ax, "ap", "AP fluoroscopy (patient's right on left)", 0, 2)
    ax.set_ylabel("z (mm, superior ↑)")
    ax.set_xlabel("x (mm, patient's left →)")

    ix0 = int(np.argmin(np.abs(g.axis_mm(0))))
    axis_l = phantom.landmarks.pedicle_axes["left"]
    iz_ped = int(np.argmin(np.abs(g.axis_mm(2) - axis_l.isthmus_mm[2])))
    iy_ped = int(np.argmin(np.abs(g.axis_mm(1) - axis_l.isthmus_mm[1])))
    slices = [
        (
            gs[1, 0],
            phantom.labels[ix0, :, :].T[::-1, :],
            (y0, y1, z0, z1),
            1,
            2,
            "Mid-sagittal slice (x = 0)",
        ),
        (
            gs[0, 2],
            phantom.labels[:, ::-1, iz_ped].T,
            (x0, x1, y0, y1),
            0,
            1,
            f"Axial slice through the pedicles (z = {g.axis_mm(2)[iz_ped]:.1f})",
        ),
        (
            gs[1, 1],
            phantom.labels[:, iy_ped, :].T[::-1, :],
            (x0, x1, z0, z1),
            0,
            2,
            f"Coronal slice through the pedicles (y = {g.axis_mm(1)[iy_ped]:.1f})",
        ),
    ]
    focus = _focus_slice(phantom, features)
    if focus is not None:
        slices.append((gs[1, 2], *focus))
    for spec, img, extent, u, v, name in slices:
        ax = fig.add_subplot(spec)
        ax.imshow(
            img,
            cmap=cmap,
            vmin=-0.5,
            vmax=len(T.names) - 0.5,
            extent=extent,
            interpolation="nearest",
            aspect="equal",
        )
        for plan, pts in zip(plans, plan_pts, strict=True):
            ax.plot(pts[:, u], pts[:, v], color=colours[plan.side], lw=1.2, ls="--")
        ax.set_title(name)
        if u == 0 and v == 1:
            ax.invert_yaxis()  # anterior (negative y) up
            ax.set_ylabel("y (mm, anterior ↑)")
    ax = fig.add_subplot(gs[1, 3])
    _plan_table(ax, plans, phantom)
    legend_ax = fig.add_subplot(gs[0, 3])
    legend_ax.axis("off")
    present = set(np.unique(phantom.labels).tolist())
    handles = [
        Patch(facecolor=_COLOURS.get(n, "#ff00ff"), edgecolor="#444", label=T.display_names[i])
        for i, n in enumerate(T.names)
        if i in present
    ]
    handles += [Patch(facecolor=colours[p.side], label=f"planned path, {p.side}") for p in plans]
    legend_ax.legend(
        handles=handles,
        loc="upper left",
        fontsize=9,
        frameon=False,
        title="Tissues",
        title_fontsize=10,
    )
    fig.suptitle(title, fontsize=13, usetex=False, parse_math=False)  # a user's title: plain
    fig.tight_layout()
    place_labels(fig, jobs)  # after the layout: the boxes are measured where they will be drawn
    return fig


def _focus_slice(phantom: Phantom, features):
    """A slice through the case's first defect (else its first vein) so that it shows even off
    the standard planes: sagittal for endplate cracks and posterior wall defects, axial for
    the rest. Returns (image, extent, u, v, title) or None."""
    if not features:
        return None
    defects = [f for f in features if "vein" not in f[0]]
    name, pos = (defects or list(features))[0]
    g = phantom.grid
    (x0, x1), (y0, y1), (z0, z1) = g.extent_mm
    if name in ("endplate crack", "posterior wall"):
        ix = int(np.argmin(np.abs(g.axis_mm(0) - pos[0])))
        img = phantom.labels[ix, :, :].T[::-1, :]
        return img, (y0, y1, z0, z1), 1, 2, f"Sagittal slice through the {name} (x = {pos[0]:g})"
    iz = int(np.argmin(np.abs(g.axis_mm(2) - pos[2])))
    img = phantom.labels[:, ::-1, iz].T
    return img, (x0, x1, y0, y1), 0, 1, f"Axial slice through the {name} (z = {pos[2]:g})"


def _plan_table(ax, plans: list[Plan], phantom: Phantom) -> None:
    ax.axis("off")
    lm = phantom.landmarks
    b = phantom.geometry.body
    lines = [
        f"Body: x ±{b.half_width_mm:g}, y {b.anterior_y_mm:g} to {b.wall_y_mm:.1f} "
        f"(posterior wall), z {-b.height_mm / 2:g} to {b.height_mm / 2:g} mm",
        f"Cancellous body volume: {lm.cancellous_ml:.1f} ml",
        f"Phantom: {phantom.grid.shape} voxels of {phantom.grid.voxel_mm} mm, "
        f"built in {phantom.build_time_s:.2f} s",
        "",
    ]
    for p in plans:
        lines += [
            f"Plan, {p.side} pedicle:",
            f"  entry [x, z] = [{p.entry_mm[0]:.1f}, {p.entry_mm[1]:.1f}] mm",
            f"  medial {p.medial_deg:.1f}°, caudal {p.caudal_deg:.1f}°",
            f"  depth to target {p.depth_mm:.1f} mm, clearance {p.clearance_mm:g} mm",
            "",
        ]
    ax.text(0.0, 1.0, "\n".join(lines), va="top", family="monospace", fontsize=9)


def _save_atomic(fig, out: Path) -> Path:
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
