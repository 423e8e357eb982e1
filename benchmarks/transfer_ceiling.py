"""How well can a model that copies the source's motion exactly score on learn_synthetic's truth?

    python benchmarks/transfer_ceiling.py --set video.height=32 --set video.width=32
    python benchmarks/transfer_ceiling.py --recipe recipes/dual_mtgan.toml --pairs 256
    python benchmarks/transfer_ceiling.py --checkpoint runs/NAME --pairs 128   # a layered model's layers
    python benchmarks/transfer_ceiling.py --checkpoint runs/NAME --model-set decoder.max_shift=3.0

No model is trained or loaded. ``synthetic_shapes`` defines motion by its *factors*
(family, speed, direction, sense), and its transfer truth ``render(content A, motion B)``
replays those factors in A's geometry: a linear or circular motion bounces off the frame's
edges where A's object would hit them, a zoom's rate and a rotation's angular speed are
scaled by A's size (speeds are edge speeds). The source clip shows B's motion in B's
geometry. A transfer model in the usual sense (Monkey-Net, FOMM, Dual-MTGAN's deterministic
path) reads the source's motion off the clip and moves the target the same way.

This script scores the *ideal* such model: the target's object moved along the source's
exact path, relative to its start (the same displacements, scale changes and rotation
angles), rendered exactly (:func:`render_path`), against the truth, on the same held-out
pairs and with the same measure as ``benchmarks/learn_synthetic.py`` (PSNR/SSIM, frames
2-T), overall and per motion family of the source. It is the ceiling of motion copying on
this benchmark: how much of learn_synthetic's target (transfer >= static + 6 dB) can be
reached without inferring the motion's factors and re-simulating them for the target.
Frames where the copy equals the truth (before the first bounce, and every frame of
translations that never bounce) score learn_synthetic's 100 dB cap; the table says how
many there are, because they dominate a mean of per-frame PSNR.

With ``--checkpoint`` (a model with ``sprite_frame_decoder``, square frames), the same is
done with *the model's own layers* (its masks, background plate and compositing): the
target's layers moved by the truth's exact path ("layers + true motion"), by the source's
copied path ("layers + copied motion"), and by the model's own motion path (its
``transfer``). The first two are what the model would score with a perfect motion path:
they separate what its layers cost from what its motion path costs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import read_index
from vidgan_kit.eval import leakage_changes, leakage_picks
from vidgan_kit.inference import load_pipeline
from vidgan_kit.layout import VideoGeometry
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthetic import (  # noqa: E402
    PSNR_CAP, TARGET_OVER_STATIC_DB, add_model_set_argument, per_frame_scores, test_split,
)

from vidgan_builtin.data.synthetic import ContentFactors, MotionFactors, render_path, trajectory  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def copied_path(
    target: ContentFactors, source: ContentFactors, motion: MotionFactors, geometry: VideoGeometry
) -> tuple[np.ndarray, ...]:
    """The source clip's path (centre, scale, angle over time) applied to the target's object."""
    tx, ty, _, t_angle = trajectory(target, motion, geometry)
    sx, sy, s_scale, s_angle = trajectory(source, motion, geometry)
    return tx[0] + (sx - sx[0]), ty[0] + (sy - sy[0]), s_scale, t_angle[0] + (s_angle - s_angle[0])


#: Ideal transfer models for the leakage table: how each builds its path from the target's and
#: the source's factors (``copy``: the source's path; ``truth``: the target's own trajectory
#: under the source's motion factors, i.e. the transfer's truth).
IDEAL_MODELS = {
    "ideal copy": ("copy", "copy"),
    "copy, translation from factors": ("truth", "copy"),
    "copy, scale and turn from factors": ("copy", "truth"),
    "truth (factors replayed)": ("truth", "truth"),
}


def ideal_path(kind: tuple[str, str], target: ContentFactors, source: ContentFactors, motion: MotionFactors,
               geometry: VideoGeometry) -> tuple[np.ndarray, ...]:
    """An ideal model's path: centre from ``kind[0]``, scale and angle from ``kind[1]``."""
    makers = {
        "copy": lambda: copied_path(target, source, motion, geometry),
        "truth": lambda: trajectory(target, motion, geometry),
    }
    paths = {k: makers[k]() for k in set(kind)}
    (cx, cy, _, _), (_, _, scale, angle) = paths[kind[0]], paths[kind[1]]
    return cx, cy, scale, angle


def leakage_table(test: Any, geometry: VideoGeometry, triples: list[int]) -> dict[str, dict[int, float]]:
    """``vidgan eval``'s leakage ratio (same triples, same measure) of each ideal model."""
    print("| ideal model | triples | content change | motion change | leakage ratio |")
    print("|---|---:|---:|---:|---:|")
    ratios: dict[str, dict[int, float]] = defaultdict(dict)
    factors = {i: test.factors(i) for i in range(len(test))}
    for name, kind in IDEAL_MODELS.items():
        for count in triples:
            picks = leakage_picks(len(test), count)

            def outputs(content: int, motion: int) -> torch.Tensor:
                return torch.stack([render_path(factors[p[0]][0], *ideal_path(
                    kind, factors[p[0]][0], factors[p[content]][0], factors[p[motion]][1], geometry), geometry)
                    for p in picks])

            content_change, motion_change = leakage_changes(outputs(1, 3), outputs(2, 3), outputs(1, 4))
            ratios[name][count] = content_change / motion_change
            print(f"| {name} | {count} | {content_change:.4f} | {motion_change:.4f} | {ratios[name][count]:.3f} |")
    return ratios


def path_affine(path: tuple[np.ndarray, ...], anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sprite_frame_decoder``'s backward maps for an object moving along ``path`` (centre in
    units of the side, scale, angle; square frames), about the parts' ``anchors`` [K, 2]:
    linear A [T, K, 2, 2] and shift e [T, K, 2] with ``src(p) = a + A (p - a) + e``."""
    cx, cy, scale, angle = path
    centre = torch.tensor(np.stack([cx, cy], 1) * 2 - 1, dtype=torch.float32)  # normalised, [T, 2]
    phi = torch.tensor(angle[0] - angle, dtype=torch.float32)
    rot = torch.stack([torch.stack([phi.cos(), -phi.sin()], -1), torch.stack([phi.sin(), phi.cos()], -1)], -2)
    linear = rot / torch.tensor(scale, dtype=torch.float32).view(-1, 1, 1)  # [T, 2, 2]
    # src(p) = c_0 + A (p - c_t)  =>  e = c_0 - A c_t + (A - I) a
    k = anchors.shape[0]
    back = centre[:1] - torch.einsum("tij,tj->ti", linear, centre)  # [T, 2]
    shift = back.unsqueeze(1) + torch.einsum("tij,kj->tki", linear, anchors) - anchors.unsqueeze(0)
    return linear.unsqueeze(1).expand(-1, k, 2, 2), shift


def layered_rows(args: argparse.Namespace, host: PluginHost, rows: dict[str, dict[str, list[float]]]) -> VideoGeometry:
    """Score a layered checkpoint's layers moved by the true and the copied paths, and its own transfer."""
    pipe = load_pipeline(args.checkpoint, registry=host.registry, use_ema=args.weights == "ema",
                         notes=lambda message: None, options=args.model_set)
    model, geometry = pipe.model, pipe.geometry
    decoder = model.decoder
    if not callable(getattr(decoder, "compose", None)) or geometry.height != geometry.width:
        raise SystemExit("--checkpoint needs a model with sprite_frame_decoder and square frames")
    test = test_split(read_index(args.checkpoint), host.registry, geometry)
    for a, b in test.transfer_pairs(args.pairs, seed=args.eval_seed):
        target, _ = test.factors(a)
        source, motion = test.factors(b)
        data = test.transfer_batch([(a, b)])
        image, truth = data["image"], data["truth"]
        content = model.content_encoder(image)
        anchors = decoder.anchors(decoder.layers(content)[2])[0]
        videos = {"model transfer": model.transfer(image, data["source"])}
        for name, path in (("layers + true motion", trajectory(target, motion, geometry)),
                           ("layers + copied motion", copied_path(target, source, motion, geometry))):
            linear, shift = path_affine(path, anchors)
            frames = decoder.compose(content.expand(geometry.frames, *content.shape[1:]), linear, shift)
            videos[name] = frames.unsqueeze(0)
        videos["static"] = truth[:, :1].expand_as(truth)
        for name, video in videos.items():
            psnr, ssim = per_frame_scores(video, truth)
            for family in (motion.kind, "all"):
                rows[family][f"{name}/psnr"].append(float(psnr[0, 1:].mean()))
                rows[family][f"{name}/ssim"].append(float(ssim[0, 1:].mean()))
    return geometry


def print_layered(rows: dict[str, dict[str, list[float]]]) -> None:
    names = ("layers + true motion", "layers + copied motion", "model transfer", "static")
    print("| source motion | pairs | " + " | ".join(f"{n} dB (SSIM)" for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for family in sorted(rows, key=lambda f: (f == "all", f)):
        r = {k: float(np.mean(v)) for k, v in rows[family].items()}
        cells = " | ".join(f"{r[f'{n}/psnr']:.2f} ({r[f'{n}/ssim']:.3f})" for n in names)
        print(f"| {family} | {len(rows[family]['static/psnr'])} | {cells} |")


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml",
                        help="recipe whose data options, seed and video geometry define the pairs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--pairs", type=int, default=256, help="held-out (content, motion) pairs, as learn_synthetic")
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the pair draw, as learn_synthetic")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a layered model (run or checkpoint directory): score its layers moved by ideal motions")
    add_model_set_argument(parser, "decoder.max_shift=3.0 (with --checkpoint)")
    parser.add_argument("--leakage-triples", default="16,256",
                        help="without --checkpoint: triple counts of the ideal models' leakage table (16: vidgan eval's)")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="with --checkpoint: the EMA weights (as inference uses them) or the raw trained weights")
    args = parser.parse_args(argv)
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    host = PluginHost.create()
    if args.checkpoint is not None:
        layered: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        geometry = layered_rows(args, host, layered)
        print(f"pairs   : {args.pairs} held-out pairs, {geometry.frames} frames {geometry.height}x{geometry.width},"
              f" frames 2-{geometry.frames}; layers of {args.checkpoint}")
        print()
        print_layered(layered)
        return {f: {k: float(np.mean(v)) for k, v in r.items()} for f, r in layered.items()}
    recipe = validate_recipe(apply_overrides(read_recipe_table(args.recipe), args.set), host.registry,
                             source=str(args.recipe))
    if recipe.data.type != "synthetic_shapes":
        raise SystemExit(f"{args.recipe}: data.type must be synthetic_shapes")
    geometry = recipe.video
    test = host.registry.build("dataset", recipe.data, geometry=geometry, split="test", seed=recipe.seed)
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a, b in test.transfer_pairs(args.pairs, seed=args.eval_seed):
        target, _ = test.factors(a)
        source, motion = test.factors(b)
        truth = test.transfer_truth(a, b).unsqueeze(0)
        copy = render_path(target, *copied_path(target, source, motion, geometry), geometry).unsqueeze(0)
        static = truth[:, :1].expand_as(truth)
        for name, video in (("copy", copy), ("static", static)):
            psnr, ssim = per_frame_scores(video, truth)
            for family in (motion.kind, "all"):
                rows[family][f"{name}/exact"].append(float((psnr[0, 1:] >= PSNR_CAP).float().mean()))
                rows[family][f"{name}/psnr"].append(float(psnr[0, 1:].mean()))
                rows[family][f"{name}/ssim"].append(float(ssim[0, 1:].mean()))
    frames = geometry.frames
    print(f"pairs   : {args.pairs} held-out pairs of synthetic_shapes (test split, seed {recipe.seed}), "
          f"{frames} frames {geometry.height}x{geometry.width}; frames 2-{frames}")
    print()
    print("| source motion | pairs | ideal copy dB | static dB | copy - static | ideal copy SSIM | static SSIM |"
          " copy frames exact |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for family in sorted(rows, key=lambda f: (f == "all", f)):
        r = {k: float(np.mean(v)) for k, v in rows[family].items()}
        summary[family] = r
        print(f"| {family} | {len(rows[family]['copy/psnr'])} | {r['copy/psnr']:.2f} | {r['static/psnr']:.2f} |"
              f" {r['copy/psnr'] - r['static/psnr']:+.2f} | {r['copy/ssim']:.3f} | {r['static/ssim']:.3f} |"
              f" {100 * r['copy/exact']:.0f} % |")
    gap = summary["all"]["copy/psnr"] - summary["all"]["static/psnr"]
    print()
    print(f"ceiling of exact motion copying: {gap:+.2f} dB over static "
          f"(learn_synthetic's target: >= {TARGET_OVER_STATIC_DB:g} dB)")
    print(f"(frames equal to their truth count as {PSNR_CAP:g} dB, as in learn_synthetic: the exact frames before"
          " a bounce carry the mean)")
    print()
    print("Leakage ratio of ideal models (vidgan eval's protocol and triples; rendered exactly):")
    print()
    ratios = leakage_table(test, geometry, [int(n) for n in args.leakage_triples.split(",")])
    summary["leakage"] = {f"{name} / {n}": r for name, by_count in ratios.items() for n, r in by_count.items()}
    return summary


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
