"""MoCoGAN's image term. The builtin ``image_adversarial`` scores (condition, frame) pairs of a
transfer model (its keys ``video_y`` and ``target``); MoCoGAN's D_I judges single frames."""

from __future__ import annotations

import torch
from pydantic import Field

from vidgan_kit import ComponentConfig, assert_video
from vidgan_kit.interfaces import Loss, LossContext
from vidgan_builtin.losses import GanObjective, frozen_call, require_output, require_slot
from vidgan_builtin.losses.objectives import GAN_FIELD, GanName

__all__ = ["FrameAdversarialLoss"]


class FrameAdversarialLoss(Loss):
    """The image term of MoCoGAN's objective: D_I tells frames S_1(V) drawn from the real clips
    from frames S_1(Ṽ) drawn from the generated ones (outputs ``video`` and ``sample``).

    ``frames_per_video`` frames per clip, at indices drawn anew on every call and shared by
    the real and the generated clip of a row. Discriminator: ``real_term + fake_term``;
    generator: ``g_loss`` of the generated frames through a frozen D_I.
    """

    phases = ("generator", "discriminator")

    class Config(ComponentConfig):
        gan: GanName = GAN_FIELD
        frames_per_video: int = Field(1, ge=1, description="Frames S_1 draws from each clip per call (1 in MoCoGAN).")

    def __init__(self, config: Config, **wiring: object) -> None:
        super().__init__()
        self.config = config
        self.objective = GanObjective(config.gan)

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "frame_adversarial"
        disc = require_slot(ctx, "image_discriminator", name)
        video = assert_video(require_output(ctx, "video", name), f"{name}: outputs['video']")
        fake = assert_video(require_output(ctx, "sample", name), f"{name}: outputs['sample']")
        b, t = video.shape[:2]
        idx = torch.randint(t, (b, self.config.frames_per_video), device=video.device)
        rows = torch.arange(b, device=video.device).unsqueeze(1)
        real_frames, fake_frames = video[rows, idx].flatten(0, 1), fake[rows, idx].flatten(0, 1)
        if phase == "discriminator":
            real, generated = disc(None, torch.cat([real_frames, fake_frames.detach()])).chunk(2)
            return self.objective.real_term(real) + self.objective.fake_term(generated)
        return self.objective.g_loss(frozen_call(disc, None, fake_frames))
