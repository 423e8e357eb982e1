"""What hooks see of a training run: :class:`RunContext`.

It sits below both the trainer, which fills it, and the hook specifications, which hand it
to plugins, so neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .interfaces import ModelAssembly
    from .recipe import Recipe
    from .registry import ComponentRegistry

__all__ = ["RunContext"]


@dataclass
class RunContext:
    """What hooks see of a run (the attribute names are part of the hook API).

    :ivar run_dir: the run directory.
    :ivar recipe: the resolved recipe.
    :ivar model: the model assembly being trained.
    :ivar step: steps completed so far (the start step in ``vidgan_train_start``).
    :ivar is_main: True on the process that writes files: rank 0 (the only process of a
        single-process run). Plugins that write files should check it.
    :ivar registry: the component registry the run was built from.
    :ivar host: the plugin host, a :class:`~vidgan_kit.plugins.PluginHost` (its ``hook`` and ``infos``).
    :ivar device: where the model lives.
    :ivar status: ``"running"``, then the final status given to ``vidgan_train_end``.
    :ivar last_checkpoint: the newest checkpoint written or resumed from, if any.
    :ivar rank: this process's rank among the training processes (0 when alone).
    :ivar world_size: how many processes train together (1 when alone).
    """

    run_dir: Path
    recipe: Recipe
    model: ModelAssembly
    step: int = 0
    is_main: bool = True
    registry: ComponentRegistry | None = None
    host: Any = None  # a PluginHost; not imported here: its module imports the hook specs, which import this
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    status: str = "running"
    last_checkpoint: Path | None = None
    rank: int = 0
    world_size: int = 1

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.run_dir / "samples"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"
