"""The generic trainer: phases as data, exact resume, safetensors checkpoints.

``train(recipe, host=..., run_dir=...)`` is the entry point; see :mod:`.loop` for the loop
itself (meant to be read), :mod:`.resume` for what a checkpoint saves and a resume puts
back, and :mod:`.run` for the run directory's layout.
"""

from __future__ import annotations

from .health import TrainingHealthWarning
from .loop import train, write_samples
from .run import RunContext

__all__ = ["train", "write_samples", "RunContext", "TrainingHealthWarning"]
