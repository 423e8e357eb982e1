"""iter_video_arrays: frame-at-a-time decoding for videos too big to hold decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidgan_kit.errors import DataError
from vidgan_kit.io import iter_video_arrays, read_video_array, write_video

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
