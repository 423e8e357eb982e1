"""What a plugin's commands may use of the ``vidgan`` command line.

A plugin adds commands through the ``vidgan_register_commands`` hook. They reach the
running invocation through these names only; the rest of :mod:`vidgan_kit.cli` is the
toolkit's own and may change.

- :data:`out`, :data:`err`: rich consoles for results (stdout) and for errors, notes and
  progress (stderr);
- :func:`user_errors`: decorates a command so that a :class:`~vidgan_kit.errors.VidganError`
  prints ``error: ...`` to stderr and exits with code 2 (a traceback with ``--debug``);
- :data:`PluginOption`, :data:`SetOption`: the ``--plugin`` and ``--set`` options, as
  parameter annotations;
- :func:`component_registry`: the invocation's component registry, with extra plugins loaded;
- :func:`resolve_recipe`: a recipe file read, overridden and validated, with the plugins it
  names loaded.
"""

from __future__ import annotations

from pathlib import Path

from ..recipe import Recipe
from ..registry import ComponentRegistry
from . import run
from ._common import STATE, PluginOption, SetOption, err, out, user_errors

__all__ = ["out", "err", "user_errors", "PluginOption", "SetOption", "component_registry", "resolve_recipe"]


def component_registry(plugins: list[str] | None = None) -> ComponentRegistry:
    """The registry of this invocation, after loading ``plugins`` (a ``--plugin`` option's values)."""
    return STATE.host(plugins).registry


def resolve_recipe(path: Path, overrides: list[str] | None = None, plugins: list[str] | None = None) -> Recipe:
    """The recipe at ``path`` with ``overrides`` (``--set`` values) applied, validated against the
    registry once ``plugins`` and the recipe's own ``plugins = [...]`` are loaded."""
    return run.resolve_recipe(path, overrides, plugins)[0]
