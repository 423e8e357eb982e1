"""Seeding every random number generator, and capturing/restoring their states.

Exact resume needs *all* the generators a training step may touch: torch's CPU generator
(dropout, ``torch.randn`` in a model), CUDA's per-device generators, Python's ``random``
and NumPy's legacy global generator (datasets often use one of them). The captured state
is plain data: tensors plus JSON-able values, so a checkpoint never needs pickle.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "seed_everything", "capture_rng_state", "restore_rng_state", "DeterminismSettings", "derive_seed", "rank_seed",
]

#: Mixed into per-rank seeds so they cannot coincide with seeds derived for other purposes.
_RANK_STREAM = 0x72616E6B  # "rank"


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (e.g. the recipe's seed and an epoch number).

    Uses SplitMix64's finaliser so neighbouring inputs give unrelated seeds.
    """
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (int(part) & mask)) & mask
        x = (x + 0x9E3779B97F4A7C15) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
    return x & ((1 << 63) - 1)


def rank_seed(seed: int, rank: int, step: int | None = None) -> int:
    """The seed of rank ``rank``'s random streams (model noise, dropout, reparameterisation).

    Rank 0 keeps the recipe's seed, so a single process and rank 0 of many draw the same
    numbers; every other rank gets a stream of its own. ``step`` gives a fresh stream for a
    rank resumed without a saved state (after the world size changed).
    """
    if rank == 0 and step is None:
        return seed
    return derive_seed(seed, _RANK_STREAM, rank, *([] if step is None else [step]))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), Python's ``random`` and NumPy."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)  # also seeds every CUDA device


@dataclass
class DeterminismSettings:
    """Process-wide torch switches the trainer changes; restored when training ends.

    ``train()`` is a library call: leaving determinism or the thread count changed would
    leak into whatever the caller (a notebook, a test suite) does next.
    """

    deterministic: bool
    warn_only: bool
    threads: int
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    fill_uninitialized_memory: bool

    @classmethod
    def current(cls) -> DeterminismSettings:
        return cls(
            deterministic=torch.are_deterministic_algorithms_enabled(),
            warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
            threads=torch.get_num_threads(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            cudnn_deterministic=torch.backends.cudnn.deterministic,
            fill_uninitialized_memory=torch.utils.deterministic.fill_uninitialized_memory,
        )

    @staticmethod
    def apply(deterministic: bool, threads: int) -> None:
        if deterministic:
            # cuBLAS needs a fixed workspace to be deterministic; harmless on CPU.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
            # Deterministic mode also fills every new tensor (torch.empty) with NaN, a guard
            # for ops that would return memory they never wrote. None of ours does (the
            # resume bit-identity test checks the outcome), and the fills were the largest
            # item of a 64×64 training step's CPU profile (benchmarks/step_profile.py): off.
            torch.utils.deterministic.fill_uninitialized_memory = False
        if threads > 0:
            torch.set_num_threads(threads)

    def restore(self) -> None:
        torch.use_deterministic_algorithms(self.deterministic, warn_only=self.warn_only)
        torch.set_num_threads(self.threads)
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.backends.cudnn.deterministic = self.cudnn_deterministic
        torch.utils.deterministic.fill_uninitialized_memory = self.fill_uninitialized_memory


def capture_rng_state() -> dict[str, Any]:
    """Every global generator's state as a tree of tensors, tuples and numbers."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch_cpu": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "algorithm": np_state[0],
            "keys": np.asarray(np_state[1]),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
    }
    # Only touch CUDA if it is already in use: initialising it here would cost seconds
    # and memory on every device of a CPU-only run that merely has a GPU visible.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch_cpu"].to(torch.uint8).cpu())
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npd = state["numpy"]
    keys = np.asarray(npd["keys"], dtype=np.uint32)
    np.random.set_state((npd["algorithm"], keys, npd["pos"], npd["has_gauss"], npd["cached_gaussian"]))
    cuda = state.get("torch_cuda")
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        torch.cuda.set_rng_state_all([t.to(torch.uint8).cpu() for t in cuda[:n]])


@contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Run a block (previews, diagnostics) without moving the training's random streams.

    Then how often a run logs or samples does not change what it learns, and a resumed
    run does not depend on whether the killed one had sampled after its last checkpoint.
    """
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    py, npy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)


__all__ += ["isolated_rng"]
