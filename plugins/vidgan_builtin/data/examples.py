"""Tiny example data for the real-clip data sets, written on demand.

Contract tests, documentation examples and plugin authors need a ``root`` with something
in it; this writes a few short clips (rendered by ``synthetic_shapes``, so they look like
real motion) in the format a data set reads, and returns the options that build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgan_kit import VideoGeometry
from vidgan_kit.io import tensor_to_uint8, uint8_to_tensor, write_video

from .synthetic import SyntheticShapes, SyntheticShapesConfig

__all__ = ["EXAMPLE_DATASETS", "example_params"]

#: Data sets that need files on disk, so an example root.
EXAMPLE_DATASETS: tuple[str, ...] = ("frame_strips", "frame_folders", "video_files", "numpy_arrays", "video_folder")


def _clips(count: int, frames: int, size: int) -> list[np.ndarray]:
    geometry = VideoGeometry(frames=frames, channels=3, height=size, width=size)
    shapes = SyntheticShapes(SyntheticShapesConfig(clips=count, seed=0), geometry=geometry)
    return [tensor_to_uint8(shapes.clip(i)) for i in range(count)]


def example_params(name: str, folder: Path, *, clips: int = 2, frames: int = 12, size: int = 32) -> dict[str, Any]:
    """Write ``clips`` clips of ``frames`` frames for data set ``name`` under ``folder``.

    Returns the options to build it with every clip in the train split (``test_fraction``
    0), e.g. ``registry.build("dataset", name, example_params(name, tmp_path), ...)``.
    """
    if name not in EXAMPLE_DATASETS:
        raise ValueError(f"no example data for {name!r}; known: {', '.join(EXAMPLE_DATASETS)}")
    root = Path(folder) / name
    root.mkdir(parents=True, exist_ok=True)
    arrays = _clips(clips, frames, size)
    for i, clip in enumerate(arrays):
        if name in ("frame_strips", "video_folder"):
            strip = clip.transpose(1, 0, 2, 3).reshape(size, frames * size, 3)
            Image.fromarray(strip).save(root / f"strip{i}.png")
        if name in ("frame_folders", "video_folder"):
            clip_dir = root / f"frames{i}"
            clip_dir.mkdir(exist_ok=True)
            for t, frame in enumerate(clip):
                Image.fromarray(frame).save(clip_dir / f"{t}.png")
        if name in ("video_files", "video_folder"):
            write_video(root / f"clip{i}.mkv", uint8_to_tensor(clip))  # FFV1: lossless
    if name in ("numpy_arrays", "video_folder"):
        np.save(root / "clips.npy", np.stack(arrays))
    return {"root": str(root), "test_fraction": 0}
