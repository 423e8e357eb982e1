"""How good are L_seg's self-supervised targets, and what could a silhouette tell about rotation?

    python benchmarks/segmentation_targets.py
    python benchmarks/segmentation_targets.py --clips 200 --size 64

No model, no training: ``synthetic_shapes`` clips of each motion family are rendered with
their exact object silhouettes (the clip rendered twice with two object colours: the
pixels that differ are the object, the pixels it covers by more than half), and two
targets that ``motion_segmentation`` can train E_C's masks on are scored against them:

- the **change target** (``moving_pixels``, L_seg's default): where the clip changes;
- the **filled target** (``fill_moving_objects``, ``fill_objects = true``): the change
  target completed by the regions a colour flood from the still border cannot reach.

Per family: intersection over union with the truth (above 0.5), and how the target's area
follows the object's (slope of log area on the truth's log area; 1: fully). A mask trained
on a target cannot follow a zoom better than the target does.

Then, for rotation clips, the object's turn read off the filled silhouettes: per frame the
n-fold angular moment ``sum (z - c)^n`` (n = 2, 3, 4, the largest normalised magnitude over
the clip picks n), its angle / n unwrapped frame to frame, against the truth's turn since
frame 1 (mean absolute error in degrees, per shape; a circle has no angle to read), with
the order used and its mean strength (``angular_moments``: 0 for a disc). This
says whether a rotation target for the motion path could come from masks at all.

Last, what the targets cost: milliseconds per batch of ``--batch`` clips (median of 5 calls,
the process's torch threads) for the change target and for the fill on top of it, as
``motion_segmentation`` computes them once per training step.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import statistics
import sys
import time

import numpy as np
import torch

from vidgan_kit import VideoGeometry
from vidgan_builtin.data.synthetic import MOTIONS, SHAPES, SyntheticShapesConfig, render, sample_content, sample_motion, trajectory
from vidgan_builtin.networks.geometry import ANGULAR_ORDERS, angular_moments, clearest_turn, pixel_grid
from vidgan_dual_mtgan.layered_losses import moving_pixels
from vidgan_dual_mtgan.regions import fill_moving_objects

def silhouettes(content, motion, geometry: VideoGeometry) -> tuple[torch.Tensor, torch.Tensor]:
    """(clip [T, C, H, W], the object's exact silhouette per frame [T, H, W] bool)."""
    clip = render(content, motion, geometry)
    inverse = dataclasses.replace(content, color=tuple(1.0 - x for x in content.color))
    other = render(inverse, motion, geometry)
    contrast = (torch.tensor(content.color) - torch.tensor(inverse.color)).abs().max() * 2  # on [-1, 1]
    return clip, (clip - other).abs().amax(dim=1) > 0.5 * contrast


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per frame intersection over union of two [T, H, W] bool stacks."""
    return (a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp_min(1)


def log_slope(truth_area: torch.Tensor, area: torch.Tensor) -> float:
    x, y = truth_area.clamp_min(1).log(), area.clamp_min(1).log()
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / x.square().sum().clamp_min(1e-12))


def turn_from_silhouettes(masks: torch.Tensor) -> tuple[torch.Tensor, int, float]:
    """(turn since frame 1 per frame [T] in radians, the angular order used, its mean strength)
    from silhouettes [T, H, W]: the order whose moment is strongest over the clip."""
    phasors, strength = angular_moments(masks.float(), pixel_grid(*masks.shape[-2:]))
    turn, best, clarity = clearest_turn(phasors[None], strength[None])
    return turn[0], ANGULAR_ORDERS[int(best)], float(clarity)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=120, help="clips per motion family")
    parser.add_argument("--size", type=int, default=32, help="frame side in pixels")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.1, help="L_seg's threshold (change on [-1, 1])")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16, help="clips per batch for the cost line")
    args = parser.parse_args(argv)
    print("command :", shlex.join(["python", "benchmarks/segmentation_targets.py", *(argv or sys.argv[1:])]))
    geometry = VideoGeometry(frames=args.frames, height=args.size, width=args.size)
    config = SyntheticShapesConfig()
    rng = np.random.default_rng(args.seed)
    print(f"clips   : {args.clips} per family, {args.frames} frames {args.size}x{args.size}, threshold {args.threshold}\n")
    print("| motion | IoU change target | IoU filled target | log-area slope, change | log-area slope, filled |")
    print("|---|---:|---:|---:|---:|")
    turns: dict[str, list[tuple[float, float]]] = {shape: [] for shape in SHAPES}
    for kind in MOTIONS:
        scores = {"change": [], "filled": []}
        areas = {"truth": [], "change": [], "filled": []}
        for _ in range(args.clips):
            content = sample_content(rng, config)
            motion = dataclasses.replace(sample_motion(rng, config), kind=kind)
            clip, truth = silhouettes(content, motion, geometry)
            change = moving_pixels(clip[None], args.threshold)
            filled = fill_moving_objects(clip[None], change, args.threshold)[0] > 0.5
            change = change[0] > 0.5
            for name, target in (("change", change), ("filled", filled)):
                scores[name].append(iou(target, truth).mean().item())
                areas[name].append(target.flatten(1).sum(1).float())
            areas["truth"].append(truth.flatten(1).sum(1).float())
            if kind == "rotation":
                turn = trajectory(content, motion, geometry)[3]
                true_turn = torch.tensor(turn - turn[0], dtype=torch.float32)
                read, order, strength = turn_from_silhouettes(filled)
                turns[content.shape].append(
                    ((read - true_turn).abs()[1:].mean().item(), true_turn.abs()[1:].mean().item(), order, strength)
                )
        truth_area = torch.cat(areas["truth"])
        print(f"| {kind} | {np.mean(scores['change']):.3f} | {np.mean(scores['filled']):.3f} "
              f"| {log_slope(truth_area, torch.cat(areas['change'])):.2f} "
              f"| {log_slope(truth_area, torch.cat(areas['filled'])):.2f} |")
    print("\nRotation clips: the turn since frame 1 read off the filled silhouettes' angular moments\n")
    print("| shape | clips | mean abs error, degrees | mean abs true turn, degrees | order used (most clips) |"
          " its mean strength |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape, rows in turns.items():
        if rows:
            err, true = np.degrees(np.mean([row[:2] for row in rows], axis=0))
            orders = [row[2] for row in rows]
            print(f"| {shape} | {len(rows)} | {err:.1f} | {true:.1f} | {max(set(orders), key=orders.count)}"
                  f" | {np.mean([row[3] for row in rows]):.2f} |")
    batch = torch.stack([render(sample_content(rng, config), sample_motion(rng, config), geometry)
                         for _ in range(args.batch)])
    change = moving_pixels(batch, args.threshold)
    change_ms = median_ms(lambda: moving_pixels(batch, args.threshold))
    fill_ms = median_ms(lambda: fill_moving_objects(batch, change, args.threshold))
    print(f"\ncost    : per batch of {args.batch} clips ({torch.get_num_threads()} torch threads): change target"
          f" {change_ms:.1f} ms, fill on top of it {fill_ms:.1f} ms")


def median_ms(call, runs: int = 5) -> float:
    """Median milliseconds of ``call()`` over ``runs`` calls after one untimed."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


if __name__ == "__main__":
    main()
