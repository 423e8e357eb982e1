"""``train.keep_best``: a weights-only checkpoint of the best validation value, in ``<run>/best``.

``best/best.json`` records the step, the metric and its value; a resumed run reads it and
goes on comparing against it. Which way is better comes from
:data:`vidgan_kit.recipe.VALIDATION_METRICS`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..checkpoint import save_checkpoint
from ..interfaces import ModelAssembly
from ..recipe import VALIDATION_METRICS, Recipe
from ..registry import ComponentRegistry
from .ema import EMA

__all__ = ["KeepBest"]


class KeepBest:
    """Keeps the weights of the best ``metric`` seen so far (and since any earlier session)."""

    def __init__(self, run_dir: Path, metric: str, *, enabled: bool) -> None:
        self.directory = run_dir / "best"
        self.metric = metric
        self.enabled = enabled
        self.higher_is_better = VALIDATION_METRICS[metric]
        best_file = self.directory / "best.json"
        self.value: float | None = json.loads(best_file.read_text())["value"] if best_file.is_file() else None

    def offer(self, values: dict[str, float], step: int, *, model: ModelAssembly, registry: ComponentRegistry,
              recipe: Recipe, ema: EMA | None) -> bool:
        """Save the model when ``values`` (validation keys) beat the best so far; returns whether it did."""
        value = values.get(self.metric, math.nan)
        if not self.enabled or not math.isfinite(value):
            return False
        if self.value is not None and not (value > self.value if self.higher_is_better else value < self.value):
            return False
        self.value = value
        save_checkpoint(self.directory, model, step=step, registry=registry, recipe=recipe,
                        ema=ema.modules if ema is not None else None, keep=1)
        (self.directory / "best.json").write_text(json.dumps({"step": step, "metric": self.metric,
                                                              "value": value}) + "\n")
        return True

