"""Several processes training one model: torch.distributed, without a DDP wrapper.

``torchrun --nproc_per_node N -m vidgan_kit run RECIPE`` starts N copies of the trainer;
each finds its rank in the environment torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``), joins the process group, trains on its own shard of every epoch and
averages its gradients with the others after each phase's backward.

Why not :class:`~torch.nn.parallel.DistributedDataParallel`? A GAN iteration here is one
forward of the model assembly followed by several phases (discriminator, generator,
regularisers), each a ``backward`` through the *same* graph with the other groups frozen,
and the losses call discriminators through ``ctx.model.<slot>``, around any wrapper. DDP
expects one backward per wrapped forward, with every used parameter produced by that
forward; it would need ``find_unused_parameters``, a wrapper per slot and care with
``retain_graph``, and would still sync the wrong group's gradients in some phases. Averaging
the gradients of exactly the parameters a phase steps, right after its backward, is a few
lines, correct by construction for any list of phases, and the same collective DDP runs:
one flat all-reduce per bucket. What it gives up is DDP's overlap of communication with the
backward pass (noticeable on many nodes, not within one machine; see docs/training.md).

Messages between ranks that are not tensors (the run plan, RNG states) travel as JSON plus
safetensors bytes in a uint8 tensor: nothing is pickled, as everywhere in vidgan-kit.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from .errors import VidganError

if TYPE_CHECKING:
    from .recipe import DistributedSection

__all__ = [
    "World",
    "resolve_backend",
    "average_gradients",
    "lr_factor",
    "convert_sync_batchnorm",
    "record_failure",
    "leave_without_waiting",
    "finish_process",
    "torchrun_command",
    "BUCKET_BYTES",
]

T = TypeVar("T")

#: Gradient bytes per all-reduce bucket (DDP's default is 25 MiB): large enough to keep the
#: link busy, small enough that the flat copy does not double a large model's memory.
BUCKET_BYTES = 25 * 2**20


def _env_int(env: dict[str, str] | os._Environ[str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise VidganError(f"Environment variable {name}={raw!r} is not an integer (torchrun sets it).") from None


@dataclass
class World:
    """This process's place among the training processes (rank 0 of 1 when alone).

    :ivar rank: global rank; rank 0 writes checkpoints, samples and logs.
    :ivar world_size: number of processes training together.
    :ivar local_rank: rank on this machine; picks the CUDA device.
    :ivar backend: the process group's backend once started (``"gloo"``/``"nccl"``).
    :ivar owns_group: this object started the process group (it ends when the process does).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False
    #: Where collectives' tensors live: the CUDA device for NCCL, the CPU for gloo.
    comm_device: torch.device = field(default_factory=lambda: torch.device("cpu"), repr=False)

    # -- finding out and joining --------------------------------------------------

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] | None = None) -> World:
        """From a process group someone already started, else from torchrun's variables."""
        env = os.environ if env is None else env
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank, world = dist.get_rank(), dist.get_world_size()
            return cls(rank=rank, world_size=world, local_rank=_env_int(env, "LOCAL_RANK", rank),
                       backend=str(dist.get_backend()))
        world = _env_int(env, "WORLD_SIZE", 1)
        rank = _env_int(env, "RANK", 0)
        if world < 1 or not 0 <= rank < world:
            raise VidganError(f"RANK={rank} and WORLD_SIZE={world} do not describe a process of a job.")
        return cls(rank=rank, world_size=world, local_rank=_env_int(env, "LOCAL_RANK", rank))

    @property
    def enabled(self) -> bool:
        """More than one process: collectives are needed."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def start(self, spec: DistributedSection, device: torch.device) -> None:
        """Join the process group (``init_process_group``) unless alone or already joined."""
        dist = torch.distributed
        if not self.enabled:
            return
        if dist.is_initialized():
            self.backend = str(dist.get_backend())
        else:
            if not dist.is_available():
                raise VidganError("WORLD_SIZE > 1 but this torch build has no torch.distributed support.")
            for var in ("MASTER_ADDR", "MASTER_PORT"):
                if var not in os.environ:
                    raise VidganError(
                        f"WORLD_SIZE={self.world_size} but {var} is not set: start multi-process runs with"
                        " torchrun (or `vidgan run --nproc N`), which sets the rendezvous variables."
                    )
            self.backend = resolve_backend(spec.backend, device)
            if device.type == "cuda":
                torch.cuda.set_device(device)
            # The timeout bounds the rendezvous and every collective: a rank that died or
            # hangs ends the job after this long at worst (torchrun usually ends it sooner).
            dist.init_process_group(backend=self.backend, timeout=timedelta(minutes=spec.timeout_minutes))
            # The group lives as long as the process: a later train() in the same process
            # joins it again (re-creating a group under the same rendezvous store is
            # fragile: gloo can read the old group's addresses), and it ends at exit.
            atexit.register(_destroy_group)
            self.owns_group = True
        self.comm_device = device if self.backend == "nccl" else torch.device("cpu")

    # -- collectives (no-ops when alone) -----------------------------------------------

    def barrier(self) -> None:
        if self.enabled:
            # A tiny all-reduce rather than dist.barrier(): NCCL's barrier guesses a device.
            self.all_reduce_sum_(torch.zeros(1, device=self.comm_device))

    def all_reduce_sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            torch.distributed.all_reduce(tensor)
        return tensor

    def all_reduce_mean_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Average ``tensor`` over the ranks in place (gloo has no AVG: sum, then divide)."""
        if self.enabled:
            torch.distributed.all_reduce(tensor)
            tensor.div_(self.world_size)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any: decisions all ranks must take together."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.comm_device)
        return bool(self.all_reduce_sum_(t).item() > 0)

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """Rank 0's ``data`` on every rank."""
        if not self.enabled:
            assert data is not None
            return data
        size = torch.tensor([len(data) if data is not None else 0], dtype=torch.int64, device=self.comm_device)
        torch.distributed.broadcast(size, src=0)
        if self.is_main:
            assert data is not None
            buf = _bytes_tensor(data, self.comm_device)
        else:
            buf = torch.empty(int(size.item()), dtype=torch.uint8, device=self.comm_device)
        if buf.numel():
            torch.distributed.broadcast(buf, src=0)
        return bytes(buf.cpu().numpy().tobytes())

    def all_gather_bytes(self, data: bytes) -> list[bytes]:
        """Every rank's ``data``, in rank order, on every rank."""
        if not self.enabled:
            return [data]
        dev = self.comm_device
        size = torch.tensor([len(data)], dtype=torch.int64, device=dev)
        sizes = [torch.empty_like(size) for _ in range(self.world_size)]
        torch.distributed.all_gather(sizes, size)
        longest = max(int(s.item()) for s in sizes)
        buf = torch.zeros(max(longest, 1), dtype=torch.uint8, device=dev)
        if data:
            buf[: len(data)] = _bytes_tensor(data, dev)
        bufs = [torch.empty_like(buf) for _ in range(self.world_size)]
        torch.distributed.all_gather(bufs, buf)
        return [bytes(b[: int(s.item())].cpu().numpy().tobytes()) for b, s in zip(bufs, sizes, strict=True)]

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only and hand its JSON-able result to every rank.

        When ``fn`` raises, rank 0 re-raises and every other rank raises a
        :class:`~vidgan_kit.errors.VidganError` quoting it: no rank is left waiting for a
        rank that gave up.
        """
        result: dict[str, Any] = {}
        error: BaseException | None = None
        if self.is_main:
            try:
                result = {"ok": True, "value": fn()}
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the others
                error = exc
                result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if self.enabled:
            result = json.loads(self.broadcast_bytes(json.dumps(result).encode() if self.is_main else None))
        if error is not None:
            raise error
        if not result["ok"]:
            raise VidganError(f"Rank 0 failed, so rank {self.rank} stops too. Rank 0's error: {result['error']}")
        return result["value"]  # type: ignore[no-any-return]

    def gather_tree(self, tree: Any) -> list[Any]:
        """Every rank's ``tree`` (tensors and plain data, as checkpoints hold) in rank order."""
        if not self.enabled:
            return [tree]
        return [_unpack_tree(b) for b in self.all_gather_bytes(_pack_tree(tree))]

    def broadcast_module(self, module: nn.Module, *, parameters: bool = True, buffers: bool = True) -> None:
        """Copy rank 0's parameters and/or buffers into every rank's ``module``."""
        if not self.enabled:
            return
        tensors: list[torch.Tensor] = []
        if parameters:
            tensors += [p.data for p in module.parameters()]
        if buffers:
            tensors += [b for b in module.buffers()]
        with torch.no_grad():
            for bucket in _buckets(tensors, BUCKET_BYTES):
                wire = [t.to(torch.uint8) if t.dtype == torch.bool else t for t in bucket]
                flat = torch.cat([t.reshape(-1) for t in wire]).to(self.comm_device)
                torch.distributed.broadcast(flat, src=0)
                offset = 0
                for t in bucket:
                    n = t.numel()
                    t.copy_(flat[offset: offset + n].view(t.shape).to(t.dtype))
                    offset += n


#: Set once this process's training failed: its peers are not coming to a barrier at exit.
_LEFT_IN_FAILURE = False


def _destroy_group() -> None:
    """Leave the process group at exit, all ranks together.

    Without the barrier a rank that finishes first (rank 1, while rank 0 still writes the
    last checkpoint) tears its connections down under the other, whose gloo thread then
    aborts the process ("terminate called without an active exception", SIGABRT) after a
    perfectly good run. The barrier is bounded: a rank that never arrives (it crashed;
    torchrun is ending the job anyway) cannot hold this one at exit. A rank that failed
    skips it: its peers are stuck in a collective it will never join, and torchrun ends
    them only once this process has exited.
    """
    dist = torch.distributed
    if not dist.is_initialized():
        return
    if _LEFT_IN_FAILURE:
        # Tearing the group down can itself block on a peer's half-finished exchange; a
        # failed rank must reach torchrun as *exited*, or the job waits for nothing.
        _exit_after(FAILED_EXIT_GRACE_S, code=1)
        dist.destroy_process_group()
        return
    _exit_barrier()
    dist.destroy_process_group()


def _exit_barrier() -> None:
    """All ranks meet before any leaves; bounded, so a rank that crashed cannot hold the others."""
    dist = torch.distributed
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=60))
        else:
            dist.barrier()
    except Exception:  # noqa: BLE001 - best effort at exit; the process ends either way
        pass


def finish_process(code: int = 0) -> None:
    """End a torchrun worker after a successful job: meet the other ranks, then ``os._exit``.

    Even after the exit barrier, a normal interpreter exit tore the gloo group down while a
    peer was tearing down its own, and C++ destructors that run at ``exit()`` sometimes
    aborted a rank after a perfectly good run ("terminate called without an active
    exception", SIGABRT: torchrun then reports the job failed). Skipping the interpreter's
    and C++'s teardown is the reliable way out: everything this process wrote is closed
    already (checkpoints and logs are written atomically and closed), and the standard
    streams are flushed here. A no-op outside a multi-process job, so callers need not ask.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    _exit_barrier()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not turn success into failure
            pass
    os._exit(code)


#: Seconds a failed rank may spend leaving the process group before it exits regardless.
FAILED_EXIT_GRACE_S = 10.0


def _exit_after(seconds: float, *, code: int) -> None:
    """End the process with ``code`` after ``seconds`` unless it has exited by then."""
    timer = threading.Timer(seconds, os._exit, args=(code,))
    timer.daemon = True  # never keeps a process alive that is done anyway
    timer.start()


def _bytes_tensor(data: bytes, device: torch.device) -> torch.Tensor:
    if not data:
        return torch.empty(0, dtype=torch.uint8, device=device)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device)


def _buckets(tensors: Sequence[torch.Tensor], limit: int) -> list[list[torch.Tensor]]:
    """Consecutive runs of same-dtype, same-device tensors of at most ``limit`` bytes."""
    out: list[list[torch.Tensor]] = []
    size = 0
    for t in tensors:
        if out and out[-1][0].dtype == t.dtype and out[-1][0].device == t.device and size + t.nbytes <= limit:
            out[-1].append(t)
            size += t.nbytes
        else:
            out.append([t])
            size = t.nbytes
    return out


def _pack_tree(tree: Any) -> bytes:
    from safetensors.torch import save

    from .checkpoint import encode_tree

    tensors: dict[str, torch.Tensor] = {}
    meta = json.dumps(encode_tree(tree, tensors)).encode()
    blob = save({k: v.contiguous() for k, v in tensors.items()}) if tensors else b""
    return len(meta).to_bytes(8, "little") + meta + blob


def _unpack_tree(data: bytes) -> Any:
    from safetensors.torch import load

    from .checkpoint import decode_tree

    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8: 8 + n])
    blob = data[8 + n:]
    return decode_tree(meta, load(blob) if blob else {})


def resolve_backend(backend: str, device: torch.device) -> str:
    """``auto`` → NCCL for CUDA devices, gloo for the CPU; NCCL on the CPU is an error."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise VidganError(
            f"train.distributed.backend = 'nccl' needs CUDA devices, but this run trains on {device}."
            " Use 'auto' or 'gloo'."
        )
    if backend not in ("gloo", "nccl"):
        raise VidganError(f"train.distributed.backend = {backend!r}; choose auto, gloo or nccl.")
    return backend


@torch.no_grad()
def average_gradients(params: Sequence[torch.Tensor], world: World, bucket_bytes: int = BUCKET_BYTES) -> None:
    """Replace each parameter's gradient by its mean over the ranks.

    Every rank passes the same parameters in the same order (one optimiser's) and so runs
    the same collectives. A parameter without a gradient on some rank counts as zero there;
    one without a gradient on *every* rank keeps ``grad = None``, so an optimiser skips it
    exactly as a single process would (Adam would otherwise move it on stale momentum).
    """
    if not world.enabled:
        return
    pending = []
    for bucket in _buckets(list(params), bucket_bytes):
        parts = [p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in bucket]
        present = torch.tensor([p.grad is not None for p in bucket], dtype=bucket[0].dtype, device=bucket[0].device)
        flat = torch.cat([*parts, present]).to(world.comm_device)
        # Asynchronous: the next bucket is packed while this one travels.
        pending.append((bucket, flat, torch.distributed.all_reduce(flat, async_op=True)))
    for bucket, flat, work in pending:
        work.wait()
        flat.div_(world.world_size)
        seen = flat[-len(bucket):].tolist()
        offset = 0
        for p, had in zip(bucket, seen, strict=True):
            n = p.numel()
            mean = flat[offset: offset + n].view(p.shape).to(p.device)
            offset += n
            if had == 0:
                p.grad = None
            elif p.grad is None:
                p.grad = mean.clone()
            else:
                p.grad.copy_(mean)


def lr_factor(mode: str, world_size: int) -> float:
    """How much to multiply learning rates by for ``world_size`` processes."""
    if mode == "none" or world_size <= 1:
        return 1.0
    if mode == "linear":
        return float(world_size)
    if mode == "sqrt":
        return math.sqrt(world_size)
    raise VidganError(f"train.distributed.lr_scaling = {mode!r}; choose none, linear or sqrt.")


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm → SyncBatchNorm in place (parameters are kept, so groups stay valid)."""
    if device.type != "cuda":
        raise VidganError(
            "train.distributed.sync_batchnorm = true needs CUDA devices (torch's SyncBatchNorm does not"
            f" synchronise CPU tensors), but this run trains on {device}. Set it to false on the CPU."
        )
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if converted is not model:
        raise VidganError("The model assembly itself is a BatchNorm layer; it cannot be converted in place.")
    return model


def leave_without_waiting() -> None:
    """Mark this process as failed (or interrupted): at exit it leaves the process group
    without the barrier, since its peers are stuck in a collective it will never join."""
    global _LEFT_IN_FAILURE
    _LEFT_IN_FAILURE = True


def record_failure(exc: BaseException) -> None:
    """Tell torchrun why this rank failed: its summary then shows this error, not "N/A".

    torchrun gives each worker a ``TORCHELASTIC_ERROR_FILE``; writing the error there is what
    ``torch.distributed.elastic.multiprocessing.errors.record`` does for an entry point.
    """
    if not os.environ.get("TORCHELASTIC_ERROR_FILE"):
        return
    try:
        from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

        ErrorHandler().record_exception(exc)
    except Exception:  # noqa: BLE001 - reporting must never hide the original error
        traceback.print_exc()


def torchrun_command(nproc: int, args: Sequence[str]) -> list[str]:
    """The command ``vidgan run --nproc N`` runs: torchrun on this machine, then ``vidgan args``.

    ``--standalone`` makes torchrun pick a free port on localhost itself, so two jobs on one
    machine never collide.
    """
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "vidgan_kit", *args]
