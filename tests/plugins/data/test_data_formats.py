"""Real-clip data sets: every format decoded from files the tests write, splits, windows."""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from clip_files import GEOMETRY, frame_indices, indexed_frames, write_frame_folder, write_strip
from PIL import Image
from vidgan_builtin.data.clips import (
    ClipFolderDataset,
    FrameFolders,
    FrameStrips,
    NumpyArrays,
    VideoFiles,
    VideoFolder,
)
from vidgan_builtin.data.examples import EXAMPLE_DATASETS, example_params

from vidgan_kit import VideoGeometry
from vidgan_kit.io import write_video
from vidgan_kit.testing import check_component


def build(registry, name: str, root: Path, split: str = "train", seed: int = 0, geometry=GEOMETRY, **options):
    params = {"root": str(root), **options}
    return registry.build("dataset", name, params, geometry=geometry, split=split, seed=seed)


def consecutive(indices: list[int], stride: int = 1) -> bool:
    return all(b - a == stride for a, b in itertools.pairwise(indices))


# -- one test per format: exact frames, conversions ---------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_frame_strips_in_any_colour_mode(tmp_path: Path, registry, mode: str) -> None:
    for i in range(3):
        write_strip(tmp_path / f"clip{i}.png", indexed_frames(10, first=i), mode=mode)
    ds = build(registry, "frame_strips", tmp_path, split="test", test_fraction=0.5)
    assert isinstance(ds, FrameStrips)
    for i in range(len(ds)):
        item = ds[i]
        assert item["video"].shape == GEOMETRY.clip_shape
        first = int(ds.clips[i][0].name[4])
        assert frame_indices(item["video"]) == [first, first + 1, first + 2, first + 3]  # test: fixed start
        assert "label" not in item  # no class folders


def test_strips_with_non_square_frames(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "wide.png", indexed_frames(6, height=8, width=12))
    ds = build(registry, "frame_strips", tmp_path, frame_width=12, random_start=False, test_fraction=0)
    assert ds.clips[0][0].frames == 6
    assert frame_indices(ds[0]["video"]) == [0, 1, 2, 3]


def test_frame_folders_sort_naturally(tmp_path: Path, registry) -> None:
    write_frame_folder(tmp_path / "a", indexed_frames(12))  # frame0 .. frame11: frame2 < frame10
    ds = build(registry, "frame_folders", tmp_path, frame_stride=3, random_start=False, test_fraction=0)
    assert isinstance(ds, FrameFolders)
    assert frame_indices(ds[0]["video"]) == [0, 3, 6, 9]


@pytest.mark.parametrize("ext", [".mkv", ".mp4", ".avi", ".webm", ".gif"])
def test_video_files(tmp_path: Path, registry, ext: str) -> None:
    frames = torch.from_numpy(indexed_frames(9, 16, 16)).permute(0, 3, 1, 2).float() / 127.5 - 1
    write_video(tmp_path / f"clip{ext}", frames)
    ds = build(registry, "video_files", tmp_path, random_start=False, test_fraction=0)
    assert isinstance(ds, VideoFiles)
    assert ds.clips[0][0].frames == 9
    item = ds[0]
    assert item["video"].shape == GEOMETRY.clip_shape  # 16x16 resized to 8x8
    if ext in (".mkv", ".gif"):  # lossless for flat grey levels
        assert frame_indices(item["video"]) == [0, 1, 2, 3]


def test_numpy_arrays_in_every_layout(tmp_path: Path, registry) -> None:
    np.save(tmp_path / "one.npy", indexed_frames(9, first=1))
    np.save(tmp_path / "many.npy", np.stack([indexed_frames(8, first=2 + i)[..., :1] for i in range(2)]))  # grey
    rgba = np.concatenate([indexed_frames(8, first=5), np.full((8, 8, 8, 1), 255, np.uint8)], axis=-1)
    np.savez(tmp_path / "stored.npz", videos=rgba[None], labels=np.arange(1))
    np.savez_compressed(tmp_path / "packed.npz", a=indexed_frames(8, first=7), b=indexed_frames(9, first=9))
    ds = build(registry, "numpy_arrays", tmp_path, random_start=False, test_fraction=0)
    assert isinstance(ds, NumpyArrays)
    found = {ref.name: frame_indices(ds[i]["video"])[0] for i, (ref, *_rest) in enumerate(ds.clips)}
    assert found == {
        "many.npy[0]": 2, "many.npy[1]": 3, "one.npy": 1, "packed.npz:a": 7, "packed.npz:b": 9,
        "stored.npz:videos[0]": 5,
    }


def test_arrays_read_only_the_window(tmp_path: Path, registry) -> None:
    big = np.stack([indexed_frames(30, first=0) for _ in range(4)])
    np.savez_compressed(tmp_path / "big.npz", videos=big)
    ds = build(registry, "numpy_arrays", tmp_path, split="test", split_mode="by_time", test_fraction=0.5)
    assert len(ds) == 4
    assert frame_indices(ds[3]["video"]) == [15, 16, 17, 18]
    with zipfile.ZipFile(tmp_path / "big.npz") as archive:
        assert archive.getinfo("videos.npy").compress_type == zipfile.ZIP_DEFLATED


def test_video_folder_mixes_formats_and_labels_from_folders(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "run" / "s.png", indexed_frames(8))
    write_frame_folder(tmp_path / "walk" / "clip", indexed_frames(8, first=1))
    np.save(tmp_path / "walk" / "a.npy", indexed_frames(8, first=2))
    frames = torch.from_numpy(indexed_frames(8, 8, 8, first=3)).permute(0, 3, 1, 2).float() / 127.5 - 1
    write_video(tmp_path / "wave" / "v.mkv", frames)
    ds = build(registry, "video_folder", tmp_path, split_mode="by_time", test_fraction=0.25, random_start=False)
    assert isinstance(ds, VideoFolder)
    assert ds.classes == ["run", "walk", "wave"]
    got = {ref.name: (ds[i]["label"], frame_indices(ds[i]["video"])[0]) for i, (ref, *_r) in enumerate(ds.clips)}
    assert got == {"run/s.png": (0, 0), "walk/a.npy": (1, 2), "walk/clip": (1, 1), "wave/v.mkv": (2, 3)}


def test_video_folder_tells_strips_from_frame_folders(tmp_path: Path, registry) -> None:
    for name in "abcd":
        write_strip(tmp_path / "strips" / f"{name}.png", indexed_frames(8))
    write_frame_folder(tmp_path / "frames", indexed_frames(8, 8, 12))  # 12x8 frames: not strips
    ds = build(registry, "video_folder", tmp_path, test_fraction=0)
    assert sorted(ref.format for ref, *_ in ds.clips) == ["frames"] + ["strip"] * 4
    forced = build(registry, "video_folder", tmp_path / "strips", images="frames", test_fraction=0)
    assert [ref.format for ref, *_ in forced.clips] == ["frames"]


def test_mixed_sizes_are_fitted_to_the_geometry(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "strips" / "small.png", indexed_frames(6, 6, 6))
    write_strip(tmp_path / "strips" / "big.png", indexed_frames(6, 20, 20))
    folder = write_frame_folder(tmp_path / "folders" / "f", indexed_frames(6, 10, 10))
    Image.fromarray(indexed_frames(1, 14, 9)[0]).save(folder / "frame2.png")  # one odd-sized frame
    for name, sub in (("frame_strips", "strips"), ("frame_folders", "folders")):
        ds = build(registry, name, tmp_path / sub, test_fraction=0)
        for i in range(len(ds)):
            assert ds[i]["video"].shape == GEOMETRY.clip_shape


def test_grey_geometry(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", indexed_frames(6))
    ds = build(registry, "frame_strips", tmp_path, geometry=VideoGeometry(4, 1, 8, 8), test_fraction=0)
    assert ds[0]["video"].shape == (4, 1, 8, 8)


# -- splits and windows ------------------------------------------------------------------


def test_by_time_split_is_the_weizmann_protocol(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", indexed_frames(30))
    train = build(registry, "frame_strips", tmp_path, split_mode="by_time")
    test = build(registry, "frame_strips", tmp_path, split="test", split_mode="by_time")
    assert train.clips[0][1:3] == (0, 20) and test.clips[0][1:3] == (20, 30)
    assert frame_indices(test[0]["video"]) == [20, 21, 22, 23]
    for epoch in range(6):
        train.set_epoch(epoch)
        seen = frame_indices(train[0]["video"])
        assert consecutive(seen) and seen[0] >= 0 and seen[-1] < 20


def test_by_clip_split_is_stable_and_disjoint(tmp_path: Path, registry) -> None:
    for i in range(20):
        write_strip(tmp_path / f"c{i}.png", indexed_frames(5))

    def names(split: str, seed: int = 0, **options: object) -> set[str]:
        return {ref.name for ref, *_ in build(registry, "frame_strips", tmp_path, split, seed, **options).clips}

    train, test = names("train"), names("test", test_fraction=None)
    assert not train & test and len(train | test) == 20 and 1 <= len(test) <= 6
    assert names("train", seed=99) == train  # the recipe's seed does not move clips
    assert names("train", split_seed=1) != train
    write_strip(tmp_path / "new.png", indexed_frames(5))
    assert names("test") - {"new.png"} == test  # adding a clip moves no other clip


def test_tiny_sets_keep_both_splits(tmp_path: Path, registry) -> None:
    for i in range(2):
        write_strip(tmp_path / f"c{i}.png", indexed_frames(5))
    assert len(build(registry, "frame_strips", tmp_path, "train")) == 1
    assert len(build(registry, "frame_strips", tmp_path, "test")) == 1


def test_random_windows_are_seeded_by_seed_index_and_epoch(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", indexed_frames(32))
    ds = build(registry, "frame_strips", tmp_path, test_fraction=0, train_repeats=8)
    assert len(ds) == 8
    starts = [frame_indices(ds[i]["video"])[0] for i in range(8)]
    assert starts == [frame_indices(ds[i]["video"])[0] for i in range(8)]  # deterministic
    assert len(set(starts)) > 1
    ds.set_epoch(1)
    assert [frame_indices(ds[i]["video"])[0] for i in range(8)] != starts
    other = build(registry, "frame_strips", tmp_path, seed=5, test_fraction=0, train_repeats=8)
    assert [frame_indices(other[i]["video"])[0] for i in range(8)] != starts


def test_hflip_mirrors_some_train_items(tmp_path: Path, registry) -> None:
    frames = indexed_frames(8)
    frames[:, :, :4] = 0  # left half dark
    write_strip(tmp_path / "a.png", frames)
    ds = build(registry, "frame_strips", tmp_path, test_fraction=0, hflip=True, train_repeats=16)
    left_dark = [bool(ds[i]["video"][0, :, :, 0].mean() < ds[i]["video"][0, :, :, -1].mean()) for i in range(16)]
    assert any(left_dark) and not all(left_dark)


@pytest.mark.parametrize("name", EXAMPLE_DATASETS)
def test_real_formats_pass_the_dataset_contract(tmp_path: Path, registry, name: str) -> None:
    params = example_params(name, tmp_path)
    check_component("dataset", name, params, registry=registry)
    ds = build(registry, name, Path(params["root"]), geometry=VideoGeometry(8, 3, 32, 32), test_fraction=0)
    assert len(ds.clips) == (8 if name == "video_folder" else 2)


def test_every_option_is_documented(registry) -> None:
    for entry in registry.list("dataset"):
        if entry.plugin != "builtin_data":
            continue
        assert entry.summary
        for field_name, field in entry.config_model.model_fields.items():
            assert field.description, f"{entry.name}.{field_name} has no description"
    assert issubclass(FrameStrips, ClipFolderDataset)
