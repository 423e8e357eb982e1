"""vidgan-kit: a composable plugin toolkit for disentangled video GANs."""

from __future__ import annotations

from ._version import __version__
from .assembly import build_slots
from .config import ComponentConfig, ComponentSpec, Slot
from .errors import VidganError
from .hookspecs import hookimpl
from .kinds import Kind, Wire
from .layout import VideoGeometry, assert_frames, assert_video
from .plugins import PluginHost
from .registry import ComponentEntry, ComponentRegistry, Registrar

__all__ = [
    "__version__",
    "ComponentConfig",
    "ComponentEntry",
    "ComponentRegistry",
    "ComponentSpec",
    "Kind",
    "PluginHost",
    "Registrar",
    "Slot",
    "VideoGeometry",
    "VidganError",
    "Wire",
    "assert_frames",
    "assert_video",
    "build_slots",
    "hookimpl",
    "load_registry",
]


def load_registry(plugins: list[str] | tuple[str, ...] = (), env: dict[str, str] | None = None) -> ComponentRegistry:
    """A registry filled by every installed plugin (and the extra ``plugins`` given)."""
    return PluginHost.create(plugins, env=env).registry
