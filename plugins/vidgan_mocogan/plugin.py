"""Registers the MoCoGAN family: the ``mocogan`` assembly, its motion generator R_M, its
single-frame D_I and its image term. Announced as the ``mocogan`` entry point."""

from vidgan_kit import Registrar, hookimpl

from .assembly import MoCoGAN, MoCoGANConfig
from .losses import FrameAdversarialLoss
from .networks import FrameDiscriminator, GRUMotionGenerator


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "model",
        "mocogan",
        MoCoGAN,
        config=MoCoGANConfig,
        summary="MoCoGAN: z_C held, z_M^t from a GRU on per-frame noise, D_I and D_V; unconditional or image-to-video.",
    )
    registry.add(
        "temporal_generator",
        "gru_motion_generator",
        GRUMotionGenerator,
        config=GRUMotionGenerator.Config,
        summary="R_M (MoCoGAN): a GRU from a random start, driven by per-frame noise ε_t; its state is z_M^t.",
    )
    registry.add(
        "discriminator",
        "frame_discriminator",
        FrameDiscriminator,
        config=FrameDiscriminator.Config,
        summary="D_I (MoCoGAN): scores single frames, unconditionally.",
    )
    registry.add(
        "loss",
        "frame_adversarial",
        FrameAdversarialLoss,
        config=FrameAdversarialLoss.Config,
        summary="MoCoGAN's image term: D_I on single frames of real against generated clips.",
    )
