"""Training throughput with 1 and 2 processes (torchrun, gloo on the CPU, NCCL on GPUs).

    python benchmarks/scaling.py                          # tiny + dual_mtgan at 32x32
    python benchmarks/scaling.py --recipe recipes/tiny.toml --steps 20 --nproc 1 2 4

Each set-up trains a few steps through the real command line (``vidgan run`` for one
process, ``torchrun --standalone --nproc_per_node N -m vidgan_kit run`` for more) and
reads ``perf/it_per_s`` from ``metrics.jsonl``, skipping the first ``--warmup`` steps.
``clips/s`` counts the effective batch: ``loader.batch_size`` per process x processes.
Every run gets the same CPU cores in total (``--threads`` split over its processes), so on
a CPU the ratio shows what the second process buys for the same hardware; on GPUs each
process has a GPU of its own. On a shared machine, read the load averages printed with
the figures (other work skews them) and prefer ``--threads-per-process 1``: OpenMP
threads that wait for a core another job holds make multi-threaded runs crawl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Set-ups measured by default: name -> (recipe, overrides).
SETUPS: dict[str, tuple[str, list[str]]] = {
    "tiny": ("recipes/tiny.toml", []),
    # Dual-MTGAN at 32x32, 16 frames, batch 16 per process, with every phase and loss
    # switched on from step 0 (the recipe starts the adversarial terms at step 1000).
    "dual_mtgan_32": ("recipes/dual_mtgan.toml", [
        "video.height=32", "video.width=32", "train.channels_last=false",
        'phases=[{name = "discriminator"}, {name = "generator"}]',
        *(f"losses.{term}.{key}=0" for term in ("motion_consistency", "video_adversarial", "image_adversarial")
          for key in ("start", "ramp")),
        "train.ema.start=0",
    ]),
}


def command(recipe: str, nproc: int, out: Path, overrides: list[str]) -> list[str]:
    args = ["run", recipe, "--out", str(out), "--quiet", *(x for o in overrides for x in ("--set", o))]
    if nproc == 1:
        return [sys.executable, "-m", "vidgan_kit", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "vidgan_kit", *args]


def measure(recipe: str, extra: list[str], nproc: int, steps: int, warmup: int, threads: int,
            per_process: int = 0) -> dict[str, float]:
    per_proc = per_process or max(1, threads // nproc)
    overrides = [*extra, f"train.steps={steps}", "train.sample_every=0", f"train.checkpoint_every={steps}",
                 "train.log_every=1", "train.tensorboard=false", f"train.threads={per_proc}", "train.max_minutes=0"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "VIDGAN_QUIET": "1", "OMP_NUM_THREADS": str(per_proc)}
        t0 = time.perf_counter()
        proc = subprocess.run(command(recipe, nproc, out, overrides), cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{recipe} with {nproc} process(es) failed:\n{proc.stderr[-4000:]}")
        lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        batch = json.loads((out / "recipe.json").read_text())["loader"]["batch_size"]
    timed = [m for m in lines if m["step"] > warmup]
    seconds = statistics.fmean(1.0 / m["perf/it_per_s"] for m in timed)  # mean step time
    return {"it_s": 1.0 / seconds, "clips_s": batch * nproc / seconds, "threads": per_proc, "wall": wall,
            "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", help="measure this recipe only (default: the built-in set-ups)")
    parser.add_argument("--set", action="append", default=[], help="extra recipe override (repeatable)")
    parser.add_argument("--steps", type=int, default=12, help="steps per run (default 12)")
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing (default 2)")
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="process counts (default 1 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads in total, split over the processes (default: all cores)")
    parser.add_argument("--threads-per-process", type=int, default=0,
                        help="fixed threads per process instead (on a busy machine, 1 avoids OpenMP oversubscription)")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup")
    setups = {Path(args.recipe).stem: (args.recipe, args.set)} if args.recipe else {
        k: (r, [*o, *args.set]) for k, (r, o) in SETUPS.items()}

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    threads = (f"{args.threads_per_process} thread(s) per process" if args.threads_per_process
               else f"{args.threads} thread(s) in total per run")
    print(f"# {args.steps} steps per run, first {args.warmup} not timed; {threads}\n")
    print(f"{'set-up':<16} {'procs':>5} {'thr/proc':>8} {'batch':>11} {'it/s':>8} {'clips/s':>9} {'wall s':>7}")
    for name, (recipe, overrides) in setups.items():
        base = None
        for n in args.nproc:
            r = measure(recipe, overrides, n, args.steps, args.warmup, args.threads, args.threads_per_process)
            base = base or r
            print(f"{name:<16} {n:>5} {r['threads']:>8} {r['batch']:>4} x {n:<4} {r['it_s']:>8.2f} {r['clips_s']:>9.1f}"
                  f" {r['wall']:>7.1f}", flush=True)
            if n != args.nproc[0]:
                ratio = r["clips_s"] / base["clips_s"]
                print(f"{'':<16} clips/s ratio {n} vs {args.nproc[0]} process(es): {ratio:.2f}")
    print(f"\n# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
