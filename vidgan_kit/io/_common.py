"""Helpers shared by the io modules: tensor/uint8 conversion and atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, ShapeError

__all__ = ["uint8_to_tensor", "tensor_to_uint8", "atomic_output", "existing_file"]


def uint8_to_tensor(array: np.ndarray) -> torch.Tensor:
    """``[..., H, W, C]`` uint8 (what decoders give) → ``[..., C, H, W]`` float32 in [-1, 1]."""
    if array.dtype != np.uint8:
        raise ShapeError(f"expected a uint8 array [..., H, W, C], got dtype {array.dtype}")
    if not array.flags.writeable:  # e.g. np.frombuffer; torch warns about sharing read-only memory
        array = array.copy()
    t = torch.from_numpy(np.ascontiguousarray(array))
    t = t.movedim(-1, -3)
    return t.to(torch.float32).div_(127.5).sub_(1.0)


def tensor_to_uint8(x: torch.Tensor, name: str = "tensor") -> np.ndarray:
    """``[..., C, H, W]`` float in [-1, 1] → ``[..., H, W, 3]`` uint8, RGB.

    One channel is repeated to three (grey), so every writer receives RGB. Values outside
    [-1, 1] are clamped rather than wrapped: a GAN's slight overshoot must not turn white
    pixels black.
    """
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ShapeError(f"{name}: expected a floating-point tensor in [-1, 1], got dtype {x.dtype}")
    if x.dim() < 3 or x.shape[-3] not in (1, 3):
        raise ShapeError(f"{name}: expected [..., C, H, W] with C = 1 or 3, got shape {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    if x.shape[-3] == 1:
        x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    u8 = ((x.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)
    return u8.movedim(-3, -1).contiguous().numpy()


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a :class:`Path`, or a :class:`DataError` saying it is missing."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{what} {str(p)!r} does not exist")
    if not p.is_file():
        raise DataError(f"{what} {str(p)!r} is not a file")
    return p


def _current_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A reader (a training process previewing samples, a web page) never sees a half-written
    file, and a crash leaves the previous version intact. The temporary name keeps the
    extension, so libraries that guess the format from it still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file owner-only (0600); a user's output gets the usual
        # permissions, as if it had been opened directly.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
