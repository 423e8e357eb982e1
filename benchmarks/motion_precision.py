"""Where does a layered model's motion go wrong? Displacement errors in pixels against exact truth.

    python benchmarks/motion_precision.py runs/NAME
    python benchmarks/motion_precision.py runs/NAME --pairs 128 --weights raw
    python benchmarks/motion_precision.py runs/NAME --model-set decoder.max_shift=3.0

For a model with ``layered_content_encoder`` + ``sprite_frame_decoder`` trained on
``synthetic_shapes``: on held-out pairs (target A, source clip B) of the run's own test
split, the same pairs as ``benchmarks/learn_synthetic.py``, the object's centre is known
exactly in every frame (:func:`trajectory`). Each stage of the motion path is scored by how
far its idea of the object's *displacement since frame 1* is from the truth's, in pixels
(mean over frames 2-T and pairs, per motion family of the source):

- ``E_C masks``: the centroid of the part mask that E_C finds in each frame of clip B,
  against B's own path. This is ``part_trajectory``'s target for the motion path.
- ``E_M keypoints``: for a ``keypoint_motion_encoder``, the heatmap centre of its
  best-tracking keypoint (the one with the smallest error per family) on clip B.
- ``G_I reconstruction``: where the decoder moves the anchor (the part's centroid in B's
  first frame) with B's own motion codes; the path the reconstruction Ṽ_x draws.
- ``G_I transfer``: where it moves A's anchor with B's motion codes, against the transfer
  truth ``render(A, motion B)``; what ``learn_synthetic``'s transfer figure sees.
- ``exact copy``: B's true displacement put on A, against the same truth: what a perfect
  motion copy misses because the truth replays B's motion *factors* in A's geometry (see
  ``transfer_ceiling.py``). A model that copies paths cannot fall far below it.
  Circular and linear pairs are also shown split: ``copy exact`` where no wall parts the
  two paths (the copy's error below 0.05 px in every frame), ``walls differ`` where one does.

A zoom or a rotation keeps the true centre still, so there a stage's displacement error is
the spurious translation it adds (for a rotating asymmetric shape the mask centroid really
moves a little). A second table scores the decoder's scale and rotation (read off the linear
part of its map) and the exact copy's against the truth's, in per cent and degrees; a
rotation is scored as an angle even where the shape's symmetry hides it in the image.

A third table asks where a zoom's scale is lost: over the zoom sources, how much of the
true log scale per frame a linear read-out (least squares, fitted on 70 % of the clips,
scored on the rest: held-out R²) recovers from E_M's features (what E_M sees: keypoints, and with orientation its object map's moments)
and from G_T's frame codes (what the decoder gets). About a quarter of the sources are
zooms; give ``--pairs 512`` or more for this table: with fewer than ~100 zoom clips the
read-out overfits its fitting clips and the R² says little. Beside it, how the scale read off
E_C's part masks (soft, and thresholded at 0.5: the target ``part_trajectory``'s covariance
residual uses) and the decoder's own scale follow the truth's.

The same for rotation sources: the R² of the true turn since frame 1 (radians, signed)
from E_M's features and G_T's codes, and how the turn read off E_C's silhouettes (masks
above 0.5, angular moments unwrapped frame to frame: ``segmentation_targets.py``) and the
decoder's own angle (in (-180°, 180°]) follow it. Circles are included: their turn shows in
no image, so no read-out can reach R² 1.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import read_index
from vidgan_kit.interfaces import MotionPosterior
from vidgan_kit.layout import VideoGeometry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_synthetic import add_model_set_argument, test_split  # noqa: E402
from segmentation_targets import turn_from_silhouettes  # noqa: E402

from vidgan_builtin.data.synthetic import ContentFactors, MotionFactors, trajectory  # noqa: E402
from vidgan_builtin.networks.geometry import landing, map_turn, mask_moments, pixel_grid  # noqa: E402
from vidgan_kit.inference import load_pipeline  # noqa: E402

STAGES = ("E_C masks", "E_M keypoints", "G_I reconstruction", "G_I transfer", "exact copy")
FORM_STAGES = ("G_I reconstruction", "G_I transfer", "exact copy")
#: Families whose truth is a path (bounced off the walls); their pairs are also split by whether the
#: source's path, copied, is the truth (no wall met differently), to tell bounce errors from the rest.
TRANSLATIONS = ("circular", "linear")
#: An exact copy's largest per-frame error below this (pixels) counts as exact.
COPY_EXACT_PX = 0.05


def true_centres(content: ContentFactors, motion: MotionFactors, geometry: VideoGeometry) -> torch.Tensor:
    """The object's centre per frame in normalised (x, y) (the frame spans [-1, 1]): ``[T, 2]``."""
    cx, cy, _, _ = trajectory(content, motion, geometry)
    side = min(geometry.height, geometry.width)
    xy = np.stack([cx * side / geometry.width, cy * side / geometry.height], axis=1) * 2 - 1
    return torch.tensor(xy, dtype=torch.float32)


def displacement_error_px(path: torch.Tensor, truth: torch.Tensor, geometry: VideoGeometry) -> torch.Tensor:
    """Per frame 2-T, the distance in pixels between two paths' displacements since frame 1.

    ``path`` and ``truth`` are ``[..., T, 2]`` normalised; returns ``[..., T-1]``."""
    moved = (path - path[..., :1, :]) - (truth - truth[..., :1, :])
    half = torch.tensor([geometry.width / 2, geometry.height / 2])
    return (moved[..., 1:, :] * half).norm(dim=-1)


def part_motion(
    decoder: torch.nn.Module, content: torch.Tensor, frame_codes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the decoder does to part 0 of a content map in each frame: where its anchor lands,
    its scale and its rotation (forward, radians). The backward map ``src(p) = a + A (p - a) + e``
    (``decoder.part_maps``) sends the output point ``a - A⁻¹ e`` to the anchor ``a``;
    ``A = R(-θ) / s`` for a similarity.
    content [B, *content_shape], frame_codes [B, T, F] → ([B, T, 2], [B, T], [B, T])."""
    linear, shift = decoder.part_maps(frame_codes)
    linear, shift = linear[:, :, 0], shift[:, :, 0]
    anchors = decoder.anchors(decoder.layers(content)[2])
    point = landing(anchors[:, None, 0].expand_as(shift), linear, shift)
    scale = torch.linalg.det(linear).abs().clamp_min(1e-8).rsqrt()
    return point, scale, map_turn(linear)


def true_scale_angle(content: ContentFactors, motion: MotionFactors, geometry: VideoGeometry) -> torch.Tensor:
    """The object's scale and rotation since frame 1 per frame: ``[T, 2]``."""
    _, _, scale, angle = trajectory(content, motion, geometry)
    return torch.tensor(np.stack([scale / scale[0], angle - angle[0]], axis=1), dtype=torch.float32)


def scale_error_pct(scale: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """|log ŝ - log s| in per cent, frames 2-T: ``[..., T-1]``."""
    return 100 * (scale.log() - truth.log()).abs()[..., 1:]


def angle_error_deg(angle: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """|θ̂ - θ| wrapped to [0°, 180°], frames 2-T: ``[..., T-1]``."""
    diff = torch.remainder(angle - truth + torch.pi, 2 * torch.pi) - torch.pi
    return diff.abs()[..., 1:] * 180 / torch.pi


@torch.no_grad()
def measure(run: Path, pairs_n: int, seed: int, use_ema: bool, host: PluginHost,
            options: Sequence[str] = ()) -> tuple[dict, VideoGeometry]:
    pipe = load_pipeline(run, registry=host.registry, use_ema=use_ema, notes=lambda message: None, options=options)
    model, geometry = pipe.model, pipe.geometry
    encoder, decoder = model.content_encoder, model.decoder
    if not callable(getattr(encoder, "part_masks", None)) or not callable(getattr(decoder, "part_maps", None)):
        raise SystemExit(f"{run}: needs a layered model (layered_content_encoder + sprite_frame_decoder)")
    keypoint_moments = getattr(model.motion_encoder, "moments", None)
    test = test_split(read_index(run), host.registry, geometry)
    pairs = test.transfer_pairs(pairs_n, seed=seed)
    grid = pixel_grid(geometry.height, geometry.width)
    errors: dict[str, dict[str, list[torch.Tensor]]] = defaultdict(lambda: defaultdict(list))
    probe: dict[str, list[torch.Tensor]] = defaultdict(list)  # zoom sources: features and true log scale per frame
    turn_probe: dict[str, list[torch.Tensor]] = defaultdict(list)  # rotation sources: the same for the turn
    for start in range(0, len(pairs), 32):
        chunk = pairs[start : start + 32]
        data = test.transfer_batch(chunk)
        image, source = data["image"], data["source"]
        b, t = source.shape[:2]
        factors = [(test.factors(a)[0], *test.factors(s)) for a, s in chunk]  # (target content, source content, motion)
        source_truth = torch.stack([true_centres(c, m, geometry) for _, c, m in factors])
        transfer_truth = torch.stack([true_centres(a, m, geometry) for a, _, m in factors])
        source_form = torch.stack([true_scale_angle(c, m, geometry) for _, c, m in factors])  # [B, T, 2]
        transfer_form = torch.stack([true_scale_angle(a, m, geometry) for a, _, m in factors])
        families = [m.kind for _, _, m in factors]

        source_codes = encoder(source.flatten(0, 1))
        masks = encoder.part_masks(source_codes)  # [B*T, K, H, W]
        mask_centres = mask_moments(masks, grid)[0].view(b, t, -1, 2)[:, :, 0]
        frame_codes = model.temporal_generator(MotionPosterior(*model.motion_encoder(source)).mean, t)
        source_first = source_codes.view(b, t, *source_codes.shape[1:])[:, 0]
        recon_point, recon_scale, recon_angle = part_motion(decoder, source_first, frame_codes)
        moved_point, moved_scale, moved_angle = part_motion(decoder, encoder(image), frame_codes)
        found = {
            "E_C masks": displacement_error_px(mask_centres, source_truth, geometry),
            "G_I reconstruction": displacement_error_px(recon_point, source_truth, geometry),
            "G_I transfer": displacement_error_px(moved_point, transfer_truth, geometry),
            "exact copy": displacement_error_px(source_truth, transfer_truth, geometry),
            "G_I reconstruction scale": scale_error_pct(recon_scale, source_form[..., 0]),
            "G_I transfer scale": scale_error_pct(moved_scale, transfer_form[..., 0]),
            "exact copy scale": scale_error_pct(source_form[..., 0], transfer_form[..., 0]),
            "G_I reconstruction angle": angle_error_deg(recon_angle, source_form[..., 1]),
            "G_I transfer angle": angle_error_deg(moved_angle, transfer_form[..., 1]),
            "exact copy angle": angle_error_deg(source_form[..., 1], transfer_form[..., 1]),
        }
        if callable(keypoint_moments):
            centres = keypoint_moments(source)[0].transpose(1, 2)  # [B, K, T, 2]
            found["E_M keypoints"] = displacement_error_px(centres, source_truth.unsqueeze(1), geometry)  # [B, K, T-1]
        zooms = [i for i, family in enumerate(families) if family == "zoom"]
        if zooms:
            probe["log scale"].append(source_form[zooms, :, 0].log())
            zoom_masks = masks.view(b, t, *masks.shape[1:])[zooms, :, 0]  # part 0, [Z, T, H, W]
            for name, m in (("E_C soft masks", zoom_masks), ("E_C masks > 0.5", (zoom_masks > 0.5).float())):
                det = torch.linalg.det(mask_moments(m, grid)[1]).clamp_min(1e-12)  # [Z, T]
                probe[name].append(0.25 * (det / det[:, :1]).log())  # log scale since frame 1
            probe["G_I reconstruction"].append(recon_scale[zooms].log())
            probe["G_T frame codes"].append(frame_codes[zooms])
            if callable(getattr(model.motion_encoder, "features", None)):
                probe["E_M features"].append(model.motion_encoder.features(source[zooms]))
        turns = [i for i, family in enumerate(families) if family == "rotation"]
        if turns:
            turn_probe["turn"].append(source_form[turns, :, 1])
            turn_masks = masks.view(b, t, *masks.shape[1:])[turns, :, 0] > 0.5  # part 0, [R, T, H, W]
            turn_probe["E_C masks > 0.5"].append(torch.stack([turn_from_silhouettes(m)[0] for m in turn_masks]))
            turn_probe["G_I reconstruction"].append(recon_angle[turns])
            turn_probe["G_T frame codes"].append(frame_codes[turns])
            if callable(getattr(model.motion_encoder, "features", None)):
                turn_probe["E_M features"].append(model.motion_encoder.features(source[turns]))
        copy_exact = found["exact copy"].amax(-1) < COPY_EXACT_PX
        for i, family in enumerate(families):
            groups = [family, "all"]
            if family in TRANSLATIONS:  # where a copy of the path is exact, and where walls part them
                groups.append(f"{family}, {'copy exact' if copy_exact[i] else 'walls differ'}")
            for stage, err in found.items():
                for group in groups:
                    errors[group][stage].append(err[i].mean(-1))  # per keypoint for E_M, else a scalar
    table = {}
    for group, stages in errors.items():
        row = {}
        for stage, values in stages.items():
            mean = torch.stack(values).mean(0)
            row[stage] = float(mean.min()) if mean.dim() else float(mean)  # E_M: its best keypoint
        row["pairs"] = len(stages["E_C masks"])
        table[group] = row
    for what, collected, truth, followed in (("scale", probe, "log scale", FOLLOWED),
                                             ("turn", turn_probe, "turn", TURN_FOLLOWED)):
        if collected[truth]:
            target = torch.cat(collected[truth])
            table[f"{what} probe"] = {name: held_out_r2(torch.cat(collected[name]), target)
                                      for name in PROBED if collected[name]}
            table[f"{what} follow"] = {name: follows(torch.cat(collected[name]), target) for name in followed}
    table["read-out"] = read_out_norms(decoder)
    return table, geometry


#: What each of the sprite decoder's six raw read-out outputs per part means, by its ``linear`` form.
READ_OUT_OUTPUTS = {
    "similarity": ("log scale", "angle", "(unused)", "(unused)", "shift x", "shift y"),
    "bounded": ("A11 - 1", "A12", "A21", "A22 - 1", "shift x", "shift y"),
}


def read_out_norms(decoder: Any) -> dict[str, float]:
    """Norm of the decoder's motion read-out weights per output (part 1): which motions the
    decoder has learnt to read off the frame codes at all (all start at zero by default)."""
    weight = decoder.motion_head.weight.detach().view(decoder.parts, 6, -1)[0]
    names = READ_OUT_OUTPUTS[decoder.config.linear]
    return {name: float(row.norm()) for name, row in zip(names, weight) if name != "(unused)"}


SUMMARIES = ("scale probe", "scale follow", "turn probe", "turn follow", "read-out")
PROBED = ("E_M features", "G_T frame codes")
FOLLOWED = ("E_C soft masks", "E_C masks > 0.5", "G_I reconstruction")
TURN_FOLLOWED = ("E_C masks > 0.5", "G_I reconstruction")


def print_probe(table: dict, what: str, probe_heading: str, follow_heading: str, clips: int) -> None:
    """Print the ``what`` ("scale" or "turn") read-out R²s and the follow table."""
    print()
    print(probe_heading + (" (fewer than 100 clips: the read-out overfits, use --pairs 512)" if clips < 100 else ""))
    print()
    for name, r2 in table[f"{what} probe"].items():
        print(f"  {name:<22} {r2:.3f}")
    print()
    print(follow_heading)
    print()
    print("| read off | correlation | slope | std | truth std |")
    print("|---|---:|---:|---:|---:|")
    for name, f in table[f"{what} follow"].items():
        print(f"| {name} | {f['corr']:.3f} | {f['slope']:.3f} | {f['std']:.4f} | {f['truth std']:.3f} |")


def follows(estimate: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """How a log scale per frame [Z, T] follows the truth's: correlation, least-squares slope
    through 0 (1: follows fully, 0: does not move with it) and the two standard deviations."""
    e, y = estimate.flatten().float(), truth.flatten().float()
    return {"corr": float(torch.corrcoef(torch.stack([e, y]))[0, 1]), "slope": float((e * y).sum() / (y * y).sum()),
            "std": float(e.std()), "truth std": float(y.std())}


def held_out_r2(features: torch.Tensor, target: torch.Tensor, train_share: float = 0.7) -> float:
    """R² on held-out clips of a least-squares linear read-out of ``target`` [N, T] from
    ``features`` [N, T, F] (per frame; clips split, not frames, so no clip is in both parts)."""
    x = torch.cat([features.float(), torch.ones(*features.shape[:2], 1)], dim=-1)
    n = max(1, min(len(x) - 1, int(len(x) * train_share)))
    x_fit, y_fit = x[:n].flatten(0, 1), target[:n].flatten()
    x_test, y_test = x[n:].flatten(0, 1), target[n:].flatten()
    ridge = 1e-3 * torch.eye(x_fit.shape[1])  # a touch of ridge: features can be collinear
    weights = torch.linalg.solve(x_fit.T @ x_fit + ridge, x_fit.T @ y_fit)
    return float(1 - (x_test @ weights - y_test).square().sum() / (y_test - y_test.mean()).square().sum())


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a layered model trained on synthetic_shapes (run or checkpoint)")
    parser.add_argument("--pairs", type=int, default=256, help="held-out (target, source) pairs, as learn_synthetic")
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the pair draw, as learn_synthetic")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="the EMA weights (as inference uses them) or the raw trained weights")
    add_model_set_argument(parser, "decoder.max_shift=3.0")
    args = parser.parse_args(argv)
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    table, geometry = measure(args.run, args.pairs, args.eval_seed, args.weights == "ema", PluginHost.create(),
                              args.model_set)
    print(f"pairs   : {args.pairs} held-out pairs, {geometry.frames} frames {geometry.height}x{geometry.width},"
          f" {args.weights} weights of {args.run}")
    print()
    groups = sorted((g for g in table if g not in SUMMARIES), key=lambda g: (g == "all", g))
    shown = [s for s in STAGES if s in table["all"]]
    print("Displacement since frame 1: mean distance to the truth's, pixels")
    print()
    print("| source motion | pairs | " + " | ".join(f"{s}" for s in shown) + " |")
    print("|---|---:|" + "---:|" * len(shown))
    for group in groups:
        row = table[group]
        print(f"| {group} | {row['pairs']} | " + " | ".join(f"{row[s]:.2f}" for s in shown) + " |")
    print()
    print("Scale (|log ratio|, %) and rotation (degrees) since frame 1: mean error against the truth's")
    print()
    forms = [f"{stage} {what}" for what in ("scale", "angle") for stage in FORM_STAGES]
    print("| source motion | " + " | ".join(forms) + " |")
    print("|---|" + "---:|" * len(forms))
    for group in groups:
        print(f"| {group} | " + " | ".join(f"{table[group][f]:.1f}" for f in forms) + " |")
    if "scale probe" in table:
        print_probe(table, "scale", f"Zoom sources ({table['zoom']['pairs']}): held-out R² of the true log scale"
                    " per frame, linear read-out from",
                    "How the log scale since frame 1 follows the truth's (slope 1: fully, 0: not at all)",
                    table["zoom"]["pairs"])
    if "turn probe" in table:
        print_probe(table, "turn", f"Rotation sources ({table['rotation']['pairs']}, circles included, whose turn"
                    " no image shows): held-out R² of the true turn since frame 1 per frame, linear read-out from",
                    "How the turn since frame 1 (radians) follows the truth's; E_C masks: read off their"
                    " silhouettes' angular moments (benchmarks/segmentation_targets.py)",
                    table["rotation"]["pairs"])
    print()
    print("The decoder's motion read-out, weight norm per output (part 1; zero at initialisation by default): "
          + ", ".join(f"{name} {norm:.4f}" for name, norm in table["read-out"].items()))
    return table


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
