"""Where and in which precision the model runs.

``precision`` is the recipe's autocast setting: ``fp32`` (no autocast), ``bf16`` (CPU and
CUDA; no loss scaling needed since bf16 keeps fp32's exponent range) or ``fp16`` (CUDA only,
with a :class:`torch.amp.GradScaler` because fp16 gradients underflow).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..errors import VidganError
from ..recipe import device_name_problem

__all__ = ["resolve_device", "autocast", "make_grad_scaler", "to_channels_last", "move_to_device", "describe_device"]


def resolve_device(
    name: str, *, local_rank: int = 0, world_size: int = 1, option: str = "train.device"
) -> torch.device:
    """``"auto"`` → the first CUDA device when there is one, else the CPU.

    With several processes (``world_size > 1``), ``auto`` and ``cuda`` mean the GPU of this
    process's ``local_rank`` (or the only GPU it can see, when the launcher gives each
    process one through ``CUDA_VISIBLE_DEVICES``).

    The one device check of the toolkit: a recipe's ``train.device`` and every command's
    ``--device`` go through it. ``option`` names the setting in its errors.
    """
    said = f"{option} {name}" if option.startswith("--") else f"{option} = {name!r}"
    if world_size > 1 and (name == "cuda" or (name == "auto" and torch.cuda.is_available())):
        return _rank_gpu(said, local_rank)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    problem = device_name_problem(name)
    if problem:
        raise VidganError(f"{said}: {problem}")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise VidganError(
                f"{said} but CUDA is not available in this torch build or on this machine; use 'auto' or 'cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise VidganError(f"{said} but only {torch.cuda.device_count()} CUDA device(s) exist.")
    if world_size > 1 and device.type == "cuda" and device.index is not None:
        raise VidganError(
            f"{said} would put all {world_size} processes on one GPU; use 'auto' or 'cuda'"
            " with torchrun: each process then takes the GPU of its LOCAL_RANK."
        )
    return device


def _rank_gpu(said: str, local_rank: int) -> torch.device:
    if not torch.cuda.is_available():
        raise VidganError(f"{said} but CUDA is not available in this torch build or on this machine; use 'auto' or 'cpu'.")
    count = torch.cuda.device_count()
    if local_rank < count:
        return torch.device("cuda", local_rank)
    if count == 1:  # one visible GPU per process (CUDA_VISIBLE_DEVICES set per rank)
        return torch.device("cuda", 0)
    raise VidganError(
        f"LOCAL_RANK {local_rank} has no GPU of its own: this machine shows {count} CUDA device(s)."
        f" Start at most {count} processes per node (torchrun --nproc_per_node {count})."
    )


def check_precision(device: torch.device, precision: str) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise VidganError(
            "train.precision = 'fp16' needs a CUDA device (CPU autocast has no fp16 loss scaling);"
            " use 'bf16' or 'fp32' on the CPU."
        )
    if precision not in ("fp32", "bf16", "fp16"):
        raise VidganError(f"train.precision = {precision!r}; choose fp32, bf16 or fp16.")


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Autocast for the forward pass and the losses (never around ``backward``)."""
    if precision == "fp32":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def make_grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A scaler that is a no-op unless training in fp16 on CUDA."""
    return torch.amp.GradScaler(device.type, enabled=(precision == "fp16" and device.type == "cuda"))


def to_channels_last(module: nn.Module) -> None:
    """Store 2D-conv weights as channels_last (and 3D-conv weights as channels_last_3d).

    ``Module.to(memory_format=...)`` refuses a model that mixes 4D and 5D weights, which a
    video GAN always does, so convert per convolution.
    """
    for m in module.modules():
        fmt = None
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            fmt = torch.channels_last
        elif isinstance(m, nn.Conv3d | nn.ConvTranspose3d):
            fmt = torch.channels_last_3d
        if fmt is None:
            continue
        for p in m.parameters(recurse=False):
            if p.dim() in (4, 5):
                p.data = p.data.to(memory_format=fmt)


def move_to_device(obj: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: move_to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(move_to_device(v, device) for v in obj)
    return obj


def describe_device(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"device": str(device)}
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        info["name"] = torch.cuda.get_device_name(idx)
        info["cuda"] = torch.version.cuda
        info["capability"] = list(torch.cuda.get_device_capability(idx))
    else:
        info["threads"] = torch.get_num_threads()
    return info
