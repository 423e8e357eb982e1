"""`vidgan data prepare`'s preparers, on stand-ins the tests write in the publishers' formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from standins import person_clip, write_avi, write_bair, write_mp4
from vidgan_builtin.data.prepare import (
    BairOptions,
    WeizmannOptions,
    prepare_bair,
    prepare_uva_nemo,
    prepare_weizmann,
    verify_prepared,
)
from vidgan_builtin.data.prepare.uva_nemo import held_out_count
from vidgan_builtin.data.prepare.weizmann import parse_name

from vidgan_kit import VideoGeometry, __version__
from vidgan_kit.errors import DataError

# -- Weizmann ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weizmann_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("weizmann_src")
    write_avi(src / "daria_wave1.avi", person_clip(24, (70, 50), seed=1))
    write_avi(src / "walk" / "lena_walk2.avi", person_clip(21, (80, 120), seed=2))
    write_avi(src / "notes_background.avi", person_clip(21, (80, 120), seed=3))  # not person_action
    return src


def test_weizmann_names() -> None:
    assert parse_name("daria_walk") == ("daria", "walk")
    assert parse_name("lena_run1") == ("lena", "run")
    assert parse_name("ido_wave2") == ("ido", "wave2")  # wave1/wave2 are two actions
    assert parse_name("shahar_Jack") == ("shahar", "jack")
    assert parse_name("background") is None and parse_name("x_dance") is None


def test_weizmann_strips_labels_time_split_and_manifest(weizmann_src: Path, tmp_path: Path, registry) -> None:
    out = tmp_path / "weizmann64"
    manifest = prepare_weizmann(weizmann_src, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "walk/lena_walk2.png", "wave1/daria_wave1.png"]
    with Image.open(out / "wave1" / "daria_wave1.png") as img:
        assert img.size == (24 * 64, 64) and img.mode == "RGB"
    assert manifest["toolkit"]["version"] == __version__
    assert manifest["preprocessing"]["size"] == 64 and manifest["data"]["split_mode"] == "by_time"
    assert manifest["classes"] == {"walk": 1, "wave1": 1}
    assert [s["source"] for s in manifest["skipped"]] == ["notes_background.avi"]
    entry = next(f for f in manifest["files"] if f["label"] == "wave1")
    assert (entry["frames"], entry["train_frames"], entry["test_frames"]) == (24, [0, 16], [16, 24])
    assert entry["crop"]["side"] == 144  # default: full-height square, MoCoGAN's framing
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert verify_prepared(out)[1] == []

    # Read back as recipes/weizmann.toml does: by time, labels from the action folders.
    geometry = VideoGeometry(frames=6, channels=3, height=64, width=64)
    params = {"root": str(out), "split_mode": "by_time"}
    train = registry.build("dataset", "frame_strips", params, geometry=geometry, split="train")
    test = registry.build("dataset", "frame_strips", params, geometry=geometry, split="test")
    assert train.classes == ["walk", "wave1"] and train[0]["label"] == 0
    assert sorted((ref.name, lo, hi) for ref, lo, hi, _ in test.clips) == [
        ("walk/lena_walk2.png", 14, 21), ("wave1/daria_wave1.png", 16, 24)]  # the manifest's test frames


def test_weizmann_crop_is_centred_on_the_moving_person(weizmann_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "tight"
    prepare_weizmann(weizmann_src, out, options=WeizmannOptions(min_side=0.3))
    for rel in ("wave1/daria_wave1.png", "walk/lena_walk2.png"):
        strip = np.asarray(Image.open(out / rel).convert("RGB")).astype(int)
        bright = strip.reshape(64, -1, 64, 3).min(axis=-1).transpose(1, 0, 2) > 150  # the person: [T, 64, 64]
        ys, xs = np.nonzero(bright.any(axis=0))
        assert abs((ys.min() + ys.max()) / 2 - 31.5) < 6 and abs((xs.min() + xs.max()) / 2 - 31.5) < 8, rel


# -- UvA-NEMO -------------------------------------------------------------------------------------


def test_nemo_split_rule_keeps_the_papers_ratio() -> None:
    assert held_out_count(1234) == 124  # the paper's 1110 / 124
    assert [held_out_count(n) for n in (1240, 100, 3, 1)] == [125, 10, 1, 0]


def test_nemo_sequences_and_video_split(tmp_path: Path, registry) -> None:
    src = tmp_path / "nemo"
    lengths = {"001_deliberate_smile_1": 33, "002_spontaneous_smile_1": 16, "010_deliberate_smile_2": 40,
               "003_spontaneous_smile_3": 10}
    for name, frames in lengths.items():
        write_mp4(src / f"{name}.mp4", frames)
    out = tmp_path / "uva_nemo64"
    manifest = prepare_uva_nemo(src, out)
    # Natural order 001, 002, 003, 010: the last round(4 * 124 / 1234) -> 1 video is test.
    assert sorted(p.name for p in (out / "test").iterdir()) == ["010_deliberate_smile_2_000.png",
                                                               "010_deliberate_smile_2_001.png"]
    assert sorted(p.name for p in (out / "train").iterdir()) == [
        "001_deliberate_smile_1_000.png", "001_deliberate_smile_1_001.png", "002_spontaneous_smile_1_000.png"]
    assert manifest["splits"]["train"] == {"videos": 3, "clips": 3}
    assert manifest["splits"]["test"]["videos"] == 1 and manifest["splits"]["paper_split"] is False
    assert [s["source"] for s in manifest["skipped"]] == ["003_spontaneous_smile_3.mp4"]  # 10 < 16 frames
    assert next(f for f in manifest["files"] if f["path"].endswith("1_001.png"))["source_frames"] == [16, 32]
    with Image.open(out / "train" / "001_deliberate_smile_1_000.png") as img:
        assert img.size == (16 * 64, 64)
    geometry = VideoGeometry(frames=16, channels=3, height=64, width=64)
    for split, clips in (("train", 3), ("test", 2)):
        ds = registry.build("dataset", "frame_strips", {"root": str(out), "split_mode": "by_folder"},
                            geometry=geometry, split=split)
        assert len(ds) == clips and ds[0]["video"].shape == (16, 3, 64, 64)


# -- BAIR ------------------------------------------------------------------------------------------


def test_bair_records_become_exact_npy_clips(tmp_path: Path, registry) -> None:
    src = tmp_path / "bair"
    clips = write_bair(src, {"train/traj_0_to_1": [1, 2], "train/traj_2_to_2": [3], "test/traj_0_to_1": [4, 5]},
                       steps=3)
    out = tmp_path / "bair64"
    manifest = prepare_bair(src, out)
    for name, expected in clips.items():
        np.testing.assert_array_equal(np.load(out / f"{name}.npy"), expected)
    assert manifest["splits"]["train"] == {"clips": 3} and manifest["splits"]["test"] == {"clips": 2}
    assert manifest["splits"]["frames_per_clip"] == [3]
    ds = registry.build("dataset", "numpy_arrays", {"root": str(out), "split_mode": "by_folder"},
                        geometry=VideoGeometry(frames=3, channels=3, height=64, width=64), split="test")
    assert len(ds) == 2
    video = ds[1]["video"]
    np.testing.assert_array_equal(((video.permute(0, 2, 3, 1) + 1) * 127.5).round().byte().numpy(),
                                  clips["test/traj_0_to_1"][1])


def test_bair_corrupted_record_names_file_and_record_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bair"
    write_bair(src, {"train/traj_0_to_2": [1, 2, 3]}, steps=2)
    path = src / "softmotion30_44k" / "train" / "traj_0_to_2.tfrecords"
    data = bytearray(path.read_bytes())
    record = (len(data)) // 3
    data[record + 500] ^= 0xFF  # inside record 1's payload
    path.write_bytes(bytes(data))
    out = tmp_path / "bair64"
    with pytest.raises(DataError, match=r"traj_0_to_2\.tfrecords'?, record 1 .*CRC mismatch"):
        prepare_bair(src, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [src]  # no partial output left behind


def test_bair_wrong_image_key_lists_what_is_there(tmp_path: Path) -> None:
    src = tmp_path / "bair"
    write_bair(src, {"test/traj_0_to_0": [1]}, steps=2)
    with pytest.raises(DataError, match=r"no feature '0/image_main/encoded'.*0/image_aux1/encoded.*--image-key"):
        prepare_bair(src, tmp_path / "out", options=BairOptions(image_key="{t}/image_main/encoded"))


# -- manifest, verify, overwrite ------------------------------------------------------------------


def test_verify_reports_changed_missing_and_unlisted_files(tmp_path: Path) -> None:
    src = tmp_path / "bair"
    write_bair(src, {"train/traj_0_to_0": [1], "test/traj_0_to_0": [2]}, steps=2)
    out = tmp_path / "out"
    prepare_bair(src, out)
    assert verify_prepared(out)[1] == []
    array = np.load(out / "train" / "traj_0_to_0.npy")
    array[0, 0, 0, 0, 0] ^= 1  # one changed bit, same size
    np.save(out / "train" / "traj_0_to_0.npy", array)
    (out / "test" / "traj_0_to_0.npy").unlink()
    (out / "test" / "extra.npy").write_bytes(b"x")
    problems = {p.path: p.message for p in verify_prepared(out)[1]}
    assert problems == {
        "train/traj_0_to_0.npy": "content changed: its SHA-256 differs from the manifest's",
        "test/traj_0_to_0.npy": "missing",
        "test/extra.npy": "not listed in the manifest",
    }


def test_output_is_never_overwritten_without_permission(tmp_path: Path) -> None:
    src = tmp_path / "bair"
    write_bair(src, {"test/traj_0_to_0": [1]}, steps=2)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="not empty"):
        prepare_bair(src, mine)
    with pytest.raises(DataError, match="has no manifest.json.*will not delete it"):
        prepare_bair(src, mine, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "precious"

    out = tmp_path / "out"
    prepare_bair(src, out)
    (out / "stale.npy").write_bytes(b"old")
    with pytest.raises(DataError, match="--overwrite"):
        prepare_bair(src, out)
    prepare_bair(src, out, overwrite=True)
    assert not (out / "stale.npy").exists() and verify_prepared(out)[1] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bair", "mine", "out"]  # no staging folders left


def test_by_folder_needs_the_split_folder(tmp_path: Path, registry) -> None:
    (tmp_path / "train").mkdir()
    np.save(tmp_path / "train" / "a.npy", np.zeros((2, 4, 8, 8, 3), np.uint8))
    geometry = VideoGeometry(frames=4, channels=3, height=8, width=8)
    params = {"root": str(tmp_path), "split_mode": "by_folder"}
    assert len(registry.build("dataset", "numpy_arrays", params, geometry=geometry, split="train")) == 2
    with pytest.raises(DataError, match=r"reads the test split from .*test'?, which is not a folder.*train/ and test/"):
        registry.build("dataset", "numpy_arrays", params, geometry=geometry, split="test")
