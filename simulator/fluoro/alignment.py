"""The C-arm of an attempt, as the procedure builds it, and how well its images were aligned.

:func:`make_carm` sets the device up for a scenario: the patient's lie from ``[patient]``, the
arms' isocentre on the treated body, the exposure control's trunk, and the imager (perspective
at any pose; the fixed parallel views for logs of releases before the device).

:func:`alignment_metrics` reads the shots it took (``assets/metrics.toml``): the beam of the
last frontal and the last lateral image before the tip passed the posterior wall of the body
(those on which the medial-wall rule is judged) against the true AP and true lateral, and
whether an en-face image (within 5° of the pedicle axis) was taken before the needle engaged
bone.
"""

from __future__ import annotations

import numpy as np

from simulator.assets import load_table
from simulator.fluoro.anatomy_cast import fit_torso
from simulator.fluoro.chain import make_imager
from simulator.fluoro.device import CArm, CArmLimits
from simulator.fluoro.dose import BeamModel, DoseLedger
from simulator.fluoro.geometry import PatientFrame, angle_between_lines_deg
from simulator.fluoro.poses import (
    EN_FACE_TOLERANCE_DEG,
    ap_error_deg,
    ap_error_parts_deg,
    lateral_error_deg,
)


def isocentre_mm(phantom) -> tuple[float, float, float]:
    """Where the arms point (anatomy mm): the treated body, 4 mm in front of its posterior
    wall (the pedicles and the whole body fit the field)."""
    return (0.0, float(phantom.geometry.body.wall_y_mm) - 4.0, 0.0)


def patient_frame(scenario, phantom) -> PatientFrame:
    """The patient's lie on the table (``[patient]``), turned about the isocentre."""
    p = scenario.patient
    return PatientFrame(
        axial_rotation_deg=p.axial_rotation_deg,
        sagittal_tilt_deg=p.sagittal_tilt_deg,
        pivot_mm=isocentre_mm(phantom),
    )


def make_carm(scenario, phantom, *, seed: int, images: bool, model) -> CArm:
    """The C-arm of one attempt (``images`` False: headless, dose and poses only)."""
    table = load_table("fluoro")
    legacy = not model.carm_device
    patient = patient_frame(scenario, phantom)
    iso = isocentre_mm(phantom)
    torso = fit_torso(phantom)
    if legacy:
        beam = BeamModel.from_table(table)
    else:
        # the exposure control's AP and lateral reference paths are the standard patient's:
        # a habitus (phantom.soft_tissue_mm) lengthens the paths and so raises the kerma
        reference = fit_torso(phantom, habitus=False)
        beam = BeamModel.from_table(table, torso=reference, iso_mm=iso)
    imager = None
    if images and legacy:
        imager = make_imager(scenario, phantom, seed=seed)
    elif images:
        from simulator.fluoro.imaging import PoseImager

        products = load_table("cements")["products"]
        imager = PoseImager(
            phantom,
            patient=patient,
            iso_mm=patient.to_world(iso),
            cement_barium_fraction=products[scenario.cement.product][
                "barium_sulfate_mass_fraction"
            ],
            seed=seed,
        )
    return CArm(
        sod_mm=float(table["geometry"]["source_isocentre_distance_mm"]),
        single=scenario.equipment.c_arm == "single",
        patient=patient,
        limits=CArmLimits.from_table(),
        ledger=DoseLedger(beam),
        imager=imager,
        torso=torso,
        legacy=legacy,
    )


def alignment_metrics(
    carm: CArm, phantom, *, side, passed_wall_s, entered_bone_s, pedicle_line=None
) -> dict:
    """``carm_moves``, ``ap_alignment_error_deg`` (and its rotation and tilt parts),
    ``lateral_alignment_error_deg`` and ``en_face_used`` of an attempt (degrees rounded to
    0.01). ``pedicle_line``: ``(point, direction)`` (anatomy mm) of the pedicle's planned axis
    on the needle's side, for ``en_face_used``."""
    body = phantom.geometry.body
    before_wall = [s for s in carm.shots if passed_wall_s is None or s.t_s <= passed_wall_s]
    last = {}
    for shot in before_wall:
        last[shot.view] = shot
    ap = last.get("ap")
    lat = last.get("lateral")
    en_face = False
    if side is not None and pedicle_line is not None:
        point, direction = pedicle_line
        en_face = any(  # the ray through the pedicle, not the central one
            angle_between_lines_deg(np.asarray(point) - np.asarray(s.source), direction)
            <= EN_FACE_TOLERANCE_DEG
            for s in carm.shots
            if entered_bone_s is None or s.t_s <= entered_bone_s
        )
    parts = (None, None) if ap is None else ap_error_parts_deg(body, ap.beam)
    return {
        "carm_moves": carm.moves,
        "ap_alignment_error_deg": None if ap is None else round(ap_error_deg(body, ap.beam), 2),
        "ap_rotation_error_deg": None if ap is None else round(abs(parts[0]), 2),
        "ap_tilt_error_deg": None if ap is None else round(abs(parts[1]), 2),
        "lateral_alignment_error_deg": None
        if lat is None
        else round(lateral_error_deg(lat.beam), 2),
        "en_face_used": en_face,
    }


def plan_poses(plan, scenario, phantom) -> dict:
    """The C-arm poses for a planned trajectory (``plan --json``): ``true_ap``,
    ``true_lateral`` and ``en_face`` (down the planned needle), each ``{rotation_deg,
    tilt_deg}``."""
    from simulator.fluoro.geometry import ConeBeam
    from simulator.fluoro.poses import true_poses

    d = np.asarray(plan.target_mm) - np.asarray(plan.skin_point_mm)
    poses = true_poses(
        phantom.geometry.body,
        patient_frame(scenario, phantom),
        needle_line=(plan.isthmus_point_mm, d),
        iso_mm=isocentre_mm(phantom),
        sod_mm=ConeBeam.from_table().sod_mm,
    )
    return {name: pose.as_json() for name, pose in poses.items()}


def planned_line(phantom, scenario, side: str) -> tuple:
    """(isthmus point, unit direction) of ``side``'s planned trajectory, anatomy mm: the line
    an en-face view looks down."""
    from simulator.planning import plan_trajectory

    plan = plan_trajectory(phantom, scenario, side)
    d = np.asarray(plan.target_mm) - np.asarray(plan.skin_point_mm)
    return plan.isthmus_point_mm, tuple(float(v) for v in d / np.linalg.norm(d))
