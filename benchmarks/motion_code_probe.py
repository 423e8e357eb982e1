"""What does a run's motion code carry, and what limits its samples' diversity? Prints figures.

    python benchmarks/motion_code_probe.py RUN --data ../shared/data/weizmann64
    python benchmarks/motion_code_probe.py RUN                      # the run's own recipe's test split
    python benchmarks/motion_code_probe.py RUN --data ../shared/data/weizmann64 --split train  # people it trained on

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

With ``--fit-steps N`` (default 300; 0 skips it), where the transfer loses: PSNR on frames 2..T
of the held-out clips' self-transfers, beside the static baseline, when the code is fitted to
each clip by gradient descent with every weight frozen: z_M (one code per clip, through G_T and
G_I: what E_M could reach on people it never saw) and the per-frame motion codes (through G_I
alone: what G_T could reach). The gaps between the rows are what E_M, G_T and G_I each cost.
Beside them, the transfer's first frame against the target image: how faithfully G_I draws
the image it is given where nothing has moved yet.

``--split train`` runs the same on the first clips of the training split (one seeded window
each): the gap between E_M's code and the fitted z_M there, beside the held-out one, tells
whether E_M reads the people it trained on better than those it never saw.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from heldout_transfer import heldout_table

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import list_checkpoints, read_index
from vidgan_kit.errors import VidganError
from vidgan_kit.eval.frames import psnr_frames
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
    parser.add_argument("--clips", type=int, default=8, help="clips to probe (the first N of the split)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="test: the held-out people; train: the people it trained on")
    parser.add_argument("--samples", type=int, default=25, help="samples per image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-steps", type=int, default=300,
                        help="Adam steps fitting z_M and the frame codes to each clip (0: skip the headroom table)")
    args = parser.parse_args(argv)
    host = PluginHost.create()
    try:
        checkpoints = list_checkpoints(args.run) if (args.run / "checkpoints").is_dir() else [(None, args.run)]
        if not checkpoints:
            raise VidganError(f"{args.run} holds no complete checkpoint")
        checkpoint = checkpoints[-1][1]
        index = read_index(checkpoint)
        data = heldout_table(args.data, args.test_actors) if args.data is not None else None
        dataset, *_ = load_eval_data(data, index, host.registry, args.split)
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
    print(f"run     : {checkpoint} (step {index.get('step')}), {n} clips of the {args.split} split, "
          f"{args.samples} samples per image")
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
    if args.fit_steps > 0:
        figures.update(headroom(model, clips, args.fit_steps))
    return figures


def headroom(model: torch.nn.Module, clips: torch.Tensor, steps: int, lr: float = 0.05) -> dict[str, float]:
    """Mean PSNR (frames 2..T) of the static baseline, the transfer, and the outputs with z_M and
    with the per-frame codes fitted to each clip (every weight frozen; ``model`` in eval mode, as
    :func:`load_pipeline` gives it); prints the table."""
    t = clips.shape[1]
    image = clips[:, 0]

    def score(video: torch.Tensor) -> float:
        return float(psnr_frames(video[:, 1:], clips[:, 1:])[0].mean())

    def fitted(start: torch.Tensor, render: Callable[[torch.Tensor], torch.Tensor]) -> float:
        code = start.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([code], lr=lr)
        for _ in range(steps):
            loss = (render(code) - clips).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return score(render(code))

    was = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        with torch.no_grad():
            content = model.content_encoder(image)
            z = model.encode_motion(clips)
            codes = model.temporal_generator(z, t)
            transfer = model.transfer(image, clips)
            figures = {"static_psnr": score(image.unsqueeze(1).expand_as(clips)), "transfer_psnr": score(transfer),
                       "first_frame_psnr": float(psnr_frames(transfer[:, :1], clips[:, :1])[0].mean())}
        figures["fitted_z_psnr"] = fitted(z, lambda c: model.decoder.render_held(content, model.temporal_generator(c, t)))
        figures["fitted_frame_codes_psnr"] = fitted(codes, lambda c: model.decoder.render_held(content, c))
    finally:
        for p, flag in zip(model.parameters(), was, strict=True):
            p.requires_grad_(flag)
    print()
    print(f"where the transfer loses (PSNR dB, frames 2..{t}; codes fitted to each clip, {steps} Adam steps):")
    print("| output | PSNR | over static |")
    print("|---|---:|---:|")
    rows = [("static baseline", "static_psnr"), ("transfer: z_M from E_M", "transfer_psnr"),
            ("z_M fitted (G_T and G_I as trained)", "fitted_z_psnr"),
            ("frame codes fitted (G_I as trained)", "fitted_frame_codes_psnr")]
    for label, key in rows:
        print(f"| {label} | {figures[key]:.2f} | {figures[key] - figures['static_psnr']:+.2f} |")
    print(f"the transfer's first frame against the target image itself: {figures['first_frame_psnr']:.2f} dB")
    return figures


if __name__ == "__main__":
    main()
