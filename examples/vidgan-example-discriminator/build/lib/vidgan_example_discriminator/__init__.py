"""A frame-difference video discriminator, packaged as a vidgan-kit plugin."""

from .discriminator import FrameDifferenceConfig, FrameDifferenceVideoDiscriminator

__all__ = ["FrameDifferenceConfig", "FrameDifferenceVideoDiscriminator"]
