"""Regenerate the docs' hero picture from a trained run: ``docs/assets/hero.gif``.

Rows, for a few held-out synthetic clips: the target image (held still), the source
video whose motion is transferred, the deterministic transfer, the exact ground truth of
that transfer, then stochastic samples (motion drawn as the model samples it: the flagship
recipe from the motion codes' aggregate posterior). Everything comes from
the toolkit's public API: the run's latest checkpoint through ``load_pipeline`` and the
test split of the recipe's ``synthetic_shapes`` data set.

    python benchmarks/make_hero.py runs/dual_mtgan --out docs/assets/hero.gif
    python benchmarks/make_hero.py RUN --model-set decoder.max_shift=3.0   # a checkpoint scored with an option
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from vidgan_kit import load_registry
from vidgan_kit.inference import load_pipeline
from vidgan_kit.io import video_grid, write_video
from vidgan_kit.recipe import Recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthetic import add_model_set_argument  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (or checkpoint directory) of a synthetic_shapes model")
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
    if recipe.data.type != "synthetic_shapes":
        raise SystemExit(f"{args.run}: the hero picture needs a synthetic_shapes model, not {recipe.data.type}")
    test = registry.build("dataset", recipe.data, geometry=pipe.geometry, split="test", seed=recipe.seed)
    batch = test.transfer_batch(test.transfer_pairs(args.clips, seed=args.seed))

    transfers = torch.stack([pipe.transfer(img, src) for img, src in zip(batch["image"], batch["source"], strict=True)])
    samples = torch.stack([pipe.sample(img, args.samples, seed=args.seed + i) for i, img in enumerate(batch["image"])])
    held = batch["image"].unsqueeze(1).expand_as(batch["truth"])
    rows = [held, batch["source"], transfers, batch["truth"], *samples.transpose(0, 1)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_video(args.out, video_grid(rows), fps=args.fps)
    print(f"wrote {args.out}: rows target | source | transfer | truth | {args.samples} samples; {args.clips} pairs")


if __name__ == "__main__":
    main()
