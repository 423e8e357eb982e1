"""Warnings about a run going wrong while it trains (a collapsed code, an ignored input).

The trainer knows nothing of any model; a model assembly that knows its failure modes
overrides ``health_warnings(stats, step) -> {key: message}`` (see
:class:`~vidgan_kit.interfaces.ModelAssembly`, whose own reports nothing). :class:`HealthWatch` asks it after every
logged step and warns once per key and run, so a problem that persists does not flood the
log, and a run resumed later warns again (it may have recovered, or not).
"""

from __future__ import annotations

import warnings

from ..interfaces import ModelAssembly

__all__ = ["TrainingHealthWarning", "HealthWatch"]


class TrainingHealthWarning(UserWarning):
    """A logged signal says the model is not learning what it should (see the message)."""


class HealthWatch:
    """Asks ``model.health_warnings`` and warns about each new problem once."""

    def __init__(self, model: ModelAssembly, *, enabled: bool = True) -> None:
        self._check = model.health_warnings if enabled else None
        self.warned: dict[str, int] = {}

    def __call__(self, stats: dict[str, float], step: int) -> dict[str, float]:
        """Warn about new problems in ``stats``; returns ``{"warn/<key>": 1.0}`` for each to log."""
        if self._check is None:
            return {}
        new: dict[str, float] = {}
        for key, message in self._check(stats, step).items():
            if key in self.warned:
                continue
            self.warned[key] = step
            warnings.warn(f"step {step}: {message}", TrainingHealthWarning, stacklevel=2)
            new[f"warn/{key}"] = 1.0
        return new
