"""Pieces the preparers share: finding source files, resizing frames, writing strips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vidgan_kit.errors import DataError
from vidgan_kit.io import resize_video, tensor_to_uint8, uint8_to_tensor

from ..formats import natural_key

__all__ = ["find_sources", "fit_square", "write_strip", "require_source"]


def require_source(src: Path, what: str) -> Path:
    src = Path(src).expanduser()
    if not src.exists():
        raise DataError(f"source {str(src)!r} does not exist (expected {what})")
    return src


def find_sources(src: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``src`` (or ``src`` itself) ending in one of ``suffixes``, natural order, hidden ones skipped."""
    if src.is_file():
        return [src] if src.name.lower().endswith(suffixes) else []
    found = [
        p for p in src.rglob("*")
        if p.is_file() and p.name.lower().endswith(suffixes)
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    ]
    return sorted(found, key=lambda p: natural_key(p.relative_to(src).as_posix()))


def fit_square(frames: np.ndarray, size: int, box: tuple[int, int, int] | None = None) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 → ``[T, size, size, 3]``: crop a square, resize (antialiased).

    ``box`` is ``(top, left, side)``; unset = the centred square of the shorter side.
    Resizing is :func:`vidgan_kit.io.resize_video`, the same the data sets use.
    """
    _, h, w, _ = frames.shape
    if box is None:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
    else:
        top, left, side = box
    crop = np.ascontiguousarray(frames[:, top : top + side, left : left + side])
    return tensor_to_uint8(resize_video(uint8_to_tensor(crop), size, size, mode="stretch"))


def write_strip(path: Path, frames: np.ndarray) -> Path:
    """Write ``[T, H, W, 3]`` uint8 as one PNG strip, frame t at columns t*W .. t*W+W-1."""
    t, h, w, _ = frames.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(frames.transpose(1, 0, 2, 3).reshape(h, t * w, 3))).save(path, format="PNG")
    return path
