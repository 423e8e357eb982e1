"""Video files: round trips per container, strict decoding of broken files, atomic writes."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from vidgan_kit.errors import DataError, ShapeError
from vidgan_kit.io import VIDEO_WRITERS, probe_video, read_video, read_video_array, write_video
from vidgan_kit.io import video as video_module


def smooth_clip(frames: int = 16, height: int = 64, width: int = 64) -> torch.Tensor:
    """Gradients that move over time: what lossy codecs keep well, and frames all differ."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    out = []
    for t in range(frames):
        phase = t / max(frames - 1, 1)
        out.append(torch.stack([0.8 * xx, 0.6 * yy + 0.3 * phase, 0.5 * torch.sin(math.pi * (xx + phase))]))
    return torch.stack(out).clamp(-1, 1)


# Mean absolute error allowed after a round trip, in [-1, 1] units (2.0 = full range).
TOLERANCE = {".mp4": 0.03, ".mov": 0.03, ".webm": 0.03, ".avi": 0.03, ".mkv": 1 / 255, ".gif": 0.08}  # GIF: 256 colours


@pytest.mark.parametrize("ext", sorted(VIDEO_WRITERS))
def test_round_trip_keeps_frames_size_and_values(tmp_path: Path, ext: str) -> None:
    clip = smooth_clip()
    path = write_video(tmp_path / f"clip{ext}", clip, fps=8)
    back = read_video(path)
    assert back.shape == (16, 3, 64, 64)
    assert back.dtype == torch.float32
    assert float((back - clip).abs().mean()) < TOLERANCE[ext]
    info = probe_video(path)
    assert (info.frames, info.height, info.width) == (16, 64, 64)
    assert info.fps == pytest.approx(8, rel=0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"clip{ext}"]  # no temporary left behind


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".gif"])
def test_odd_frame_sizes_are_kept(tmp_path: Path, ext: str) -> None:
    clip = smooth_clip(4, 33, 47)
    back = read_video(write_video(tmp_path / f"odd{ext}", clip))
    assert back.shape == (4, 3, 33, 47)
    assert float((back - clip).abs().mean()) < 0.08


def test_still_gif_keeps_every_frame_and_loops(tmp_path: Path) -> None:
    still = smooth_clip(1).expand(12, 3, 64, 64)
    path = write_video(tmp_path / "still.gif", still)
    assert read_video(path).shape[0] == 12
    with Image.open(path) as img:
        assert img.n_frames == 12
        assert img.info.get("loop") == 0  # 0 = forever


def test_grey_video_is_written_and_read_as_rgb(tmp_path: Path) -> None:
    grey = smooth_clip(4)[:, :1]
    back = read_video(write_video(tmp_path / "grey.mkv", grey))
    assert back.shape == (4, 3, 64, 64)
    for c in range(3):
        assert torch.allclose(back[:, c : c + 1], grey, atol=1 / 127)


def test_slices_and_max_frames(tmp_path: Path) -> None:
    clip = smooth_clip(10, 16, 16)
    path = write_video(tmp_path / "c.mkv", clip)
    full = read_video_array(path)
    assert full.shape == (10, 16, 16, 3)
    np.testing.assert_array_equal(read_video_array(path, start=2, stop=9, step=3), full[2:9:3])
    assert read_video(path, max_frames=4).shape[0] == 4
    assert read_video(path, max_frames=50).shape[0] == 10  # at most, like slicing
    with pytest.raises(DataError, match="has 10 frames"):
        read_video_array(path, start=5, stop=12)


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        write_video(tmp_path / "clip.flv", smooth_clip(2, 8, 8))
    for ext in VIDEO_WRITERS:
        assert ext in str(err.value)


def test_bad_tensors_are_shape_errors(tmp_path: Path) -> None:
    with pytest.raises(ShapeError):
        write_video(tmp_path / "a.mp4", torch.zeros(3, 8, 8))
    with pytest.raises(ShapeError):
        write_video(tmp_path / "a.mp4", torch.zeros(2, 4, 8, 8))
    with pytest.raises(ShapeError):
        write_video(tmp_path / "a.mp4", torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_missing_and_undecodable_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(DataError, match="nope.mp4.*does not exist"):
        read_video(missing)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 20)
    for fn in (read_video, probe_video):
        with pytest.raises(DataError, match="junk.mp4"):
            fn(junk)
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty.webm"):
        read_video(empty)


@pytest.mark.parametrize(("ext", "keep"), [(".mp4", 0.5), (".avi", 0.9), (".mkv", 0.8), (".webm", 0.8), (".gif", 0.6)])
def test_truncated_files_are_errors_not_short_clips(tmp_path: Path, ext: str, keep: float) -> None:
    path = write_video(tmp_path / f"full{ext}", smooth_clip(16, 32, 32))
    data = path.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DataError, match=f"cut{ext}"):
        probe_video(cut)
    with pytest.raises(DataError, match=f"cut{ext}"):
        read_video(cut)


def test_a_file_without_frames_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "noframes.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=8)
        stream.width, stream.height, stream.pix_fmt = 8, 8, "bgr0"
    with pytest.raises(DataError, match="noframes.mkv"):
        read_video(path)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_video(tmp_path / "clip.mkv", smooth_clip(3, 8, 8))
    before = target.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(video_module._Encoder, "write", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_video(target, smooth_clip(5, 8, 8))
    assert target.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mkv"]  # and no temporary remains


def test_writer_creates_missing_folders(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a" / "b" / "clip.mp4", smooth_clip(2, 16, 16))
    assert read_video(path).shape == (2, 3, 16, 16)


def test_written_files_get_normal_permissions(tmp_path):
    import os
    import stat

    from vidgan_kit.io import write_image, write_video

    mask = os.umask(0)
    os.umask(mask)
    write_video(tmp_path / "clip.gif", torch.zeros(4, 3, 8, 8))
    write_image(tmp_path / "image.png", torch.zeros(3, 8, 8))
    for name in ("clip.gif", "image.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
