"""A model's methods as plain callables, the form the evaluation protocols take them in.

The protocols call ``fn(video)``, ``fn(image, n, generator)`` or ``fn(image, video)`` on
CPU tensors and get CPU tensors back; these wrappers adapt a model on any device to that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import VidganError

__all__ = ["reconstruct_fn", "on_device"]


def reconstruct_fn(model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model.reconstruct`` if it has one, else ``forward({"video": v})["reconstruction"]`` in eval mode."""
    own = getattr(model, "reconstruct", None)
    if callable(own):
        return own

    def via_forward(video: torch.Tensor) -> torch.Tensor:
        was = model.training
        model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):  # forward may draw prior noise
                out = model({"video": video})
        finally:
            model.train(was)
        if not isinstance(out, dict) or "reconstruction" not in out:
            raise VidganError(f"{type(model).__name__}: forward() gives no 'reconstruction'; cannot score Ṽ_x")
        return out["reconstruction"]

    return via_forward


def on_device(fn: Callable[..., torch.Tensor], device: torch.device) -> Callable[..., torch.Tensor]:
    """``fn`` taking and giving CPU tensors while it runs on ``device``: tensor arguments move
    there, a generator becomes one of the same seed on that device, and the result comes back
    detached, as float32, on the CPU (computed without gradients)."""

    def wrapped(*args: Any) -> torch.Tensor:
        moved = []
        for a in args:
            if isinstance(a, torch.Tensor):
                a = a.to(device)
            elif isinstance(a, torch.Generator) and device.type != "cpu":
                a = torch.Generator(device=device).manual_seed(a.initial_seed())
            moved.append(a)
        with torch.no_grad():
            return fn(*moved).detach().float().cpu()

    return wrapped
