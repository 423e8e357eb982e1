"""iter_video_arrays: frame-at-a-time decoding for videos too big to hold decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidgan_kit.errors import DataError, ShapeError
from vidgan_kit.io import VideoWriter, iter_video_arrays, read_video_array, write_video

from .test_video_io import smooth_clip


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_streamed_frames_equal_the_whole_decode(tmp_path: Path, ext: str) -> None:
    path = write_video(tmp_path / f"clip{ext}", smooth_clip(12, 24, 40))
    frames = list(iter_video_arrays(path))
    assert len(frames) == 12 and frames[0].shape == (24, 40, 3) and frames[0].dtype == np.uint8
    np.testing.assert_array_equal(np.stack(frames), read_video_array(path))


def test_a_truncated_stream_fails_after_its_readable_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "full.mp4", smooth_clip(16, 32, 32))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="cut.mp4"):
        for _ in iter_video_arrays(cut):
            pass
    with pytest.raises(DataError, match="missing.mp4"):
        next(iter_video_arrays(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("ext", [".mkv", ".gif", ".mp4"])
def test_a_video_written_in_chunks_is_the_video_written_at_once(tmp_path: Path, ext: str) -> None:
    clip = smooth_clip(11, 16, 24)
    whole = write_video(tmp_path / f"whole{ext}", clip)
    with VideoWriter(tmp_path / f"chunks{ext}", fps=8) as writer:
        for chunk in clip.split(4):  # 4 + 4 + 3 frames
            writer.write(chunk)
    assert writer.frames == 11
    np.testing.assert_array_equal(read_video_array(tmp_path / f"chunks{ext}"), read_video_array(whole))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"whole{ext}", f"chunks{ext}"])  # no spool left


@pytest.mark.parametrize("ext", [".mkv", ".gif"])
def test_a_failed_stream_leaves_no_file_and_keeps_the_old_one(tmp_path: Path, ext: str) -> None:
    target = write_video(tmp_path / f"clip{ext}", smooth_clip(3, 8, 8))
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="decoder died"), VideoWriter(target) as writer:
        writer.write(smooth_clip(2, 8, 8))
        raise RuntimeError("decoder died")
    with pytest.raises(ShapeError, match="16x16 after frames of 8x8"), VideoWriter(target) as writer:
        writer.write(smooth_clip(2, 8, 8))
        writer.write(smooth_clip(2, 16, 16))
    with pytest.raises(ShapeError, match="at least one frame"), VideoWriter(target):
        pass
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{ext}"]
