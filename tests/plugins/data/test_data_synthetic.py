"""synthetic_shapes: the exact ground truth of content/motion transfer, and its splits."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from vidgan_builtin.data.synthetic import (
    MOTIONS,
    SHAPES,
    ContentFactors,
    MotionFactors,
    SyntheticShapes,
    SyntheticShapesConfig,
    render,
    render_path,
    sample_factors,
    trajectory,
)

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import DataError, RecipeError
from vidgan_kit.testing import check_component

G = VideoGeometry(frames=8, channels=3, height=32, width=32)


def dataset(split: str = "train", seed: int = 0, **options: object) -> SyntheticShapes:
    config = SyntheticShapesConfig(**{"clips": 64, "test_clips": 32, **options})
    return SyntheticShapes(config, geometry=G, split=split, seed=seed)


def test_items_have_the_contract_shape_and_range() -> None:
    ds = dataset()
    assert len(ds) == 64 and len(dataset("test")) == 32
    item = ds[5]
    assert item["video"].shape == G.clip_shape and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1 and item["video"].max() <= 1
    content, motion = ds.factors(5)
    assert item["index"] == 5
    assert item["label"] == SHAPES.index(content.shape)
    assert item["motion_label"] == MOTIONS.index(motion.kind)
    with pytest.raises(IndexError):
        ds[64]


def test_registered_component_passes_the_dataset_contract(registry) -> None:
    check_component("dataset", "synthetic_shapes", {"clips": 4, "test_clips": 2}, registry=registry)


def test_transfer_truth_is_render_of_content_a_with_motion_b() -> None:
    ds = dataset()
    for a, b in [(0, 1), (7, 3), (20, 41)]:
        content_a, motion_a = ds.factors(a)
        _, motion_b = ds.factors(b)
        truth = ds.transfer_truth(a, b)
        assert torch.equal(truth, render(content_a, motion_b, G))
        assert torch.equal(truth[0], ds[a]["video"][0])  # frame 0 is the content's, exactly
        assert torch.equal(ds.transfer_truth(b, b), ds[b]["video"])
        assert not torch.equal(truth, ds[a]["video"]) or motion_a == motion_b


def test_render_path_renders_any_path_and_render_is_it_on_the_trajectory() -> None:
    content, motion = dataset().factors(3)
    path = trajectory(content, motion, G)
    assert torch.equal(render_path(content, *path, G), render(content, motion, G))
    still = render_path(content, *(p[:1].repeat(G.frames) for p in path), G)
    assert torch.equal(still, render(content, motion, G)[:1].expand_as(still))  # frame 0's pose held
    cx, cy, scale, angle = path
    flat = dataclasses.replace(content, background="flat", position=(0.3, 0.5), size=0.3)
    hold = [np.full(G.frames, v) for v in (0.4, 0.5, 1.0, 0.0)]
    moved = render_path(flat, hold[0] + 4 / 32, *hold[1:], G)  # 4 pixels to the right
    held = render_path(flat, *hold, G)
    assert torch.allclose(moved[..., 4:], held[..., :-4], atol=1e-5)
    assert not torch.allclose(moved, held, atol=0.1)
    with pytest.raises(DataError, match="8 entries"):
        render_path(content, cx[:4], cy, scale, angle, G)


def test_frame_zero_depends_only_on_content() -> None:
    ds = dataset()
    for index in range(12):
        content, motion = ds.factors(index)
        first = render(content, motion, G)[0]
        for kind in MOTIONS:
            for other in range(3):
                _, new_motion = ds.factors(30 + other)
                clip = render(content, dataclasses.replace(new_motion, kind=kind), G)
                assert torch.equal(clip[0], first), (index, kind)


def test_every_motion_family_moves_the_object() -> None:
    ds = dataset(random_orientation=False)
    content = dataclasses.replace(ds.factors(0)[0], shape="square", background="flat")
    for kind in MOTIONS:
        motion = MotionFactors(kind=kind, speed=0.04, direction=0.0, sign=1, radius=0.15)
        clip = render(content, motion, G)
        change = (clip[1:] - clip[:1]).abs().amax(dim=(1, 2, 3))
        assert torch.all(change > 0.05), kind


def test_rotation_is_visible_even_on_a_circle() -> None:
    content = dataclasses.replace(dataset().factors(0)[0], shape="circle")
    clip = render(content, MotionFactors("rotation", 0.05, 0.0, 1, 0.15), G)
    assert (clip[-1] - clip[0]).abs().max() > 0.1


def test_objects_are_large_and_edges_antialiased() -> None:
    content = ContentFactors(
        shape="circle", size=0.4, position=(0.5, 0.5), orientation=0.0, color=(1.0, 1.0, 1.0),
        background="flat", background_colors=((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        background_angle=0.0, background_frequency=1.0,
    )
    geometry = VideoGeometry(frames=1, channels=3, height=64, width=64)
    frame = render(content, MotionFactors("linear", 0.03, 0.0, 1, 0.15), geometry)[0]
    coverage = float(((frame.mean(0) + 1) / 2).gt(0).float().mean())
    covered_area = float(((frame.max(0).values + 1) / 2).sum()) / 64**2  # brightness-weighted
    assert coverage > 0.1  # not a speck
    assert covered_area == pytest.approx(math.pi * 0.2**2 * 0.85, rel=0.2)  # shading averages ~0.85
    alpha = (frame + 1) / 2
    assert bool(((alpha > 0.05) & (alpha < 0.6)).any())  # soft edge pixels exist


def test_objects_stay_inside_the_frame() -> None:
    ds = dataset()
    geometry = VideoGeometry(frames=40, channels=3, height=32, width=48)
    for index in range(40):
        content, motion = ds.factors(index)
        cx, cy, _, _ = trajectory(content, dataclasses.replace(motion, kind="linear", speed=0.1), geometry)
        radius = content.size / 2
        assert cx.min() >= radius * 0.99 and cx.max() <= 48 / 32 - radius * 0.99
        assert cy.min() >= radius * 0.99 and cy.max() <= 1 - radius * 0.99


def test_splits_are_deterministic_and_disjoint() -> None:
    train, test = dataset("train"), dataset("test")
    assert torch.equal(train[3]["video"], dataset("train")[3]["video"])
    train_factors = {train.factors(i) for i in range(64)}
    test_factors = {test.factors(i) for i in range(32)}
    assert not train_factors & test_factors
    assert len(train_factors) == 64
    assert train.factors(0) != dataset("train", seed=1).factors(0)


def test_config_seed_overrides_the_recipe_seed() -> None:
    a = SyntheticShapes(SyntheticShapesConfig(clips=4, seed=7), geometry=G, seed=0)
    b = SyntheticShapes(SyntheticShapesConfig(clips=4, seed=7), geometry=G, seed=123)
    assert a.factors(2) == b.factors(2)


def test_content_does_not_change_when_only_motion_options_do() -> None:
    a = dataset(motions=["linear"])
    b = dataset(motions=["zoom", "rotation"], speed=(0.01, 0.02))
    for i in range(5):
        assert a.factors(i)[0] == b.factors(i)[0]
        assert a.factors(i)[1] != b.factors(i)[1]


def test_options_restrict_the_factors() -> None:
    ds = dataset(shapes=["triangle"], motions=["circular"], backgrounds=["flat"], directions=4)
    for i in range(10):
        content, motion = ds.factors(i)
        assert (content.shape, motion.kind, content.background) == ("triangle", "circular", "flat")
    linear = dataset(motions=["linear"], directions=4)
    headings = {round(linear.factors(i)[1].direction / (math.pi / 2)) % 4 for i in range(40)}
    assert headings == {0, 1, 2, 3}


def test_transfer_batch_for_evaluation() -> None:
    ds = dataset("test")
    pairs = ds.transfer_pairs(3, seed=1)
    assert pairs == ds.transfer_pairs(3, seed=1) and all(a != b for a, b in pairs)
    batch = ds.transfer_batch(pairs)
    assert batch["image"].shape == (3, *G.frame_shape)
    assert batch["source"].shape == batch["truth"].shape == (3, *G.clip_shape)
    assert torch.equal(batch["image"], batch["truth"][:, 0])
    a, b = pairs[0]
    assert torch.equal(batch["source"][0], ds[b]["video"])
    assert torch.equal(batch["truth"][0], ds.transfer_truth(a, b))


def test_cache_matches_rendering_to_8_bits() -> None:
    cached = dataset(cache=True, clips=6)
    plain = dataset(clips=6)
    for i in range(6):
        assert (cached[i]["video"] - plain[i]["video"]).abs().max() <= 1 / 127.5
    assert torch.equal(cached.clip(2), plain[2]["video"])


def test_grey_geometry_and_non_square_frames() -> None:
    grey = SyntheticShapes(SyntheticShapesConfig(clips=2), geometry=VideoGeometry(4, 1, 16, 24))
    assert grey[0]["video"].shape == (4, 1, 16, 24)
    with pytest.raises(DataError, match="channels"):
        SyntheticShapes(SyntheticShapesConfig(clips=2), geometry=VideoGeometry(4, 4, 16, 16))


def test_config_is_validated(registry) -> None:
    with pytest.raises(RecipeError, match="clip"):
        registry.build("dataset", "synthetic_shapes", {"clip": 3}, geometry=G, split="train", seed=0)
    with pytest.raises(RecipeError, match="size"):
        registry.build("dataset", "synthetic_shapes", {"size": [0.5, 0.2]}, geometry=G, split="train", seed=0)
    with pytest.raises(RecipeError, match="shapes"):
        registry.build("dataset", "synthetic_shapes", {"shapes": ["hexagon"]}, geometry=G, split="train", seed=0)
    with pytest.raises(DataError, match="split"):
        dataset("validation")


def test_sampling_from_a_bare_seed() -> None:
    content, motion = sample_factors(42)
    assert (content, motion) == sample_factors(42)
    assert sample_factors(-1) == sample_factors(-1)  # any int works as a seed
    assert render(content, motion, G).shape == G.clip_shape
