"""The non-adversarial Dual-MTGAN objectives: L_C (Eq. 1), L_KL (Eq. 2), L_rec (Eq. 4), L_M (Eq. 7).

Each reads the outputs of the model's forward (keys documented in
:mod:`vidgan_builtin.models.dual_mtgan`). Norms written ``||·||_1`` in the paper are
implemented as *means* of absolute differences over all elements, so a term's scale does
not grow with the code length, the frame size or the batch; the one exception is the KL,
summed over dimensions as a KL is. Weights and schedules live in the recipe.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from vidgan_kit import ComponentConfig, assert_video
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext, MotionPosterior

from .objectives import ConfiguredLoss, frozen_call, require_output, require_slot

__all__ = [
    "ContentConsistencyLoss",
    "KLDivergenceLoss",
    "ReconstructionLoss",
    "MotionConsistencyLoss",
    "distance",
]

Distance = Literal["l1", "mse"]


def distance(a: torch.Tensor, b: torch.Tensor, kind: Distance) -> torch.Tensor:
    """Mean absolute (l1) or mean squared (mse) difference."""
    diff = a.float() - b.float()
    return diff.abs().mean() if kind == "l1" else diff.square().mean()


def kl_per_dim(posterior: MotionPosterior) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per sample and dimension, [B, D]."""
    mean, logvar = posterior.mean.float(), posterior.logvar.float()
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)


class ContentConsistencyLoss(ConfiguredLoss):
    """L_C (Eq. 1): distance between content codes of consecutive frames of the same clip.

    Uses the codes the model's forward produced (``outputs["content_codes"]``,
    ``[B, T, *code_shape]``): mean over clips, frame pairs (t, t+1) and code elements.
    Pair it with a content encoder that fixes the codes' scale (``conv_content_encoder``'s
    ``normalize``), otherwise the loss can be met by shrinking every code.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        distance: Distance = Field("l1", description="l1 (the paper) or mse between consecutive frames' codes.")

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        codes = require_output(ctx, "content_codes", "content_consistency")
        if codes.dim() < 3 or codes.shape[1] < 2:
            raise ShapeError(f"content_consistency: expected content codes [B, T>=2, ...], got {tuple(codes.shape)}")
        return distance(codes[:, 1:], codes[:, :-1], self.config.distance)


class KLDivergenceLoss(ConfiguredLoss):
    """L_KL (Eq. 2): KL of the motion posterior q(z_M | V) to N(0, I).

    Summed over the motion dimensions and averaged over the batch (the usual VAE
    convention, so λ_KL means the same at any batch size). ``free_bits`` > 0 applies a
    floor per dimension (on the batch-mean KL of that dimension, Kingma et al. 2016): a
    dimension below it costs nothing, which keeps the motion code from collapsing to the
    prior (KL → 0, the prototype's run R3). 0 gives exactly Eq. 2.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        free_bits: float = Field(
            0.0, ge=0, description="Per-dimension KL floor in nats (0 = plain KL as in the paper)."
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        posterior = require_output(ctx, "posterior", "kl_divergence")
        per_dim = kl_per_dim(MotionPosterior(*posterior)).mean(dim=0)  # [D], batch mean
        if self.config.free_bits > 0:
            per_dim = per_dim.clamp(min=self.config.free_bits)
        return per_dim.sum()


class ReconstructionLoss(ConfiguredLoss):
    """L_rec (Eq. 4): distance between the reconstruction Ṽ_x and the input clip V.

    Mean over every pixel of every frame. ``mse`` instead of the paper's L1 gave sharper
    small objects in the prototype (run R5). ``scales`` > 1 adds the same distance between
    2×, 4×, ... average-pooled copies of both clips (a pyramid, averaged over levels): an
    object drawn in the wrong place still overlaps its true place at a coarse level, so a
    warping decoder gets a gradient toward large displacements, not only at edges.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        distance: Distance = Field("l1", description="l1 (the paper) or mse, per pixel.")
        scales: int = Field(
            1, ge=1, le=6, description="Pyramid levels scored (1 = full resolution only, the paper)."
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video = assert_video(require_output(ctx, "video", "reconstruction"), "reconstruction: outputs['video']")
        recon = assert_video(
            require_output(ctx, "reconstruction", "reconstruction"), "reconstruction: outputs['reconstruction']"
        )
        if recon.shape != video.shape:
            raise ShapeError(f"reconstruction: Ṽ_x {tuple(recon.shape)} and V {tuple(video.shape)} differ in shape")
        a, b = recon.flatten(0, 1), video.flatten(0, 1)
        total = distance(a, b, self.config.distance)
        for _ in range(1, self.config.scales):
            if min(a.shape[-2:]) < 2:
                raise ShapeError(
                    f"reconstruction: {self.config.scales} pyramid levels need frames of at least "
                    f"{2 ** (self.config.scales - 1)} pixels per side, got {tuple(video.shape[-2:])}"
                )
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
            total = total + distance(a, b, self.config.distance)
        return total / self.config.scales


class MotionConsistencyLoss(ConfiguredLoss):
    """L_M (Eq. 7): ||E_M(Ṽ_x) − z_M||_1 + ||E_M(Ṽ_y,d) − z_M||_1.

    E_M is applied to both generated clips in one batched call and its posterior *mean*
    is compared with z_M. Choices the paper leaves open:

    - ``target``: the z_M the generator was given (``sample``, the reparameterised draw
      in training; a perfect cycle can then reach 0) or the posterior mean (``mean``).
    - ``detach_target`` (default true): z_M is a constant target, so L_M trains the
      generator to *render* the motion, not the encoder to move z_M toward what it reads
      back from fakes.
    - ``train_encoder`` (default false): E_M's weights get no gradient from this loss; it
      only passes gradients to the generated clips. The prototype's collapse at weight 10
      was the generator hiding z_M in a texture that E_M *learned* to read back; an E_M
      trained on real clips only cannot be taught that. Set true for the paper's joint
      minimisation.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        target: Literal["sample", "mean"] = Field(
            "sample", description="z_M target: the code the generator received (sample) or the posterior mean."
        )
        detach_target: bool = Field(True, description="Treat z_M as a constant (no gradient into E_M through the target).")
        train_encoder: bool = Field(
            False, description="Let this loss update E_M's weights through E_M(Ṽ) (the paper's joint minimisation)."
        )
        distance: Distance = Field("l1", description="l1 (the paper) or mse between codes.")

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "motion_consistency"
        recon = require_output(ctx, "reconstruction", name)
        transfer = require_output(ctx, "transfer", name)
        if self.config.target == "sample":
            z = require_output(ctx, "z_motion", name)
        else:
            z = MotionPosterior(*require_output(ctx, "posterior", name)).mean
        if self.config.detach_target:
            z = z.detach()
        encoder = require_slot(ctx, "motion_encoder", name)
        clips = torch.cat([recon, transfer], dim=0)
        post = encoder(clips) if self.config.train_encoder else frozen_call(encoder, clips)
        mean_x, mean_y = MotionPosterior(*post).mean.chunk(2, dim=0)
        return distance(mean_x, z, self.config.distance) + distance(mean_y, z, self.config.distance)
