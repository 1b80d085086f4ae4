"""Names declared once in tables: tissue groups, leak sites, metrics, the rubric's tables."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from simulator import materials, metrics
from simulator.assets import assets_dir, load_table
from simulator.cement.flow import SITES
from simulator.errors import ScenarioError
from simulator.materials import outside_sites, site_names, tissues
from simulator.metrics import check_metrics, metric_names
from simulator.procedure import Procedure
from simulator.records.log import LEAK_SITES, METRIC_KINDS
from simulator.review.export_csv import COLUMNS, METRIC_COLUMNS
from simulator.review.summary import SITE_LABELS
from simulator.rubric import rubric_problems
from simulator.scenario import load_scenario
from simulator.scoring.feedback import LEAK_WORDS
from simulator.scoring.rules import rubric_for
from tests.conftest import scenario_and_phantom

ROOT = Path(__file__).resolve().parent.parent

# The memberships the code typed in before the groups existed (they must not change).
GROUPS = {
    "body": {
        "cancellous",
        "cortical",
        "endplate",
        "cleft",
        "cortical_defect",
        "endplate_crack",
        "basivertebral_vein",
        "lytic_lesion",
        "cleft_gas",
    },
    "body_volume": {
        "cancellous",
        "cortical",
        "endplate",
        "cleft",
        "cortical_defect",
        "endplate_crack",
        "lytic_lesion",
        "cleft_gas",
    },
    "image_bone": {"cancellous", "cortical", "endplate"},
    "needle_bone": {
        "rib",
        "cancellous",
        "cortical",
        "endplate",
        "pedicle_cancellous",
        "pedicle_cortex",
        "posterior_bone",
        "adjacent_cancellous",
        "adjacent_cortical",
        "cleft",
        "cortical_defect",
        "endplate_crack",
        "basivertebral_vein",
        "lytic_lesion",
        "cleft_gas",
    },
    "pedicle": {"pedicle_cancellous", "pedicle_cortex"},
    "canal": {"epidural_fat", "thecal_sac", "epidural_vein"},
    "needle_tract": {"pedicle_cancellous", "pedicle_cortex", "posterior_bone"},
    "entry_bone": {"posterior_bone", "pedicle_cancellous"},
    "plan_forbidden": {
        "rib",
        "lung",
        "pedicle_cortex",
        "cortical",
        "endplate",
        "epidural_fat",
        "thecal_sac",
        "epidural_vein",
        "nerve_root",
        "disc",
        "great_vessel",
        "segmental_vein",
        "adjacent_cortical",
        "adjacent_cancellous",
        "air",
    },
    "plan_wall": {"pedicle_cortex", "epidural_fat", "thecal_sac", "epidural_vein", "nerve_root"},
}


def test_tissue_groups_keep_their_members():
    t = tissues()
    assert {g: set(t.group(g)) for g in t.groups} == GROUPS
    assert t.group_ids("pedicle") == sorted(t.ids("pedicle_cancellous", "pedicle_cortex"))
    with pytest.raises(KeyError, match="no tissue group 'bone'"):
        t.group("bone")


def test_every_group_is_documented_in_the_header_comment():
    header = (assets_dir() / "materials.toml").read_text().split("\n[")[0]
    for g in tissues().groups:
        assert f"#   {g} " in header, g


def broken(monkeypatch, module, name: str, edit) -> None:
    table = copy.deepcopy(load_table(name))
    edit(table)
    monkeypatch.setattr(module, "load_table", lambda _: table)


def test_an_unknown_group_is_named_with_its_file_and_field(monkeypatch):
    broken(monkeypatch, materials, "materials", lambda t: t["labels"]["disc"]["groups"].append("x"))
    with pytest.raises(ValueError, match=r"assets/materials.toml: labels.disc.groups: unknown"):
        materials.tissues.__wrapped__()


def test_a_group_without_a_member_is_named(monkeypatch):
    broken(monkeypatch, materials, "materials", lambda t: t["groups"].update(spare="unused"))
    with pytest.raises(ValueError, match=r"assets/materials.toml: groups.spare: no label"):
        materials.tissues.__wrapped__()


def test_a_label_without_groups_is_named(monkeypatch):
    broken(monkeypatch, materials, "materials", lambda t: t["labels"]["air"].pop("groups"))
    with pytest.raises(ValueError, match=r"assets/materials.toml: labels.air.groups: must be"):
        materials.tissues.__wrapped__()


def test_leak_sites_are_one_list_everywhere():
    assert site_names() == ("none", "canal", "disc", "vein", "paravertebral", "needle_tract")
    assert site_names() == SITES
    assert LEAK_SITES == outside_sites() == tuple(SITE_LABELS)
    assert [c for c in METRIC_COLUMNS if c.startswith("leak_ml_")] == [
        *(f"leak_ml_{s}" for s in outside_sites()),
        "leak_ml_total",
    ]
    assert set(load_table("rubric")["leak_scales"]) == set(outside_sites())
    assert set(LEAK_WORDS) == set(outside_sites())
    by_label = {s.site for s in materials.leak_sites() if s.by_label}
    assert set(tissues().leak_site) <= by_label and "needle_tract" not in by_label


def test_metrics_produced_are_exactly_the_declared_ones():
    scenario, phantom = scenario_and_phantom("first_case_l1")
    fresh = Procedure(scenario, phantom=phantom, render_images=False)
    assert set(fresh.metrics()) == set(metric_names())
    assert set(metric_names("procedure")) | set(metric_names("cement")) == set(metric_names())
    assert set(fresh.cement.metrics()) == set(metric_names("cement"))
    check_metrics(fresh.metrics())
    with pytest.raises(ValueError, match=r"undeclared \['extra'\]"):
        check_metrics({**fresh.metrics(), "extra": 1.0})
    with pytest.raises(ValueError, match=r"not produced \['fill_fraction'\]"):
        metrics_of_cement = fresh.cement.metrics()
        del metrics_of_cement["fill_fraction"]
        check_metrics(metrics_of_cement, "cement")


def test_log_checker_requires_the_declared_required_metrics():
    required = [m.name for m in metrics.metric_table() if m.required]
    assert list(METRIC_KINDS) == required
    assert "needle_side" not in METRIC_KINDS and "in_cannula_ml" not in METRIC_KINDS


OLD_METRIC_COLUMNS = [
    "procedure_time_s",
    "fluoro_time_s",
    "fluoro_shots",
    "fluoro_shots_lateral",
    "fluoro_shots_ap",
    "dose_dap_mgycm2",
    "needle_side",
    "needle_tip_mm_x",
    "needle_tip_mm_y",
    "needle_tip_mm_z",
    "tip_zone",
    "tip_to_target_mm",
    "needle_repositions",
    "breaches_count",
    "breach_kinds",
    "breach_max_depth_mm",
    "cement_product",
    "injection_start_after_mix_s",
    "injected_ml",
    "in_body_ml",
    "in_cannula_ml",
    "fill_fraction",
    "leak_ml_canal",
    "leak_ml_disc",
    "leak_ml_vein",
    "leak_ml_paravertebral",
    "leak_ml_needle_tract",
    "leak_ml_total",
    "max_injection_pressure_kpa",
    "crosses_midline",
    "endplate_contact_superior",
    "endplate_contact_inferior",
]


NEW_IN_0_3_0 = [
    "carm_moves",
    "ap_alignment_error_deg",
    "ap_rotation_error_deg",
    "ap_tilt_error_deg",
    "lateral_alignment_error_deg",
    "en_face_used",
]


NEW_IN_0_5_0 = [
    "embolised_ml",
    *(f"leak_first_seen_s_{site}" for site in LEAK_SITES),
    *(f"injected_after_leak_seen_ml_{site}" for site in LEAK_SITES),
]


NEW_IN_0_7_0 = [
    "max_blind_advance_mm",
    "max_blind_advance_from_s",
    "max_blind_advance_until_s",
    "medial_wall_checked",
    "entered_bone_s",
    "passed_wall_s",
    "max_unwatched_injection_ml",
    *(f"leak_growth_after_seen_ml_{site}" for site in LEAK_SITES),
]
NEW_IN_0_8_0 = [
    f"needles_{side}_{k}"
    for side in ("left", "right")
    for k in ("tip_to_target_mm", "tip_zone", "breaches_count", "max_blind_advance_mm")
]


def test_csv_metric_columns_are_unchanged():
    # the columns of earlier releases keep their order; new metrics only append
    assert list(METRIC_COLUMNS) == (
        OLD_METRIC_COLUMNS + NEW_IN_0_3_0 + NEW_IN_0_5_0 + NEW_IN_0_7_0 + NEW_IN_0_8_0
    )
    # 0.7.0: the image-guidance metrics and the technique points after every earlier column;
    # 0.8.0: each needle's placement after those
    assert COLUMNS[72:] == (*NEW_IN_0_7_0, "score_technique_points", *NEW_IN_0_8_0)
    assert len(COLUMNS) == 72 + len(NEW_IN_0_7_0) + 1 + len(NEW_IN_0_8_0)
    # 0.6.0: what review found of each log, after every earlier column
    assert COLUMNS[65:72] == (
        "verification",
        "origin",
        "hints",
        "station",
        "attempt_no",
        "scenario_attempt_no",
        "replay",
    )


def test_rubric_tables_are_read_but_not_overridable():
    scenario, _ = scenario_and_phantom("first_case_l1")
    r = rubric_for(scenario)
    assert "zone_scores" not in r.values and r.table("zone_scores")["anterior_third"] == 1.0
    assert list(r.table("leak_scales")) == [
        "disc",
        "vein",
        "paravertebral",
        "needle_tract",
        "canal",
    ]
    assert all(isinstance(v, float) for v in r.values.values())
    assert rubric_problems({}) == []


def test_a_scenario_cannot_override_a_rubric_table(tmp_path):
    text = (ROOT / "scenarios" / "first_case_l1.toml").read_text()
    path = tmp_path / "first_case_l1.toml"
    path.write_text(text + "\n[scoring]\nzone_scores = { anterior_third = 0.5 }\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert "scoring.zone_scores" in str(e.value) and "unknown rubric key" in str(e.value)
