"""E_C of the layered content path: a frame split into moving parts and a background.

The content code is the frame itself, a background plate (the frame with its parts painted
out: what a moving part uncovers) and ``parts + 1`` soft masks, everything that depends on
the content alone, computed once per image; ``sprite_frame_decoder`` then only resamples
(:mod:`vidgan_dual_mtgan.sprite_decoder` describes the path as a whole).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry, assert_frames
from vidgan_kit.interfaces import ContentEncoder
from vidgan_builtin.networks.blocks import NormName, check_sides_multiple_of_4, conv3x3_block, conv3x3_of_upsampled

__all__ = ["LayeredContentEncoder", "layer_masks"]


def layer_masks(content: torch.Tensor, channels: int) -> torch.Tensor:
    """The background's and each part's soft mask of layered content maps ``[N, 2C + parts + 1, H, W]``
    (image, background plate, mask logits; ``channels`` = C): ``[N, parts + 1, H, W]``, background first."""
    return content[:, 2 * channels :].softmax(1)


def _head_over(head: nn.Conv2d, features: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``head`` over [up-sampled ``features``, ``frames``] stacked along channels, computed
    without the stack or the up-sampling: the sum of its convolution over each (a convolution
    is linear in its input channels), the features' one at their own resolution
    (:func:`conv3x3_of_upsampled`), which saves the memory traffic of the stacked
    full-resolution input. ``features``: the output of the trunk before its last up-sampling."""
    w = features.shape[1]
    low = conv3x3_of_upsampled(features, head.weight[:, :w], head.bias)
    return low + F.conv2d(frames, head.weight[:, w:], None, padding=1)


class LayeredContentEncoder(ContentEncoder):
    """E_C: a frame → ``[C image, C background, parts + 1 mask logits]`` at the frame's size.

    The image planes are the frame unchanged (the decoder resamples them, so detail never
    passes a bottleneck); the background plate and the mask logits come from a small
    encoder-decoder (two stride-2 levels, enough receptive field to see a whole object at
    32×32 or 64×64, and to paint out what a part covers).
    """

    class Config(ComponentConfig):
        parts: int = Field(1, ge=1, description="Moving parts the image is split into (besides the background).")
        width: int = Field(32, ge=1, description="Width of the hidden convolutions.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution.")
        part_prior: float = Field(
            0.3, gt=0, lt=1,
            description="Initial share of the parts' masks (the rest is background): a part must cover some "
            "pixels at the start, or its motion gets no gradient.",
        )

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        check_sides_multiple_of_4(geometry, "layered_content_encoder")
        self.config = config
        self.geometry = geometry
        c, w, k = geometry.channels, config.width, config.parts
        self.down = nn.Sequential(
            conv3x3_block(c, w, "none", stride=2),
            conv3x3_block(w, w, config.norm),
            conv3x3_block(w, w, config.norm, stride=2),
            conv3x3_block(w, w, config.norm),
        )
        # Ends in the last 2x up-sampling, which the head folds into its convolution (_head_over).
        self.up = nn.Sequential(
            conv3x3_block(w, w, config.norm),
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv3x3_block(w, w, config.norm),
            nn.Upsample(scale_factor=2, mode="nearest"),
        )
        self.head = nn.Conv2d(w + c, c + k + 1, 3, 1, 1)
        # Background logits such that the parts start with part_prior of each pixel: a part must
        # cover some pixels at the start, or its motion gets no gradient.
        with torch.no_grad():
            logit = float(torch.logit(torch.tensor(1 - config.part_prior)))
            self.head.bias[c] = logit + float(torch.log(torch.tensor(k)))
        self.code_shape = (2 * c + k + 1, geometry.height, geometry.width)

    def part_masks(self, codes: torch.Tensor) -> torch.Tensor:
        """Each part's soft mask: codes [N, *code_shape] → [N, parts, H, W]."""
        return layer_masks(codes, self.geometry.channels)[:, 1:]

    def background_plate(self, codes: torch.Tensor) -> torch.Tensor:
        """The image with its parts painted out: codes [N, *code_shape] → [N, C, H, W]."""
        c = self.geometry.channels
        return codes[:, c : 2 * c]

    def part_share(self, codes: torch.Tensor) -> torch.Tensor:
        """How much of each pixel the parts hold (1 - background mask): codes [N, *code_shape] → [N, H, W]."""
        return 1 - layer_masks(codes, self.geometry.channels)[:, 0]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        assert_frames(frames, "layered_content_encoder input", geometry=self.geometry)
        c = self.geometry.channels
        out = _head_over(self.head, self.up[:-1](self.down(frames)), frames)
        # A dense copy first: tanh of a channel slice of a channels-last map walks it with a
        # stride, which is several times slower in bf16.
        background = torch.tanh(out[:, :c].contiguous())
        return torch.cat([frames, background, out[:, c:]], dim=1)
