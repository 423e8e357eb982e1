"""The ``vidgan`` command line (typer + rich)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .._version import __version__
from ..errors import VidganError
from . import components, demo, export, infer, run
from . import eval as eval_commands  # `eval` would shadow the builtin here
from ._common import STATE, err, prescan_plugins, reset_state

__all__ = ["build_app", "main"]


def _version(value: bool) -> None:
    if value:
        print(f"vidgan-kit {__version__}")
        raise typer.Exit()


def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    plugin: Annotated[list[str] | None, typer.Option("--plugin", "-p", help="Load a plugin (module or .py file).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """vidgan-kit: train, evaluate and use disentangled video GANs."""
    STATE.debug = debug
    for spec in plugin or []:
        if spec not in STATE.plugins:
            STATE.plugins.append(spec)


def build_app(with_plugin_commands: bool = True) -> typer.Typer:
    """A fresh Typer app; plugins add their commands through ``vidgan_register_commands``."""
    app = typer.Typer(
        name="vidgan",
        help="vidgan-kit: train, evaluate and use disentangled video GANs.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    components.register(app)
    run.register(app)
    infer.register(app)
    demo.register(app)
    export.register(app)
    eval_commands.register(app)
    if with_plugin_commands:
        STATE.host().register_commands(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    reset_state(prescan_plugins(args))
    STATE.debug = "--debug" in args
    try:
        app = build_app()
    except VidganError as exc:  # a plugin failed while loading
        if STATE.debug:
            raise
        err.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None
    app(args=args, prog_name="vidgan")
