"""MoCoGAN's own networks: the recurrent motion generator R_M and the single-frame D_I."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry, assert_frames
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import TemporalGenerator
from vidgan_builtin.networks import ConditionalImageDiscriminator
from vidgan_builtin.networks.blocks import DiscriminatorConfig

__all__ = ["GRUMotionGenerator", "FrameDiscriminator"]


class GRUMotionGenerator(TemporalGenerator):
    """R_M: a GRU whose hidden state is frame t's motion code z_M^t.

    The clip's start z [B, motion_dim] sets the initial state through a linear layer; the
    input at frame t is the innovation ε_t (``noise`` [B, T, noise_dim]), which MoCoGAN
    draws from N(0, I) for every frame, so one start gives many trajectories. Without
    ``noise`` the innovations are zero and the trajectory follows from z alone.
    """

    class Config(ComponentConfig):
        frame_code_dim: int = Field(10, ge=1, description="Length of z_M^t, the GRU's hidden state (10 in the paper).")
        noise_dim: int = Field(10, ge=1, description="Length of the per-frame innovation ε_t (10 in the paper).")

    def __init__(self, config: Config, *, geometry: VideoGeometry, motion_dim: int, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        self.motion_dim = motion_dim
        self.frame_code_dim = config.frame_code_dim
        self.noise_dim = config.noise_dim
        self.start = nn.Linear(motion_dim, config.frame_code_dim)
        self.gru = nn.GRU(config.noise_dim, config.frame_code_dim, batch_first=True)

    def forward(self, z: torch.Tensor, frames: int | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.motion_dim:
            raise ShapeError(f"gru_motion_generator: expected z [B, {self.motion_dim}], got {tuple(z.shape)}")
        b, t = z.shape[0], self.geometry.frames if frames is None else frames
        if noise is None:
            noise = z.new_zeros(b, t, self.noise_dim)
        elif tuple(noise.shape) != (b, t, self.noise_dim):
            raise ShapeError(f"gru_motion_generator: expected noise [{b}, {t}, {self.noise_dim}], got"
                             f" {tuple(noise.shape)}")
        codes, _ = self.gru(noise, self.start(z).unsqueeze(0))
        return codes


class FrameDiscriminator(ConditionalImageDiscriminator):
    """D_I: scores single frames, unconditionally (MoCoGAN's image discriminator): the
    ``condition`` is not read (pass None). The built-in D_I's DCGAN-style trunk on the frame
    alone; logits [N]."""

    class Config(DiscriminatorConfig):
        pass

    images = 1

    def forward(self, condition: torch.Tensor | None, frame: torch.Tensor) -> torch.Tensor:
        assert_frames(frame, "frame_discriminator frame", geometry=self.geometry)
        return self.head(self.trunk(frame)).flatten()
