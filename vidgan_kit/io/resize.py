"""Fitting frames of any size to the model's geometry."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from ..errors import ShapeError

__all__ = ["resize_video", "FitMode"]

#: ``crop``: centre-crop to the target aspect ratio, then resize (no distortion, edges lost);
#: ``stretch``: resize straight to the target size (nothing lost, shapes distorted).
FitMode = Literal["crop", "stretch"]


def resize_video(
    video: torch.Tensor,
    height: int,
    width: int,
    *,
    mode: FitMode = "crop",
    antialias: bool = True,
) -> torch.Tensor:
    """Resize ``[..., C, H, W]`` frames to ``height`` × ``width``.

    Works on a frame, a clip or a batch of clips alike (leading dimensions are kept).
    Centre-cropping first keeps people and shapes their real proportions, which matters
    more to a motion model than the borders of the frame. Down-sampling is antialiased
    (bilinear with a widened kernel, as in Pillow), so thin lines do not shimmer from frame
    to frame; sizes that already match are returned unchanged.
    """
    if not isinstance(video, torch.Tensor) or video.dim() < 3:
        raise ShapeError(f"resize_video: expected a tensor [..., C, H, W], got {getattr(video, 'shape', type(video))}")
    if not video.is_floating_point():
        raise ShapeError(f"resize_video: expected a floating-point tensor, got dtype {video.dtype}")
    if height < 1 or width < 1:
        raise ValueError(f"resize_video: target size must be positive, got {height}x{width}")
    if mode not in ("crop", "stretch"):
        raise ValueError(f"resize_video: mode must be 'crop' or 'stretch', got {mode!r}")
    h, w = video.shape[-2:]
    if mode == "crop" and h * width != w * height:
        if w * height > h * width:  # too wide: keep the full height
            cw = max(1, round(h * width / height))
            x0 = (w - cw) // 2
            video = video[..., :, x0 : x0 + cw]
        else:  # too tall: keep the full width
            ch = max(1, round(w * height / width))
            y0 = (h - ch) // 2
            video = video[..., y0 : y0 + ch, :]
        h, w = video.shape[-2:]
    if (h, w) == (height, width):
        return video
    lead = video.shape[:-3]
    flat = video.reshape(-1, *video.shape[-3:])
    out = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False, antialias=antialias)
    return out.reshape(*lead, *out.shape[-3:])
