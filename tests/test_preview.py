"""The preview sheet's feature labels: none overlaps another, each stays inside its axes.

The crowded case has the most entries the loader takes in one section (12 defects) and four
veins, bunched around the middle of the body, so most labels cannot sit beside their marker.
"""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import SHIPPED, scenario_and_phantom

pytest.importorskip("matplotlib")

CROWDED_FEATURES = """
[[veins]]
kind = "basivertebral"
position_mm = [0.0, 8.0, 1.0]
diameter_mm = 2.5

[[veins]]
kind = "segmental"
position_mm = [21.0, -2.0, -2.0]
diameter_mm = 2.0

[[veins]]
kind = "segmental"
position_mm = [-21.0, -2.0, 1.0]
diameter_mm = 2.0

[[veins]]
kind = "epidural_plexus"
position_mm = [3.0, 15.0, 0.0]
diameter_mm = 1.5
"""
DEFECTS = (
    ("cleft", (0.0, -3.0, 1.0), 4.0),
    ("cleft", (1.0, -2.0, 0.0), 3.0),
    ("cleft", (-1.0, -4.0, 0.5), 3.0),
    ("cleft", (2.0, -1.0, -1.0), 3.0),
    ("cleft", (0.5, 0.0, 0.0), 3.0),
    ("posterior_wall", (3.0, 13.6, -3.0), 3.0),
    ("posterior_wall", (-3.0, 13.6, 2.0), 3.0),
    ("posterior_wall", (0.0, 13.6, 0.0), 3.0),
    ("lateral_wall", (21.0, 0.0, 0.0), 3.0),
    ("lateral_wall", (-21.0, 0.0, -1.0), 3.0),
    ("endplate_crack", (3.0, -4.0, 9.0), 6.0),
    ("endplate_crack", (-3.0, -2.0, -11.5), 6.0),
)
"""Twelve defects that pass the placement checks on the first_case_l1 body (x ±21, y -16 to
13.6, endplates near z 9.6 and -11.8 mm)."""


def crowded_scenario(tmp_path):
    """first_case_l1 with four veins and twelve defects, written to ``tmp_path``."""
    from simulator.assets import SHIPPED_SCENARIOS_DIR

    text = (SHIPPED_SCENARIOS_DIR / "first_case_l1.toml").read_text(encoding="utf-8")
    head, _, tail = text.partition("[[veins]]")
    tail = tail[tail.index("[cement]") :]
    defects = "".join(
        f'\n[[defects]]\nkind = "{kind}"\nposition_mm = {list(pos)}\nsize_mm = {size}\n'
        for kind, pos, size in DEFECTS
    )
    path = tmp_path / "crowded_l1.toml"
    head = head.replace('id = "first_case_l1"', 'id = "crowded_l1"')
    path.write_text(head + CROWDED_FEATURES + defects + "\n" + tail, encoding="utf-8")
    return path


def sheet(ref):
    """The preview figure of scenario ``ref`` and its feature list, as the command makes it."""
    from simulator.fluoro import make_imager
    from simulator.planning import plan_trajectory
    from simulator.preview import preview_figure, scenario_features

    scenario, phantom = scenario_and_phantom(str(ref))
    features = scenario_features(scenario)
    fig = preview_figure(
        phantom,
        [plan_trajectory(phantom, scenario, side) for side in ("left", "right")],
        title=scenario.id,
        imager=make_imager(scenario, phantom),
        features=features,
    )
    return fig, features


def assert_labels_apart(fig, n_features):
    """Every label of the two projections is there, inside its axes and the figure, and no two
    label texts (nor their background patches) share a pixel."""
    from simulator.preview import LABEL_GID

    fig.canvas.draw()  # places the background patches; measure what is drawn
    renderer = fig.canvas.get_renderer()
    labels = [(ax, t) for ax in fig.axes for t in ax.texts if t.get_gid() == LABEL_GID]
    assert len(labels) == 2 * n_features  # lateral and AP
    boxes = []
    for ax, text in labels:
        box = text.get_window_extent(renderer)
        patch = text.get_bbox_patch().get_window_extent(renderer)
        assert box.width > 0 and box.height > 0
        for b in (box, patch):
            assert ax.get_window_extent(renderer).contains(b.x0, b.y0)
            assert ax.get_window_extent(renderer).contains(b.x1, b.y1)
            assert fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1)
        boxes.append((text.get_text(), box, patch))
    for (na, a, pa), (nb, b, pb) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"labels {na!r} and {nb!r} overlap"
        assert not pa.overlaps(pb), f"the patches of {na!r} and {nb!r} overlap"


def test_the_labels_of_a_crowded_case_do_not_overlap(tmp_path):
    import matplotlib.pyplot as plt

    path = crowded_scenario(tmp_path)
    fig, features = sheet(path)
    try:
        assert len(features) == 16
        assert_labels_apart(fig, len(features))
    finally:
        plt.close(fig)


@pytest.mark.parametrize("ref", SHIPPED)
def test_the_labels_of_a_shipped_case_do_not_overlap(ref):
    import matplotlib.pyplot as plt

    fig, features = sheet(ref)
    try:
        assert features  # every shipped case marks at least its basivertebral vein
        assert_labels_apart(fig, len(features))
    finally:
        plt.close(fig)


def test_the_layout_is_deterministic(tmp_path):
    import matplotlib.pyplot as plt

    from simulator.preview import LABEL_GID

    path = crowded_scenario(tmp_path)
    runs = []
    for _ in range(2):
        fig, _features = sheet(path)
        runs.append(
            [t.get_position() for ax in fig.axes for t in ax.texts if t.get_gid() == LABEL_GID]
        )
        plt.close(fig)
    assert runs[0] == runs[1]
