"""Fitting frames to a geometry, and tiling clips into previews."""

from __future__ import annotations

import pytest
import torch

from vidgan_kit.errors import ShapeError
from vidgan_kit.io import frame_grid, resize_video, video_grid


def test_crop_keeps_the_centre_and_the_aspect() -> None:
    # 8 x 24 frames: left third -1, centre third 0, right third +1.
    frame = torch.cat([torch.full((3, 8, 8), v) for v in (-1.0, 0.0, 1.0)], dim=-1)
    clip = frame.expand(2, 3, 8, 24)
    out = resize_video(clip, 4, 4)
    assert out.shape == (2, 3, 4, 4)
    assert torch.allclose(out, torch.zeros_like(out))  # only the centre survives
    stretched = resize_video(clip, 4, 4, mode="stretch")
    assert stretched[..., 0].mean() < -0.5 and stretched[..., -1].mean() > 0.5


def test_tall_frames_are_cropped_vertically() -> None:
    frame = torch.cat([torch.full((1, 8, 8), v) for v in (-1.0, 0.5, 1.0)], dim=-2)  # 24 x 8
    assert torch.allclose(resize_video(frame, 8, 8), torch.full((1, 8, 8), 0.5))


def test_same_size_is_untouched_and_any_leading_dims_work() -> None:
    x = torch.rand(2, 3, 3, 8, 8)
    assert resize_video(x, 8, 8) is x
    assert resize_video(x, 4, 6).shape == (2, 3, 3, 4, 6)
    assert resize_video(torch.rand(3, 10, 10), 5, 5).shape == (3, 5, 5)


def test_downsampling_is_antialiased() -> None:
    checker = (torch.arange(64).view(1, 64) + torch.arange(64).view(64, 1)) % 2 * 2.0 - 1
    small = resize_video(checker.view(1, 1, 64, 64), 16, 16)
    assert small.abs().max() < 0.1  # a fine checkerboard averages to grey instead of aliasing


def test_resize_rejects_integer_frames() -> None:
    with pytest.raises(ShapeError):
        resize_video(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 2, 2)


def test_video_grid_places_every_clip() -> None:
    row0 = torch.stack([torch.full((3, 1, 4, 5), float(i) / 10) for i in range(3)])  # B=3, T=3
    row1 = torch.full((1, 1, 4, 5), -0.5)  # one clip [T=1, C, H, W]: held for all frames
    grid = video_grid([row0, row1], pad=1, pad_value=1.0)
    assert grid.shape == (3, 1, 2 * (4 + 1) + 1, 3 * (5 + 1) + 1)
    for j in range(3):
        assert torch.all(grid[:, :, 1:5, 1 + j * 6 : 6 + j * 6] == j / 10)
    assert torch.all(grid[:, :, 6:10, 1:6] == -0.5)
    assert torch.all(grid[:, :, 6:10, 7:12] == 1.0)  # empty cells: pad value
    assert torch.all(grid[:, :, 0, :] == 1.0)


def test_video_grid_rejects_mismatched_frames() -> None:
    with pytest.raises(ShapeError, match="rows\\[1\\]"):
        video_grid([torch.zeros(1, 2, 3, 4, 4), torch.zeros(1, 2, 3, 5, 4)])


def test_frame_grid_lays_time_left_to_right() -> None:
    clips = torch.arange(2 * 3, dtype=torch.float32).view(2, 3, 1, 1, 1).expand(2, 3, 3, 2, 2)
    image = frame_grid(clips, pad=1)
    assert image.shape == (3, 2 * 3 + 1, 3 * 3 + 1)
    assert image[0, 1, 1] == 0 and image[0, 1, 4] == 1 and image[0, 4, 7] == 5
    assert frame_grid(clips, pad=0, max_frames=2).shape == (3, 4, 4)
