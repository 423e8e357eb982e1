"""The plugin module named by the `vidgan_kit` entry point in pyproject.toml."""

from vidgan_kit import Registrar, hookimpl

from .discriminator import FrameDifferenceVideoDiscriminator


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "discriminator",
        "frame_difference_video_discriminator",
        FrameDifferenceVideoDiscriminator,
        summary="D_V from 2D convs over frames and their temporal differences (cheap on CPUs)",
    )
