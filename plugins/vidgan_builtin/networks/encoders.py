"""E_C and E_M: the content encoder (per frame, 2D) and the motion encoder (per clip, 3D)."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import VideoGeometry, assert_frames, assert_video
from vidgan_kit.interfaces import ContentEncoder, MotionEncoder, MotionPosterior

from .blocks import ConvNetConfig, DownTrunk2d, DownTrunk3d, final_frames, spatial_plan, widths

__all__ = ["ConvContentEncoder", "Conv3dMotionEncoder"]


class ConvContentEncoder(ContentEncoder):
    """E_C: a frame → a content vector (DCGAN-style 2D convolutions).

    ``normalize`` fixes the scale of the code so that the content-consistency loss L_C
    cannot be met by shrinking the codes (the prototype's L_C fell to 0.01 while the codes
    collapsed toward zero):

    - ``layer``: zero mean and unit variance over the code's features, *without* a
      learnable scale or shift (a learnable gain would reopen the shortcut);
    - ``l2``: projected onto the sphere of radius ``sqrt(content_dim)`` (unit RMS, the same
      scale as ``layer``, so loss weights carry over);
    - ``none``: the raw linear output (paper-literal).
    """

    class Config(ConvNetConfig):
        content_dim: int = Field(64, ge=1, description="Length of the content code z_c.")
        normalize: Literal["layer", "l2", "none"] = Field(
            "layer",
            description="Fix the code's scale: layer (zero mean, unit variance, no learnable gain), "
            "l2 (norm sqrt(content_dim)) or none.",
        )

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        plan = spatial_plan(geometry, "conv_content_encoder")
        chans = widths(config.base_channels, config.max_channels, plan.levels)
        self.trunk = DownTrunk2d(geometry.channels, chans, config.norm)
        self.head = nn.Conv2d(chans[-1], config.content_dim, plan.final)  # reads the whole final map
        self.code_shape = (config.content_dim,)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        assert_frames(frames, "conv_content_encoder input", geometry=self.geometry)
        z = self.head(self.trunk(frames)).flatten(1)
        mode = self.config.normalize
        if mode == "layer":
            z = F.layer_norm(z, z.shape[-1:])
        elif mode == "l2":
            z = F.normalize(z, dim=-1) * z.shape[-1] ** 0.5
        return z


class Conv3dMotionEncoder(MotionEncoder):
    """E_M: a clip → diagonal-Gaussian posterior over z_M (3D convolutions, C3D-style).

    The 3D trunk halves H and W per level as the 2D encoders do, and halves time while at
    least 4 steps remain; a linear layer reads the whole remaining space-time map (so the
    order of events in the clip is kept, unlike a temporal average) and outputs the mean
    and log-variance. ``input = "frame_differences"`` feeds ``x^{t+1} - x^t`` (zero for
    the first frame) instead of the frames, ``both`` concatenates the two along channels:
    differences carry less appearance, one lever against content leaking into z_M.
    """

    class Config(ConvNetConfig):
        motion_dim: int = Field(16, ge=1, description="Length of the clip-level motion code z_M.")
        input: Literal["frames", "frame_differences", "both"] = Field(
            "frames", description="What the 3D trunk sees: the frames (paper), their temporal differences, or both."
        )
        logvar_limit: float = Field(
            10.0, gt=0, description="The log-variance is clamped to [-limit, limit] for numerical safety."
        )

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        plan = spatial_plan(geometry, "conv3d_motion_encoder")
        chans = widths(config.base_channels, config.max_channels, plan.levels)
        in_ch = geometry.channels * (2 if config.input == "both" else 1)
        self.trunk = DownTrunk3d(in_ch, chans, geometry.frames, config.norm)
        t_final = final_frames(geometry.frames, plan.levels)
        self.head = nn.Linear(chans[-1] * t_final * plan.final[0] * plan.final[1], 2 * config.motion_dim)
        self.motion_dim = config.motion_dim

    def forward(self, video: torch.Tensor) -> MotionPosterior:
        assert_video(video, "conv3d_motion_encoder input", geometry=self.geometry)
        x = video
        if self.config.input != "frames":
            diff = torch.cat([torch.zeros_like(video[:, :1]), video[:, 1:] - video[:, :-1]], dim=1)
            x = diff if self.config.input == "frame_differences" else torch.cat([video, diff], dim=2)
        h = self.trunk(x.transpose(1, 2))  # [B, C, T, H, W] inside only
        stats = self.head(h.flatten(1))
        mean, logvar = stats.chunk(2, dim=1)
        lim = self.config.logvar_limit
        return MotionPosterior(mean, logvar.clamp(-lim, lim))
