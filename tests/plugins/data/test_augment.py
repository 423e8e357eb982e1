"""The `augment` table: one kornia transform per clip, train split only, seeded per item."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from clip_files import write_strip
from vidgan_builtin.data.augment import AugmentConfig, ClipAugmenter, augment_seed

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import RecipeError
from vidgan_kit.recipe import validate_recipe

ALL_ON = {"hflip": 0.5, "affine_degrees": 10, "affine_translate": 0.1, "affine_scale": [0.9, 1.1], "color_jitter": 0.2}
GEOMETRY = VideoGeometry(frames=6, channels=3, height=16, width=16)


def textured_frames(frames: int, size: int = 16) -> np.ndarray:
    """``[T, H, W, 3]`` uint8, every frame the same asymmetric picture (left half dark)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(100, 256, size=(size, size, 3), dtype=np.uint8)
    frame[:, : size // 2] //= 4
    return np.repeat(frame[None], frames, axis=0)


def test_identical_frames_stay_identical_under_every_augmentation() -> None:
    clip = torch.from_numpy(textured_frames(6)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    augment = ClipAugmenter(AugmentConfig(**ALL_ON))
    outputs = [augment(clip, augment_seed(0, i, 0)) for i in range(6)]
    for out in outputs:
        assert out.shape == clip.shape and out.min() >= -1 and out.max() <= 1
        assert torch.equal(out, out[:1].expand_as(out)), "frames of one clip got different transforms"
    assert all(not torch.equal(out, clip) for out in outputs)
    assert not torch.equal(outputs[0], outputs[1])  # items draw their own transform


def test_a_flip_flips_every_frame_of_the_clip() -> None:
    clip = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(5, 3, 16, 16) * torch.linspace(0.5, 1, 5).view(5, 1, 1, 1)
    flip = ClipAugmenter(AugmentConfig(hflip=0.5))
    flipped = 0
    for i in range(12):
        out = flip(clip, augment_seed(1, i, 0))
        per_frame = [torch.equal(out[t], clip[t].flip(-1)) for t in range(5)]
        assert all(per_frame) or (not any(per_frame) and torch.equal(out, clip))
        flipped += all(per_frame)
    assert 0 < flipped < 12


def test_transforms_are_a_function_of_seed_index_and_epoch() -> None:
    clip = torch.rand(4, 3, 16, 16) * 2 - 1
    augment = ClipAugmenter(AugmentConfig(**ALL_ON))
    state = torch.get_rng_state()
    a = augment(clip, augment_seed(0, 3, 0))
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is not consumed
    torch.manual_seed(123)  # nor does the global RNG matter
    assert torch.equal(a, augment(clip, augment_seed(0, 3, 0)))
    assert not torch.equal(a, augment(clip, augment_seed(0, 3, 1)))
    assert not torch.equal(a, augment(clip, augment_seed(1, 3, 0)))


def test_grey_clips_are_augmented_too() -> None:
    clip = torch.rand(3, 1, 16, 16) * 2 - 1
    out = ClipAugmenter(AugmentConfig(color_jitter=0.3, affine_degrees=20))(clip, 7)
    assert out.shape == (3, 1, 16, 16) and not torch.equal(out, clip)


def test_datasets_augment_the_train_split_only(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", textured_frames(8))
    write_strip(tmp_path / "b.png", textured_frames(8)[:, ::-1])

    def items(split: str, **options) -> list[torch.Tensor]:
        params = {"root": str(tmp_path), "split_mode": "by_time", "test_fraction": 0.25, "random_start": False,
                  **options}
        ds = registry.build("dataset", "frame_strips", params, geometry=VideoGeometry(2, 3, 16, 16), split=split)
        return [ds[i]["video"] for i in range(len(ds))]

    for plain, augmented in zip(items("test"), items("test", augment=ALL_ON), strict=True):
        assert torch.equal(plain, augmented)
    train = items("train", augment=ALL_ON)
    assert any(not torch.equal(p, a) for p, a in zip(items("train"), train, strict=True))
    assert all(torch.equal(v[0], v[1]) for v in train)  # still one transform per clip


def test_synthetic_shapes_augment_train_items_but_not_the_ground_truth(registry) -> None:
    def build(split: str, **options):
        return registry.build("dataset", "synthetic_shapes", {"clips": 4, "test_clips": 2, **options},
                              geometry=GEOMETRY, split=split, seed=0)

    plain, augmented = build("train"), build("train", augment={"affine_degrees": 30})
    assert not torch.equal(plain[0]["video"], augmented[0]["video"])
    assert torch.equal(plain.transfer_truth(0, 1), augmented.transfer_truth(0, 1))
    first = augmented[0]["video"]
    augmented.set_epoch(1)
    assert not torch.equal(first, augmented[0]["video"])
    assert torch.equal(build("test")[0]["video"], build("test", augment={"affine_degrees": 30})[0]["video"])


def test_recipe_validation_names_bad_augment_keys(registry) -> None:
    table = tomllib.loads((Path(__file__).parents[3] / "recipes" / "tiny.toml").read_text())
    table["data"]["augment"] = {"hflp": 0.5, "color_jitter": 2, "affine_scale": [1.1, 0.9]}
    with pytest.raises(RecipeError) as info:
        validate_recipe(table, registry)
    text = str(info.value)
    assert "data.augment.hflp: unknown key; did you mean hflip?" in text
    assert "data.augment.color_jitter" in text and "less than or equal to 1" in text
    assert "data.augment.affine_scale" in text and "0 < min <= max" in text
    table["data"]["augment"] = ALL_ON
    assert validate_recipe(table, registry).data.params["augment"]["affine_scale"] == [0.9, 1.1]
