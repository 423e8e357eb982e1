"""Shared CLI plumbing: consoles, the lazily created plugin host, user-error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import VidganError
from ..plugins import PluginHost

__all__ = ["STATE", "out", "err", "user_errors", "PluginOption", "SetOption", "ModelSetOption", "reset_state"]

#: Normal output goes to stdout; errors, notes and progress to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Per-invocation state: the --debug flag and the plugin host (created on first use)."""

    debug: bool = False
    plugins: list[str] = field(default_factory=list)
    _host: PluginHost | None = None

    def host(self, extra_plugins: list[str] | None = None) -> PluginHost:
        """The plugin host, loading any plugins not loaded yet."""
        if self._host is None:
            self._host = PluginHost.create(self.plugins)
        for spec in extra_plugins or []:
            if spec not in self.plugins:
                self._host.load_local(spec)
                self.plugins.append(spec)
        self._host.register_components()
        return self._host


STATE = CliState()


#: Width for output that goes to a file or pipe: wide enough that names are never folded,
#: because people grep it. (COLUMNS is ignored here: runners such as pytest-xdist set it to 80.)
PIPE_WIDTH = 160


def _fit_width(console: Console) -> None:
    if not console.is_terminal:
        console.width = PIPE_WIDTH


def reset_state(plugins: list[str] | None = None, host: PluginHost | None = None) -> None:
    """Start a fresh invocation (the CLI entry point and tests call this)."""
    _fit_width(out)
    _fit_width(err)
    STATE.debug = False
    STATE.plugins = list(plugins or [])
    STATE._host = host


PluginOption = Annotated[
    list[str] | None,
    typer.Option("--plugin", "-p", help="Load a plugin from a module name or a .py file (repeatable).",
                 rich_help_panel="Plugins"),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a recipe value: section.key=value (TOML syntax, repeatable).",
                 rich_help_panel="Recipe"),
]
ModelSetOption = Annotated[
    list[str] | None,
    typer.Option("--model-set", help="Change a model option that changes no weights, slot.option=value (repeatable),"
                 " e.g. decoder.max_shift=3.0; a trained checkpoint loads with it."),
]


def user_errors(func: F) -> F:
    """Print user errors (VidganError) to stderr without a traceback and exit with code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VidganError as exc:
            if STATE.debug:
                raise
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def prescan_plugins(argv: list[str]) -> list[str]:
    """``--plugin`` values from the raw command line, so plugin commands exist before parsing."""
    found = []
    for i, arg in enumerate(argv):
        if arg in ("--plugin", "-p") and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.split("=", 1)[1])
    return found


def is_tty() -> bool:
    return sys.stderr.isatty()
