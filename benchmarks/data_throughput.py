"""How fast each built-in data set delivers clips, in one process on one thread.

Training a 64x64x16 model at batch 16 and ~1 s/iteration consumes ~16 clips/s, so a data
set that delivers 10x that on one core never starves the trainer, even with
``loader.workers = 0``. This script measures it:

    python benchmarks/data_throughput.py                 # synthetic + every real format
    python benchmarks/data_throughput.py --weizmann /path/to/weizmann64
    python benchmarks/data_throughput.py --markdown      # also print the table for docs/data.md

Real formats are measured on files the script writes to a temporary folder (rendered
``synthetic_shapes`` clips, so codecs see realistic content), then deletes. Numbers are
items per second of wall time and of CPU time (the CPU figure is the fairer one on a
shared machine). Two rows measure the cost of the ``augment`` table (every augmentation
on, one kornia transform per clip).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vidgan_kit import VideoGeometry, load_registry
from vidgan_kit.io import tensor_to_uint8, write_image, write_video

SOURCE_FRAMES = 48  # frames per file written for the real formats
#: Every augmentation on, at the strengths the docs use as an example.
AUGMENT = {"hflip": 0.5, "affine_degrees": 5, "affine_translate": 0.05, "affine_scale": [0.95, 1.05],
           "color_jitter": 0.1}


def measure(dataset: Any, items: int) -> tuple[float, float]:
    """(items per wall second, items per CPU second) over the first ``items`` indices."""
    n = min(items, len(dataset))
    dataset[0]  # warm-up: imports, first-call allocations
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        dataset[i]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, n / max(cpu, 1e-9)


def write_sources(root: Path, clips: int, size: int) -> dict[str, Path]:
    """Write ``clips`` source clips of SOURCE_FRAMES frames in every format; return each root."""
    registry = load_registry()
    geometry = VideoGeometry(frames=SOURCE_FRAMES, channels=3, height=size, width=size)
    synth = registry.build("dataset", "synthetic_shapes", {"clips": clips}, geometry=geometry, split="train", seed=1)
    videos = [synth[i]["video"] for i in range(clips)]
    roots = {name: root / name for name in ("strips", "frames", "mp4", "webm", "npy", "npz")}
    for path in roots.values():
        path.mkdir()
    arrays = []
    for i, video in enumerate(videos):
        frames = tensor_to_uint8(video)  # [T, H, W, 3]
        arrays.append(frames)
        strip = frames.transpose(1, 0, 2, 3).reshape(size, SOURCE_FRAMES * size, 3)
        Image.fromarray(strip).save(roots["strips"] / f"{i:04d}.png")
        folder = roots["frames"] / f"{i:04d}"
        folder.mkdir()
        for t in range(SOURCE_FRAMES):
            write_image(folder / f"{t}.png", video[t])
        write_video(roots["mp4"] / f"{i:04d}.mp4", video, fps=25)
        write_video(roots["webm"] / f"{i:04d}.webm", video, fps=25)
    np.save(roots["npy"] / "clips.npy", np.stack(arrays))
    np.savez_compressed(roots["npz"] / "clips.npz", videos=np.stack(arrays))
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="items decoded per data set")
    parser.add_argument("--clips", type=int, default=24, help="source clips written per real format")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = one core)")
    parser.add_argument("--weizmann", type=Path, default=None, help="folder of the Weizmann 64x64 strips")
    parser.add_argument("--markdown", action="store_true", help="also print the results as a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    registry = load_registry()
    geometry = VideoGeometry(frames=args.frames, channels=3, height=args.size, width=args.size)

    def build(name: str, params: dict[str, Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        dataset = registry.build("dataset", name, params, geometry=geometry, split="train", seed=0)
        return dataset, time.perf_counter() - start

    rows: list[tuple[str, str, float, float, float]] = []

    def run(label: str, detail: str, make: Callable[[], tuple[Any, float]]) -> None:
        dataset, index_s = make()
        wall, cpu = measure(dataset, args.items)
        rows.append((label, detail, wall, cpu, index_s))
        print(f"  {label:<18} {detail:<40} {wall:8.1f} {cpu:8.1f} {index_s * 1e3:9.1f}", flush=True)

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}")
    print(f"clip {args.frames}x{args.size}x{args.size}, {args.items} items per data set, single process")
    print(f"  {'data set':<18} {'source':<40} {'clips/s':>8} {'/cpu-s':>8} {'index ms':>9}")
    run("synthetic_shapes", "procedural, rendered per item", lambda: build("synthetic_shapes", {"clips": 8192}))
    run("synthetic_shapes", "+ augment (all five)",
        lambda: build("synthetic_shapes", {"clips": 8192, "augment": AUGMENT}))
    with tempfile.TemporaryDirectory() as tmp:
        roots = write_sources(Path(tmp), args.clips, args.size)
        common = {"test_fraction": 0, "train_repeats": max(1, args.items // args.clips + 1)}
        src = f"{args.clips} clips x {SOURCE_FRAMES} frames"
        cases = [
            ("frame_strips", "PNG strips", roots["strips"]),
            ("frame_folders", "PNG frames", roots["frames"]),
            ("video_files", "H.264 .mp4", roots["mp4"]),
            ("video_files", "VP9 .webm", roots["webm"]),
            ("numpy_arrays", "one .npy", roots["npy"]),
            ("numpy_arrays", "compressed .npz", roots["npz"]),
            ("video_folder", "all of the above under one root", Path(tmp)),
        ]
        for name, what, root in cases:
            detail = what if name == "video_folder" else f"{src}, {what}"
            run(name, detail, lambda name=name, root=root: build(name, {"root": str(root), **common}))
        run("frame_strips", "PNG strips + augment (all five)",
            lambda: build("frame_strips", {"root": str(roots["strips"]), **common, "augment": AUGMENT}))
    if args.weizmann is not None:
        params = {"root": str(args.weizmann), "split_mode": "by_time", "train_repeats": 8}
        run("frame_strips", "Weizmann 64x64 strips, by_time train", lambda: build("frame_strips", params))
    if args.markdown:
        print("\n| data set | source | clips/s | clips per CPU-s | indexing (ms) |\n|---|---|---:|---:|---:|")
        for label, detail, wall, cpu, index_s in rows:
            print(f"| `{label}` | {detail} | {wall:.0f} | {cpu:.0f} | {index_s * 1e3:.0f} |")


if __name__ == "__main__":
    main()
