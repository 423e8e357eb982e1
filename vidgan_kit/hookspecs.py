"""The plugin API of vidgan-kit: every hook a plugin can implement.

Implement a hook with the :data:`vidgan_kit.hookimpl` marker, in a module that your
distribution exposes under the ``vidgan_kit`` entry-point group::

    # pyproject.toml
    [project.entry-points.vidgan_kit]
    my_plugin = "my_package.plugin"

    # my_package/plugin.py
    from vidgan_kit import hookimpl

    @hookimpl
    def vidgan_register_components(registry):
        registry.add("discriminator", "my_disc", MyDisc)

Every hook is optional. Hooks receive keyword arguments; an implementation may accept
any subset of them, by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from .registry import Registrar
    from .run_context import RunContext

__all__ = ["hookspec", "hookimpl", "PROJECT"]

#: pluggy project name, also the entry-point group.
PROJECT = "vidgan_kit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def vidgan_register_kinds(registry: Registrar) -> None:
    """Add kinds of component (a keypoint detector, a dense-motion network, ...).

    Called for every plugin before any plugin registers components, so that a component of
    the new kind may come from any plugin.

    :param registry: a registrar bound to this plugin. Call
        ``registry.add_kind(name, description, base=..., contract=..., context=..., wiring=...)``
        once per kind (see :class:`vidgan_kit.kinds.Kind`). A kind name that is already taken
        is an error naming both plugins.
    """


@hookspec
def vidgan_register_components(registry: Registrar) -> None:
    """Register components (encoders, discriminators, losses, datasets, ...).

    :param registry: a registrar bound to this plugin. Call
        ``registry.add(kind, name, factory, config=ConfigModel, summary="...")`` once per
        component. ``kind`` is one of ``registry.kinds``: the toolkit's own or one a plugin
        adds; ``name`` is the stable snake_case name recipes use as ``type``;
        ``factory(config, **wiring)`` builds it.
        Every entry is attributed to this plugin and its distribution; registering a name
        that another plugin already holds is an error naming both.
    """


@hookspec
def vidgan_register_commands(app: typer.Typer) -> None:
    """Add sub-commands to the ``vidgan`` command line.

    :param app: the root Typer application. Use ``@app.command()`` or
        ``app.add_typer(sub_app, name="...")``. Names already taken by the toolkit's own
        commands must not be reused. The commands reach the running invocation (its
        registry, consoles, ``--plugin``/``--set`` options and error handling) through
        :mod:`vidgan_kit.cli.plugin_api` only.
    """


@hookspec
def vidgan_train_start(run: RunContext) -> None:
    """Called once before the first training step (also after a resume).

    :param run: the run's context: ``run.run_dir`` (the run directory), ``run.recipe``
        (the resolved recipe), ``run.model`` (the model assembly), ``run.step`` (the step
        training starts from, 0 unless resumed) and ``run.is_main`` (True on the process
        that writes files).
    """


@hookspec
def vidgan_step_end(run: RunContext, step: int, stats: dict[str, float]) -> None:
    """Called after every optimisation step.

    :param run: the run's context (see :func:`vidgan_train_start`).
    :param step: the number of steps completed so far (1 after the first step).
    :param stats: scalar statistics of this step: weighted losses per phase and term,
        learning rates, throughput and the model's diagnostics, by name.
    """


@hookspec
def vidgan_checkpoint_saved(run: RunContext, step: int, path: Path) -> None:
    """Called after a checkpoint has been written completely (it is safe to copy).

    :param run: the run's context (see :func:`vidgan_train_start`).
    :param step: the step the checkpoint holds.
    :param path: the checkpoint directory.
    """


@hookspec
def vidgan_train_end(run: RunContext, step: int, status: str, error: BaseException | None) -> None:
    """Called once when training stops, however it stops.

    :param run: the run's context (see :func:`vidgan_train_start`).
    :param step: the last completed step.
    :param status: ``"completed"``, ``"interrupted"`` (Ctrl-C) or ``"failed"``.
    :param error: the exception that stopped training, or ``None``.
    """


