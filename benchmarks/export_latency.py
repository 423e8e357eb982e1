"""CPU latency of one transfer, batch 1: onnxruntime against eager torch against torch.compile.

    python benchmarks/export_latency.py --size 32                       # the measurement
    python benchmarks/export_latency.py --size 64 --rounds 7
    python benchmarks/export_latency.py --checkpoint runs/quick          # a trained model
    python benchmarks/export_latency.py --size 16 --frames 4 --rounds 1 --runs 2 --no-compile   # does it work

One transfer animates one image with one source clip at the recipe's geometry (``--size``,
``--frames``): ``model.transfer(image, video)`` in torch, and in onnxruntime the two
graphs ``vidgan export`` writes, ``animate(image, encode_motion(video))``. The model is
``--recipe``'s, freshly initialised with the recipe's seed, or ``--checkpoint``'s (its EMA
weights): the work of one transfer does not depend on the weights' values.

The routes, timed in one process, alternated: each round runs ``--runs`` transfers per
route, routes in turn (their order rotating from round to round), and a route's figure is
the median over rounds of its per-round medians:

- ``eager``: ``model.transfer`` under ``torch.inference_mode``, as ``vidgan transfer`` runs it;
- ``compile``: the same through :func:`vidgan_kit.inference.compile_transfer` (inductor with
  its C++ wrapper, as ``load_pipeline(compile=True)``); its build is timed on its own line;
- ``torch.export``: the transfer traced by ``torch.export`` and run as its ATen graph
  (``ExportedProgram.module()``), without Python's checks and module calls;
- ``onnxruntime``: the exported graphs in an ``InferenceSession`` each, on the CPU
  provider with ``--threads`` intra-op threads.

Every route's frames are compared with eager's (the largest difference is printed).
Run it on an idle machine: the load average is printed for that reason.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import print_machine  # noqa: E402  (the benchmarks' shared machine header)

from vidgan_kit import PluginHost  # noqa: E402
from vidgan_kit.export import check_onnx, export_onnx  # noqa: E402
from vidgan_kit.inference import compile_transfer, load_pipeline  # noqa: E402
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe  # noqa: E402
from vidgan_kit.training.seeding import seed_everything  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml")
    p.add_argument("--set", action="append", default=[], help="Recipe override section.key=value (repeatable).")
    p.add_argument("--checkpoint", type=Path, help="A run or checkpoint folder: its model instead of a fresh one.")
    p.add_argument("--size", type=int, default=32, help="Frame height and width (a fresh model only).")
    p.add_argument("--frames", type=int, help="Frames per clip (a fresh model only; default: the recipe's).")
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads.")
    p.add_argument("--rounds", type=int, default=5, help="Rounds of alternated routes.")
    p.add_argument("--runs", type=int, default=20, help="Transfers per route and round.")
    p.add_argument("--warmup", type=int, default=3, help="Untimed transfers per route before the first round.")
    p.add_argument("--no-compile", action="store_true", help="Leave out torch.compile (it builds for about a minute).")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace) -> tuple[Any, str]:
    """The model in eval mode and a line saying which one it is."""
    registry = PluginHost.create().registry
    if args.checkpoint is not None:
        pipe = load_pipeline(args.checkpoint, registry=registry, notes=lambda _: None)
        return pipe.model, f"trained: {pipe.source} (step {pipe.step})"
    table = apply_overrides(read_recipe_table(args.recipe), args.set)
    video = {"height": args.size, "width": args.size} | ({"frames": args.frames} if args.frames else {})
    table["video"] = {**table.get("video", {}), **video}
    recipe = validate_recipe(table, registry, source=str(args.recipe))
    seed_everything(recipe.seed)
    model = registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=registry)
    return model.eval(), f"freshly initialised from {args.recipe.relative_to(REPO) if args.recipe.is_relative_to(REPO) else args.recipe}"


def onnx_transfer(folder: Path, threads: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    encode, animate = (ort.InferenceSession(str(folder / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])
                       for name in ("encode_motion", "animate"))

    def transfer(image: np.ndarray, video: np.ndarray) -> np.ndarray:
        z = encode.run(None, {"video": video})[0]
        return animate.run(None, {"image": image, "z": z})[0]

    return transfer


def torch_route(fn: Callable[..., torch.Tensor]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def transfer(image: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return fn(image, video)

    return transfer


def exported_route(model: Any, image: torch.Tensor, video: torch.Tensor) -> Callable[..., torch.Tensor]:
    class Transfer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
            return self.model.transfer(image, video)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(Transfer().eval(), (image, video))
    return torch_route(program.module())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print_machine(args.threads, torch.device("cpu"))
    model, which = build_model(args)
    g = model.geometry
    print(f"model   : {which}; {g.frames} frames of {g.channels}x{g.height}x{g.width}, batch 1")
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, *g.frame_shape, generator=gen) * 2 - 1
    video = torch.rand(1, *g.clip_shape, generator=gen) * 2 - 1

    routes: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
    routes["eager"] = (torch_route(model.transfer), (image, video))
    builds: dict[str, float] = {}
    if not args.no_compile:
        compiled = torch_route(compile_transfer(model.transfer, "cpu"))
        t0 = time.perf_counter()
        compiled(image, video)
        builds["compile"] = time.perf_counter() - t0
        routes["compile"] = (compiled, (image, video))
    t0 = time.perf_counter()
    routes["torch.export"] = (exported_route(model, image, video), (image, video))
    builds["torch.export"] = time.perf_counter() - t0
    folder = Path(tempfile.mkdtemp(prefix="export-latency-"))
    t0 = time.perf_counter()
    export_onnx(model, folder)
    builds["onnxruntime"] = time.perf_counter() - t0
    check = check_onnx(model, folder)
    routes["onnxruntime"] = (onnx_transfer(folder, args.threads), (image.numpy(), video.numpy()))
    for name, seconds in builds.items():
        print(f"build   : {name} {seconds:.1f} s" + ("  (vidgan export; --check: " + ", ".join(
            f"{k} {v:.1e}" for k, v in check.items()) + ")" if name == "onnxruntime" else ""))

    reference = routes["eager"][0](image, video)
    diffs = {name: float((torch.as_tensor(fn(*inputs)) - reference).abs().max()) for name, (fn, inputs) in routes.items()}
    for name, (fn, inputs) in routes.items():
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            fn(*inputs)
        print(f"warm-up : {name} {args.warmup} calls in {time.perf_counter() - t0:.2f} s", flush=True)
    per_round: dict[str, list[float]] = {name: [] for name in routes}
    names = list(routes)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, inputs = routes[name]
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                fn(*inputs)
                times.append(time.perf_counter() - t0)
            per_round[name].append(statistics.median(times) * 1e3)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {v[-1]:.2f} ms" for n, v in per_round.items()), flush=True)

    eager = statistics.median(per_round["eager"])
    figures = {}
    print(f"\none transfer, batch 1: median over {args.rounds} rounds of each round's median of {args.runs} calls")
    print(f"{'route':<14}{'ms':>9}{'rounds (ms)':>26}{'x eager':>10}{'max |diff|':>13}")
    for name in routes:
        ms = statistics.median(per_round[name])
        spread = f"{min(per_round[name]):.2f} - {max(per_round[name]):.2f}"
        figures[name] = {"ms": ms, "rounds_ms": per_round[name], "vs_eager": ms / eager, "max_diff": diffs[name]}
        print(f"{name:<14}{ms:>9.2f}{spread:>26}{ms / eager:>10.2f}{diffs[name]:>13.1e}")
    return figures


if __name__ == "__main__":
    main()
