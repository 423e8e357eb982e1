"""Registers the generic losses: the KL and reconstruction terms and the two adversarial ones."""

from vidgan_kit import Registrar, hookimpl

from .adversarial import ImageAdversarialLoss, VideoAdversarialLoss
from .terms import KLDivergenceLoss, ReconstructionLoss


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "loss",
        "kl_divergence",
        KLDivergenceLoss,
        config=KLDivergenceLoss.Config,
        summary="L_KL (Eq. 2): KL of the motion posterior to N(0, I), summed over dims, batch mean.",
    )
    registry.add(
        "loss",
        "reconstruction",
        ReconstructionLoss,
        config=ReconstructionLoss.Config,
        summary="L_rec (Eq. 4): per-pixel L1 (or MSE) between the reconstruction and the clip.",
    )
    registry.add(
        "loss",
        "image_adversarial",
        ImageAdversarialLoss,
        config=ImageAdversarialLoss.Config,
        summary="L_GAN^I (Eq. 5): conditional image-pair GAN loss with mismatch pairs (D and G phases).",
    )
    registry.add(
        "loss",
        "video_adversarial",
        VideoAdversarialLoss,
        config=VideoAdversarialLoss.Config,
        summary="L_GAN^V (Eq. 6): whole-clip GAN loss on reconstruction, transfer and sample (D and G phases).",
    )
