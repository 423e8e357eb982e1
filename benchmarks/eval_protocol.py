"""What the paper's best-of-K protocol rewards, and what it costs, on synthetic_shapes.

    python benchmarks/eval_protocol.py                      # baselines, K = 1, 5, 25
    python benchmarks/eval_protocol.py --clips 32 --size 64 --frames 16
    python benchmarks/eval_protocol.py --checkpoint runs/dual_mtgan --clips 16   # + a trained model

Two samplers that learned nothing are scored with ``stochastic_best_of_k`` on real test
clips, at K = 1, 5 and 25:

- ``static``: the input frame held still (K identical samples);
- ``random_drift``: the input frame translated at a random constant velocity per sample
  (up to ``--max-speed`` pixels per frame, wrapped around), a motion "prior" with no
  knowledge of the data.

Best-of-K scores of ``random_drift`` rise with K although nothing was learned: the
selection alone buys them. A model's best-of-K numbers mean something only next to these
baselines at the same K (and next to its mean-of-K). The metric cost per clip at the
given geometry is printed too. With ``--checkpoint`` the model's figures are added.
"""

from __future__ import annotations

import argparse
import time

import torch

from vidgan_kit import VideoGeometry, load_registry
from vidgan_kit.eval.protocols import still_image_sampler, stochastic_best_of_k
from vidgan_kit.eval.runner import EvalSettings, build_scorers, fit_clips


def drift_sampler(frames: int, max_speed: float):  # noqa: ANN201 - a SampleFn
    def sample(image: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        velocity = (torch.rand((k, 2), generator=generator) * 2 - 1) * max_speed
        out = []
        for v in velocity:
            clip = [torch.roll(image[0], shifts=(round(float(v[1]) * t), round(float(v[0]) * t)), dims=(-2, -1))
                    for t in range(frames)]
            out.append(torch.stack(clip))
        return torch.stack(out)[None]

    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--max-speed", type=float, default=1.5, help="pixels per frame of random_drift")
    parser.add_argument("--ks", default="1,5,25")
    parser.add_argument("--checkpoint", default=None, help="also score this model (its geometry wins)")
    args = parser.parse_args()
    registry = load_registry()
    geometry = VideoGeometry(frames=args.frames, height=args.size, width=args.size)
    model = None
    if args.checkpoint:
        from vidgan_kit.checkpoint import load_model

        model = load_model(args.checkpoint, registry, use_ema=True)
        geometry = model.geometry
    data = registry.build("dataset", "synthetic_shapes", {}, geometry=geometry, split="test", seed=0)
    clips, _ = fit_clips(torch.stack([data[i]["video"] for i in range(args.clips)]), geometry)
    scorers = build_scorers(registry, EvalSettings())
    samplers = {"static": still_image_sampler(geometry.frames), "random_drift": drift_sampler(geometry.frames,
                                                                                         args.max_speed)}
    if model is not None:
        samplers["model"] = model.sample
    print(f"synthetic_shapes test split, {args.clips} clips, {geometry.frames}x{geometry.height}x{geometry.width}; "
          "scores over frames 1..T-1, mean [95% CI] over clips")
    print(f"{'sampler':<14}{'K':>4}  {'best-of-K SSIM':<24}{'best-of-K PSNR':<26}{'mean-of-K SSIM':<24}{'s/clip':>7}")
    for name, sample in samplers.items():
        for k in (int(x) for x in args.ks.split(",")):
            t = time.perf_counter()
            r = stochastic_best_of_k(sample, clips, scorers, samples=k, seed=0).result
            per_clip = (time.perf_counter() - t) / args.clips
            print(f"{name:<14}{k:>4}  {r.per_metric.scores.ssim.format(3):<24}"
                  f"{r.per_metric.scores.psnr.format(2, 'dB'):<26}{r.mean_of_k.scores.ssim.format(3):<24}"
                  f"{per_clip:>7.2f}")


if __name__ == "__main__":
    main()
