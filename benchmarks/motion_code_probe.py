"""What does a run's motion code carry, and what limits its samples' diversity? Prints figures.

    python benchmarks/motion_code_probe.py RUN --data ../shared/data/weizmann64
    python benchmarks/motion_code_probe.py RUN                      # the run's own recipe's test split

On the held-out clips (``--data``: MoCoGAN's Weizmann strips read as ``heldout_transfer.py``
reads them, actors ``--test-actors`` held out; without it, the run's own test split):

- per dimension of z_M: the posterior's standard deviation (mean over clips), the spread of the
  clips' posterior means, and the KL to N(0, I) in nats; a dimension whose deviation far exceeds
  its means' spread carries little about the clip;
- mean pairwise L1 on [0, 1] (frames 2..T) of the outputs for one image (each clip's first frame,
  averaged over clips): animated with every clip's own code (the diversity the decoder reaches
  with real motions), sampled (``model.sample``, as the paper's protocol draws), and the real
  clips' frame changes x^t - x^1 (the like-for-like real reference).

Samples as diverse as the real-code transfers and both far below the real reference point at
the decoder's small motions, not at the prior.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from heldout_transfer import heldout_table

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import list_checkpoints, read_index
from vidgan_kit.errors import VidganError
from vidgan_kit.eval.protocols import pairwise_change_l1, pairwise_l1
from vidgan_kit.eval.runner import fit_clips, load_eval_data
from vidgan_kit.inference import load_pipeline
from vidgan_kit.interfaces import MotionPosterior


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("run", type=Path, help="a run directory (its latest checkpoint) or a checkpoint directory")
    parser.add_argument("--data", type=Path, default=None, help="MoCoGAN's Weizmann strips (the held-out table)")
    parser.add_argument("--test-actors", type=int, nargs="+", default=[5, 6], metavar="ACTOR")
    parser.add_argument("--clips", type=int, default=8, help="held-out clips (the first N of the test split)")
    parser.add_argument("--samples", type=int, default=25, help="samples per image")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    host = PluginHost.create()
    try:
        checkpoints = list_checkpoints(args.run) if (args.run / "checkpoints").is_dir() else [(None, args.run)]
        if not checkpoints:
            raise VidganError(f"{args.run} holds no complete checkpoint")
        checkpoint = checkpoints[-1][1]
        index = read_index(checkpoint)
        data = heldout_table(args.data, args.test_actors) if args.data is not None else None
        dataset, *_ = load_eval_data(data, index, host.registry, "test")
        pipeline = load_pipeline(checkpoint, registry=host.registry, notes=lambda _: None)
    except VidganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    model = pipeline.model
    n = min(args.clips, len(dataset))
    if n < 2:
        raise SystemExit("error: the probe needs at least 2 clips")
    with torch.random.fork_rng(devices=[]):
        clips, _ = fit_clips(torch.stack([dataset[i]["video"] for i in range(n)]).float(), model.geometry)
    frames = list(range(1, clips.shape[1]))

    with torch.no_grad():
        post = MotionPosterior(*model.motion_encoder(clips))  # the pipeline holds the model in eval mode
        std = post.logvar.mul(0.5).exp()
        kl = 0.5 * (post.mean.square() + std.square() - 1 - post.logvar)
        codes = model.encode_motion(clips)
        real_codes, sampled = [], []
        for i in range(n):
            image = clips[i, :1]
            real_codes.append(pairwise_l1(model.animate(image.expand(n, -1, -1, -1), codes), frames))
            generator = torch.Generator().manual_seed(args.seed + i)
            sampled.append(pairwise_l1(model.sample(image, args.samples, generator)[0], frames))
    figures = {
        "transfer_with_real_codes": sum(real_codes) / n,
        "samples": sum(sampled) / n,
        "real_frame_changes": pairwise_change_l1(clips, frames),
        "kl_nats": float(kl.sum(1).mean()),
    }
    print(f"run     : {checkpoint} (step {index.get('step')}), {n} clips, {args.samples} samples per image")
    print()
    print("| dim | posterior std | spread of means | KL nats |")
    print("|---:|---:|---:|---:|")
    for d in range(post.mean.shape[1]):
        print(f"| {d} | {float(std[:, d].mean()):.2f} | {float(post.mean[:, d].std()):.2f} | {float(kl[:, d].mean()):.2f} |")
    print()
    print(f"KL to N(0, I): {figures['kl_nats']:.2f} nats per clip")
    print("diversity (mean pairwise L1 on [0, 1], frames 2..T, per image):")
    print(f"  animated with every clip's own code : {figures['transfer_with_real_codes']:.4f}")
    print(f"  sampled                              : {figures['samples']:.4f}")
    print(f"  real clips' frame changes            : {figures['real_frame_changes']:.4f}")
    return figures


if __name__ == "__main__":
    main()
