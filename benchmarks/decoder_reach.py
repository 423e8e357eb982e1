"""Can the reconstruction's gradient alone find a motion family through a model's decoder?

    python benchmarks/decoder_reach.py runs/NAME --family zoom
    python benchmarks/decoder_reach.py runs/NAME --family rotation --clips 16 --steps 300

For a layered model (``layered_content_encoder`` + ``sprite_frame_decoder``) trained on
``synthetic_shapes``: take ``--clips`` test clips of one motion family, their first frames'
content maps from the model's E_C, and give each clip *free* per-frame parameters (log
scale, turn angle, shift of its part; zero at the start: the identity). Adam fits them to
the clip itself through the decoder's compositing by MSE, and the fitted scale and angle
are compared with the truth's (correlation, slope through 0, standard deviations; frames
2-T).

Why: when a model never zooms or turns, either its motion path (E_M, the posterior, G_T,
the decoder's read-out) does not carry the motion or the decoder's image gradient cannot
lead a map from the identity to it. This separates the two: no network is in the way here,
only the layers and the compositing.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import read_index
from vidgan_kit.inference import load_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthetic import test_split  # noqa: E402
from motion_precision import follows  # noqa: E402

from vidgan_builtin.data.synthetic import MOTIONS, trajectory  # noqa: E402
from vidgan_builtin.networks.geometry import similarity_linear  # noqa: E402


def fit(run: Path, family: str, clips: int, steps: int, lr: float, host: PluginHost) -> dict[str, dict[str, float]]:
    pipe = load_pipeline(run, registry=host.registry, use_ema=False, notes=lambda message: None)
    model, geometry = pipe.model, pipe.geometry
    decoder = model.decoder
    if not callable(getattr(decoder, "compose", None)) or not callable(getattr(decoder, "part_maps", None)):
        raise SystemExit(f"{run}: needs a layered model (layered_content_encoder + sprite_frame_decoder)")
    test = test_split(read_index(run), host.registry, geometry)
    chosen = [i for i in range(len(test)) if test.factors(i)[1].kind == family][:clips]
    if not chosen:
        raise SystemExit(f"no {family} clip in the test split of {run}")
    video = torch.stack([test.clip(i) for i in chosen])  # [N, T, C, H, W]
    truth = torch.tensor(np.stack([np.stack(trajectory(*test.factors(i), geometry)[2:]) for i in chosen]),
                         dtype=torch.float32)  # [N, 2 (scale, angle), T]
    truth_log_scale = truth[:, 0].log() - truth[:, 0, :1].log()
    truth_angle = truth[:, 1] - truth[:, 1, :1]
    with torch.no_grad():
        content = model.content_encoder(video[:, 0])
    n, t = video.shape[:2]
    held = content.repeat_interleave(t, dim=0)  # each clip's content map, once per frame
    parts = decoder.parts
    log_scale = torch.zeros(n, t, parts, requires_grad=True)
    angle = torch.zeros(n, t, parts, requires_grad=True)
    shift = torch.zeros(n, t, parts, 2, requires_grad=True)
    optimiser = torch.optim.Adam([log_scale, angle, shift], lr=lr)
    for _ in range(steps):
        frames = decoder.compose(held, similarity_linear(log_scale, angle).flatten(0, 1), shift.flatten(0, 1))
        clip = frames.view(n, t, *frames.shape[1:])
        loss = (clip - video).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        fitted = {"log scale": log_scale[:, 1:, 0], "angle": angle[:, 1:, 0]}
        target = {"log scale": truth_log_scale[:, 1:], "angle": truth_angle[:, 1:]}
        # A family that keeps the scale (or the angle) fixed has nothing to follow there.
        table = {name: follows(fitted[name], target[name]) for name in fitted if target[name].std() > 1e-6}
        table["fit"] = {"final mse": float(loss)}
    return table


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a layered model trained on synthetic_shapes (run or checkpoint)")
    parser.add_argument("--family", choices=MOTIONS, default="zoom", help="motion family of the clips fitted")
    parser.add_argument("--clips", type=int, default=16, help="test clips of that family")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps on the free parameters")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    args = parser.parse_args(argv)
    print("command :", shlex.join([sys.executable, *sys.argv]))
    table = fit(args.run, args.family, args.clips, args.steps, args.lr, PluginHost.create())
    print(f"\nfree per-frame maps fitted to {args.clips} {args.family} clips by the reconstruction MSE "
          f"({args.steps} Adam steps, lr {args.lr}); final MSE {table['fit']['final mse']:.4f}\n")
    print("| fitted | correlation | slope | std | truth std |")
    print("|---|---:|---:|---:|---:|")
    for name in ("log scale", "angle"):
        if name not in table:
            continue
        row = table[name]
        print(f"| {name} | {row['corr']:.3f} | {row['slope']:.3f} | {row['std']:.4f} | {row['truth std']:.4f} |")
    return table


if __name__ == "__main__":
    main()
