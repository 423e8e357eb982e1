"""Draw a trained run's transfers and samples on its test split as a GIF for the docs.

Synthetic data (``synthetic_shapes``), columns of held-out pairs, rows: the target image (held
still), the source video whose motion is transferred, the deterministic transfer, the exact
ground truth of that transfer, then stochastic samples. Real clips (any other data set, e.g.
Weizmann with whole actors held out), rows: the target (first frame of a test clip, held
still), the source (a test clip of another identity and another action where there is one),
the transfer, then samples; no ground truth exists for a transfer across people. Everything
comes from the toolkit's public API: the run's latest checkpoint through ``load_pipeline``
and the test split of the run's recipe.

    python benchmarks/make_hero.py runs/dual_mtgan --out docs/assets/hero.gif
    python benchmarks/make_hero.py runs/weizmann --out docs/assets/weizmann_heldout.gif
    python benchmarks/make_hero.py RUN --model-set decoder.max_shift=3.0   # a checkpoint scored with an option
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from vidgan_kit import load_registry
from vidgan_kit.inference import load_pipeline
from vidgan_kit.io import video_grid, write_video
from vidgan_kit.recipe import Recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthetic import add_model_set_argument  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (or checkpoint directory)")
    parser.add_argument("--out", type=Path, default=Path("docs/assets/hero.gif"))
    parser.add_argument("--clips", type=int, default=4, help="columns: held-out transfer pairs")
    parser.add_argument("--samples", type=int, default=2, help="rows of stochastic samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=int, default=8)
    add_model_set_argument(parser, "decoder.max_shift=3.0")
    args = parser.parse_args()

    registry = load_registry()
    pipe = load_pipeline(args.run, registry=registry, options=args.model_set)
    run_dir = args.run if (args.run / "recipe.json").is_file() else args.run.parents[1]
    recipe = Recipe.model_validate(json.loads((run_dir / "recipe.json").read_text()))
    test = registry.build("dataset", recipe.data, geometry=pipe.geometry, split="test", seed=recipe.seed)
    if recipe.data.type != "synthetic_shapes":
        draw_real(test, pipe, args)
        return
    batch = test.transfer_batch(test.transfer_pairs(args.clips, seed=args.seed))

    transfers = torch.stack([pipe.transfer(img, src) for img, src in zip(batch["image"], batch["source"], strict=True)])
    samples = torch.stack([pipe.sample(img, args.samples, seed=args.seed + i) for i, img in enumerate(batch["image"])])
    held = batch["image"].unsqueeze(1).expand_as(batch["truth"])
    rows = [held, batch["source"], transfers, batch["truth"], *samples.transpose(0, 1)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_video(args.out, video_grid(rows), fps=args.fps)
    print(f"wrote {args.out}: rows target | source | transfer | truth | {args.samples} samples; {args.clips} pairs")


def cross_identity_pairs(test: Any, n: int) -> list[tuple[int, int]]:
    """Up to ``n`` (target, source) item pairs of the test split: each target the first clip of
    an identity not yet used, its source the next clip of another identity and, where one exists,
    another label (class); identities and labels from the data set's ``item_info``."""
    info = [test.item_info(i) for i in range(len(test))]
    pairs, used = [], set()
    for i, a in enumerate(info):
        if len(pairs) == n or a["identity"] in used:
            continue
        others = [j for j in range(len(info)) if info[j]["identity"] != a["identity"]] or [
            j for j in range(len(info)) if j != i]
        best = [j for j in others if info[j]["label"] != a["label"]] or others
        if best:
            pairs.append((i, best[(len(pairs)) % len(best)]))
            used.add(a["identity"])
    return pairs


def draw_real(test: Any, pipe: Any, args: argparse.Namespace) -> None:
    if not hasattr(test, "item_info"):
        raise SystemExit(f"{args.run}: its data set does not say where its clips come from (no item_info)")
    pairs = cross_identity_pairs(test, args.clips)
    if not pairs:
        raise SystemExit(f"{args.run}: its test split has fewer than two clips")
    images = torch.stack([test[i]["video"][0] for i, _ in pairs])
    sources = torch.stack([test[j]["video"] for _, j in pairs])
    transfers = torch.stack([pipe.transfer(img, src) for img, src in zip(images, sources, strict=True)])
    samples = torch.stack([pipe.sample(img, args.samples, seed=args.seed + k) for k, img in enumerate(images)])
    held = images.unsqueeze(1).expand_as(sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_video(args.out, video_grid([held, sources, transfers, *samples.transpose(0, 1)]), fps=args.fps)
    described = ", ".join(f"{test.item_info(i)['clip']} <- {test.item_info(j)['clip']}" for i, j in pairs)
    print(f"wrote {args.out}: rows target | source | transfer | {args.samples} samples; pairs {described}")


if __name__ == "__main__":
    main()
