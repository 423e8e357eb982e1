"""E_C of the spatial content path: a frame kept as it is, beside learned feature planes.

``warp_frame_decoder`` resamples the frame's planes and finds its parts' anchors and masks
in the features (:mod:`vidgan_dual_mtgan.warp_decoder` describes the path as a whole).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry, assert_frames
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import ContentEncoder
from vidgan_builtin.networks.blocks import NormName, check_sides_multiple_of_4, conv3x3_block

__all__ = ["SpatialContentEncoder", "check_image_map"]


class SpatialContentEncoder(ContentEncoder):
    """E_C: a frame → a content *map* ``[channels + C, H, W]`` (the frame itself, then features).

    The first ``channels`` planes are the frame, unchanged: the warping decoder resamples
    them, so fine detail never has to pass through a bottleneck. The other ``features``
    planes come from 3×3 convolutions at half and quarter resolution (enough receptive
    field to see a whole object at 32×32 or 64×64), up-sampled to the frame size; the
    decoder finds anchors and part masks in them.
    """

    class Config(ComponentConfig):
        features: int = Field(16, ge=1, description="Learned feature planes of the content map (beside the frame).")
        width: int = Field(32, ge=1, description="Width of the hidden convolutions.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution.")

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        check_sides_multiple_of_4(geometry, "spatial_content_encoder")
        self.config = config
        self.geometry = geometry
        w = config.width
        self.net = nn.Sequential(
            conv3x3_block(geometry.channels, w, "none"),
            conv3x3_block(w, w, config.norm, stride=2),
            conv3x3_block(w, w, config.norm),
            conv3x3_block(w, w, config.norm, stride=2),
            conv3x3_block(w, w, config.norm),
            nn.Conv2d(w, config.features, 3, 1, 1),
        )
        self.code_shape = (geometry.channels + config.features, geometry.height, geometry.width)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        assert_frames(frames, "spatial_content_encoder input", geometry=self.geometry)
        feats = F.interpolate(self.net(frames), size=frames.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([frames, feats], dim=1)


def check_image_map(content_shape: tuple[int, ...], geometry: VideoGeometry, who: str) -> None:
    """A decoder that resamples the content's image needs this encoder's map: ``[channels +
    features, H, W]`` with the frame in its first ``channels`` planes; a clear error otherwise."""
    c, expected = geometry.channels, (geometry.height, geometry.width)
    if len(content_shape) != 3 or tuple(content_shape[1:]) != expected or content_shape[0] <= c:
        raise ShapeError(
            f"{who} needs a content map [{c} + features, {expected[0]}, {expected[1]}] whose first {c} planes are "
            f"the image (spatial_content_encoder); got content_shape {tuple(content_shape)}"
        )
