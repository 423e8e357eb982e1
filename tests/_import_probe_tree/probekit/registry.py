from typing import TYPE_CHECKING

from .cli import _common  # a private module of another package, and the CLI from the core

if TYPE_CHECKING:
    from .training.loop import Trainer  # the trainer from the core, for types only
