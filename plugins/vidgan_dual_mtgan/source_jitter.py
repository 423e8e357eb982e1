"""Source jitter: in training, E_M reads its clip with the colours and place changed.

A transfer asks E_M to read the motion of a person it never saw, in other clothes, in
another place of the frame. With few people to learn from, E_M's detector can tie its
reading to how the training people look. Here, in training only, E_M reads the source clip
after one random change per clip (the same for all its frames, so no motion is added):
brightness, contrast and saturation scaled, the colour channels permuted, the clip shifted.
The reconstruction is still scored against the clip as it is, so the code E_M gives has to
carry the same motion whatever the clip's colours and place. Off by default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from vidgan_kit import ComponentConfig

__all__ = ["SourceJitterConfig", "jitter_source"]


class SourceJitterConfig(ComponentConfig):
    """The ``source_jitter`` table of the ``dual_mtgan`` assembly (all off by default)."""

    color: float = Field(
        0.0, ge=0, le=1,
        description="Scale brightness, contrast and saturation each by a factor drawn in [1 - x, 1 + x].",
    )
    channel_shuffle: float = Field(
        0.0, ge=0, le=1, description="Probability of permuting a clip's colour channels (RGB clips only)."
    )
    translate: float = Field(
        0.0, ge=0, le=0.5,
        description="Shift by up to ± this fraction of the width (horizontally) and height; borders repeat.",
    )

    @property
    def active(self) -> bool:
        return self.color > 0 or self.channel_shuffle > 0 or self.translate > 0


def jitter_source(video: torch.Tensor, config: SourceJitterConfig) -> torch.Tensor:
    """``video`` [B, T, C, H, W] in [-1, 1], each clip changed by its own draw (from torch's
    global generator), the same for all its frames. Returns ``video`` itself when nothing is on."""
    if not config.active:
        return video
    b, t, c, h, w = video.shape
    x = video
    if config.color > 0:
        x = _jitter_colours(x, config.color)
    if config.channel_shuffle > 0 and c > 1:
        order = torch.stack([torch.randperm(c, device=x.device) for _ in range(b)])
        keep = torch.rand(b, device=x.device) >= config.channel_shuffle
        order[keep] = torch.arange(c, device=x.device)
        x = torch.gather(x, 2, order.view(b, 1, c, 1, 1).expand_as(x))
    if config.translate > 0:
        # Normalised coordinates span 2 per side: a fraction f of the side is 2f.
        shift = (torch.rand(b, 2, device=x.device, dtype=x.dtype) * 2 - 1) * (2 * config.translate)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = shift
        theta = theta.repeat_interleave(t, dim=0)
        grid = F.affine_grid(theta, [b * t, c, h, w], align_corners=False)
        x = F.grid_sample(x.flatten(0, 1), grid, padding_mode="border", align_corners=False).view(b, t, c, h, w)
    return x.clamp(-1, 1)


def _jitter_colours(video: torch.Tensor, strength: float) -> torch.Tensor:
    b = video.shape[0]

    def factor() -> torch.Tensor:
        return 1 + (torch.rand(b, 1, 1, 1, 1, device=video.device, dtype=video.dtype) * 2 - 1) * strength

    x = (video + 1) / 2  # colour operations are defined on [0, 1]
    x = x * factor()  # brightness
    mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
    x = (x - mean) * factor() + mean  # contrast about the clip's mean
    if x.shape[2] > 1:
        grey = x.mean(dim=2, keepdim=True)
        x = (x - grey) * factor() + grey  # saturation
    return x.clamp(0, 1) * 2 - 1
