"""The process-wide torch switches train() sets: on while it runs, as they were afterwards."""

from __future__ import annotations

from typing import Any

import torch

from vidgan_kit import hookimpl
from vidgan_kit.training import train

from .toys import make_host, make_recipe


class SwitchProbe:
    """Reads the switches at the end of every step."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, bool, int]] = []

    @hookimpl
    def vidgan_step_end(self, run: Any, step: int, stats: dict[str, float]) -> None:
        self.seen.append((torch.are_deterministic_algorithms_enabled(),
                          torch.utils.deterministic.fill_uninitialized_memory, torch.get_num_threads()))


def test_switches_are_on_while_training_and_restored_after(tmp_path):
    before = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory,
              torch.get_num_threads())
    threads = 1 if before[2] != 1 else 2
    probe = SwitchProbe()
    host = make_host(plugins=((probe, "switch_probe"),))
    train(make_recipe(host, train={"steps": 2, "deterministic": True, "threads": threads}),
          host=host, run_dir=tmp_path / "run", quiet=True)
    # Deterministic algorithms, without NaN-filling every new tensor (pure cost: see seeding.py).
    assert probe.seen == [(True, False, threads)] * 2
    after = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory,
             torch.get_num_threads())
    assert after == before
