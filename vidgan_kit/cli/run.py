"""``vidgan validate`` and ``vidgan run``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..recipe import Recipe, apply_overrides, read_recipe_table, recipe_plugins, validate_recipe
from ._common import STATE, PluginOption, SetOption, err, out, user_errors

__all__ = ["register", "resolve_recipe"]

RecipeArg = Annotated[Path, typer.Argument(help="Recipe TOML file.", show_default=False)]


def resolve_recipe(path: Path, overrides: list[str] | None, plugin: list[str] | None) -> tuple[Recipe, str]:
    """Load plugins (CLI and the recipe's own), apply overrides, validate. Returns recipe and its text."""
    table = read_recipe_table(path)
    table = apply_overrides(table, overrides or [])
    host = STATE.host([*(plugin or []), *recipe_plugins(table, path)])
    recipe = validate_recipe(table, host.registry, source=str(path))
    return recipe, path.read_text(encoding="utf-8")


def _summary(recipe: Recipe) -> Table:
    table = Table(title=f"recipe {recipe.name!r}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    v = recipe.video
    table.add_row("video", f"{v.frames} frames, {v.channels}x{v.height}x{v.width}")
    table.add_row("data", recipe.data.type)
    table.add_row("model", recipe.model.type)
    for key, value in recipe.model.params.items():
        if isinstance(value, dict) and "type" in value:
            table.add_row(f"  {key}", value["type"])
    for name, term in recipe.losses.items():
        sched = f" from step {term.start}" if term.start else ""
        sched += f", ramp {term.ramp}" if term.ramp else ""
        table.add_row(f"loss {name}", f"{term.spec.type} x {term.weight:g}{sched}" + ("" if term.enabled else " (off)"))
    table.add_row("phases", ", ".join(f"{p.name}/{p.every}" for p in recipe.phases))
    table.add_row("train", f"{recipe.train.steps} steps, batch {recipe.loader.batch_size}, "
                  f"{recipe.train.precision}, device {recipe.train.device}")
    return table


@user_errors
def validate(recipe: RecipeArg, set_: SetOption = None, plugin: PluginOption = None) -> None:
    """Check a recipe without running it; print every problem with its TOML path."""
    resolved, _ = resolve_recipe(recipe, set_, plugin)
    out.print(_summary(resolved))
    out.print(f"[green]ok[/]: {recipe} is valid")


@user_errors
def run(
    recipe: RecipeArg,
    set_: SetOption = None,
    plugin: PluginOption = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default: runs/<name>).")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Run name (directory runs/<name>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in the run directory.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and build everything, train nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    nproc: Annotated[int, typer.Option("--nproc", min=1, rich_help_panel="Distributed",
                                       help="Train with N processes on this machine (launches torchrun).")] = 1,
) -> None:
    """Train the model a recipe describes."""
    cli_plugins = list(STATE.plugins)  # before the recipe's own plugins join them
    resolved, text = resolve_recipe(recipe, set_, plugin)  # a broken recipe fails here, before any launch
    if nproc > 1 and not dry_run:
        raise typer.Exit(_launch(nproc, recipe, set_, cli_plugins, out_dir, name, resume, quiet))
    run_dir = out_dir or Path("runs") / (name or resolved.name)
    host = STATE.host()
    if dry_run:
        out.print(_summary(resolved))
        geometry = resolved.video.geometry()
        model = host.registry.build("model", resolved.model, geometry=geometry, registry=host.registry)
        dataset = host.registry.build("dataset", resolved.data, geometry=geometry, split="train", seed=resolved.seed)
        table = Table(title="parameters", title_justify="left")
        table.add_column("slot")
        table.add_column("component")
        table.add_column("parameters", justify="right")
        for slot, module in model.slots().items():
            spec = getattr(module, "component_spec", None)
            n = sum(p.numel() for p in module.parameters())
            table.add_row(slot, spec.type if spec else type(module).__name__, f"{n:,}")
        out.print(table)
        out.print(f"dataset: {len(dataset)} clips; would write to {run_dir}")
        return
    from ..training import train

    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, say it once
        err.print(f"run directory: {run_dir}")
        if resume and not _holds_anything(run_dir):
            err.print(f"note: {run_dir} holds no run yet, so --resume starts a new one there{_runs_like(run_dir)}")
    train(resolved, host=host, run_dir=run_dir, resume=resume, recipe_text=text, quiet=quiet)
    from ..distributed import finish_process

    finish_process()  # under torchrun: all ranks done, leave without the teardown that can abort


def _holds_anything(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _runs_like(run_dir: Path) -> str:
    """'; did you mean ...?' naming runs beside ``run_dir`` whose names are close (a mistyped --out)."""
    from ..suggest import closest

    parent = run_dir.parent
    runs = [c.name for c in parent.iterdir() if (c / "recipe.json").is_file()] if parent.is_dir() else []
    hits = closest(run_dir.name, runs, n=1)
    return f"; did you mean {parent / hits[0]}?" if hits else ""


def _launch(nproc: int, recipe: Path, set_: list[str] | None, plugins: list[str], out_dir: Path | None,
            name: str | None, resume: bool, quiet: bool) -> int:
    """Run ``torchrun --nproc_per_node N -m vidgan_kit run ...`` with this command's arguments."""
    import subprocess

    from ..distributed import World, torchrun_command
    from ..errors import VidganError

    if World.from_env().enabled:
        raise VidganError("--nproc inside a torchrun job would start processes per process; drop --nproc.")
    args = ["--debug"] if STATE.debug else []
    args += ["run", str(recipe)]
    for value in set_ or []:
        args += ["--set", value]
    for spec in plugins:
        args += ["--plugin", spec]
    if out_dir is not None:
        args += ["--out", str(out_dir)]
    if name is not None:
        args += ["--name", name]
    args += ["--resume"] if resume else []
    args += ["--quiet"] if quiet else []
    command = torchrun_command(nproc, args)
    err.print(f"launching {nproc} processes: {' '.join(command[1:])}")
    proc = subprocess.Popen(command)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # torchrun got the Ctrl-C too: let it stop its workers
        code = proc.wait()
    return code if code >= 0 else 128 - code


def register(app: typer.Typer) -> None:
    app.command("validate", rich_help_panel="Recipes")(validate)
    app.command("run", rich_help_panel="Training")(run)
