"""Does a recipe learn motion transfer? Train on synthetic_shapes, score against exact truth.

    python benchmarks/learn_synthetic.py                                   # dual_mtgan, 30 minutes
    python benchmarks/learn_synthetic.py --set video.height=32 --set video.width=32 --minutes 1
    python benchmarks/learn_synthetic.py --recipe recipes/dual_mtgan_paper_literal.toml --minutes 30
    python benchmarks/learn_synthetic.py --evaluate runs/learn-dual_mtgan-20260101-120000
    python benchmarks/learn_synthetic.py --seeds 0,1 --out runs/learn-width16   # one run per seed, mean and spread
    python benchmarks/learn_synthetic.py --evaluate RUN_A RUN_B                 # several finished runs, mean and spread

Training: the recipe (with ``--set`` overrides) for ``--minutes`` of wall-clock training
(``train.max_minutes``), split into ``--curve-points`` equal sessions. Every session ends
with a checkpoint and the next one resumes it; resuming is exact, so this is the same run
as one session, with a checkpoint at every 1/K of the budget for the learning curve.

Evaluation (also of any finished run: ``--evaluate RUN_DIR``), on ``--pairs`` held-out pairs
of the ``synthetic_shapes`` test split with the run's own data options. For a pair (A, B),
the target image is A's first frame and the source video is clip B; the exact answer is
``render(content A, motion B)`` (:meth:`SyntheticShapes.transfer_truth`). Scored with
``kornia.metrics.psnr`` / ``ssim`` (window 11) on [0, 1], per frame, averaged over frames
2-16 (frame 1 is the target image itself, so a copy scores 100 dB there; it is reported on
its own):

- **transfer**: ``model.transfer(image A, clip B)`` against the truth;
- **wrong motion**: ``model.transfer(image A, clip C)`` for a third clip C, against the same
  truth: a model that ignores the motion video scores as well as with the right one;
- **static**: image A repeated, against the truth (the baseline to beat);
- **reconstruction**: Ṽ_x, the model's reconstruction of clip B (``forward`` in eval mode),
  against clip B.

Seeds: the seed draws the weights, the training clips and the held-out test clips, and on this
benchmark it has moved transfer - static by 1.2-1.4 dB at 3441 steps, more than most single
changes. ``--seeds 0,1`` trains one run per seed (``OUT/seed-S``) and, like ``--evaluate``
with several runs, ends with each figure's mean, minimum and maximum over the runs: compare a
change by those, not by one run.

Targets: transfer >= static + 6 dB; right - wrong motion >= 4 dB. The EMA weights are
scored when the checkpoint has them (as ``vidgan transfer`` uses them); ``--weights raw``
scores the trained weights instead (an EMA that starts late lags behind them).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kornia
import torch

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import list_checkpoints, read_index
from vidgan_kit.errors import VidganError
from vidgan_kit.inference import load_pipeline
from vidgan_kit.layout import VideoGeometry
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.training import train

REPO = Path(__file__).resolve().parents[1]
TARGET_OVER_STATIC_DB = 6.0
TARGET_RIGHT_MINUS_WRONG_DB = 4.0
#: PSNR of a frame equal to its truth (MSE 0) is reported as this many dB.
PSNR_CAP = 100.0
SSIM_WINDOW = 11
FIGURES = ("transfer", "wrong_motion", "static", "reconstruction")
LABELS = {
    "transfer": "transfer (right motion)",
    "wrong_motion": "transfer (wrong motion)",
    "static": "static baseline (image repeated)",
    "reconstruction": "reconstruction Ṽ_x",
}


# -- metrics ---------------------------------------------------------------------------------


def per_frame_scores(video: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PSNR and SSIM of every frame, ``[N, T]`` each; clips ``[N, T, C, H, W]`` in [-1, 1].

    The conventions of :mod:`vidgan_kit.eval.frames`: [0, 1] after clamping, PSNR capped at
    100 dB (a frame equal to its truth), SSIM with an 11x11 Gaussian window in float64,
    averaged where the window fits inside the frame (``padding="valid"``, as Wang et al.'s
    reference implementation; ``"same"`` for frames smaller than the window).
    """
    x = ((video.float() + 1) / 2).clamp(0, 1).flatten(0, 1)  # [N*T, C, H, W] in [0, 1]
    y = ((truth.float() + 1) / 2).clamp(0, 1).flatten(0, 1)
    psnr = torch.stack([
        torch.tensor(PSNR_CAP) if torch.equal(a, b) else kornia.metrics.psnr(a, b, max_val=1.0).clamp(max=PSNR_CAP)
        for a, b in zip(x, y, strict=True)
    ])
    padding = "valid" if min(x.shape[-2:]) >= SSIM_WINDOW else "same"
    ssim = kornia.metrics.ssim(x.double(), y.double(), SSIM_WINDOW, max_val=1.0, padding=padding).mean(dim=(1, 2, 3))
    n, t = video.shape[:2]
    return psnr.view(n, t), ssim.float().view(n, t)


def wrong_motion_indices(pairs: list[tuple[int, int]]) -> list[int]:
    """For pair i = (a, b), the motion clip of another pair that is neither a nor b."""
    out = []
    for i, (a, b) in enumerate(pairs):
        for k in range(1, len(pairs) + 1):
            c = pairs[(i + k) % len(pairs)][1]
            if c not in (a, b):
                break
        else:
            raise VidganError("cannot find a third clip for the wrong-motion control; use more pairs")
        out.append(c)
    return out


def add_model_set_argument(parser: argparse.ArgumentParser, example: str = "decoder.max_shift=3.0") -> None:
    """``--model-set SLOT.OPTION=VALUE`` (repeatable), as ``vidgan eval``'s: score a checkpoint with
    a model option changed that changes no weights (``load_pipeline(options=...)``)."""
    parser.add_argument("--model-set", action="append", default=[], metavar="SLOT.OPTION=VALUE",
                        help=f"score with a model option changed that changes no weights (repeatable), e.g. {example};"
                             " as vidgan eval --model-set")


def test_split(index: dict[str, Any], registry: Any, geometry: VideoGeometry) -> Any:
    """The run's data set, test split, with its own options; it must be synthetic_shapes."""
    recipe = index.get("recipe") or {}
    data = recipe.get("data") or {}
    if data.get("type") != "synthetic_shapes":
        raise VidganError(
            f"{index['path']} was trained on {data.get('type')!r}; this benchmark needs the exact ground truth of"
            " synthetic_shapes (data.type = \"synthetic_shapes\")."
        )
    return registry.build("dataset", "synthetic_shapes", data.get("params", {}), geometry=geometry, split="test",
                          seed=recipe.get("seed", 0))


@torch.no_grad()
def evaluate_checkpoint(
    path: Path, registry: Any, pairs_n: int, *, seed: int = 0, batch: int = 32, use_ema: bool = True,
    options: Sequence[str] = (), pipeline: Any = None,
) -> dict[str, Any]:
    """Per-clip, per-frame PSNR/SSIM ``[N, T]`` of each figure for one checkpoint (with the
    model ``options`` changed, as ``vidgan eval --model-set``); with ``pipeline``, of that
    pipeline's model (one loaded from ``path`` and changed since) instead of the checkpoint's."""
    pipe = pipeline or load_pipeline(path, registry=registry, use_ema=use_ema, notes=lambda message: None,
                                     options=options)
    model, geometry = pipe.model, pipe.geometry
    index = read_index(path)
    test = test_split(index, registry, geometry)
    pairs = test.transfer_pairs(pairs_n, seed=seed)
    wrong = wrong_motion_indices(pairs)
    scores: dict[str, dict[str, list[torch.Tensor]]] = {f: {"psnr": [], "ssim": []} for f in FIGURES}
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        data = test.transfer_batch(chunk)
        image, source, truth = data["image"], data["source"], data["truth"]
        # The wrong motion clip is usually another pair's source in this chunk: reuse it.
        rendered = {b: clip for (_, b), clip in zip(chunk, source, strict=True)}
        wrong_source = torch.stack([rendered[c] if c in rendered else test.clip(c) for c in wrong[start : start + batch]])
        with torch.random.fork_rng():  # forward draws a prior sample we do not use
            recon = model({"video": source})["reconstruction"]
        outputs = {
            "transfer": (model.transfer(image, source), truth),
            "wrong_motion": (model.transfer(image, wrong_source), truth),
            "static": (image.unsqueeze(1).expand_as(truth), truth),
            "reconstruction": (recon, source),
        }
        for name, (video, target) in outputs.items():
            p, s = per_frame_scores(video, target)
            scores[name]["psnr"].append(p)
            scores[name]["ssim"].append(s)
    return {
        "checkpoint": str(index["path"]),
        "step": index["step"],
        "ema": use_ema and bool(index.get("ema_slots")),
        "pairs": len(pairs),
        "scores": {f: {m: torch.cat(v) for m, v in d.items()} for f, d in scores.items()},
    }


def summarise(result: dict[str, Any], first: int | None = None) -> dict[str, Any]:
    """Means over clips: frame 1 alone and frames 2..T; the two target gaps."""
    out: dict[str, Any] = {"step": result["step"], "pairs": first or result["pairs"]}
    for name, d in result["scores"].items():
        for metric, values in d.items():
            v = values[:first] if first else values
            per_frame = v.mean(dim=0)
            out[f"{name}/{metric}"] = float(v[:, 1:].mean())
            out[f"{name}/{metric}/frame1"] = float(per_frame[0])
            out[f"{name}/{metric}/per_frame"] = [round(float(x), 3) for x in per_frame]
    out["transfer_minus_static_db"] = out["transfer/psnr"] - out["static/psnr"]
    out["right_minus_wrong_db"] = out["transfer/psnr"] - out["wrong_motion/psnr"]
    return out


# -- training time per checkpoint ------------------------------------------------------------------


def training_minutes(run_dir: Path) -> dict[int, float]:
    """Cumulative training wall time (minutes) at each logged step, across resumed sessions.

    ``elapsed`` in metrics.jsonl counts from the start of its session (``time - elapsed``
    is that start); a resumed session continues from the previous session's last line.
    """
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    times: dict[int, float] = {}
    offset, session, last_elapsed = 0.0, None, 0.0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        step, elapsed = int(row.get("step", 0)), float(row.get("elapsed", 0.0))
        start = float(row.get("time", 0.0)) - elapsed
        if session is not None and abs(start - session) > 1.0:  # a new session
            offset += last_elapsed
        session, last_elapsed = start, elapsed
        times[step] = (offset + elapsed) / 60
    return times


def minutes_at(times: dict[int, float], step: int) -> float:
    known = [s for s in times if s <= step]
    return times[max(known)] if known else float("nan")


# -- training --------------------------------------------------------------------------------


def budget_sessions(table: dict[str, Any], minutes: float, curve_points: int) -> int:
    """Split ``minutes`` of training over ``curve_points`` sessions in the recipe ``table`` (each
    session's ``train.max_minutes``; enough checkpoints kept for all); returns the session count."""
    sessions = max(1, curve_points)
    train_table = table.setdefault("train", {})
    train_table["max_minutes"] = minutes / sessions
    train_table["keep_checkpoints"] = max(int(train_table.get("keep_checkpoints", 3)), sessions + 10)
    return sessions


def run_sessions(recipe: Any, host: PluginHost, run_dir: Path, sessions: int, recipe_text: str, quiet: bool,
                 resume: bool = False) -> None:
    """Train ``recipe`` in ``run_dir`` in ``sessions`` resumed sessions (one checkpoint at the end of each);
    with ``resume`` the first session continues the run already there."""
    for i in range(sessions):
        t0 = time.monotonic()
        run = train(recipe, host=host, run_dir=run_dir, resume=resume or i > 0, recipe_text=recipe_text, quiet=quiet)
        print(f"  session {i + 1}/{sessions}: step {run.step}, {(time.monotonic() - t0) / 60:.2f} min"
              f" (incl. set-up), {run.status}", flush=True)
        if run.step >= recipe.train.steps:
            break  # the recipe's steps are done before the time budget


def train_sessions(args: argparse.Namespace, host: PluginHost, overrides: list[str], out: Path | None) -> Path:
    """Train the recipe (with ``overrides``) for ``args.minutes`` in ``args.curve_points`` resumed sessions."""
    table = apply_overrides(read_recipe_table(args.recipe), overrides)
    if (table.get("data") or {}).get("type") != "synthetic_shapes":
        raise VidganError(f"{args.recipe}: data.type must be synthetic_shapes for this benchmark (exact ground truth).")
    sessions = budget_sessions(table, args.minutes, args.curve_points)
    recipe = validate_recipe(table, host.registry, source=str(args.recipe))
    run_dir = out or REPO / "runs" / f"learn-{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise VidganError(f"{run_dir} exists; choose another --out or evaluate it with --evaluate {run_dir}.")
    text = Path(args.recipe).read_text(encoding="utf-8")
    print(f"training: {args.recipe} for {args.minutes:g} min in {sessions} session(s) -> {run_dir}", flush=True)
    run_sessions(recipe, host, run_dir, sessions, text, args.quiet)
    return run_dir


# -- report ----------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "NOT met"


#: The benchmark's targets: (summary key, label, threshold in dB).
TARGETS = (
    ("transfer_minus_static_db", "transfer - static", TARGET_OVER_STATIC_DB),
    ("right_minus_wrong_db", "right - wrong motion", TARGET_RIGHT_MINUS_WRONG_DB),
)


def print_summary(summary: dict[str, Any], frames: int) -> None:
    print(f"| {'figure':<34} | {f'PSNR dB (2-{frames})':>16} | {f'SSIM (2-{frames})':>13} | {'frame 1 PSNR':>12} | {'frame 1 SSIM':>12} |")
    print(f"|{'-' * 36}|{'-' * 17}:|{'-' * 14}:|{'-' * 13}:|{'-' * 13}:|")
    for name in FIGURES:
        print(f"| {LABELS[name]:<34} | {summary[f'{name}/psnr']:>16.2f} | {summary[f'{name}/ssim']:>13.3f} |"
              f" {summary[f'{name}/psnr/frame1']:>12.2f} | {summary[f'{name}/ssim/frame1']:>12.3f} |")
    print()
    print("targets:")
    for key, label, target in TARGETS:
        print(f"  {label:<23} >= {target:g} dB : {summary[key]:+.2f} dB -> {verdict(summary[key], target)}")
    per_frame = " ".join(f"{x:.1f}" for x in summary["transfer/psnr/per_frame"])
    print(f"transfer PSNR per frame (dB): {per_frame}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "dual_mtgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget (train.max_minutes over all sessions)")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: runs/learn-<name>-<time>)")
    parser.add_argument("--evaluate", type=Path, nargs="+", default=None, metavar="RUN_DIR",
                        help="evaluate these finished runs (or checkpoints) instead of training")
    parser.add_argument("--seeds", default=None, metavar="S1,S2,...",
                        help="train one run per seed (OUT/seed-S) and report the mean and spread over them")
    parser.add_argument("--pairs", type=int, default=256, help="held-out (content, motion) pairs scored")
    parser.add_argument("--curve-points", type=int, default=4,
                        help="training sessions = checkpoints on the learning curve (1: no curve)")
    parser.add_argument("--curve-pairs", type=int, default=64, help="pairs scored per curve point (the first of --pairs)")
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the pair draw")
    parser.add_argument("--batch", type=int, default=32, help="pairs per evaluation batch")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="score the EMA weights (as inference uses them) or the raw trained weights")
    add_model_set_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress display while training")
    args = parser.parse_args(argv)
    if args.pairs < 3 or args.curve_pairs < 3:
        parser.error("--pairs and --curve-pairs must be at least 3")
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    seeds = parse_seeds(parser, args.seeds)
    if seeds and args.evaluate is not None:
        parser.error("--seeds trains new runs; --evaluate scores finished ones: give one of them")
    warnings.simplefilter("ignore")  # deterministic-algorithm notes and the like
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    host = PluginHost.create()
    try:
        if args.evaluate is not None:
            run_dirs = args.evaluate
        elif seeds:
            parent = args.out or REPO / "runs" / f"learn-seeds-{time.strftime('%Y%m%d-%H%M%S')}"
            run_dirs = [train_sessions(args, host, [*args.set, f"seed={seed}"], parent / f"seed-{seed}") for seed in seeds]
        else:
            run_dirs = [train_sessions(args, host, args.set, args.out)]
        indexes = [read_index(run_dir) for run_dir in run_dirs]
    except VidganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    # A run directory gets a learning curve over all its checkpoints; a single checkpoint does not.
    runs = [evaluate_run(index, args, host, whole_run=(run_dir / "checkpoints").is_dir())
            for run_dir, index in zip(run_dirs, indexes, strict=True)]
    results: dict[str, Any] = runs[0]
    if len(runs) > 1:
        across = across_runs([r["summary"] for r in runs])
        print()
        print_across(across, [r["run"] for r in runs])
        results = {"runs": runs, "across": across, "args": runs[0]["args"]}
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return results


def parse_seeds(parser: argparse.ArgumentParser, text: str | None) -> list[int]:
    if text is None:
        return []
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers, got {text!r}")
    if len(seeds) != len(set(seeds)) or not seeds:
        parser.error(f"--seeds needs distinct integers, got {text!r}")
    return seeds


def evaluate_run(index: dict[str, Any], args: argparse.Namespace, host: PluginHost, *, whole_run: bool) -> dict[str, Any]:
    """Score one run's checkpoint (``index``) and print its table; with ``whole_run``, also
    score every checkpoint of the run for the learning curve."""
    run_root = Path(index["path"]).parent.parent
    geometry = index["geometry"]
    frames = geometry["frames"]
    times = training_minutes(run_root)

    t0 = time.monotonic()
    use_ema = args.weights == "ema"
    final = evaluate_checkpoint(Path(index["path"]), host.registry, args.pairs, seed=args.eval_seed, batch=args.batch,
                                use_ema=use_ema, options=args.model_set)
    summary = summarise(final)
    summary["train_minutes"] = minutes_at(times, final["step"])
    print()
    print(f"run     : {run_root}")
    print(f"scored  : {Path(final['checkpoint']).name} ({'EMA' if final['ema'] else 'raw'} weights), "
          f"{final['pairs']} held-out pairs, {geometry['frames']} frames {geometry['height']}x{geometry['width']}, "
          f"after {summary['train_minutes']:.1f} min of training; evaluation {time.monotonic() - t0:.0f} s")
    print()
    print_summary(summary, frames)

    curve = []
    checkpoints = list_checkpoints(run_root) if whole_run else []
    if len(checkpoints) > 1 and args.curve_points != 1:
        n = min(args.curve_pairs, args.pairs)
        for step, path in checkpoints:
            result = final if step == final["step"] else evaluate_checkpoint(
                path, host.registry, n, seed=args.eval_seed, batch=args.batch, use_ema=use_ema, options=args.model_set)
            point = summarise(result, first=n)
            point["train_minutes"] = minutes_at(times, step)
            curve.append(point)
        print()
        print(f"learning curve ({n} pairs per point, frames 2-{frames}):")
        print(f"| {'step':>6} | {'train min':>9} | {'transfer dB':>11} | {'wrong dB':>8} | {'static dB':>9} |"
              f" {'recon dB':>8} | {'transfer SSIM':>13} | {'vs static':>9} | {'right-wrong':>11} |")
        print(f"|{'-' * 7}:|{'-' * 10}:|{'-' * 12}:|{'-' * 9}:|{'-' * 10}:|{'-' * 9}:|{'-' * 14}:|{'-' * 10}:|{'-' * 12}:|")
        for p in curve:
            minutes = "" if math.isnan(p["train_minutes"]) else f"{p['train_minutes']:.1f}"
            print(f"| {p['step']:>6} | {minutes:>9} | {p['transfer/psnr']:>11.2f} | {p['wrong_motion/psnr']:>8.2f} |"
                  f" {p['static/psnr']:>9.2f} | {p['reconstruction/psnr']:>8.2f} | {p['transfer/ssim']:>13.3f} |"
                  f" {p['transfer_minus_static_db']:>+9.2f} | {p['right_minus_wrong_db']:>+11.2f} |")
    return {"run": str(run_root), "summary": summary, "curve": curve, "args": {k: str(v) for k, v in vars(args).items()}}


#: The figures compared across runs: summary key -> label.
ACROSS = {
    "transfer/psnr": "transfer PSNR dB",
    "wrong_motion/psnr": "wrong motion PSNR dB",
    "static/psnr": "static PSNR dB",
    "reconstruction/psnr": "reconstruction PSNR dB",
    "transfer/ssim": "transfer SSIM",
    "static/ssim": "static SSIM",
    "transfer_minus_static_db": "transfer - static dB",
    "right_minus_wrong_db": "right - wrong dB",
}


def across_runs(summaries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each figure of ``ACROSS`` over the runs: per-run values, mean, minimum and maximum."""
    out = {}
    for key in ACROSS:
        values = [s[key] for s in summaries]
        out[key] = {"values": values, "mean": sum(values) / len(values), "min": min(values), "max": max(values)}
    return out


def print_across(across: dict[str, dict[str, Any]], runs: list[str]) -> None:
    print(f"over {len(runs)} runs: " + ", ".join(Path(r).name for r in runs))
    print(f"| {'figure':<24} | {'mean':>7} | {'min':>7} | {'max':>7} | {'max - min':>9} |")
    print(f"|{'-' * 26}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|")
    for key, label in ACROSS.items():
        a = across[key]
        digits = 3 if "ssim" in key else 2
        print(f"| {label:<24} | {a['mean']:>7.{digits}f} | {a['min']:>7.{digits}f} | {a['max']:>7.{digits}f} |"
              f" {a['max'] - a['min']:>9.{digits}f} |")
    print("targets, on the mean (and on the worst run):")
    for key, label, target in TARGETS:
        mean, worst = across[key]["mean"], across[key]["min"]
        print(f"  {label:<23} >= {target:g} dB : {mean:+.2f} ({worst:+.2f}) -> "
              f"{verdict(mean, target)} ({verdict(worst, target)})")

if __name__ == "__main__":
    main()
