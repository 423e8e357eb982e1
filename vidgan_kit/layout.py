"""The one tensor layout: videos are ``[B, T, C, H, W]`` in [-1, 1], frames ``[N, C, H, W]``.

Every component boundary asserts it (after StyleGAN3's ``assert_shape``): silent layout
bugs, a ``[B, C, T, H, W]`` passed where ``[B, T, C, H, W]`` was meant, are the classic
video-GAN failure. Conv3d modules permute inside themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import ShapeError

__all__ = [
    "VideoGeometry",
    "assert_video",
    "assert_frames",
    "fold_time",
    "unfold_time",
    "to_unit_range",
    "from_unit_range",
]


@dataclass(frozen=True)
class VideoGeometry:
    """Frame count and frame size shared by the data and every model component."""

    frames: int = 16
    channels: int = 3
    height: int = 64
    width: int = 64

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        return (self.frames, self.channels, self.height, self.width)


def _check(x: torch.Tensor, name: str, expected: tuple[int | None, ...], what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a tensor {what}, got {type(x).__name__}")
    if x.dim() != len(expected):
        raise ShapeError(f"{name}: expected {what} ({len(expected)} dims), got shape {tuple(x.shape)}")
    for i, (got, want) in enumerate(zip(x.shape, expected, strict=True)):
        if want is not None and got != want:
            raise ShapeError(f"{name}: expected {what} = {_fmt(expected)}, got {tuple(x.shape)} (dim {i})")


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"


def assert_video(
    x: torch.Tensor,
    name: str = "video",
    *,
    batch: int | None = None,
    geometry: VideoGeometry | None = None,
    frames: int | None = None,
) -> torch.Tensor:
    """Check ``x`` is ``[B, T, C, H, W]``; returns it for chaining."""
    g = geometry
    t = frames if frames is not None else (g.frames if g else None)
    expected = (batch, t, g.channels if g else None, g.height if g else None, g.width if g else None)
    _check(x, name, expected, "[B, T, C, H, W]")
    if not x.is_floating_point():
        raise ShapeError(f"{name}: expected a floating-point video in [-1, 1], got dtype {x.dtype}")
    return x


def assert_frames(
    x: torch.Tensor,
    name: str = "frames",
    *,
    batch: int | None = None,
    geometry: VideoGeometry | None = None,
) -> torch.Tensor:
    """Check ``x`` is ``[N, C, H, W]``; returns it for chaining."""
    g = geometry
    expected = (batch, g.channels if g else None, g.height if g else None, g.width if g else None)
    _check(x, name, expected, "[N, C, H, W]")
    return x


def fold_time(video: torch.Tensor) -> torch.Tensor:
    """``[B, T, C, H, W]`` → ``[B*T, C, H, W]`` for per-frame 2D modules."""
    b, t = video.shape[:2]
    return video.reshape(b * t, *video.shape[2:])


def unfold_time(frames: torch.Tensor, batch: int) -> torch.Tensor:
    """``[B*T, ...]`` → ``[B, T, ...]``."""
    return frames.reshape(batch, frames.shape[0] // batch, *frames.shape[1:])


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1], clamped."""
    return ((x + 1) * 0.5).clamp(0, 1)


def from_unit_range(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] → [-1, 1]."""
    return x * 2 - 1
