"""D_V built from 2D convolutions over (frame, frame difference) pairs.

Why: a 3D-convolutional video discriminator is the costliest module of a video GAN on a
CPU. Temporal differences carry most of what makes motion look real (continuity, speed),
so a per-frame 2D network that sees x_t and x_{t+1} - x_t is a cheap D_V alternative.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from vidgan_kit import ComponentConfig, VideoGeometry, assert_video
from vidgan_kit.interfaces import VideoDiscriminator

__all__ = ["FrameDifferenceConfig", "FrameDifferenceVideoDiscriminator"]


class FrameDifferenceConfig(ComponentConfig):
    base_channels: int = Field(16, ge=1, description="Channels of the first convolution; doubled per layer.")
    layers: int = Field(3, ge=1, le=6, description="Stride-2 convolutions before the score head.")
    spectral_norm: bool = Field(True, description="Spectral normalisation on every layer (stabilises GAN training).")


class FrameDifferenceVideoDiscriminator(VideoDiscriminator):
    """Scores a clip from its frames and their temporal differences (2D convs only)."""

    Config = FrameDifferenceConfig

    def __init__(self, config: FrameDifferenceConfig, *, geometry: VideoGeometry) -> None:
        super().__init__()
        self.geometry = geometry
        wrap = spectral_norm if config.spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        channels = 2 * geometry.channels  # frame and its difference to the next frame
        width = config.base_channels
        for _ in range(config.layers):
            layers += [wrap(nn.Conv2d(channels, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            channels, width = width, width * 2
        self.features = nn.Sequential(*layers)
        self.head = wrap(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        assert_video(video, "video", geometry=self.geometry)
        b, t = video.shape[:2]
        diff = video[:, 1:] - video[:, :-1]
        pairs = torch.cat([video[:, :-1], diff], dim=2).flatten(0, 1)  # [B*(T-1), 2C, H, W]
        scores = self.head(self.features(pairs))  # patch scores
        return scores.flatten(1).mean(1).view(b, t - 1).mean(1)
