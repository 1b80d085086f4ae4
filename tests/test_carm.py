"""The C-arm as a device (issue 13): true poses, en face, the carm action, alignment metrics,
the dose at a pose, bad scripts and edited logs."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from simulator.actions import load_script, make_action
from simulator.fluoro.alignment import isocentre_mm, patient_frame, plan_poses
from simulator.fluoro.geometry import CArmPose, Projection
from simulator.fluoro.poses import ArmPose
from simulator.materials import tissues
from simulator.planning import plan_trajectory
from simulator.procedure import Procedure
from simulator.records.log import attempt_log
from simulator.records.signing import sign
from tests.conftest import DATA, scenario_and_phantom
from tests.make_personas import TEST_KEY
from tests.test_catalog import cli

PERSONAS = DATA / "personas"


def _projection(scenario, phantom, pose: dict, size_px: int = 368) -> Projection:
    patient = patient_frame(scenario, phantom)
    cpose = CArmPose(isocentre_mm=patient.to_world(isocentre_mm(phantom)), **pose)
    return Projection.make(cpose, size_px=size_px, patient=patient)


def _centroid(phantom, mask) -> np.ndarray:
    idx = np.argwhere(mask)
    return np.asarray(phantom.grid.origin_mm) + phantom.grid.voxel_mm * idx.mean(axis=0)


def _spinous_offset_mm(scenario, phantom, pose: dict) -> float:
    """Sideways distance (mm at the isocentre, along the image rows) between the spinous
    process and the midpoint of the two pedicles, from the phantom's own voxels (the spinous
    process lies lower than the pedicles: only the sideways offset tells a rotation)."""
    t = tissues()
    lab = phantom.labels
    g = phantom.grid
    x, y, _ = np.meshgrid(
        *(g.origin_mm[a] + g.voxel_mm * np.arange(g.shape[a]) for a in range(3)), indexing="ij"
    )
    canal = phantom.geometry.canal
    spinous = (lab == t.id("posterior_bone")) & (np.abs(x) < 4.0)
    spinous &= y > canal.wall_y_mm + canal.depth_mm + 8.0
    pedicle = np.isin(lab, [t.id("pedicle_cortex"), t.id("pedicle_cancellous")])
    proj = _projection(scenario, phantom, pose)
    sp = proj.project(_centroid(phantom, spinous))
    mid = 0.5 * (
        proj.project(_centroid(phantom, pedicle & (x > 0)))
        + proj.project(_centroid(phantom, pedicle & (x < 0)))
    )
    return float(abs(sp[1] - mid[1]) * proj.pixel_mm_at_isocentre)


def test_a_true_ap_shows_the_spinous_process_midway_between_the_pedicles():
    s, ph = scenario_and_phantom("first_case_l1")
    poses = plan_poses(plan_trajectory(ph, s, "left"), s, ph)
    assert _spinous_offset_mm(s, ph, poses["true_ap"]) <= 1.0
    # a rotated patient: off at the C-arm's home, midway again at the plan's true AP
    s, ph = scenario_and_phantom("posterior_wall_l1")
    assert s.patient.axial_rotation_deg == pytest.approx(8.0)
    poses = plan_poses(plan_trajectory(ph, s, "left"), s, ph)
    assert _spinous_offset_mm(s, ph, {"rotation_deg": 0.0, "tilt_deg": 0.0}) > 3.0
    assert _spinous_offset_mm(s, ph, poses["true_ap"]) <= 1.0
    assert poses["true_ap"]["rotation_deg"] == pytest.approx(8.0, abs=0.01)


@pytest.mark.parametrize("case", ["first_case_l1", "posterior_wall_l1", "cleft_l1_grade3"])
def test_the_planned_needle_is_a_dot_in_the_pedicle_ring_at_the_en_face_pose(case):
    s, ph = scenario_and_phantom(case)
    plan = plan_trajectory(ph, s, "left")
    proj = _projection(s, ph, plan_poses(plan, s, ph)["en_face"])
    skin, target = np.asarray(plan.skin_point_mm), np.asarray(plan.target_mm)
    ends = proj.project(np.stack([skin, target]))
    length_mm = np.hypot(*(ends[1] - ends[0])) * proj.pixel_mm_at_isocentre
    diameter = 3.048  # 11 G (assets/equipment.toml)
    assert length_mm <= diameter + 1.0
    # inside the ring: the pedicle's cross-section at the isthmus, drawn around its axis
    ped = ph.geometry.pedicles["left"]
    centre = proj.project(np.asarray(ped.isthmus_mm))
    dot = ends.mean(axis=0)
    axis = np.asarray(ped.axis)
    lateral = np.cross(axis, [0.0, 0.0, 1.0])
    lateral /= np.linalg.norm(lateral)
    half_w = np.hypot(
        *(proj.project(np.asarray(ped.isthmus_mm) + ped.half_width_mm * lateral) - centre)
    )
    half_h = np.hypot(
        *(
            proj.project(np.asarray(ped.isthmus_mm) + np.array([0.0, 0.0, ped.half_height_mm]))
            - centre
        )
    )
    r_dot = np.hypot(*(dot - centre))
    assert r_dot + 0.5 * diameter / proj.pixel_mm_at_isocentre < min(half_w, half_h)


def _run(case: str, actions) -> Procedure:
    s, ph = scenario_and_phantom(case)
    return Procedure(s, phantom=ph, render_images=False).run(actions)


def test_expert_aligns_uses_the_en_face_view_and_passes():
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False).run(load_script(PERSONAS / "expert.json"))
    log = attempt_log(proc, trainee="expert")
    m = log["metrics"]
    assert m["carm_moves"] >= 2 and m["en_face_used"] is True
    assert m["ap_alignment_error_deg"] <= 1.0 and m["lateral_alignment_error_deg"] <= 1.0
    assert log["score"]["total"] >= 85 and log["score"]["passed"]
    assert [e for e in proc.events if e.kind == "refused"] == []


def test_misaligned_novice_on_a_rotated_case_breaches_and_the_feedback_says_why():
    proc = _run("posterior_wall_l1", load_script(PERSONAS / "misaligned_novice.json"))
    log = attempt_log(proc, trainee="misaligned_novice")
    m = log["metrics"]
    expert = _run("posterior_wall_l1", _expert_script("posterior_wall_l1"))
    assert m["carm_moves"] == 0 and m["en_face_used"] is False
    assert m["ap_rotation_error_deg"] == pytest.approx(8.0, abs=0.5)
    worse = m["tip_to_target_mm"] > expert.metrics()["tip_to_target_mm"] + 5.0
    assert worse or m["breaches"]
    text = " ".join(log["score"]["feedback"])
    assert "spinous process was not midway between the pedicles" in text
    assert "rotated 8°" in text


def _expert_script(case: str):
    from simulator.actions import parse_script
    from simulator.personas import build

    return parse_script(json.dumps(build(case)["expert"]).encode(), path="expert")


def test_turning_takes_time_in_proportion_and_a_shot_waits_for_the_arm():
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    proc.submit(make_action(0.0, "carm", arm="frontal", rotation_deg=30.0, tilt_deg=0.0))
    proc.submit(make_action(0.0, "fluoro", view="ap"))
    proc.submit(make_action(0.5, "carm", arm="frontal", rotation_deg=0.0, tilt_deg=0.0))
    proc.submit(make_action(0.5, "fluoro", view="lateral"))  # the other arm is free
    proc.advance_to(10.0)
    carm = [e for e in proc.events if e.kind == "carm"]
    assert carm[0].details["ready_s"] == pytest.approx(0.5 + 30.0 / 12.0)
    refused = [e.details["reason"] for e in proc.events if e.kind == "refused"]
    assert refused == ["the C-arm is turning"]
    shots = [e for e in proc.events if e.kind == "fluoro"]
    assert [(e.details["view"], e.details["rotation_deg"]) for e in shots] == [
        ("lateral", 90.0),
        ("ap", 30.0),
    ]
    assert shots[1].t_s == pytest.approx(3.0, abs=0.021)
    assert proc.metrics()["carm_moves"] == 1


def test_a_single_c_arm_turns_for_the_other_view_in_proportion_to_the_angle():
    import dataclasses

    s, ph = scenario_and_phantom("first_case_l1")
    single = dataclasses.replace(s, equipment=dataclasses.replace(s.equipment, c_arm="single"))
    proc = Procedure(single, phantom=ph, render_images=False)
    proc.submit(make_action(0.0, "fluoro", view="lateral"))
    proc.submit(make_action(9.0, "carm", rotation_deg=80.0, tilt_deg=5.0))
    proc.submit(make_action(12.0, "fluoro", view="lateral"))
    proc.submit(make_action(13.0, "fluoro", view="ap"))
    proc.advance_to(30.0)
    turns = [e.details for e in proc.events if e.kind in ("carm_rotate", "carm")]
    assert turns[0]["ready_s"] == pytest.approx(8.0)  # 0.5 s + 90° at 12°/s
    assert turns[1]["ready_s"] == pytest.approx(9.0 + 0.5 + 10.0 / 12.0)
    back = turns[2]  # to the AP pose it remembers: 80° back at 12°/s
    assert back["to"] == "ap" and back["ready_s"] == pytest.approx(13.0 + 0.5 + 80.0 / 12.0)
    shots = [e.details for e in proc.events if e.kind == "fluoro"]
    assert [(d["view"], d["rotation_deg"], d["tilt_deg"]) for d in shots] == [
        ("lateral", 90.0, 0.0),
        ("lateral", 80.0, 5.0),
        ("ap", 0.0, 0.0),
    ]


def test_the_exposure_control_needs_more_dose_through_the_thicker_trunk():
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    carm = proc.carm
    k = [carm.kerma_per_pulse_mgy(ArmPose(rotation_deg=r, tilt_deg=0.0)) for r in (0, 45, 90)]
    assert k[0] == pytest.approx(0.04) and k[2] == pytest.approx(0.08)
    assert k[0] < k[1] < k[2]
    # tilting lengthens the path through the trunk too
    assert carm.kerma_per_pulse_mgy(ArmPose(rotation_deg=0.0, tilt_deg=30.0)) > k[0]


@pytest.mark.parametrize(
    ("action", "field", "words"),
    [
        ({"do": "carm", "arm": "middle", "rotation_deg": 0, "tilt_deg": 0}, "arm", "'frontal'"),
        (
            {"do": "carm", "arm": "frontal", "rotation_deg": 130, "tilt_deg": 0},
            "rotation_deg",
            "-120 to 120",
        ),
        (
            {"do": "carm", "arm": "frontal", "rotation_deg": 0, "tilt_deg": -41},
            "tilt_deg",
            "-40 to 40",
        ),
        ({"do": "carm", "rotation_deg": 0, "tilt_deg": 0}, "arm", "biplane"),
    ],
)
def test_bad_carm_fields_are_refused_naming_the_field(tmp_path, action, field, words):
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"format": "vsim-script/1", "actions": [{"t": 0, **action}]}))
    r = cli("run", "--scenario", "first_case_l1", "--script", str(script))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"actions[0].{field}" in r.stderr and words in r.stderr


def test_an_arm_on_a_single_c_arm_is_refused(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    text = (DATA.parent.parent / "scenarios" / "first_case_l1.toml").read_text()
    text = text.replace('id = "first_case_l1"', 'id = "single_arm"')
    text = text.replace("[targets]", '[equipment]\nc_arm = "single"\n\n[targets]', 1)
    (folder / "single_arm.toml").write_text(text)
    script = tmp_path / "s.json"
    act = {"t": 0, "do": "carm", "arm": "frontal", "rotation_deg": 10, "tilt_deg": 0}
    script.write_text(json.dumps({"format": "vsim-script/1", "actions": [act]}))
    r = cli("run", "--scenario", "single_arm", "--script", str(script), folders=[folder])
    assert r.returncode == 2, r.stdout + r.stderr
    assert "actions[0].arm" in r.stderr and "single C-arm" in r.stderr


def test_verify_catches_an_edited_pose(tmp_path):
    s, ph = scenario_and_phantom("first_case_l1")
    actions = [
        make_action(0.0, "carm", arm="frontal", rotation_deg=12.0, tilt_deg=4.0),
        make_action(3.0, "fluoro", view="ap"),
        make_action(4.0, "finish"),
    ]
    proc = Procedure(s, phantom=ph).run(actions)
    log = attempt_log(proc, trainee="t", key=TEST_KEY)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(log))
    assert cli("verify", str(good)).returncode == 0
    for where in ("actions", "events"):
        bad = json.loads(json.dumps(log))
        bad.pop("signature")
        if where == "actions":
            bad["actions"][0]["rotation_deg"] = 2.0
        else:
            shot = next(e for e in bad["events"] if e["kind"] == "fluoro")
            shot["details"]["rotation_deg"] = 2.0
        path = tmp_path / f"bad_{where}.json"
        path.write_text(json.dumps(sign(bad, TEST_KEY)))  # a valid signature: the replay tells
        r = cli("verify", str(path))
        assert r.returncode == 1, r.stdout + r.stderr
        assert "rotation_deg" in r.stdout + r.stderr


@pytest.mark.parametrize(
    "path", sorted((PERSONAS / "release_0_2_0").glob("*.json")), ids=lambda p: p.stem
)
def test_release_0_2_logs_verify_with_their_fixed_views_and_images(path):
    from simulator.records.verify import verify_log

    assert verify_log(path, key=TEST_KEY) == []


def test_true_lateral_turns_with_the_patient():
    s, ph = scenario_and_phantom("posterior_wall_l1")
    poses = plan_poses(plan_trajectory(ph, s, "left"), s, ph)
    assert poses["true_lateral"]["rotation_deg"] == pytest.approx(98.0, abs=0.01)
    assert math.isclose(poses["true_lateral"]["tilt_deg"], 0.0, abs_tol=0.01)


def test_the_brightness_control_settles_over_pulses_when_cement_comes_into_its_field():
    from simulator.fluoro.alignment import make_carm
    from simulator.fluoro.projection import CementField
    from simulator.releases import ModelOptions

    s, ph = scenario_and_phantom("first_case_l1")
    carm = make_carm(s, ph, seed=1, images=True, model=ModelOptions())
    iso = np.asarray(isocentre_mm(ph))
    box = ph.grid.box(iso - 9.0, iso + 9.0)
    r2 = (box.X - iso[0]) ** 2 + (box.Y - iso[1]) ** 2 + (box.Z - iso[2]) ** 2
    cement = CementField(
        slices=box.slices, fraction=(r2 <= 64.0).astype(np.float32), barium_mass_fraction=0.3
    )
    pose = carm.pose_of("ap")
    target = carm.imager.brightness_shortfall(pose, cement=cement)
    assert target > 0.1  # an 8 mm bolus at the centre takes a visible share of the light
    assert carm.imager.brightness_shortfall(pose) == 0.0
    gains = []
    for i in range(5):
        carm.expose("ap", 1, float(i), cement=cement)
        gains.append(carm._requests["ap"].brightness)
    assert all(a < b for a, b in itertools.pairwise(gains))
    assert gains[0] == pytest.approx(0.5 * target) and gains[-1] > 0.9 * target
    # and the image around the bolus gets brighter as it settles
    first = carm.imager.render("ap", pose, pulse_index=1, cement=cement, brightness=gains[0])
    last = carm.imager.render("ap", pose, pulse_index=1, cement=cement, brightness=gains[-1])
    ring = (carm.imager.radius_fraction > 0.4) & (carm.imager.radius_fraction < 0.6)
    assert last.pixels[ring].mean() > first.pixels[ring].mean() + 2.0


def _single_case():
    import dataclasses

    s, ph = scenario_and_phantom("first_case_l1")
    return dataclasses.replace(s, equipment=dataclasses.replace(s.equipment, c_arm="single")), ph


def _shots(proc):
    return [(e.t_s, e.kind, dict(e.details)) for e in proc.events if e.kind != "finish"]


def test_a_single_c_arm_gives_the_same_attempt_stepped_or_jumped():
    """The window steps every tick, verify and replay jump idle ticks: a shot after a turn
    that crossed into the other view must see the arm where the turn left it, both ways."""
    s, ph = _single_case()
    acts = [
        make_action(0.0, "carm", rotation_deg=70.0, tilt_deg=5.0),
        make_action(12.0, "fluoro", view="lateral"),
        make_action(20.0, "finish"),
    ]
    jumped = Procedure(s, phantom=ph, render_images=False).run(acts)
    stepped = Procedure(s, phantom=ph, render_images=False)
    for a in acts:
        stepped.submit(a)
    while not stepped.finished:
        stepped.step()
    assert _shots(jumped) == _shots(stepped)
    shot = next(d for _, k, d in _shots(jumped) if k == "fluoro")
    assert (shot["view"], shot["rotation_deg"], shot["tilt_deg"]) == ("lateral", 70.0, 5.0)
    assert jumped.metrics()["carm_moves"] == 1


def test_a_single_c_arm_shot_during_a_turn_waits_for_its_view_or_is_refused():
    s, ph = _single_case()
    proc = Procedure(s, phantom=ph, render_images=False)
    proc.submit(make_action(0.0, "carm", rotation_deg=60.0, tilt_deg=10.0))  # to a lateral pose
    proc.submit(make_action(1.0, "fluoro", view="ap"))  # not where it is going: refused
    proc.submit(make_action(2.0, "fluoro", view="lateral"))  # where it is going: waits
    proc.advance_to(20.0)
    refused = [e.details for e in proc.events if e.kind == "refused"]
    assert refused == [{"do": "fluoro", "reason": "the C-arm is turning"}]
    shots = [e for e in proc.events if e.kind == "fluoro"]
    assert len(shots) == 1 and shots[0].details["rotation_deg"] == 60.0
    assert shots[0].t_s == pytest.approx(0.5 + 60.0 / 12.0, abs=0.021)
    assert proc.metrics()["carm_moves"] == 1


def test_a_waiting_shot_does_not_cut_the_other_arms_exposure_short():
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    proc.submit(make_action(0.0, "carm", arm="lateral", rotation_deg=80.0, tilt_deg=0.0))
    proc.submit(make_action(0.0, "fluoro", view="lateral"))  # waits for the lateral arm
    proc.submit(make_action(0.0, "fluoro", view="ap", pulses=75))  # 10 s of AP
    proc.submit(make_action(2.0, "fluoro", view="ap", pulses=1))  # must wait for the 10 s
    proc.advance_to(30.0)
    ap = [e.t_s for e in proc.events if e.kind == "fluoro" and e.details["view"] == "ap"]
    assert ap[1] >= 10.0 - 1e-9


def test_carm_poses_are_kept_to_the_hundredth_of_a_degree():
    s, ph = scenario_and_phantom("first_case_l1")
    proc = Procedure(s, phantom=ph, render_images=False)
    proc.submit(make_action(0.0, "carm", arm="frontal", rotation_deg=10.0049, tilt_deg=-0.0049))
    proc.submit(make_action(3.0, "fluoro", view="ap"))
    proc.advance_to(5.0)
    shot = next(e for e in proc.events if e.kind == "fluoro")
    assert (shot.details["rotation_deg"], shot.details["tilt_deg"]) == (10.0, 0.0)


def test_the_ap_error_parts_hold_for_an_arm_past_the_lateral():
    from simulator.fluoro.geometry import beam_direction
    from simulator.fluoro.poses import ap_error_parts_deg, wedge_angle_deg

    _, ph = scenario_and_phantom("first_case_l1")
    body = ph.geometry.body
    for rot in (89.0, 91.0, 120.0, -120.0):
        rotation, tilt = ap_error_parts_deg(body, beam_direction(rot, 0.0))
        assert abs(tilt) == pytest.approx(wedge_angle_deg(body) / 2.0, abs=0.01)
        assert abs(rotation) == pytest.approx(min(abs(rot), 180.0 - abs(rot)), abs=0.01)


def test_the_personas_fit_a_single_c_arm(tmp_path, monkeypatch):
    """On a single C-arm the personas leave the arm its turns: nothing is refused, and the
    expert still aligns, uses the en-face view and passes."""
    from simulator.actions import parse_script
    from simulator.personas import build
    from simulator.scenario import load_scenario

    text = (DATA.parent.parent / "scenarios" / "first_case_l1.toml").read_text()
    text = text.replace('id = "first_case_l1"', 'id = "single_first"')
    text = text.replace("[targets]", '[equipment]\nc_arm = "single"\n\n[targets]', 1)
    (tmp_path / "single_first.toml").write_text(text)
    monkeypatch.setenv("VSIM_SCENARIOS", str(tmp_path))
    scenario = load_scenario("single_first")
    _, ph = scenario_and_phantom("first_case_l1")  # the same anatomy
    for name, script in build("single_first").items():
        acts = parse_script(json.dumps(script).encode(), path=name)
        proc = Procedure(scenario, phantom=ph, render_images=False).run(acts)
        assert [e.details for e in proc.events if e.kind == "refused"] == [], name
        if name == "expert":
            log = attempt_log(proc, trainee=name)
            assert log["score"]["passed"] and log["metrics"]["en_face_used"]
