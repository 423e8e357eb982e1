"""Exponential moving average of one parameter group (normally the generator's).

GAN generators oscillate around a good solution; averaging their weights over the last
few thousand steps gives visibly better samples (Karras et al., Yazıcı et al.). The EMA is
a copy of the *slots* that own the group's parameters, so it is saved, slot by slot, in
the same format as the model's weights (``ema/<slot>/model.safetensors``) and inference can
load it in place of the raw weights.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import VidganError
from ..interfaces import ModelAssembly

__all__ = ["EMA"]


class EMA:
    """EMA copies of the slots holding ``group``'s parameters."""

    def __init__(self, model: ModelAssembly, group: str, decay: float, start: int = 0) -> None:
        self.group, self.decay, self.start = group, decay, start
        wanted = {id(p) for p in model.parameter_groups()[group]}
        slots = model.slots()
        self.modules: dict[str, nn.Module] = {}
        covered: set[int] = set()
        for name, module in slots.items():
            ids = {id(p) for p in module.parameters()}
            if ids & wanted:
                copy_ = copy.deepcopy(module).requires_grad_(False)
                self.modules[name] = copy_
                covered |= ids
        if not self.modules:
            raise VidganError(
                f"train.ema.group = {group!r}: none of the model's slots ({', '.join(slots) or 'none'}) owns a"
                " parameter of that group, so there is nothing to average."
            )
        # Parameters of the group held by the assembly itself are not averaged; say so
        # once rather than silently producing an EMA that misses weights.
        self.uncovered = len(wanted - covered)

    def _pairs(self, model: ModelAssembly) -> list[tuple[torch.Tensor, torch.Tensor]]:
        slots = model.slots()
        pairs = []
        for name, ema_module in self.modules.items():
            live = slots[name]
            pairs += list(zip(ema_module.parameters(), live.parameters(), strict=True))
            pairs += list(zip(ema_module.buffers(), live.buffers(), strict=True))
        return pairs

    @torch.no_grad()
    def update(self, model: ModelAssembly, step: int) -> None:
        """Blend the live weights in after ``step``; before ``ema.start`` simply copy them."""
        slots = model.slots()
        for name, ema_module in self.modules.items():
            live = slots[name]
            ema_p = list(ema_module.parameters())
            live_p = [p.detach() for p in live.parameters()]
            if step < self.start:
                torch._foreach_copy_(ema_p, live_p)
            elif ema_p:
                torch._foreach_lerp_(ema_p, live_p, 1.0 - self.decay)
            # Buffers (BatchNorm statistics, counters) are not averaged: copy them.
            for be, b in zip(ema_module.buffers(), live.buffers(), strict=True):
                be.copy_(b)

    @contextmanager
    def applied(self, model: ModelAssembly) -> Iterator[None]:
        """Temporarily run ``model`` with the EMA weights (for previews).

        Swaps the tensors behind the parameters rather than copying them: no extra
        memory, and the optimisers' references to the parameters stay valid.
        """
        pairs = self._pairs(model)
        with torch.no_grad():
            for e, p in pairs:
                e.data, p.data = p.data, e.data
        try:
            yield
        finally:
            with torch.no_grad():
                for e, p in pairs:
                    e.data, p.data = p.data, e.data

    def to(self, device: torch.device) -> EMA:
        for m in self.modules.values():
            m.to(device)
        return self
