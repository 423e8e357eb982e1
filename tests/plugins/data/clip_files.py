"""Helpers writing tiny clips in every format the data sets read (tests write their own data).

Pixel values encode the frame index (frame t is filled with ``STEP * t``), so a test can
decode which source frames an item holds; sizes are 8-16 px so every file is a few KB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidgan_kit import VideoGeometry

STEP = 8  # grey level per frame index: frames 0..31 stay within uint8
GEOMETRY = VideoGeometry(frames=4, channels=3, height=8, width=8)


def indexed_frames(frames: int, height: int = 8, width: int = 8, first: int = 0) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 where frame t is filled with STEP * (first + t)."""
    values = (np.arange(first, first + frames) * STEP).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (frames, height, width, 3)).copy()


def frame_indices(video: torch.Tensor) -> list[int]:
    """Recover the source frame index of each frame of an item (exact for lossless formats)."""
    levels = ((video + 1) * 127.5).mean(dim=(1, 2, 3))
    return [round(float(v) / STEP) for v in levels]


def write_strip(path: Path, frames: np.ndarray, mode: str = "RGB") -> Path:
    t, h, w, _ = frames.shape
    strip = frames.transpose(1, 0, 2, 3).reshape(h, t * w, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).convert(mode).save(path, format="PNG")
    return path


def write_frame_folder(folder: Path, frames: np.ndarray, pattern: str = "frame{}.png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / pattern.format(t))
    return folder
