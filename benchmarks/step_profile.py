"""Where a training step's time goes: page faults per step and the top operators.

    python benchmarks/step_profile.py                          # fp32 + channels_last, 64x64x16, batch 16
    python benchmarks/step_profile.py --precision bf16 --no-channels-last
    python benchmarks/step_profile.py --set train.reuse_cpu_memory=false
    python benchmarks/step_profile.py --precision bf16 --shapes   # which layer each convolution is
    python benchmarks/step_profile.py --flops --steps 0 --profiled 0 # arithmetic per slot, no timing
    python benchmarks/step_profile.py --precision bf16 --stack    # which source lines call the costly operators

One iteration as ``speed.py`` times it (same recipe handling: every loss on from step 0,
EMA off, the trainer's optimisers, the recipe's allocator setting and deterministic mode):

- seconds and **minor page faults** (``resource.getrusage``) of each of ``--steps``
  iterations: with ``train.reuse_cpu_memory`` off, glibc maps every large tensor afresh and
  the faults stay in the hundreds of thousands per step;
- the seconds of each stage of an iteration (forward, each loss, each phase's backward and
  optimiser step), over the second half of those iterations, without the profiler;
- a ``torch.profiler`` table of ``--profiled`` further iterations, operators by self CPU
  time, and each model slot's forward time (module hooks);
- with ``--flops``, the arithmetic of one iteration (``torch.utils.flop_counter``): forward
  and backward GFLOP in all, and each model slot's forward GFLOP summed over every call
  (the losses call the discriminators and E_M again). The counter counts convolutions and
  matrix products only (resampling and element-wise work are not in it), and backward work
  is not split by slot: autograd runs it outside the modules' scopes.

The profiler's own overhead inflates the times inside it; read its table as shares.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import REPO, Setup, fixed_batch, prepare_benchmark  # noqa: E402

from vidgan_kit.training.memory import reuse_freed_memory  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--steps", type=int, default=6, help="iterations timed with their page faults")
    parser.add_argument("--profiled", type=int, default=2, help="further iterations under torch.profiler")
    parser.add_argument("--rows", type=int, default=15, help="operators shown")
    parser.add_argument("--shapes", action="store_true",
                        help="one row per operator and input shapes (which layer a convolution is) instead of per operator")
    parser.add_argument("--stack", action="store_true",
                        help="one row per operator and the project's source lines that called it")
    parser.add_argument("--flops", action="store_true", help="count one iteration's GFLOP, forward per slot")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    args.device = "cpu"  # what it profiles: page faults and CPU operators
    registry, recipe, dataset = prepare_benchmark(args)
    with reuse_freed_memory(recipe.train.reuse_cpu_memory) as reused:
        print(f"memory  : freed CPU memory {'reused' if reused else 'NOT reused'} between steps")
        setup = Setup(recipe, registry, args.precision, not args.no_channels_last)
        batch = fixed_batch(dataset, args.batch)
        print()
        print("| step | seconds | minor page faults |")
        print("|---:|---:|---:|")
        stages: dict[str, float] = {}
        for i in range(args.steps):
            faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
            setup.step(batch, i, stages if i >= args.steps // 2 else None)
            seconds = time.perf_counter() - start
            print(f"| {i + 1} | {seconds:.2f} | {resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults} |",
                  flush=True)

        timed_steps = args.steps - args.steps // 2
        if stages:
            print()
            print(f"where an iteration's time goes (mean of the last {timed_steps} steps above, no profiler):")
            for name, seconds in stages.items():
                print(f"  {name:<40} {seconds / timed_steps:6.3f} s  {seconds / sum(stages.values()):5.1%}")
        if args.flops:
            print_flops(setup, batch, args.steps)

        if not args.profiled:
            return
        forward: dict[str, float] = defaultdict(float)
        started: dict[str, float] = {}
        for name, module in setup.model.named_children():
            module.register_forward_pre_hook(lambda m, a, name=name: started.__setitem__(name, time.perf_counter()))
            module.register_forward_hook(
                lambda m, a, o, name=name: forward.__setitem__(name, forward[name] + time.perf_counter() - started[name])
            )
        with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes, with_stack=args.stack) as prof:
            for i in range(args.steps, args.steps + args.profiled):
                setup.step(batch, i)
    print()
    print(f"forward time per slot, per iteration ({args.profiled} profiled):")
    for name, seconds in sorted(forward.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22} {seconds / args.profiled:.3f} s")
    print()
    if args.stack:
        print_by_source_line(prof, args.rows)
        return
    averages = prof.key_averages(group_by_input_shape=args.shapes)
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=45,
                         max_shapes_column_width=70))


#: Where the project's own source lives, as the profiler names a Python frame's file.
_PROJECT_ROOTS = ("vidgan_kit/", "plugins/")


def print_by_source_line(prof, rows: int) -> None:
    """Self CPU time per (operator, innermost project source line): which of our lines to rewrite.

    With ``with_stack`` the profiler records Python frames as events (named ``path(line): function``)
    that enclose the operators they call; an operator is charged to the nearest enclosing frame in
    ``vidgan_kit/`` or ``plugins/``. Backward operators run on autograd's thread, outside any Python
    frame: they are charged to the autograd node (``MulBackward0`` ...) that ran them.
    """
    cost: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for event in prof.events():
        if not event.name.startswith("aten::"):
            continue
        where, parent = "(no project frame)", event.cpu_parent
        while parent is not None:
            starts = [i for i in (parent.name.find(root) for root in _PROJECT_ROOTS) if i >= 0]
            if starts:
                where = parent.name[min(starts):]
                break
            if parent.name.startswith("autograd::engine::evaluate_function"):
                where = parent.name.split(": ", 1)[-1]
                break
            parent = parent.cpu_parent
        entry = cost[(event.name, where)]
        entry[0] += event.self_cpu_time_total / 1e3
        entry[1] += 1
    total = sum(ms for ms, _ in cost.values())
    print(f"self CPU time by operator and project line or autograd node ({total:.0f} ms in all):")
    for (name, where), (ms, calls) in sorted(cost.items(), key=lambda kv: -kv[1][0])[:rows]:
        print(f"  {ms:8.1f} ms {ms / total:5.1%} {calls:5d}x  {name:<28} {where}")


def print_flops(setup: Setup, batch: dict, index: int) -> None:
    """One iteration under the FLOP counter: forward and backward totals, forward per slot."""
    counter = FlopCounterMode(display=False)
    with counter:
        setup.step(batch, index)
    counts = counter.get_flop_counts()

    def forward_flops(ops: dict) -> int:
        return sum(n for op, n in ops.items() if "_backward" not in str(op))

    total, forward = counter.get_total_flops(), forward_flops(counts["Global"])
    print()
    print(f"arithmetic of one iteration: {total / 1e9:.1f} GFLOP, forward {forward / 1e9:.1f},"
          f" backward {(total - forward) / 1e9:.1f}")
    print("forward GFLOP per slot (every call, the losses' included):")
    root = type(setup.model).__name__
    for name, _ in setup.model.named_children():
        slot = forward_flops(counts.get(f"{root}.{name}", {}))
        print(f"  {name:<22} {slot / 1e9:7.1f}  {slot / forward:5.1%}")


if __name__ == "__main__":
    main()
