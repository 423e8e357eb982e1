"""Registers the built-in model assemblies."""

from vidgan_kit import Registrar, hookimpl

from .dual_mtgan import DualMTGAN, DualMTGANConfig


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "model",
        "dual_mtgan",
        DualMTGAN,
        config=DualMTGANConfig,
        summary="Dual-MTGAN: E_C, E_M, G_T, G_I with D_I and D_V; deterministic transfer and stochastic sampling.",
    )
