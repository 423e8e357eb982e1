"""CPU memory reuse: inside reuse_freed_memory (and training on a CPU) large blocks are not
page-faulted in anew on every allocation; outside, glibc's behaviour comes back."""

from __future__ import annotations

import resource
from typing import Any

import pytest
import torch

from vidgan_kit import hookimpl
from vidgan_kit.training import train
from vidgan_kit.training.memory import can_reuse_freed_memory, reuse_freed_memory

from .toys import make_host, make_recipe

pytestmark = pytest.mark.skipif(not can_reuse_freed_memory(), reason="needs glibc's malloc (Linux)")

#: Elements of the large float32 tensors: 64 MiB reused inside the blocks; 256 MiB, more than
#: any earlier allocation left free in the heap, to see glibc's default (a fresh mapping, one
#: page fault per 4 KiB page, on every allocation above its mmap threshold of at most 32 MiB).
_INSIDE, _OUTSIDE = 16 * 2**20, 64 * 2**20


def _faults_of_last(elements: int, allocations: int) -> int:
    """Minor page faults of the last of ``allocations`` tensors allocated, written and freed in turn.

    The first few settle the heap (it grows by what a block needs, alignment included); the
    last one shows the steady state."""
    for _ in range(allocations - 1):
        torch.empty(elements).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(elements).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _reused_inside() -> bool:
    # Reused memory is already mapped: a handful of faults at most, not one per page.
    return _faults_of_last(_INSIDE, allocations=8) < _INSIDE * 4 // 4096 // 16


def _mapped_anew_outside() -> bool:
    return _faults_of_last(_OUTSIDE, allocations=3) > _OUTSIDE * 4 // 4096 // 2


def test_freed_blocks_are_reused_inside_and_glibc_behaviour_returns_after():
    assert _mapped_anew_outside()  # the premise: glibc maps every such block anew
    with reuse_freed_memory() as on:
        assert on
        assert _reused_inside()
    assert _mapped_anew_outside()


def test_disabled_leaves_the_allocator_alone():
    with reuse_freed_memory(enabled=False) as on:
        assert not on
        assert _mapped_anew_outside()


def test_nested_blocks_switch_off_with_the_outermost():
    with reuse_freed_memory():
        with reuse_freed_memory():
            pass
        assert _reused_inside()  # the inner block's end did not switch it off
    assert _mapped_anew_outside()


class FaultProbe:
    """At the end of each training step: are large freed blocks reused, or mapped anew?"""

    def __init__(self, reuse: bool) -> None:
        self.reuse = reuse
        self.as_expected: list[bool] = []

    @hookimpl
    def vidgan_step_end(self, run: Any, step: int, stats: dict[str, float]) -> None:
        self.as_expected.append(_reused_inside() if self.reuse else _mapped_anew_outside())


@pytest.mark.parametrize("precision, channels_last", [("fp32", False), ("bf16", True)])
@pytest.mark.parametrize("reuse", [True, False])
def test_training_on_cpu_reuses_freed_memory_as_the_recipe_says(tmp_path, reuse, precision, channels_last):
    # bf16 with channels_last too: its NaN weights were a conv3d kernel's, not reuse's (ShortClipConv3d).
    probe = FaultProbe(reuse)
    host = make_host(plugins=((probe, "fault_probe"),))
    recipe = make_recipe(host, train={"steps": 2, "device": "cpu", "reuse_cpu_memory": reuse,
                                      "precision": precision, "channels_last": channels_last})
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    assert probe.as_expected == [True, True]
    assert _mapped_anew_outside()  # and training leaves glibc as it found it
