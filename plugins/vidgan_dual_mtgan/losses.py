"""Dual-MTGAN's own consistency objectives: L_C (Eq. 1) and L_M (Eq. 7).

Each reads the outputs of :class:`~vidgan_dual_mtgan.assembly.DualMTGAN`'s forward
(``content_codes``; ``reconstruction``, ``transfer``, ``z_motion``, ``posterior``). Norms
written ``||·||_1`` in the paper are *means* of absolute differences
(:func:`vidgan_builtin.losses.terms.distance`). Weights and schedules live in the recipe.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from vidgan_kit import ComponentConfig
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext, MotionPosterior
from vidgan_builtin.losses.objectives import ConfiguredLoss, frozen_call, require_output, require_slot
from vidgan_builtin.losses.terms import Distance, distance, distance_terms

__all__ = ["ContentConsistencyLoss", "MotionConsistencyLoss"]


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
        weighting: Literal["uniform", "precision"] = Field(
            "uniform",
            description="uniform (the paper) or precision: each dimension's distance times the source posterior's "
            "precision 1/σ², scaled to mean 1 over the dimensions, so the generated clips must carry what E_M read "
            "from the real clip more than the draw's noise.",
        )

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
        terms = [distance_terms(mean, z, self.config.distance) for mean in (mean_x, mean_y)]
        if self.config.weighting == "precision":
            precision = torch.exp(-MotionPosterior(*require_output(ctx, "posterior", name)).logvar.detach().float())
            weights = precision / precision.mean(dim=1, keepdim=True)
            terms = [weights * term for term in terms]
        return terms[0].mean() + terms[1].mean()
