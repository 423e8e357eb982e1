"""D_I and D_V: the conditional image-pair discriminator and the 3D video discriminator."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vidgan_kit import VideoGeometry, assert_frames, assert_video
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import ImageDiscriminator, VideoDiscriminator

from .blocks import DiscriminatorConfig, DownTrunk2d, DownTrunk3d, final_frames, maybe_sn, spatial_plan, widths

__all__ = ["ConditionalImageDiscriminator", "Conv3dVideoDiscriminator"]


class ConditionalImageDiscriminator(ImageDiscriminator):
    """D_I: scores a (condition image, frame) pair; the pair is concatenated along channels.

    As in the text-to-image conditional GAN the paper follows ([36], Reed et al.), the
    condition enters at the input, so D_I can judge both realism and whether the frame
    shows the condition's content. Returns raw logits [N].
    """

    class Config(DiscriminatorConfig):
        pass

    #: Images the trunk reads, stacked along channels: the condition and the frame (a subclass
    #: that scores the frame alone reads one).
    images = 2

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        plan = spatial_plan(geometry, "conditional_image_discriminator")
        chans = widths(config.base_channels, config.max_channels, plan.levels)
        self.trunk = DownTrunk2d(self.images * geometry.channels, chans, config.norm, config.spectral_norm)
        self.head = maybe_sn(config.spectral_norm)(nn.Conv2d(chans[-1], 1, plan.final))

    def forward(self, condition: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        assert_frames(condition, "conditional_image_discriminator condition", geometry=self.geometry)
        assert_frames(frame, "conditional_image_discriminator frame", geometry=self.geometry)
        if condition.shape[0] != frame.shape[0]:
            raise ShapeError(
                f"conditional_image_discriminator: condition and frame batches differ "
                f"({condition.shape[0]} vs {frame.shape[0]})"
            )
        return self.head(self.trunk(torch.cat([condition, frame], dim=1))).flatten()


class Conv3dVideoDiscriminator(VideoDiscriminator):
    """D_V: scores a whole clip (3D convolutions over space and time). Returns logits [B].

    Same trunk layout as ``conv3d_motion_encoder``; a linear layer reads the whole
    remaining space-time map, so the logit depends on the order of frames.
    """

    class Config(DiscriminatorConfig):
        pass

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        plan = spatial_plan(geometry, "conv3d_video_discriminator")
        chans = widths(config.base_channels, config.max_channels, plan.levels)
        self.trunk = DownTrunk3d(geometry.channels, chans, geometry.frames, config.norm, config.spectral_norm)
        t_final = final_frames(geometry.frames, plan.levels)
        self.head = maybe_sn(config.spectral_norm)(nn.Linear(chans[-1] * t_final * plan.final[0] * plan.final[1], 1))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        assert_video(video, "conv3d_video_discriminator input", geometry=self.geometry)
        return self.head(self.trunk(video.transpose(1, 2)).flatten(1)).flatten()
