"""The measured mean lumbar shape (assets/anatomy_mesh/): read, split, turned into LPS, filled."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.anatomy.mesh import LEVELS, Surface, fill, lumbar_surfaces


def _box(lo, hi) -> Surface:
    """A closed axis-aligned box of 12 triangles (mm)."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    v = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)], dtype=float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    return Surface(vertices=v, faces=np.array(faces))


def test_four_closed_bones_top_to_bottom_in_the_phantoms_frame():
    bones = lumbar_surfaces()
    assert tuple(bones) == LEVELS
    tops = [float(b.vertices[:, 2].mean()) for b in bones.values()]
    assert tops == sorted(tops, reverse=True)
    for bone in bones.values():
        f = bone.faces
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        _, count = np.unique(edges, axis=0, return_counts=True)
        assert (count == 2).all()  # closed: every edge shared by two triangles
        # LPS: the spinous process is posterior (+y) of the body, the bone about the midline
        lo, hi = bone.bounds_mm
        assert hi[1] > 55.0 and lo[1] > -30.0
        assert abs(lo[0] + hi[0]) < 6.0
    total = sum(b.volume_ml() for b in bones.values())
    assert total == pytest.approx(246.0, rel=0.01)  # the data's own figure


def test_a_box_fills_exactly_the_voxel_centres_inside_it():
    box = _box((0.26, 0.26, 0.26), (5.24, 3.24, 2.24))
    out = fill(box, origin_mm=(0.0, 0.0, 0.0), voxel_mm=0.5, shape=(14, 10, 8))
    assert out.sum() == 10 * 6 * 4  # centres 0.5 … 5.0, 0.5 … 3.0, 0.5 … 2.0
    # side faces through voxel centres: each column on them is counted for one side only
    # (a half-open rule), so the fill is still a box, 5 × 3 columns wide, never doubled
    on_grid = fill(
        _box((0.5, 0.5, 0.5), (3.0, 2.0, 1.5)), origin_mm=(0, 0, 0), voxel_mm=0.5, shape=(10, 8, 6)
    )
    idx = np.argwhere(on_grid)
    extent = idx.max(axis=0) - idx.min(axis=0) + 1
    assert tuple(extent[:2]) == (5, 3) and on_grid.sum() == int(np.prod(extent))


@pytest.mark.parametrize("level", LEVELS)
def test_each_bone_fills_to_its_enclosed_volume(level):
    bone = lumbar_surfaces()[level]
    lo, hi = bone.bounds_mm
    voxel = 0.5
    origin = np.floor(lo) - 1.0
    shape = np.ceil((hi - origin) / voxel).astype(int) + 3
    mask = fill(bone, origin_mm=origin, voxel_mm=voxel, shape=shape)
    assert mask.sum() * voxel**3 / 1000.0 == pytest.approx(bone.volume_ml(), rel=0.01)
    assert not mask[0].any() and not mask[-1].any()  # nothing leaks out of the surface


def test_the_filled_mean_shape_is_cached_on_disk_and_a_bad_file_is_remade(tmp_path, monkeypatch):
    import dataclasses

    from simulator.anatomy import mesh_bone

    monkeypatch.setenv("VSIM_CACHE_DIR", str(tmp_path))
    path = mesh_bone.cache_path()
    assert path.parent == tmp_path and not path.exists()
    mesh_bone.source_bone.cache_clear()
    try:
        made = mesh_bone.source_bone()
        assert path.exists()
        mesh_bone.source_bone.cache_clear()
        loaded = mesh_bone.source_bone()
        for f in dataclasses.fields(made):
            assert np.array_equal(getattr(made, f.name), getattr(loaded, f.name)), f.name
        path.write_bytes(b"not an npz")  # a damaged cache is remade, not trusted
        mesh_bone.source_bone.cache_clear()
        again = mesh_bone.source_bone()
        assert np.array_equal(again.mask, made.mask)
    finally:
        mesh_bone.source_bone.cache_clear()
