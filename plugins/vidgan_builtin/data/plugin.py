"""Registers the built-in data components."""

from vidgan_kit import Registrar, hookimpl


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    pass
