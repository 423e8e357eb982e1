"""Bad input: every case is a DataError naming the file, or with on_error="skip" a counted skip.

Never a silently wrong tensor.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from clip_files import GEOMETRY, frame_indices, indexed_frames, write_frame_folder, write_strip
from vidgan_builtin.data.clips import SkippedClipsWarning

from vidgan_kit.errors import DataError
from vidgan_kit.io import write_video


def build(registry, name: str, root: Path, split: str = "train", **options):
    params = {"root": str(root), "test_fraction": 0, **options}
    return registry.build("dataset", name, params, geometry=GEOMETRY, split=split, seed=0)


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_missing_root(tmp_path: Path, registry) -> None:
    with pytest.raises(DataError, match="nowhere.*does not exist"):
        build(registry, "frame_strips", tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["frame_strips", "frame_folders", "video_files", "numpy_arrays", "video_folder"])
def test_empty_folder(tmp_path: Path, registry, name: str) -> None:
    (tmp_path / "notes.txt").write_text("no clips here")
    with pytest.raises(DataError, match=f"{name}: found no .* under"):
        build(registry, name, tmp_path, on_error="skip")


def bad_strip(root: Path) -> Path:
    return truncate(write_strip(root / "bad.png", indexed_frames(12, 16, 16)))


def bad_video(root: Path) -> Path:
    frames = torch.zeros(8, 3, 16, 16)
    return truncate(write_video(root / "bad.avi", frames), 0.7)


def bad_array(root: Path) -> Path:
    np.save(root / "bad.npy", indexed_frames(8))
    return truncate(root / "bad.npy", 0.6)


def bad_frames(root: Path) -> Path:
    folder = write_frame_folder(root / "bad", indexed_frames(6, 16, 16))
    truncate(folder / "frame0.png")  # the probe checks the first frame: a cut-off PNG
    return folder


def good_clip(name: str, root: Path) -> None:
    if name == "frame_strips":
        write_strip(root / "good.png", indexed_frames(8))
    elif name == "frame_folders":
        write_frame_folder(root / "good", indexed_frames(8))
    elif name == "video_files":
        write_video(root / "good.mkv", torch.zeros(8, 3, 8, 8))
    else:
        np.save(root / "good.npy", indexed_frames(8))


@pytest.mark.parametrize(
    ("name", "make_bad"),
    [
        ("frame_strips", bad_strip),
        ("video_files", bad_video),
        ("numpy_arrays", bad_array),
        ("frame_folders", bad_frames),
    ],
)
def test_unreadable_or_truncated_file_raise_and_skip(tmp_path: Path, registry, name: str, make_bad) -> None:
    good_clip(name, tmp_path)
    bad = make_bad(tmp_path)
    with pytest.raises(DataError, match=bad.name):
        build(registry, name, tmp_path)
    with pytest.warns(SkippedClipsWarning, match=rf"(?s)skipped 1 .*{bad.name}"):
        ds = build(registry, name, tmp_path, on_error="skip")
    assert len(ds) == 1 and ds[0]["video"].shape == GEOMETRY.clip_shape
    assert [Path(p).name for p, _ in ds.skipped] == [bad.name]


def test_clip_shorter_than_an_item(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "long.png", indexed_frames(10))
    write_strip(tmp_path / "short.png", indexed_frames(3))
    with pytest.raises(DataError, match=r"short.png.*too short: it has 3 frames, an item needs 4"):
        build(registry, "frame_strips", tmp_path)
    with pytest.raises(DataError, match=r"long.png.*needs 7 \(4 frames, stride 2\)"):
        build(registry, "frame_strips", tmp_path / "long.png", frame_stride=2, split_mode="by_time", split="test")
    with pytest.warns(SkippedClipsWarning, match="short.png"):
        ds = build(registry, "frame_strips", tmp_path, on_error="skip")
    assert [ref.name for ref, *_ in ds.clips] == ["long.png"]


def test_strip_width_not_a_multiple_of_its_height(tmp_path: Path, registry) -> None:
    from PIL import Image

    Image.new("RGB", (50, 8)).save(tmp_path / "odd.png")
    with pytest.raises(DataError, match=r"odd.png.*50 px wide, not a multiple of its frame width 8"):
        build(registry, "frame_strips", tmp_path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((8, 8, 8, 3), np.float32), "dtype float32"),
        (np.zeros((8, 3, 8, 8), np.uint8), "channels first"),
        (np.zeros((8, 8, 3), np.uint8), r"shape \(8, 8, 3\)"),
        (np.zeros((0, 8, 8, 3), np.uint8), "no frames"),
        (np.asfortranarray(np.zeros((8, 8, 8, 3), np.uint8)), "Fortran"),
    ],
)
def test_arrays_with_the_wrong_layout(tmp_path: Path, registry, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DataError, match=rf"x.npy.*{message}"):
        build(registry, "numpy_arrays", tmp_path)


def test_pickled_object_arrays_are_refused_unread(tmp_path: Path, registry) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy.*Python objects"):
        build(registry, "numpy_arrays", tmp_path)


def test_corrupt_npz(tmp_path: Path, registry) -> None:
    np.savez_compressed(tmp_path / "z.npz", videos=indexed_frames(8)[None])
    truncate(tmp_path / "z.npz", 0.8)
    with pytest.raises(DataError, match="z.npz"):
        build(registry, "numpy_arrays", tmp_path)


def test_everything_skipped_is_still_an_error_that_says_why(tmp_path: Path, registry) -> None:
    bad_strip(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedClipsWarning)  # the error gives the reasons; no warning beside it
        with pytest.raises(DataError, match=r"no usable clips.*skipped 1[^\n]*:\n  \S*bad\.png: ") as info:
            build(registry, "frame_strips", tmp_path, on_error="skip")
    assert [Path(path).name for path, _ in info.value.skipped] == ["bad.png"]


def test_file_broken_after_indexing(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", indexed_frames(8))
    write_strip(tmp_path / "b.png", indexed_frames(8, first=20))
    strict = build(registry, "frame_strips", tmp_path, random_start=False)
    lenient = build(registry, "frame_strips", tmp_path, random_start=False, on_error="skip")
    (tmp_path / "a.png").write_bytes(b"overwritten")
    with pytest.raises(DataError, match="a.png"):
        strict[0]
    with pytest.warns(SkippedClipsWarning, match="a.png"):
        item = lenient[0]
    assert frame_indices(item["video"]) == [20, 21, 22, 23]  # the next clip, never a wrong tensor
    assert [Path(p).name for p, _ in lenient.skipped] == ["a.png"]


def test_unknown_split(tmp_path: Path, registry) -> None:
    write_strip(tmp_path / "a.png", indexed_frames(8))
    with pytest.raises(DataError, match="unknown split 'val'"):
        build(registry, "frame_strips", tmp_path, split="val")


def test_broken_frame_inside_a_frame_folder(tmp_path: Path, registry) -> None:
    write_frame_folder(tmp_path / "a", indexed_frames(8))
    write_frame_folder(tmp_path / "b", indexed_frames(8, first=10))
    (tmp_path / "a" / "frame2.png").write_bytes(b"garbage")  # only the first frame is probed
    strict = build(registry, "frame_folders", tmp_path, random_start=False)
    with pytest.raises(DataError, match="frame2.png"):
        strict[0]
    lenient = build(registry, "frame_folders", tmp_path, random_start=False, on_error="skip")
    with pytest.warns(SkippedClipsWarning, match="frame2.png"):
        assert frame_indices(lenient[0]["video"]) == [10, 11, 12, 13]


def test_a_clip_broken_after_indexing_is_not_retried(tmp_path: Path, registry) -> None:
    for name in "abc":
        write_strip(tmp_path / f"{name}.png", indexed_frames(8))
    ds = build(registry, "frame_strips", tmp_path, on_error="skip", train_repeats=4)
    (tmp_path / "b.png").write_bytes(b"overwritten")
    with pytest.warns(SkippedClipsWarning):
        videos = [ds[i]["video"] for i in range(len(ds))]
    assert len(videos) == 12 and len(ds.skipped) == 1
    (tmp_path / "a.png").unlink()
    (tmp_path / "c.png").unlink()
    with pytest.warns(SkippedClipsWarning), pytest.raises(DataError, match="every clip failed"):
        ds[0]
