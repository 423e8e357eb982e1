"""What a checkpoint holds beyond the weights, and how a resume puts it back.

:meth:`TrainingState.save` and :meth:`TrainingState.restore` sit side by side so that
every piece written is a piece read: the weights and EMA weights, the optimisers' moments,
the loss scaler, the losses' buffers, the data position and every random stream. Restored
in that order, the RNGs last, a resumed run continues the uninterrupted one bit for bit on
the same machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import load_ema_weights, load_training_state, load_weights, save_checkpoint
from ..distributed import World
from ..errors import CheckpointError
from ..interfaces import ModelAssembly
from ..recipe import Recipe
from ..registry import ComponentRegistry
from .data import BatchStream
from .ema import EMA
from .seeding import capture_rng_state, rank_seed, restore_rng_state, seed_everything

__all__ = ["TrainingState"]


@dataclass
class TrainingState:
    """The parts of a run whose state a checkpoint keeps."""

    model: ModelAssembly
    losses: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    scaler: Any  # torch.amp.GradScaler (disabled unless fp16)
    ema: EMA | None
    stream: BatchStream
    world: World

    def save(self, checkpoints_dir: Path, step: int, *, registry: ComponentRegistry, recipe: Recipe,
             keep: int) -> Path | None:
        """Write the checkpoint of ``step``: every rank calls it (their RNG states are gathered),
        rank 0 writes and gets its path; the other ranks get None."""
        world = self.world
        rng = [capture_rng_state()] if not world.enabled else world.gather_tree(capture_rng_state())
        if not world.is_main:
            return None
        state = {
            "step": step,
            "data": self.stream.position(),
            "optimizers": {g: opt.state_dict() for g, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "loss_buffers": {n: dict(m.named_buffers()) for n, m in self.losses.items()
                             if any(True for _ in m.buffers())},
            "rng": rng[0],
            "world_size": world.world_size,
        }
        if world.enabled:
            state["rng_ranks"] = {str(r): s for r, s in enumerate(rng) if r > 0}
        return save_checkpoint(
            checkpoints_dir, self.model, step=step, registry=registry, recipe=recipe,
            ema=self.ema.modules if self.ema is not None else None, training_state=state, keep=keep,
        )

    def restore(self, checkpoint: Path, *, seed: int, step: int) -> None:
        """Put back everything :meth:`save` wrote at ``step``, the RNGs last, so that nothing done
        while building or loading moves the streams on. ``seed`` is the recipe's."""
        world = self.world
        load_weights(self.model, checkpoint)
        state = load_training_state(checkpoint)  # on the CPU: load_state_dict moves what it keeps
        saved_groups = set(state["optimizers"])
        if saved_groups != set(self.optimizers):
            raise CheckpointError(
                f"{checkpoint} has optimiser state for groups {sorted(saved_groups)},"
                f" the run has {sorted(self.optimizers)}."
            )
        for group, opt in self.optimizers.items():
            lrs = [pg["lr"] for pg in opt.param_groups]
            opt.load_state_dict(state["optimizers"][group])
            for pg, lr in zip(opt.param_groups, lrs, strict=True):
                pg["lr"] = lr  # the saved one was scaled for the saving run's world size
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            load_ema_weights(self.ema.modules, checkpoint)
        with torch.no_grad():
            for name, buffers in state.get("loss_buffers", {}).items():
                own = dict(self.losses[name].named_buffers())
                for key, value in buffers.items():
                    own[key].copy_(value)
        data = state["data"]
        saved_world = int(state.get("world_size", 1))
        if saved_world == world.world_size:
            self.stream.seek(data["epoch"], data["batch"])
        else:
            consumed = data.get("consumed", data["batch"] * self.stream.batch_size * saved_world)
            self.stream.seek_consumed(data["epoch"], consumed)
        # Each rank continues its own streams; a rank the saving run did not have starts a
        # fresh one derived from the seed, its rank and the step.
        rank_states = state.get("rng_ranks", {})
        if world.rank == 0:
            restore_rng_state(state["rng"])
        elif saved_world == world.world_size and str(world.rank) in rank_states:
            restore_rng_state(rank_states[str(world.rank)])
        else:
            seed_everything(rank_seed(seed, world.rank, step))
