"""Training and inference speed of a Dual-MTGAN recipe on this machine; prints figures.

    python benchmarks/speed.py                        # the measurement (<= ~5 min on an idle 2-core CPU)
    python benchmarks/speed.py --size 32 --steps 2    # a quick check that the script works
    python benchmarks/speed.py --configs fp32-cl,bf16-cl,transfer
    python benchmarks/speed.py --configs transfer --compile --steps 1 --warmup 0

What one run measures, on ``recipes/dual_mtgan.toml``'s model (``--recipe``, ``--set``) at
``--size`` pixels, ``--frames`` frames, batch ``--batch``, every loss switched on from step
0 (each term's ``start`` and ``ramp`` and each phase's ``start`` set to 0), EMA off:

- **s/iter** of one training iteration (one discriminator step, then one generator step,
  as the trainer runs them) on a fixed batch of real clips, for each precision config:
  ``fp32``, ``fp32-cl`` (channels_last), ``bf16`` (CPU autocast), ``bf16-cl``. Model compute
  only; rendering a batch of clips is timed on its own line.
- **one transfer** (``transfer``): ``model.transfer(image, video)`` for one 16-frame video,
  eval mode, no gradients, median of ``--transfer-runs``, in each precision config; and
  each slot's share of it (E_C on the image, E_M on the video, G_T, G_I rendering the clip).
  With ``--compile``, also through ``torch.compile`` as ``load_pipeline(compile=True)`` runs
  it: eager and compiled timed in alternating blocks, the build's seconds, the outputs' difference
  (``--python-wrapper``: also a build with inductor's Python wrapper, in the same blocks).
- **trainer overhead** (``overhead``): the same modules, losses and Adam optimisers stepped
  by a bare hand-written loop (data from a plain DataLoader, forward, D step, G step) and by
  ``vidgan_kit.training.train`` for the same steps in the same process, in the recipe's own
  precision and memory format. Per-step times come from the trainer's ``vidgan_step_end``
  hook, so set-up is excluded; what the trainer adds (stat syncing, metrics lines, the
  model's diagnostics every ``train.diagnostics_every`` steps, hooks) is included. The
  trainer is timed over a multiple of that cadence and ``log_every`` (``--overhead-steps``,
  by default the least such multiple of at least 10 steps) for a fair share of both.

Run it on an otherwise idle machine: oneDNN kernels ran 7x slower next to one other busy
process in the prototype, and the load average is printed for that reason. bf16 runs
through oneDNN's emulation on CPUs without bf16 instructions (AVX2-only), 15-20x slower
than fp32; the bf16 configs are then left out unless ``--configs`` names them.

Targets (from the issue): <= 1.0 s/iter with bf16 + channels_last at 64x64x16, batch 16;
<= 8 ms for one transfer; trainer overhead <= 3 %.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from vidgan_kit import PluginHost, hookimpl
from vidgan_kit.errors import VidganError
from vidgan_kit.inference import compile_transfer
from vidgan_kit.interfaces import LossContext, MotionPosterior
from vidgan_kit.recipe import Recipe, apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.training import train
from vidgan_kit.training.device import resolve_device, to_channels_last
from vidgan_kit.training.memory import can_reuse_freed_memory, reuse_freed_memory
from vidgan_kit.training.optim import build_optimizers
from vidgan_kit.training.seeding import DeterminismSettings, seed_everything

REPO = Path(__file__).resolve().parents[1]

#: Precision configs: name -> (autocast precision, channels_last).
PRECISIONS: dict[str, tuple[str, bool]] = {
    "fp32": ("fp32", False),
    "fp32-cl": ("fp32", True),
    "bf16": ("bf16", False),
    "bf16-cl": ("bf16", True),
}
SECTIONS = ("transfer", "overhead")
DEFAULT_CONFIGS = (*PRECISIONS, *SECTIONS)
TARGET_ITER_S = 1.0
TARGET_TRANSFER_MS = 8.0
TARGET_OVERHEAD_PCT = 3.0


# -- the machine ---------------------------------------------------------------------------


def cpu_info() -> tuple[str, set[str]]:
    """CPU model name and flags from /proc/cpuinfo (Linux), else what platform knows."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def bf16_supported(device: torch.device = torch.device("cpu")) -> bool:
    """Whether bf16 runs natively: on a GPU, what CUDA says; on the CPU, whether oneDNN has
    bf16 instructions (AVX512-BF16, AMX), else it emulates."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def print_machine(threads: int, device: torch.device) -> dict[str, Any]:
    model, flags = cpu_info()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    have = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted) if flags else "flags unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    info = {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "flags": {f: f in flags for f in wanted},
        "torch": torch.__version__,
        "threads": threads,
        "bf16_hardware": bf16_supported(device),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "load_average": list(load),
        "python": platform.python_version(),
    }
    print(f"machine : {model}, {os.cpu_count()} logical CPUs ({have})")
    print(f"torch   : {torch.__version__}, {threads} thread(s), python {platform.python_version()}")
    if info["gpu"]:
        print(f"device  : {device} ({info['gpu']}); the targets below are for 2 CPU cores: these are GPU figures")
    how = "torch.cuda.is_bf16_supported()" if device.type == "cuda" else "torch.ops.mkldnn._is_mkldnn_bf16_supported()"
    print(f"bf16    : {'hardware-supported' if info['bf16_hardware'] else 'NOT hardware-supported (emulated: slow)'} ({how})")
    print(f"load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)")
    if load[0] > 0.5:
        print("WARNING : the machine is busy; oneDNN timings under contention are not meaningful.")
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    return info


# -- the model and one iteration ----------------------------------------------------------------


def load_benchmark_recipe(args: argparse.Namespace, registry: Any) -> Recipe:
    """The recipe at the benchmark's geometry, every loss and phase on from step 0, EMA off."""
    table = apply_overrides(read_recipe_table(args.recipe), args.set)
    table["video"] = {**table.get("video", {}), "frames": args.frames, "height": args.size, "width": args.size}
    table["loader"] = {**table.get("loader", {}), "batch_size": args.batch}
    for term in table.get("losses", {}).values():
        term["start"], term["ramp"] = 0, 0
    for phase in table.get("phases", []):
        phase["start"] = 0
    train_table = table.setdefault("train", {})
    train_table.update(threads=args.threads, device=args.device, sample_every=0, tensorboard=False)
    train_table["ema"] = {**train_table.get("ema", {}), "enabled": False}
    return validate_recipe(table, registry, source=str(args.recipe))


def prepare_benchmark(args: argparse.Namespace) -> tuple[Any, Recipe, Any]:
    """The registry, the benchmark recipe (:func:`load_benchmark_recipe`, on ``args.device``)
    and its training set, with the torch threads and the process-wide switches ``train()``
    sets (deterministic algorithms, threads; ``train()`` restores what it found, i.e. these),
    for every measurement alike: here and in the scripts that step :class:`Setup`
    (``step_profile.py``, ``bf16_stability.py``)."""
    torch.set_num_threads(args.threads)
    registry = PluginHost.create().registry
    recipe = load_benchmark_recipe(args, registry)
    DeterminismSettings.apply(recipe.train.deterministic, recipe.train.threads)
    dataset = registry.build("dataset", recipe.data, geometry=recipe.video.geometry(), split="train", seed=recipe.seed)
    return registry, recipe, dataset


@dataclass
class Setup:
    """Model, losses and optimisers built as the trainer builds them, stepped by hand."""

    recipe: Recipe
    registry: Any
    precision: str
    channels_last: bool
    device: torch.device = torch.device("cpu")
    model: Any = None
    losses: dict[str, torch.nn.Module] = field(default_factory=dict)
    groups: dict[str, list[torch.nn.Parameter]] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.recipe
        seed_everything(r.seed)
        self.model = self.registry.build("model", r.model, geometry=r.video.geometry(), registry=self.registry)
        self.model.to(self.device)
        if self.channels_last:
            to_channels_last(self.model)
        self.model.train()
        self.losses = {name: self.registry.build("loss", term.spec).to(self.device) for name, term in r.losses.items()}
        self.groups = self.model.parameter_groups()
        # The trainer's optimisers (lr_multipliers included), stepped by this hand-written loop.
        self.optimizers = build_optimizers(r, self.groups, names={id(p): n for n, p in self.model.named_parameters()})
        # Which weighted terms each phase sums (all on from step 0 in this benchmark).
        self.terms = {
            phase.name: [(n, t.weight) for n, t in r.losses.items() if phase.name in getattr(self.losses[n], "phases", ("generator",))]
            for phase in r.phases
        }

    def autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def step(self, batch: dict[str, Any], index: int, stages: dict[str, float] | None = None) -> None:
        """One iteration: one forward, then each due phase's backward and optimiser step.

        With ``stages``, the seconds of each stage (the forward, each phase's losses one by
        one, its backward, its optimiser step) are added to it under their names.
        """
        clock = _StageClock(stages)
        with self.autocast():
            outputs = self.model(batch)
        clock.lap("forward")
        ctx = LossContext(model=self.model, batch=batch, outputs=outputs, step=index)
        due = []
        for phase in self.recipe.phases:
            terms = [(n, w) for n, _ in self.terms[phase.name] if (w := self.recipe.losses[n].weight_at(index)) > 0]
            if phase.active(index) and terms:
                due.append((phase, terms))
        for k, (phase, terms) in enumerate(due):
            group = phase.param_group
            frozen = [p for g, ps in self.groups.items() if g != group for p in ps if p.requires_grad]
            for p in frozen:
                p.requires_grad_(False)
            total = torch.zeros((), device=self.device)
            for n, w in terms:
                with self.autocast():
                    total = total + w * self.losses[n](ctx, phase.name)
                clock.lap(f"{phase.name}: loss {n}")
            opt = self.optimizers[group]
            opt.zero_grad(set_to_none=True)
            total.backward(retain_graph=k < len(due) - 1)  # the next phase backprops through the forward
            for p in frozen:
                p.requires_grad_(True)
            clock.lap(f"{phase.name}: backward")
            opt.step()
            clock.lap(f"{phase.name}: optimiser step")

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


class _StageClock:
    """Adds the seconds since the previous lap to ``stages[name]``; does nothing without ``stages``."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.stages is not None:
            now = time.perf_counter()
            self.stages[name] = self.stages.get(name, 0.0) + now - self.last
            self.last = now


def fixed_batch(dataset: Any, size: int, device: torch.device = torch.device("cpu")) -> dict[str, torch.Tensor]:
    return {"video": torch.stack([dataset[i]["video"] for i in range(size)]).to(device)}


def timed(fn: Callable[[int], Any], warmup: int, steps: int) -> list[float]:
    """Seconds per call of ``fn(i)`` for ``steps`` calls after ``warmup`` untimed ones; on a
    GPU each call's queued kernels are waited for before its clock stops."""
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(warmup, warmup + steps):
        _wait_for_gpu()
        t0 = time.perf_counter()
        fn(i)
        _wait_for_gpu()
        out.append(time.perf_counter() - t0)
    return out


def _wait_for_gpu() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def measure_precision(name: str, recipe: Recipe, registry: Any, dataset: Any, test_set: Any,
                      args: argparse.Namespace, with_transfer: bool) -> dict[str, Any]:
    precision, cl = PRECISIONS[name]
    device = torch.device(args.device)
    setup = Setup(recipe, registry, precision, cl, device)
    batch = fixed_batch(dataset, recipe.loader.batch_size, device)
    steps, warmup = args.steps, args.warmup
    if precision == "bf16" and not bf16_supported(device):
        steps, warmup = min(steps, args.slow_steps), min(warmup, 1)
    times = timed(lambda i: setup.step(batch, i), warmup, steps)
    row: dict[str, Any] = {"config": name, "steps": steps, "s_per_iter_median": statistics.median(times),
                           "s_per_iter_mean": statistics.fmean(times), "s_per_iter_all": times}
    if with_transfer:
        clips = torch.stack([test_set.clip(0), test_set.clip(1)]).to(device)
        image, video = clips[:1, 0], clips[1:]
        setup.model.eval()  # as load_pipeline gives it, and run in inference mode as the pipeline runs it
        with setup.autocast(), torch.inference_mode():
            if args.compile:
                ms, compiled = compiled_transfer(setup.model, image, video, args.transfer_runs, args.python_wrapper)
                row.update(compiled)
            else:
                ms = [t * 1e3 for t in timed(lambda i: setup.model.transfer(image, video), 3, args.transfer_runs)]
        row["transfer_ms_median"] = statistics.median(ms)
        row["transfer_ms_min"] = min(ms)
        with setup.autocast(), torch.inference_mode():
            row["transfer_slots_ms"] = transfer_slots(setup.model, image, video, args.transfer_runs)
    return row


def compiled_transfer(
    model: Any, image: torch.Tensor, video: torch.Tensor, runs: int, python_wrapper: bool = False,
) -> tuple[list[float], dict[str, float]]:
    """``model.transfer`` eager and through ``torch.compile`` as ``load_pipeline(compile=True)``
    builds it (``vidgan_kit.inference.compile_transfer``: the C++ wrapper on a CPU), timed in
    alternating blocks of ten so that both see the same machine: the eager milliseconds, and the
    compiled median, the seconds its first call took (the build) and the largest difference
    between the two outputs. With ``python_wrapper``, a build with inductor's default Python
    wrapper is timed in the same blocks (``transfer_python_wrapper_ms_median``)."""
    builds = {"transfer_compiled_ms_median": compile_transfer(model.transfer, image.device)}
    if python_wrapper:
        builds["transfer_python_wrapper_ms_median"] = torch.compile(model.transfer, dynamic=False)
    start = time.perf_counter()
    difference = float((builds["transfer_compiled_ms_median"](image, video).float()
                        - model.transfer(image, video).float()).abs().max())
    figures: dict[str, float] = {"compile_build_s": time.perf_counter() - start, "compiled_max_difference": difference}
    for build in list(builds.values())[1:]:
        build(image, video)
    eager_ms: list[float] = []
    compiled_ms: dict[str, list[float]] = {key: [] for key in builds}
    for block in range(max(1, runs // 10)):
        warmup = 3 if block == 0 else 0
        eager_ms += [t * 1e3 for t in timed(lambda i: model.transfer(image, video), warmup, min(10, runs))]
        for key, build in builds.items():
            compiled_ms[key] += [t * 1e3 for t in timed(lambda i: build(image, video), warmup, min(10, runs))]
    return eager_ms, {**figures, **{key: statistics.median(ms) for key, ms in compiled_ms.items()}}


def transfer_slots(model: Any, image: torch.Tensor, video: torch.Tensor, runs: int) -> dict[str, float]:
    """Median milliseconds of each slot's share of one transfer (E_C on the image, E_M on the
    video, G_T, G_I rendering the clip), called as ``transfer`` calls them, without gradients
    (in the caller's inference mode, as the pipeline runs them)."""
    with torch.no_grad():
        content = model.content_encoder(image)
        z = MotionPosterior(*model.motion_encoder(video)).mean
        codes = model.temporal_generator(z, video.shape[1])
        calls = {
            "E_C": lambda i: model.content_encoder(image),
            "E_M": lambda i: model.motion_encoder(video),
            "G_T": lambda i: model.temporal_generator(z, video.shape[1]),
            "G_I": lambda i: model.decoder.render_held(content, codes),
        }
        return {slot: statistics.median(timed(call, 3, runs)) * 1e3 for slot, call in calls.items()}


# -- the trainer's overhead ---------------------------------------------------------------------


class StepClock:
    """A plugin object that timestamps the start of training and the end of every step."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    @hookimpl
    def vidgan_train_start(self, run: Any) -> None:
        self.stamps = [time.perf_counter()]

    @hookimpl
    def vidgan_step_end(self, run: Any, step: int, stats: dict[str, float]) -> None:
        self.stamps.append(time.perf_counter())


def memory_as_trained(recipe: Recipe, device: str) -> Any:
    """Freed CPU memory kept for reuse exactly when ``train()`` keeps it (``train.reuse_cpu_memory``, on a CPU)."""
    return reuse_freed_memory(recipe.train.reuse_cpu_memory and torch.device(device).type == "cpu")


def bare_loop(recipe: Recipe, registry: Any, dataset: Any, total: int) -> list[float]:
    """The iteration times of a hand-written loop: DataLoader, forward, D step, G step, with
    CPU memory kept for reuse as ``train()`` keeps it."""
    r = recipe
    device = torch.device(r.train.device)
    with memory_as_trained(r, r.train.device):
        setup = Setup(r, registry, r.train.precision, r.train.channels_last, device)
        loader = DataLoader(dataset, batch_size=r.loader.batch_size, shuffle=True, drop_last=True,
                            num_workers=r.loader.workers, generator=torch.Generator().manual_seed(r.seed))
        batches = iter(loader)
        stamps = [time.perf_counter()]
        for i in range(total):
            setup.step({k: v.to(device) for k, v in next(batches).items()}, i)
            _wait_for_gpu()
            stamps.append(time.perf_counter())
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def trainer_loop(recipe: Recipe, total: int) -> list[float]:
    """The iteration times of ``vidgan_kit.training.train`` on the same recipe."""
    clock = StepClock()
    host = PluginHost.create()
    host.add_plugin(clock, "speed_benchmark_clock")
    # No checkpoint, no preview inside the measured steps; max_steps ends the run early.
    endless = recipe.model_copy(update={"train": recipe.train.model_copy(
        update={"steps": 10**9, "checkpoint_every": 10**9, "sample_every": 0, "tensorboard": False})})
    with tempfile.TemporaryDirectory() as tmp:
        train(endless, host=host, run_dir=Path(tmp) / "run", max_steps=total, quiet=True)
    s = clock.stamps
    return [b - a for a, b in zip(s, s[1:], strict=False)]


def overhead_cadence(recipe: Recipe) -> int:
    """The least number of steps, at least 10, holding whole periods of the trainer's metrics lines
    and of the model's diagnostics (``train.log_every``, ``train.diagnostics_every``)."""
    period = math.lcm(recipe.train.log_every, recipe.train.diagnostics_period)
    return period * math.ceil(10 / period)


def measure_overhead(recipe: Recipe, registry: Any, dataset: Any, args: argparse.Namespace) -> dict[str, Any]:
    cadence = overhead_cadence(recipe)
    warmup, steps = args.warmup, args.overhead_steps or cadence
    rounds = []
    for _ in range(args.rounds):
        bare = bare_loop(recipe, registry, dataset, warmup + steps)[warmup:]
        trainer = trainer_loop(recipe, warmup + steps)[warmup:]
        rounds.append((statistics.fmean(bare), statistics.fmean(trainer), bare, trainer))
    overheads = [100.0 * (t - b) / b for b, t, _, _ in rounds]
    return {
        "config": f"{recipe.train.precision}{'-cl' if recipe.train.channels_last else ''}",
        "steps": steps,
        "cadence": cadence,
        "diagnostics_every": recipe.train.diagnostics_period,
        "bare_s_per_iter": statistics.median(r[0] for r in rounds),
        "trainer_s_per_iter": statistics.median(r[1] for r in rounds),
        "overhead_pct": statistics.median(overheads),
        "overhead_pct_rounds": overheads,
        "bare_all": [r[2] for r in rounds],
        "trainer_all": [r[3] for r in rounds],
    }


# -- report -------------------------------------------------------------------------------------


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= target else "NOT met"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--configs", default=None,
                        help=f"comma-separated subset of {','.join(DEFAULT_CONFIGS)} (default: all; the bf16 ones only "
                        "where bf16 is hardware-supported)")
    parser.add_argument("--steps", type=int, default=5, help="timed iterations per precision config")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first (oneDNN builds its kernels)")
    parser.add_argument("--slow-steps", type=int, default=2,
                        help="timed iterations for bf16 configs where bf16 is emulated (each can take a minute)")
    parser.add_argument("--overhead-steps", type=int, default=None,
                        help="timed iterations of the bare loop and of the trainer (default: the least multiple of "
                        "train.log_every and train.diagnostics_every of at least 10)")
    parser.add_argument("--rounds", type=int, default=1, help="bare/trainer pairs for the overhead (median is reported)")
    parser.add_argument("--transfer-runs", type=int, default=30, help="timed transfers per config (median reported)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the transfer through torch.compile (needs a C++ compiler; builds for a minute)")
    parser.add_argument("--python-wrapper", action="store_true",
                        help="with --compile, also time a build with inductor's Python wrapper (the pipeline's uses"
                             " the C++ wrapper on a CPU), in the same alternating blocks")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu",
                        help="cpu (the issue's targets are for 2 CPU cores), cuda or cuda:N: GPU figures for comparison")
    parser.add_argument("--size", type=int, default=64, help="frame height and width")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if (args.steps < 1 or (args.overhead_steps is not None and args.overhead_steps < 1) or args.transfer_runs < 1
            or args.warmup < 0 or args.rounds < 1):
        parser.error("--steps, --overhead-steps, --transfer-runs and --rounds must be >= 1, --warmup >= 0")

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # deterministic-algorithm notes and the like: not figures
    try:
        args.device = str(resolve_device(args.device))
    except VidganError as exc:
        parser.error(str(exc))
    machine = print_machine(args.threads, torch.device(args.device))
    if args.configs is None:
        configs = [c for c in DEFAULT_CONFIGS if machine["bf16_hardware"] or not c.startswith("bf16")]
        skipped = [c for c in DEFAULT_CONFIGS if c not in configs]
    else:
        configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        unknown = [c for c in configs if c not in DEFAULT_CONFIGS]
        if unknown:
            parser.error(f"unknown config(s) {unknown}; choose from {', '.join(DEFAULT_CONFIGS)}")
        skipped = []

    registry, recipe, dataset = prepare_benchmark(args)
    # The allocator as train() sets it on a CPU (train.reuse_cpu_memory): freed memory kept for
    # the next step instead of page-faulted in anew (vidgan_kit.training.memory).
    reused = recipe.train.reuse_cpu_memory and can_reuse_freed_memory() and torch.device(args.device).type == "cpu"
    print(f"memory  : freed CPU memory {'reused' if reused else 'NOT reused'} between steps "
          f"(train.reuse_cpu_memory = {str(recipe.train.reuse_cpu_memory).lower()}"
          f"{'' if can_reuse_freed_memory() else '; not glibc, no effect'})")
    geometry = recipe.video.geometry()
    test_set = registry.build("dataset", recipe.data, geometry=geometry, split="test", seed=recipe.seed)
    params = sum(p.numel() for p in registry.build("model", recipe.model, geometry=geometry, registry=registry).parameters())
    print(f"recipe  : {args.recipe} ({recipe.model.type}, {params / 1e6:.2f} M parameters), "
          f"{args.frames} frames {args.size}x{args.size}, batch {args.batch}; "
          f"all {len(recipe.losses)} losses on from step 0; EMA off")
    print("iter    : one forward, a discriminator step, a generator step (as the trainer runs them)")
    data_s = statistics.median(timed(lambda i: fixed_batch(dataset, args.batch), 0, 3))
    print(f"data    : {data_s:.3f} s to render a batch of {args.batch} clips ({recipe.data.type}, one process)")
    if skipped:
        print(f"skipped : {', '.join(skipped)} (bf16 is emulated on this CPU, 15-20x slower than fp32; "
              f"name them in --configs to measure anyway)")
    print(flush=True)

    results: dict[str, Any] = {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
                               "parameters": params, "data_s_per_batch": data_s, "reuse_cpu_memory": reused, "configs": []}
    precisions = [c for c in configs if c in PRECISIONS]
    with_transfer = "transfer" in configs
    if with_transfer and not precisions:
        precisions = ["fp32-cl"]  # transfer alone: measure it in the recipe's usual format
    if precisions:
        header = f"| {'config':<8} | {'s/iter median':>13} | {'s/iter mean':>11} | {'steps':>5} |"
        rule = f"|{'-' * 10}|{'-' * 14}:|{'-' * 12}:|{'-' * 6}:|"
        if with_transfer:
            header += f" {'1 transfer, ms (median)':>23} |"
            rule += f"{'-' * 24}:|"
        print(header)
        print(rule, flush=True)
    for name in precisions:
        with memory_as_trained(recipe, args.device):
            row = measure_precision(name, recipe, registry, dataset, test_set, args, with_transfer)
        results["configs"].append(row)
        line = f"| {name:<8} | {row['s_per_iter_median']:>13.3f} | {row['s_per_iter_mean']:>11.3f} | {row['steps']:>5} |"
        if with_transfer:
            line += f" {row['transfer_ms_median']:>23.2f} |"
        print(line, flush=True)

    for row in results["configs"]:
        if "transfer_compiled_ms_median" in row:
            print(f"  {row['config']}: one transfer through torch.compile {row['transfer_compiled_ms_median']:.2f} ms"
                  f" against {row['transfer_ms_median']:.2f} eager (median, alternating blocks of 10); built in"
                  f" {row['compile_build_s']:.0f} s; frames differ by {row['compiled_max_difference']:.1e} at most")
        if "transfer_python_wrapper_ms_median" in row:
            print(f"  {row['config']}: built with inductor's Python wrapper instead of the C++ one"
                  f" {row['transfer_python_wrapper_ms_median']:.2f} ms (same blocks)")
        if "transfer_slots_ms" in row:
            slots = ", ".join(f"{slot} {ms:.2f}" for slot, ms in row["transfer_slots_ms"].items())
            print(f"  {row['config']}: one transfer's slots, ms (median): {slots}; the rest "
                  f"{row['transfer_ms_median'] - sum(row['transfer_slots_ms'].values()):.2f}")

    overhead = None
    if "overhead" in configs:
        overhead = measure_overhead(recipe, registry, dataset, args)
        results["overhead"] = overhead
        print()
        print(f"trainer overhead ({overhead['config']}, {overhead['steps']} timed steps after {args.warmup} warm-up, "
              f"data loaded in both, diagnostics every {overhead['diagnostics_every']} steps in the trainer):")
        print(f"  bare loop         {overhead['bare_s_per_iter']:.3f} s/iter")
        print(f"  vidgan train()    {overhead['trainer_s_per_iter']:.3f} s/iter")
        rounds = ", ".join(f"{o:+.1f}" for o in overhead["overhead_pct_rounds"])
        print(f"  overhead          {overhead['overhead_pct']:+.1f} %" + (f" (rounds: {rounds})" if args.rounds > 1 else ""))
        if overhead["overhead_pct"] < -1.0:
            print("  (negative: the timing noise is larger than the overhead; use more --overhead-steps or --rounds)")
        if overhead["steps"] % overhead["cadence"]:
            print(f"  (--overhead-steps is not a multiple of {overhead['cadence']} (train.log_every and"
                  " train.diagnostics_every): the trainer's diagnostics are over- or under-represented)")

    by_name = {row["config"]: row for row in results["configs"]}
    bf16_cl = by_name.get("bf16-cl", {}).get("s_per_iter_median")
    transfers = [(row["transfer_ms_median"], row["config"]) for row in results["configs"] if "transfer_ms_median" in row]
    transfers += [(row["transfer_compiled_ms_median"], f"{row['config']}, compiled") for row in results["configs"]
                  if "transfer_compiled_ms_median" in row]
    best_transfer = min(transfers) if transfers else None
    at_target_size = args.size == 64 and args.frames == 16 and args.batch == 16
    print()
    print("targets (from the issue" + ("" if at_target_size else "; NOTE: not at 64x64x16, batch 16, so not comparable") + "):")
    print(f"  bf16 + channels_last <= {TARGET_ITER_S} s/iter : "
          + (f"{bf16_cl:.3f} s/iter -> {verdict(bf16_cl, TARGET_ITER_S)}" if bf16_cl is not None else "not measured"))
    print(f"  one transfer <= {TARGET_TRANSFER_MS:g} ms           : "
          + (f"{best_transfer[0]:.2f} ms ({best_transfer[1]}) -> {verdict(best_transfer[0], TARGET_TRANSFER_MS)}"
             if best_transfer else "not measured"))
    print(f"  trainer overhead <= {TARGET_OVERHEAD_PCT:g} %         : "
          + (f"{overhead['overhead_pct']:+.1f} % -> {verdict(overhead['overhead_pct'], TARGET_OVERHEAD_PCT)}"
             if overhead else "not measured"))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
