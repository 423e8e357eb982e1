"""The ``metric`` kind's interface: what every registered metric component provides.

A metric is built like any component, ``registry.build("metric", name, params)``, and
must return an object derived from one of the two classes below (the evaluation code
checks it). Tensors are videos in the toolkit's layout, ``[B, T, C, H, W]`` in [-1, 1].

- :class:`FrameMetric`: a paired, per-frame score of a prediction against its target
  (SSIM, PSNR, L1). ``score`` is the whole contract; ``update``/``compute`` accumulate it.
- :class:`DistributionMetric`: compares two *sets* of clips (FVD). ``update`` adds clips
  to each set (the sets need not be paired or equally large); ``compute`` compares them.

``describe()`` returns the metric's protocol choices (window, data range, cap, feature
layer, weights...) as plain data; the metric card stores it beside the numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from ..errors import ShapeError

__all__ = ["Metric", "FrameMetric", "DistributionMetric", "check_pair"]


def check_pair(pred: torch.Tensor, target: torch.Tensor, name: str = "metric") -> None:
    """Both ``[B, T, C, H, W]`` floating-point tensors of one shape."""
    for label, x in (("pred", pred), ("target", target)):
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"{name}: {label} must be a float video [B, T, C, H, W] in [-1, 1], got {shape}")
    if pred.shape != target.shape:
        raise ShapeError(f"{name}: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


class Metric(ABC):
    """Base of every metric component.

    :cvar higher_is_better: the direction of the score (None where it has none).
    :cvar unit: printed after the numbers ("dB", "" ...).
    """

    name: str = "metric"
    higher_is_better: bool | None = None
    unit: str = ""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated by :meth:`update`."""

    @abstractmethod
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Accumulate a batch: ``pred`` and ``target`` are ``[B, T, C, H, W]`` in [-1, 1]."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The accumulated result; always holds ``"value"`` (the headline number)."""

    def describe(self) -> dict[str, Any]:
        """Protocol choices of this metric, for the metric card (JSON-able)."""
        return {"name": self.name}


class FrameMetric(Metric):
    """A paired per-frame score; subclasses implement :meth:`score`."""

    def __init__(self) -> None:
        self._scores: list[torch.Tensor] = []

    @abstractmethod
    def score(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-frame scores ``[B, T]`` (float64 on the CPU) of ``pred`` against ``target``."""

    def reset(self) -> None:
        self._scores = []

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self._scores.append(self.score(pred, target))

    def compute(self) -> dict[str, float]:
        """``value``: mean over every frame of every clip; ``frames``: how many frames."""
        if not self._scores:
            return {"value": float("nan"), "frames": 0.0}
        scores = torch.cat([s.reshape(-1) for s in self._scores])
        return {"value": float(scores.mean()), "frames": float(scores.numel())}


class DistributionMetric(Metric):
    """A distance between the distribution of predicted clips and of real clips.

    ``update(pred, target)`` adds ``pred`` to the generated set and ``target`` to the real
    set; either may be ``None`` to add to one set only, and batch sizes may differ.
    """

    higher_is_better = False

    def check_ready(self) -> None:
        """Raise a :class:`~vidgan_kit.errors.VidganError` saying what to do when the metric
        cannot run here (missing weights, say). Called before any expensive work."""
