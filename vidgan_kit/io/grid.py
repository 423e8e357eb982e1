"""Tiling clips into one preview video or one preview image.

Samples during training, transfer results and evaluation pages all show several clips at
once; these helpers keep that layout in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import ShapeError

__all__ = ["video_grid", "frame_grid"]


def _as_clips(x: torch.Tensor, name: str) -> torch.Tensor:
    """A row given as ``[B, T, C, H, W]`` or one clip ``[T, C, H, W]`` → ``[B, T, C, H, W]``."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a tensor, got {type(x).__name__}")
    if x.dim() == 4:
        return x.unsqueeze(0)
    if x.dim() != 5:
        raise ShapeError(f"{name}: expected [B, T, C, H, W] clips or one [T, C, H, W] clip, got {tuple(x.shape)}")
    return x


def _tile(cells: list[list[torch.Tensor | None]], c: int, h: int, w: int, pad: int, pad_value: float) -> torch.Tensor:
    """Place ``[C, H, W]`` (or ``[T, C, H, W]``) cells on a padded canvas, row by row."""
    rows, cols = len(cells), max(len(r) for r in cells)
    example = next(cell for row in cells for cell in row if cell is not None)
    lead = example.shape[:-3]
    canvas = torch.full(
        (*lead, c, rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, dtype=example.dtype
    )
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            if cell is not None:
                y, x = pad + i * (h + pad), pad + j * (w + pad)
                canvas[..., y : y + h, x : x + w] = cell
    return canvas


def _check_same(rows: list[torch.Tensor]) -> tuple[int, int, int]:
    c, h, w = rows[0].shape[-3:]
    for i, r in enumerate(rows):
        if tuple(r.shape[-3:]) != (c, h, w):
            raise ShapeError(f"rows[{i}]: frames are {tuple(r.shape[-3:])}, row 0 has {(c, h, w)}; resize them first")
    return c, h, w


def video_grid(rows: Sequence[torch.Tensor], pad: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """Tile rows of clips into one video ``[T, C, H', W']``.

    Each row is ``[B, T, C, H, W]`` (B clips side by side) or a single ``[T, C, H, W]``
    clip. Rows may hold different numbers of clips (empty cells are filled with
    ``pad_value``) and different lengths: a shorter row holds its last frame, so a row of
    still target images (T = 1) can sit above the transferred clips.
    """
    if len(rows) == 0:
        raise ShapeError("video_grid: expected at least one row")
    clips = [_as_clips(r, f"rows[{i}]").detach().cpu() for i, r in enumerate(rows)]
    c, h, w = _check_same(clips)
    frames = max(r.shape[1] for r in clips)
    cells: list[list[torch.Tensor | None]] = []
    for r in clips:
        idx = torch.arange(frames).clamp(max=r.shape[1] - 1)
        cells.append([clip[idx] for clip in r])
    return _tile(cells, c, h, w, pad, pad_value)


def frame_grid(
    videos: torch.Tensor | Sequence[torch.Tensor],
    pad: int = 2,
    pad_value: float = 1.0,
    max_frames: int | None = None,
) -> torch.Tensor:
    """Lay clips out as a still image ``[C, H', W']``: one clip per row, time left to right.

    The PNG companion of :func:`video_grid`, readable where animations are not (papers,
    issue trackers, TensorBoard's image tab). ``videos`` is ``[B, T, C, H, W]``, one
    ``[T, C, H, W]`` clip, or a list of either (concatenated as rows).
    """
    parts = [videos] if isinstance(videos, torch.Tensor) else list(videos)
    if not parts:
        raise ShapeError("frame_grid: expected at least one clip")
    clips = [_as_clips(v, f"videos[{i}]").detach().cpu() for i, v in enumerate(parts)]
    c, h, w = _check_same(clips)
    cells: list[list[torch.Tensor | None]] = []
    for batch in clips:
        for clip in batch:
            cells.append(list(clip[:max_frames] if max_frames else clip))
    return _tile(cells, c, h, w, pad, pad_value)
