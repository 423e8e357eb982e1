"""Registering a plugin for the duration of a test, and always undoing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..plugins import PluginHost

__all__ = ["registered_plugin"]


@contextmanager
def registered_plugin(plugin: object, name: str, host: PluginHost | None = None) -> Iterator[PluginHost]:
    """Add ``plugin`` (an object or module with hook implementations) to a host; remove it on exit.

    With no ``host``, a fresh one with the installed plugins is created.
    """
    host = host or PluginHost.create()
    host.add_plugin(plugin, name)
    try:
        host.register_components()
        yield host
    finally:
        host.remove_plugin(name)
