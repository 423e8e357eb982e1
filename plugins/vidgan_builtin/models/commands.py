"""``vidgan distill-reader``: a finished run's E_C given a lighter reader of a transfer's source.

Registered by the built-in models plugin through ``vidgan_register_commands``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidgan_kit.cli.plugin_api import PluginOption, component_registry, err, out, user_errors

__all__ = ["register"]


@user_errors
def distill_reader(
    run: Annotated[Path, typer.Argument(help="A run directory (latest checkpoint) or a checkpoint directory.",
                                        show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="New run folder to write (must not exist, or be empty).",
                                          show_default=False)],
    width: Annotated[int, typer.Option("--width", min=1, help="The reader's width (source_reader_width).")] = 16,
    norm: Annotated[str, typer.Option("--norm", help="The reader's normalisation (source_reader_norm): none, group,"
                                                    " instance or batch.")] = "none",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Distillation steps (7000: about 6 minutes at 32x32"
                                                              " on 2 CPU cores).")] = 7000,
    clips: Annotated[int, typer.Option("--clips", min=1, help="Training clips a step (every frame of each).")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="Adam's learning rate for the reader (> 0).")] = 2e-3,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the reader's start.")] = 0,
    plugin: PluginOption = None,
) -> None:
    """Distil a lighter reader of a transfer's source frames into a layered E_C, as a new run.

    The run's E_C (its EMA weights where it keeps them) is frozen; a reader of --width learns its
    part masks (the source_reader loss) on the run's own training clips. The new run's checkpoint
    reads a transfer's source frames with the reader (read_source_with = "reader"); every other
    weight is the run's. The run itself is not changed.
    """
    from .reader_distillation import distil_source_reader

    def progress(step: int, loss: float) -> None:
        err.print(f"step {step + 1}/{steps}  L_read {loss:.4f}")

    path = distil_source_reader(run, out_dir, registry=component_registry(plugin), width=width, norm=norm, steps=steps,
                                clips=clips, lr=lr, seed=seed, progress=progress)
    out.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("distill-reader", rich_help_panel="Inference")(distill_reader)
