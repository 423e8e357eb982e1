"""Batches in an order that survives a restart.

Each epoch's order is a permutation drawn from a generator seeded by (recipe seed, epoch),
so it can be recomputed at any time instead of stored; resuming at (epoch, batch) skips
the batches of the epoch already consumed. torch's default ``RandomSampler`` draws its
permutation from a generator whose state at the *start* of the epoch is long gone by
the time a checkpoint is written, which is why a custom sampler is used.

With several processes every rank computes the same permutation and takes every
``world_size``-th index of it, starting at its rank (like ``DistributedSampler``): the ranks'
shards are disjoint, and the ranks' k-th batches together are exactly the k-th
``batch_size x world_size`` slice of the permutation. A run's global data order is therefore
the same prefix-by-prefix for any world size, which is what lets a resume change the number
of processes. The last ``len % world_size`` indices of each epoch's permutation are left out
so that every rank has the same number of batches (a different few each epoch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from ..errors import DataError
from ..recipe import LoaderSection
from .seeding import derive_seed

__all__ = ["EpochSampler", "BatchStream", "fixed_batch"]


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, this rank's shard of it, starting ``skip`` indices in."""

    def __init__(self, size: int, seed: int, *, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is not a rank of a world of {world_size} process(es).")
        self.size, self.seed = size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = 0, 0

    @property
    def shard_size(self) -> int:
        """Indices per rank per epoch."""
        return self.size // self.world_size

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def permutation(self, epoch: int) -> torch.Tensor:
        """The whole epoch's order, the same on every rank."""
        g = torch.Generator().manual_seed(derive_seed(self.seed, epoch))
        return torch.randperm(self.size, generator=g)

    def shard(self, epoch: int) -> torch.Tensor:
        """This rank's indices of ``epoch``, in order."""
        return self.permutation(epoch)[self.rank : self.shard_size * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shard(self.epoch)[self.skip :].tolist())

    def __len__(self) -> int:
        return self.shard_size - self.skip


class BatchStream:
    """Endless batches over epochs (this rank's shard of each); ``position()`` says where to resume."""

    def __init__(
        self, dataset: Dataset, loader: LoaderSection, seed: int, *, pin_memory: bool = False,
        rank: int = 0, world_size: int = 1,
    ) -> None:
        try:
            size = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise DataError(
                f"The dataset {type(dataset).__name__} has no length; the trainer needs a map-style dataset"
                " (with __len__ and __getitem__) so that the data order can be resumed."
            ) from None
        self.batch_size, self.drop_last = loader.batch_size, loader.drop_last
        self.rank, self.world_size = rank, world_size
        shard = size // world_size
        per_epoch = shard // self.batch_size if self.drop_last else -(-shard // self.batch_size)
        if per_epoch == 0:
            split = f", {shard} per process for {world_size} processes," if world_size > 1 else ""
            raise DataError(
                f"The dataset has {size} clip(s){split} fewer than loader.batch_size = {self.batch_size}"
                " with loader.drop_last = true: an epoch would have no batch. Lower loader.batch_size"
                + (" or use fewer processes." if world_size > 1 else ".")
            )
        self.batches_per_epoch = per_epoch
        self.dataset, self.seed = dataset, seed
        self.sampler = EpochSampler(size, seed, rank=rank, world_size=world_size)
        self.workers = loader.workers
        self.pin_memory = pin_memory
        self.epoch, self.batch = 0, 0
        self._it: Iterator[Any] | None = None

    def _start_epoch(self) -> None:
        self.sampler.set_epoch(self.epoch, skip=self.batch * self.batch_size)
        # Datasets that draw per-epoch randomness (a clip's random time window, say) derive
        # it from the epoch they are told; workers are not persistent, so they see it too.
        if callable(getattr(self.dataset, "set_epoch", None)):
            self.dataset.set_epoch(self.epoch)
        # An explicit generator, seeded per epoch: the DataLoader draws its workers' base
        # seed from it. Without one it would draw from the global torch RNG whenever an
        # epoch starts, so a resumed run (which starts an epoch mid-way) would shift every
        # random number the model draws afterwards.
        # Each rank's workers get seeds of their own (rank 0 keeps the single-process ones).
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, 1, *([self.rank] if self.rank else [])))
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.workers,
            drop_last=self.drop_last,
            generator=g,
            collate_fn=default_collate,
            persistent_workers=False,
            pin_memory=self.pin_memory,
        )
        self._it = iter(loader)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Any:
        while True:
            if self._it is None:
                self._start_epoch()
            assert self._it is not None
            try:
                item = next(self._it)
            except StopIteration:
                self._it = None
                self.epoch, self.batch = self.epoch + 1, 0
                continue
            self.batch += 1
            return item

    def seek(self, epoch: int, batch: int) -> None:
        """Continue from ``batch`` batches into ``epoch`` (as saved by :meth:`position`)."""
        self.epoch, self.batch, self._it = epoch, batch, None

    def seek_consumed(self, epoch: int, consumed: int) -> None:
        """Continue ``epoch`` after ``consumed`` clips of its permutation, as saved by a run
        with another world size: from the last whole global batch at or before that point
        (a few clips of the epoch may be seen twice; none is skipped)."""
        batch = consumed // (self.batch_size * self.world_size)
        if batch >= self.batches_per_epoch:
            epoch, batch = epoch + 1, 0
        self.seek(epoch, batch)

    def position(self) -> dict[str, int]:
        """Epoch and batches consumed within it: enough to resume the exact order.

        ``consumed`` (clips of the epoch's permutation used by all ranks together) and
        ``world_size`` let a run with another number of processes continue the same order.
        """
        return {"epoch": self.epoch, "batch": self.batch, "seed": self.seed,
                "consumed": self.batch * self.batch_size * self.world_size, "world_size": self.world_size}


def fixed_batch(dataset: Dataset, size: int) -> Any:
    """The first ``size`` clips of the dataset, for previews that are comparable over time."""
    n = min(size, len(dataset))  # type: ignore[arg-type]
    return default_collate([dataset[i] for i in range(n)])
