"""Can a narrower source reader, distilled after training, stand in for E_C on a transfer's source?

    python benchmarks/distill_reader.py RUN_DIR                       # width 16, 7000 steps
    python benchmarks/distill_reader.py RUN_DIR --width 8 --steps 3000

For a finished ``synthetic_shapes`` run of a recipe with ``layered_content_encoder`` (E_C)
and no source reader: loads its checkpoint (EMA weights where it has them, as ``vidgan
transfer`` does), gives E_C a fresh source reader of ``--width`` (the recipe option
``source_reader_width``; E_C's own weights unchanged), and trains only the reader, E_C frozen,
with the ``source_reader`` loss (L_read: the KL divergence of its per-pixel mask distribution
from E_C's) on ``--clips`` training clips a step, every frame, with Adam at ``--lr``. Then it
scores the same weights with E_C and with the reader reading the source frames
(``read_source_with``): ``learn_synthetic.py``'s transfer figures on ``--pairs`` held-out
pairs and the leakage ratio of ``vidgan eval --protocol transfer`` on ``--leakage-triples``.

Why after training: trained with the model (the loss in the recipe), a width-16 reader on 4
frames a clip lost 0.12 dB of transfer and took the leakage ratio over 0.3 on seed 0
(``benchmarks/RESULTS.md``, twenty-fourth session); its target moves while E_C learns, and the
generator's optimiser is tuned for the GAN, not for it. Nothing is written: the checkpoint is
only read (``vidgan distill-reader RUN --out NEW`` distils the same way and writes a new run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_synthetic  # noqa: E402  (this folder's benchmark: its evaluation and data split)

from vidgan_builtin.models.reader_distillation import distil, training_clips, with_reader  # noqa: E402
from vidgan_kit import PluginHost  # noqa: E402
from vidgan_kit.checkpoint import latest_checkpoint, read_index  # noqa: E402
from vidgan_kit.eval.protocols import leakage  # noqa: E402
from vidgan_kit.inference import load_pipeline  # noqa: E402


def score(checkpoint: Path, pipe: Any, registry: Any, test_set: Any, pairs: int, triples: int) -> dict[str, Any]:
    """The transfer figures and the leakage ratio of the pipeline's model as it reads the source now."""
    figures = learn_synthetic.summarise(learn_synthetic.evaluate_checkpoint(checkpoint, registry, pairs, pipeline=pipe))
    with torch.no_grad():
        figures["leakage_ratio"] = leakage(pipe.model.transfer, test_set, triples=triples, seed=0).leakage_ratio
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run directory or checkpoint (synthetic_shapes, layered E_C)")
    parser.add_argument("--width", type=int, default=16, help="the reader's width (source_reader_width)")
    parser.add_argument("--norm", default="none", choices=["none", "group", "instance", "batch"],
                        help="the reader's normalisation (source_reader_norm)")
    parser.add_argument("--steps", type=int, default=7000, help="distillation steps (7000: about 6 minutes at 32x32)")
    parser.add_argument("--clips", type=int, default=8, help="training clips a step (every frame of each)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate for the reader")
    parser.add_argument("--pairs", type=int, default=256, help="held-out transfer pairs scored")
    parser.add_argument("--leakage-triples", type=int, default=256, help="triples of the leakage ratio")
    parser.add_argument("--seed", type=int, default=0, help="seeds the reader's start")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if min(args.width, args.steps, args.clips, args.pairs, args.leakage_triples) < 1:
        parser.error("--width, --steps, --clips, --pairs and --leakage-triples must be >= 1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    registry = PluginHost.create().registry
    checkpoint = latest_checkpoint(args.run)
    index = read_index(checkpoint)
    pipe = load_pipeline(checkpoint, registry=registry, notes=lambda message: None)
    pipe.model.content_encoder = with_reader(pipe.model.content_encoder, args.width, registry, norm=args.norm)
    train_set = training_clips(index, registry)
    test_set = learn_synthetic.test_split(index, registry, pipe.geometry)
    print(f"{checkpoint}: a width-{args.width} reader (norm {args.norm}), {args.steps} steps of {args.clips} clips, lr {args.lr}", flush=True)
    start = time.perf_counter()
    losses = distil(pipe.model, train_set, registry, args.steps, args.clips, args.lr)  # as `vidgan distill-reader`
    print(f"distilled in {time.perf_counter() - start:.0f} s; L_read every 500 steps: "
          + " ".join(f"{v:.4f}" for v in losses), flush=True)
    results: dict[str, Any] = {"checkpoint": str(checkpoint), "width": args.width, "norm": args.norm, "steps": args.steps, "losses": losses}
    encoder = pipe.model.content_encoder
    print("| source read by | transfer, dB (SSIM) | over static | right - wrong | leakage ratio |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("encoder", "reader"):
        encoder.config = encoder.config.model_copy(update={"read_source_with": mode})
        r = score(checkpoint, pipe, registry, test_set, args.pairs, args.leakage_triples)
        results[mode] = r
        print(f"| {'E_C' if mode == 'encoder' else f'reader, width {args.width}'} | {r['transfer/psnr']:.2f} "
              f"({r['transfer/ssim']:.3f}) | {r['transfer_minus_static_db']:+.2f} | {r['right_minus_wrong_db']:+.2f} "
              f"| {r['leakage_ratio']:.4f} |", flush=True)
    return results


if __name__ == "__main__":
    main()
