"""Built-in model assemblies: ``dual_mtgan`` (kind ``model``)."""

from .dual_mtgan import DualMTGAN, DualMTGANConfig

__all__ = ["DualMTGAN", "DualMTGANConfig"]
