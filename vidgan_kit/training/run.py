"""A training run: its context object and its directory.

Layout of a run directory::

    run_dir/
        recipe.json          # the resolved recipe (every default filled in)
        recipe.toml          # the recipe's source text, when the run was started from a file
        environment.json     # versions, platform, device, plugins (+ environment-resume-*.json)
        metrics.jsonl        # one line of averaged statistics every train.log_every steps
        samples/step-000500.gif, .mp4
        checkpoints/step-00000100/ ...   (see vidgan_kit.checkpoint)

A run directory is never overwritten: starting a run in a non-empty directory is an error
unless resuming, and a resume must use the same recipe (only ``train.steps`` may grow).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._version import __version__
from ..errors import VidganError
from ..recipe import Recipe, validate_recipe
from ..run_context import RunContext

if TYPE_CHECKING:
    from ..plugins import PluginHost
    from ..registry import ComponentRegistry

__all__ = ["RunContext", "prepare_run_dir", "write_run_files", "recipe_differences", "check_resume_recipe"]

#: Keys a resumed run may change relative to the saved recipe: how long, how the processes
#: talk and how CPU memory is reused (none of them changes what is learned).
RESUMABLE_CHANGES = (
    "train.steps", "train.distributed.backend", "train.distributed.timeout_minutes", "train.reuse_cpu_memory",
)


def prepare_run_dir(run_dir: Path, resume: bool) -> bool:
    """Create or check the run directory; returns whether there is an earlier run to resume."""
    existing = run_dir.is_dir() and any(run_dir.iterdir())
    if run_dir.exists() and not run_dir.is_dir():
        raise VidganError(f"Run directory {run_dir} exists and is a file; choose another run name.")
    is_run = (run_dir / "recipe.json").is_file()
    if existing and not is_run:
        doing = "Cannot resume in" if resume else "Cannot start a run in"
        raise VidganError(
            f"{doing} {run_dir}: it is not empty but has no recipe.json, so it is not a vidgan-kit run."
            " A new run needs a new or empty folder: choose another run name / directory."
        )
    if existing and not resume:
        raise VidganError(
            f"Run directory {run_dir} already holds a run. Pass --resume (resume=True) to continue it,"
            " or choose another run name / directory; runs are never overwritten."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return existing


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def recipe_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Dotted keys whose values differ, with (saved, current) values; ``<absent>`` when missing."""
    a, b = _flatten(saved), _flatten(current)
    missing = "<absent>"
    return [(k, a.get(k, missing), b.get(k, missing)) for k in sorted(set(a) | set(b)) if a.get(k, missing) != b.get(k, missing)]


def check_resume_recipe(
    run_dir: Path, recipe: Recipe, resumed_step: int, registry: ComponentRegistry | None = None
) -> None:
    """A resume must continue the same experiment: only ``train.steps`` may change (grow).

    Options added since the run started (to the recipe or, given the ``registry``, to its
    components) are absent from its recipe.json; reading it back fills them with their
    defaults, which keep the behaviour the run had, so they do not stop a resume."""
    try:
        saved = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VidganError(
            f"Cannot resume {run_dir}: its recipe.json is damaged ({exc}), so the run's recipe is unknown."
            " Restore the file, or start a new run."
        ) from None
    try:
        filled = Recipe.model_validate(saved)
        if registry is not None:
            filled = validate_recipe(filled.to_table(), registry)
        saved = json.loads(filled.to_json())
    except (ValueError, VidganError):
        pass  # not readable as a recipe any more: compare it as it is, key by key
    current = json.loads(recipe.to_json())
    diffs = [d for d in recipe_differences(saved, current) if d[0] not in RESUMABLE_CHANGES]
    if diffs:
        lines = "\n".join(f"  - {k}: saved {json.dumps(a)}, now {json.dumps(b)}" for k, a, b in diffs)
        raise VidganError(
            f"Cannot resume {run_dir}: the recipe differs from the one the run was started with"
            f" ({run_dir / 'recipe.json'}) in {len(diffs)} key(s):\n{lines}\n"
            f"Only {', '.join(RESUMABLE_CHANGES)} may change when resuming (train.steps only upwards)."
            " Start a new run to change anything else."
        )
    if recipe.train.steps < resumed_step:
        raise VidganError(
            f"Cannot resume {run_dir} with train.steps = {recipe.train.steps}: the run is already at step"
            f" {resumed_step}. train.steps may only be increased."
        )


def environment_info(
    host: PluginHost | None, device: torch.device, world: dict[str, Any] | None = None
) -> dict[str, Any]:
    from .device import describe_device

    import numpy
    import safetensors

    plugins = []
    if host is not None:
        for info in host.infos.values():
            plugins.append({"name": info.name, "source": info.source, "distribution": info.distribution,
                            "version": info.version, "module": info.module})
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "vidgan_kit": __version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "device": describe_device(device),
        "argv": list(sys.argv),
        "plugins": plugins,
        "distributed": world or {"world_size": 1},
    }


def write_run_files(
    run_dir: Path, recipe: Recipe, recipe_text: str | None, host: PluginHost | None, device: torch.device,
    resumed_step: int | None, world: dict[str, Any] | None = None,
) -> None:
    """recipe.json / recipe.toml on a fresh run; environment.json every session.

    :param world: how many processes train and how they talk (recorded in environment.json).
    """
    env = environment_info(host, device, world)
    if resumed_step is None:
        (run_dir / "recipe.json").write_text(recipe.to_json() + "\n", encoding="utf-8")
        if recipe_text is not None:
            (run_dir / "recipe.toml").write_text(recipe_text, encoding="utf-8")
        (run_dir / "environment.json").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    else:
        # Keep the environment the run started with; record each resume's beside it.
        name = f"environment-resume-{resumed_step:08d}.json"
        (run_dir / name).write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
        if recipe.train.steps != json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))["train"]["steps"]:
            (run_dir / "recipe.json").write_text(recipe.to_json() + "\n", encoding="utf-8")
