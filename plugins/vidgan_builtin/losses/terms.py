"""The non-adversarial terms any model with a motion posterior and a reconstruction can use:
L_KL (Eq. 2 of Dual-MTGAN) and L_rec (Eq. 4).

Each reads the outputs of the model's forward (``posterior``; ``video`` and
``reconstruction``). Norms written ``||·||_1`` in the paper are implemented as *means* of
absolute differences over all elements (:func:`distance`), so a term's scale does not grow
with the code length, the frame size or the batch; the one exception is the KL, summed over
dimensions as a KL is. Weights and schedules live in the recipe.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from vidgan_kit import ComponentConfig, assert_video
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext, MotionPosterior

from .objectives import ConfiguredLoss, require_output

__all__ = [
    "KLDivergenceLoss",
    "ReconstructionLoss",
    "Distance",
    "distance",
    "distance_terms",
    "kl_per_dim",
]

Distance = Literal["l1", "mse"]


def distance_terms(a: torch.Tensor, b: torch.Tensor, kind: Distance) -> torch.Tensor:
    """Elementwise absolute (l1) or squared (mse) difference, in float32."""
    diff = a.float() - b.float()
    return diff.abs() if kind == "l1" else diff.square()


def distance(a: torch.Tensor, b: torch.Tensor, kind: Distance) -> torch.Tensor:
    """Mean absolute (l1) or mean squared (mse) difference."""
    return distance_terms(a, b, kind).mean()


def kl_per_dim(posterior: MotionPosterior) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per sample and dimension, [B, D]."""
    mean, logvar = posterior.mean.float(), posterior.logvar.float()
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)


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
        frames: Literal["all", "first"] = Field(
            "all", description="Frames scored: all, or the first only (an image-to-video model's first frame against"
            " the image it starts from, where the later frames' motion is drawn at random).",
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video = assert_video(require_output(ctx, "video", "reconstruction"), "reconstruction: outputs['video']")
        recon = assert_video(
            require_output(ctx, "reconstruction", "reconstruction"), "reconstruction: outputs['reconstruction']"
        )
        if recon.shape != video.shape:
            raise ShapeError(f"reconstruction: Ṽ_x {tuple(recon.shape)} and V {tuple(video.shape)} differ in shape")
        if self.config.frames == "first":
            recon, video = recon[:, :1], video[:, :1]
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
