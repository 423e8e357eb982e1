"""Do bf16 training steps on this CPU stay finite? Runs of the recipe's step, counted.

    python benchmarks/bf16_stability.py                       # 10 runs of 10 steps per arm, both arms
    python benchmarks/bf16_stability.py --arms shipped --runs 20
    python benchmarks/bf16_stability.py --no-reuse            # fresh pages for large tensors

Each run builds the model and optimisers as ``speed.py`` does (same seed, same batch, every
loss on from step 0, bf16 autocast, channels_last unless ``--no-channels-last``, freed memory
reused as ``train()`` reuses it unless ``--no-reuse``) and takes up to ``--steps`` steps; it
counts as non-finite when a weight is (a non-finite loss makes one at that step). Two arms, alternated run by run:

- ``shipped``: the built-in 3D trunks as they are (``ShortClipConv3d`` pads time with explicit
  zeros for a clip shorter than its temporal kernel under CPU bf16 autocast);
- ``plain``: the same model with ``nn.Conv3d``'s own forward (the control).

Why: torch 2.13's oneDNN bf16 kernel for the weight gradient of such a convolution (D_V's last
level at 16 frames) reads memory it never wrote, so whether a run goes NaN depends on what the
heap held: identical runs differ. Where oneDNN has no native bf16 kernels (AVX2-only CPUs),
bf16 is emulated, 15-20x slower, and the kernel in question may not exist at all.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import REPO, Setup, bf16_supported, fixed_batch, prepare_benchmark  # noqa: E402

from vidgan_kit.training.memory import reuse_freed_memory  # noqa: E402
from vidgan_builtin.networks.blocks import ShortClipConv3d  # noqa: E402


@contextlib.contextmanager
def plain_conv3d(enabled: bool):
    """Within the block, ``ShortClipConv3d`` computes as ``nn.Conv3d`` (the ``plain`` arm)."""
    saved = ShortClipConv3d.forward
    if enabled:
        ShortClipConv3d.forward = nn.Conv3d.forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        ShortClipConv3d.forward = saved  # type: ignore[method-assign]


def one_run(recipe, registry, batch, steps: int, channels_last: bool) -> int | None:
    """The first step after which a weight or a loss is non-finite, or None."""
    setup = Setup(recipe, registry, "bf16", channels_last)
    for index in range(steps):
        setup.step(batch, index)
        if not all(bool(torch.isfinite(p).all()) for p in setup.model.parameters()):
            return index
    return None


def main(argv: list[str] | None = None) -> dict[str, list[int | None]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--arms", default="shipped,plain", help="comma-separated subset of shipped,plain")
    parser.add_argument("--runs", type=int, default=10, help="runs per arm")
    parser.add_argument("--steps", type=int, default=10, help="steps per run")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--no-reuse", action="store_true", help="fresh pages for large tensors (train.reuse_cpu_memory = false)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or any(a not in ("shipped", "plain") for a in arms) or args.runs < 1 or args.steps < 1:
        parser.error("--arms: shipped and/or plain; --runs and --steps >= 1")
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"bf16    : {'hardware-supported' if bf16_supported() else 'EMULATED (slow; the oneDNN kernel may differ)'}")
    args.device = "cpu"  # a CPU kernel's behaviour is what it counts
    registry, recipe, dataset = prepare_benchmark(args)
    batch = fixed_batch(dataset, args.batch)
    outcomes: dict[str, list[int | None]] = {arm: [] for arm in arms}
    with reuse_freed_memory(not args.no_reuse) as reused:
        print(f"memory  : freed CPU memory {'reused' if reused else 'NOT reused'}; "
              f"{args.runs} runs x {args.steps} steps per arm, {args.size}x{args.size}, {args.frames} frames, batch {args.batch}")
        for run in range(args.runs):
            for arm in arms:
                with plain_conv3d(arm == "plain"):
                    failed = one_run(recipe, registry, batch, args.steps, not args.no_channels_last)
                outcomes[arm].append(failed)
                print(f"  run {run + 1:2d} {arm:<7} " + ("finite" if failed is None else f"non-finite after step {failed}"),
                      flush=True)
    print()
    for arm in arms:
        bad = sum(f is not None for f in outcomes[arm])
        share = bad / len(outcomes[arm])
        # A 95 % upper bound when none failed (rule of three), for reading "0 of n" honestly.
        bound = f" (95 % upper bound on the rate {3 / len(outcomes[arm]):.0%})" if bad == 0 and len(outcomes[arm]) >= 3 else ""
        print(f"{arm:<7}: {bad} of {len(outcomes[arm])} runs non-finite ({share:.0%}){bound}")
    return outcomes


if __name__ == "__main__":
    main()
