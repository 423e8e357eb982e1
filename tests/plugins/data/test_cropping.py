"""`vidgan data crop` end to end: sources found, crops written as the data sets read them, bad files skipped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.io.crop_clips import face_clip, walking_blob
from vidgan_kit import VideoGeometry, load_registry
from vidgan_kit.errors import VidganError
from vidgan_kit.io import read_image_array, read_video, write_image, write_video
from vidgan_kit.io.crop import _cascade, require_face_detector

WALKER = np.array([210, 120, 60])  # the walking blob's body colour (uint8 RGB)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as users bring it: a video in a class folder, a folder of frames, a photo's folder, a broken file."""
    src = tmp_path_factory.mktemp("footage") / "src"
    walk, _ = walking_blob(frames=12)
    write_video(src / "walk" / "anna.mp4", walk, fps=12)
    frames = src / "walk" / "ben"
    for t, frame in enumerate(walking_blob(frames=8, seed=1)[0].roll(-20, dims=-1)):
        write_image(frames / f"frame{t}.png", frame)
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 cut short by the download")
    return src


def _walker_share(frames: np.ndarray) -> np.ndarray:
    """Per frame ``[T, H, W, 3]``: the share of pixels close to the walker's body colour."""
    return (np.abs(frames.astype(int) - WALKER).max(axis=-1) < 40).mean(axis=(1, 2))


def test_crop_writes_strips_the_data_sets_read_prints_the_boxes_and_skips_the_broken_file(cli, footage: Path) -> None:
    out = footage.parent / "strips"
    result = cli("data", "crop", footage, out, "--size", 32, "--subject", "motion")
    assert result.exit_code == 0, result.output
    assert "walk/anna.png" in result.stdout and "walk/ben.png" in result.stdout and "motion" in result.stdout
    assert "skipped 1 file(s)" in result.stderr and "broken.mp4" in result.stderr
    assert "cannot decode video" in result.stderr and "Traceback" not in result.output

    strip = read_image_array(out / "walk" / "anna.png")
    assert strip.shape == (32, 32 * 12, 3)
    frames = strip.reshape(32, 12, 32, 3).transpose(1, 0, 2, 3)
    assert (_walker_share(frames) > 0.03).all()  # the walker is in every cropped frame
    record = json.loads((out / "crops.json").read_text())
    assert [c["output"] for c in record["clips"]] == ["walk/anna.png", "walk/ben.png"]
    box = record["clips"][0]["box"]
    assert box["detector"] == "motion" and f"{box['x']}, {box['y']}, {box['size']}" in result.stdout
    assert record["skipped"][0]["source"].endswith("broken.mp4")

    # frame_strips reads the crops, with the class folder as the label.
    geometry = VideoGeometry(frames=4, channels=3, height=32, width=32)
    data = load_registry().build("dataset", "frame_strips", {"root": str(out), "test_fraction": 0},
                                 geometry=geometry, split="train")
    assert data.classes == ["walk"] and len(data.clips) == 2
    assert tuple(data[0]["video"].shape) == (4, 3, 32, 32)


def test_crop_writes_videos_and_frame_folders_that_decode(cli, footage: Path) -> None:
    out = footage.parent / "videos"
    assert cli("data", "crop", footage, out, "--size", 24, "--format", "mp4").exit_code == 0
    video = read_video(out / "walk" / "anna.mp4")
    assert tuple(video.shape) == (12, 3, 24, 24)
    folders = footage.parent / "folders"
    assert cli("data", "crop", footage / "walk" / "anna.mp4", folders, "--format", "folder").exit_code == 0
    written = sorted((folders / "anna").iterdir())
    assert [p.name for p in written] == [f"{t:04d}.png" for t in range(12)]
    assert read_image_array(written[0]).shape == (64, 64, 3)


def test_crop_refuses_to_overwrite_and_leaves_the_folder_as_it_was(cli, footage: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    result = cli("data", "crop", footage, tmp_path)
    assert result.exit_code == 2 and "crop never overwrites" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_nothing_croppable_is_an_error_and_writes_nothing(cli, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.avi").write_bytes(b"RIFF not a video")
    result = cli("data", "crop", tmp_path / "src", tmp_path / "out")
    assert result.exit_code == 2 and "none of the 1 clip(s)" in result.stderr and "a.avi" in result.stderr
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no staging folder left behind
    empty = cli("data", "crop", tmp_path / "nothing", tmp_path / "out")
    assert empty.exit_code == 2 and "does not exist" in empty.stderr


def test_face_mode_without_opencv_names_the_extra_before_reading_anything(cli, footage, tmp_path, monkeypatch):
    _cascade.cache_clear()
    monkeypatch.setitem(sys.modules, "cv2", None)
    try:
        result = cli("data", "crop", footage, tmp_path / "out", "--subject", "face")
        assert result.exit_code == 2 and "pip install 'vidgan-kit[crop]'" in result.stderr
        assert not (tmp_path / "out").exists()
        auto = cli("data", "crop", footage / "walk" / "anna.mp4", tmp_path / "auto")
        assert auto.exit_code == 0 and "cropping by motion only" in auto.stderr
    finally:
        _cascade.cache_clear()


def test_a_photo_is_a_clip_of_one_frame(cli, tmp_path: Path) -> None:
    clip, _ = face_clip(frames=1)
    write_image(tmp_path / "portrait.png", clip[0])
    result = cli("data", "crop", tmp_path / "portrait.png", tmp_path / "out", "--size", 40)
    assert result.exit_code == 0, result.output
    assert read_image_array(tmp_path / "out" / "portrait.png").shape == (40, 40, 3)
    detector = json.loads((tmp_path / "out" / "crops.json").read_text())["clips"][0]["box"]["detector"]
    try:
        require_face_detector()
    except VidganError:
        assert detector == "centre"  # one frame has no motion
    else:
        assert detector == "face"
