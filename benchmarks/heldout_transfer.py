"""Does the motion code animate people the model never saw? Weizmann with whole actors held out.

    python benchmarks/heldout_transfer.py recipes/weizmann.toml --size 32 --minutes 60
    python benchmarks/heldout_transfer.py recipes/weizmann.toml --size 32 --minutes 2 --data /path/to/weizmann64
    python benchmarks/heldout_transfer.py runs/heldout-weizmann-20270101-120000          # a finished run
    python benchmarks/heldout_transfer.py runs/heldout-weizmann-20270101-120000 --continue-to 1750   # trained on, then scored
    python benchmarks/heldout_transfer.py RUN --branch-from 1000 --set KEY=VALUE --continue-to 1750 --out RUN2

Training (RUN_OR_RECIPE is a .toml): the recipe's model, losses and training on MoCoGAN's
Weizmann strips at ``--data`` (default ``../shared/data/weizmann64``, relative to the working
directory), read with ``recipes/weizmann.toml``'s ``[data]`` table: ``split_mode =
"by_identity"``, the actor of a clip is its file number // 8, and the actors ``--test-actors``
(default 5 and 6) are held out, every clip of them. ``--size`` sets the frame size, ``--set``
changes anything else. The run trains for ``--minutes`` in ``--curve-points`` resumed sessions
(resuming is exact, so this is one run with a checkpoint at every 1/K of the budget).

Evaluation: ``vidgan eval``'s transfer protocol on real clips (``vidgan_kit.eval.evaluate``,
protocol ``transfer``) on the held-out actors' test split, for every checkpoint of the run,
each card in ``RUN/heldout/step-N/``. Per clip the target image is its first frame, every
output is scored against the clip itself on frames 2..T (1-based), and the motion code is
the right one (the clip's own), a wrong one (another action of the same actor), zero, or the
mean of the clips' codes; static holds the target image still. A finished run is scored
with its own recipe's data, or with the held-out table at ``--data`` when that is given.

With ``--samples K`` (default 25; 0 skips it) every checkpoint is also scored by the paper's
protocol on the same clips: K samples of each first frame, best of K and mean of K against
the clip, their diversity beside two real references (distinct held-out clips, which differ
in content too, and their frame changes x^t - x^1, as if they shared one first frame), and the
reconstruction L1.

``--branch-from STEP`` starts a new run in ``--out`` from a run's first STEP steps (its
checkpoints up to STEP, its metrics to there), ``--set`` applied to its recipe, and trains it
on to ``--continue-to``: a change that acts only after STEP (the adversarial terms of
``recipes/weizmann.toml`` start at step 1000) measured without training the shared steps
again. The run it branches from is not touched.

Targets (issue 35, frames 2-16): right >= static + 2 dB and + 0.03 SSIM; right - wrong >= 3 dB;
best of 25 >= static + 1 dB; best of 25 - mean >= 1.5 dB; diversity 0.5-1.5x real; reconstruction
L1 <= 0.017.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import sys
import time
import tomllib
import warnings
from pathlib import Path
from typing import Any

from learn_synthetic import budget_sessions, minutes_at, run_sessions, training_minutes

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import list_checkpoints, read_index
from vidgan_kit.errors import VidganError
from vidgan_kit.eval.runner import EvalSettings, evaluate
from vidgan_kit.recipe import Recipe, apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.training.logging import truncate_metrics

REPO = Path(__file__).resolve().parents[1]
WEIZMANN_RECIPE = REPO / "recipes" / "weizmann.toml"
#: Issue 35's targets on held-out actors: (label, summary key, threshold).
TARGETS = (
    ("right - static PSNR", "right_minus_static_db", 2.0),
    ("right - static SSIM", "right_minus_static_ssim", 0.03),
    ("right - wrong PSNR", "right_minus_wrong_db", 3.0),
)
#: The sampling targets, scored with ``--samples``: (label, summary key, low, high).
SAMPLE_TARGETS = (
    ("best of K - static PSNR", "best_minus_static_db", 1.0, math.inf),
    ("best of K - mean PSNR", "best_minus_mean_db", 1.5, math.inf),
    ("diversity / real clips", "diversity_ratio", 0.5, 1.5),
    ("reconstruction L1", "recon_l1", -math.inf, 0.017),
)
SOURCES = {
    "right": "right source (the clip itself)",
    "wrong": "wrong source (another action)",
    "zero_code": "zero motion code",
    "mean_code": "mean motion code",
    "static": "static (target image held still)",
}


def heldout_table(data: Path, actors: list[int]) -> dict[str, Any]:
    """``recipes/weizmann.toml``'s ``[data]`` table reading ``data``, the ``actors`` held out."""
    table = tomllib.loads(WEIZMANN_RECIPE.read_text(encoding="utf-8"))["data"]
    return {**table, "root": str(data.expanduser().absolute()), "split_mode": "by_identity",
            "test_identities": [str(a) for a in actors]}


def saved_recipe_table(run_dir: Path) -> dict[str, Any]:
    """The recipe a run was trained with (its ``recipe.json``), as a table overrides apply to."""
    return Recipe.model_validate(json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))).to_table()


def continue_run(run_dir: Path, steps: int, host: PluginHost, quiet: bool) -> None:
    """Resume a run with its own recipe (``recipe.json``) to ``steps`` steps: resuming is exact,
    so this is the ``steps``-step run, its earlier checkpoints its curve."""
    table = saved_recipe_table(run_dir)
    table["train"]["steps"] = steps
    recipe = validate_recipe(table, host.registry, source=str(run_dir / "recipe.json"))
    print(f"continued: {run_dir} to step {steps}", flush=True)
    run_sessions(recipe, host, run_dir, 1, (run_dir / "recipe.toml").read_text(encoding="utf-8"), quiet, resume=True)


def branch_run(run_dir: Path, step: int, overrides: list[str], out: Path, host: PluginHost) -> Path:
    """A new run in ``out`` holding ``run_dir``'s checkpoints up to ``step`` (one of them at ``step``)
    and its metrics to there, with ``overrides`` applied to its recipe; ``run_dir`` is not touched."""
    checkpoints = [(s, path) for s, path in list_checkpoints(run_dir) if s <= step]
    if not checkpoints or checkpoints[-1][0] != step:
        raise VidganError(f"{run_dir} has no checkpoint at step {step} to branch from")
    if out.exists() and any(out.iterdir()):
        raise VidganError(f"{out} exists; a branch starts a new run directory")
    recipe = validate_recipe(apply_overrides(saved_recipe_table(run_dir), overrides), host.registry,
                             source=str(run_dir / "recipe.json"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(recipe.to_json() + "\n", encoding="utf-8")
    for name in ("recipe.toml", "environment.json", "metrics.jsonl"):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, out / name)
    truncate_metrics(out / "metrics.jsonl", step)
    for _, path in checkpoints:
        shutil.copytree(path, out / "checkpoints" / path.name)
    print(f"branched: {run_dir} at step {step} -> {out} ({', '.join(overrides) or 'no changes'})", flush=True)
    return out


def train_sessions(args: argparse.Namespace, host: PluginHost) -> Path:
    """Train the recipe on the held-out split for ``args.minutes`` in ``args.curve_points`` sessions."""
    table = read_recipe_table(args.target)
    table["data"] = heldout_table(args.data, args.test_actors)
    sizes = [f"video.height={args.size}", f"video.width={args.size}"] if args.size else []
    table = apply_overrides(table, [*sizes, *args.set])
    sessions = budget_sessions(table, args.minutes, args.curve_points)
    recipe = validate_recipe(table, host.registry, source=str(args.target))
    run_dir = args.out or REPO / "runs" / f"heldout-{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise VidganError(f"{run_dir} exists; choose another --out, or score it: heldout_transfer.py {run_dir}")
    text = Path(args.target).read_text(encoding="utf-8")
    print(f"training: {args.target} on {table['data']['root']} (actors {', '.join(map(str, args.test_actors))} held"
          f" out) for {args.minutes:g} min in {sessions} session(s) -> {run_dir}", flush=True)
    run_sessions(recipe, host, run_dir, sessions, text, args.quiet)
    return run_dir


def summarise(card: Any) -> dict[str, Any]:
    """The figures of one card's real-clip transfer: means over clips, gaps, per-frame PSNR."""
    r = card.real_transfer
    out: dict[str, Any] = {"step": card.checkpoint.step, "clips": r.clips, "frames": r.scored_frames,
                           "identities": card.data.identities, "identities_in_train": card.data.identities_in_train}
    for name, scores in r.methods.items():
        out[f"{name}/psnr"] = scores.psnr.mean
        out[f"{name}/ssim"] = scores.ssim.mean
        out[f"{name}/psnr/per_frame"] = [round(e.mean, 3) for e in r.curves[name].psnr]
    out["right_minus_static_db"] = r.gaps["right - static"].psnr.mean
    out["right_minus_static_ssim"] = r.gaps["right - static"].ssim.mean
    out["right_minus_wrong_db"] = r.gaps["right - wrong"].psnr.mean
    st, rec = card.stochastic, card.reconstruction
    if st is not None:
        best, mean, static = st.per_metric.scores.psnr.mean, st.mean_of_k.scores.psnr.mean, st.static.scores.psnr.mean
        div = st.diversity
        changes = div.real_changes.mean if div.real_changes else math.nan
        out.update({"samples": st.samples, "best/psnr": best, "mean_of_k/psnr": mean,
                    "best_minus_static_db": best - static, "best_minus_mean_db": best - mean,
                    "diversity": div.samples.mean, "diversity_real": div.real.mean,
                    "diversity_ratio": div.samples.mean / div.real.mean,
                    "diversity_real_changes": changes, "diversity_ratio_changes": div.samples.mean / changes})
    if rec is not None:
        out["recon_l1"] = rec.scores.l1.mean
    return out


def score(checkpoint: Path, args: argparse.Namespace, host: PluginHost, out_dir: Path, data: Any) -> dict[str, Any]:
    settings = EvalSettings(protocol="all" if args.samples else "transfer", clips=args.clips, samples=args.samples or 25,
                            fvd=False, use_ema=args.weights == "ema")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clips skipped by on_error = "skip" (short test parts) and the like
        card = evaluate(checkpoint, registry=host.registry, out_dir=out_dir, settings=settings, data=data,
                        overwrite=True)
    if card.real_transfer is None:
        raise VidganError(f"{checkpoint}: the transfer protocol did not score real clips ({'; '.join(card.notes)})")
    return summarise(card)


def print_table(summary: dict[str, Any]) -> None:
    frames = f"{summary['frames'][0] + 1}-{summary['frames'][-1] + 1}"
    print(f"| {'source':<34} | {f'PSNR dB ({frames})':>15} | {f'SSIM ({frames})':>12} |")
    print(f"|{'-' * 36}|{'-' * 16}:|{'-' * 13}:|")
    for name, label in SOURCES.items():
        print(f"| {label:<34} | {summary[f'{name}/psnr']:>15.2f} | {summary[f'{name}/ssim']:>12.3f} |")
    print()
    print("targets:")
    for label, key, target in TARGETS:
        verdict = "met" if summary[key] >= target else "NOT met"
        print(f"  {label:<20} >= {target:<4g}: {summary[key]:+.3f} -> {verdict}")
    if "samples" in summary:
        k = summary["samples"]
        for label, key, low, high in SAMPLE_TARGETS:
            verdict = "met" if low <= summary[key] <= high else "NOT met"
            bound = f">= {low:g}" if high == math.inf else f"<= {high:g}" if low == -math.inf else f"{low:g}-{high:g}"
            print(f"  {label.replace('K', str(k)):<24} {bound:<8}: {summary[key]:+.4f} -> {verdict}")
        print(f"  (diversity {summary['diversity']:.4f}; real clips {summary['diversity_real']:.4f}; their frame changes"
              f" {summary['diversity_real_changes']:.4f}, ratio {summary['diversity_ratio_changes']:.2f})")
    for name in ("right", "static"):
        per_frame = " ".join(f"{x:.1f}" for x in summary[f"{name}/psnr/per_frame"])
        print(f"{name + ' PSNR per frame (dB)':<29}: {per_frame}")


def print_curve(curve: list[dict[str, Any]]) -> None:
    print(f"| {'step':>6} | {'train min':>9} | {'right dB':>8} | {'wrong dB':>8} | {'zero dB':>7} | {'mean dB':>7} |"
          f" {'static dB':>9} | {'right SSIM':>10} | {'static SSIM':>11} | {'r-static dB':>11} | {'r-wrong dB':>10} |")
    print(f"|{'-' * 7}:|{'-' * 10}:|{'-' * 9}:|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|{'-' * 11}:|{'-' * 12}:|"
          f"{'-' * 12}:|{'-' * 11}:|")
    for p in curve:
        minutes = "" if math.isnan(p["train_minutes"]) else f"{p['train_minutes']:.1f}"
        print(f"| {p['step']:>6} | {minutes:>9} | {p['right/psnr']:>8.2f} | {p['wrong/psnr']:>8.2f} |"
              f" {p['zero_code/psnr']:>7.2f} | {p['mean_code/psnr']:>7.2f} | {p['static/psnr']:>9.2f} |"
              f" {p['right/ssim']:>10.3f} | {p['static/ssim']:>11.3f} | {p['right_minus_static_db']:>+11.2f} |"
              f" {p['right_minus_wrong_db']:>+10.2f} |")
    if "samples" not in curve[0]:
        return
    print()
    print(f"| {'step':>6} | {'best dB':>7} | {'best-static':>11} | {'best-mean':>9} | {'diversity':>9} |"
          f" {'x real':>6} | {'x changes':>9} | {'recon L1':>8} |")
    print(f"|{'-' * 7}:|{'-' * 8}:|{'-' * 12}:|{'-' * 10}:|{'-' * 10}:|{'-' * 7}:|{'-' * 10}:|{'-' * 9}:|")
    for p in curve:
        print(f"| {p['step']:>6} | {p['best/psnr']:>7.2f} | {p['best_minus_static_db']:>+11.2f} |"
              f" {p['best_minus_mean_db']:>+9.2f} | {p['diversity']:>9.4f} | {p['diversity_ratio']:>6.2f} |"
              f" {p['diversity_ratio_changes']:>9.2f} | {p['recon_l1']:>8.4f} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("target", type=Path, metavar="RUN_OR_RECIPE",
                        help="a recipe (.toml) to train, or a run directory to score")
    parser.add_argument("--data", type=Path, default=None,
                        help="MoCoGAN's Weizmann strips (default for training: ../shared/data/weizmann64)")
    parser.add_argument("--test-actors", type=int, nargs="+", default=[5, 6], metavar="ACTOR",
                        help="actors held out (file number // 8)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget over all sessions")
    parser.add_argument("--size", type=int, default=None, help="frame size (video.height and video.width)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--curve-points", type=int, default=4,
                        help="training sessions = checkpoints on the curve (1: no curve)")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: runs/heldout-<name>-<time>)")
    parser.add_argument("--clips", type=int, default=32, help="held-out clips scored (the first N of the test split)")
    parser.add_argument("--samples", type=int, default=25,
                        help="K samples per clip for the paper's protocol at every point (0: transfer only)")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="score the EMA weights (as inference uses them) or the raw trained weights")
    parser.add_argument("--continue-to", type=int, default=None, metavar="STEPS",
                        help="with a run directory: train it on to STEPS steps with its own recipe, then score it")
    parser.add_argument("--branch-from", type=int, default=None, metavar="STEP",
                        help="with a run directory, --continue-to and --out: a new run from its checkpoint at STEP"
                        " with --set applied, trained on")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress display while training")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    if args.clips < 2:
        parser.error("--clips must be at least 2 (the wrong source is another clip)")
    training = args.target.suffix == ".toml"
    if training and args.continue_to is not None:
        parser.error("--continue-to takes a run directory (a recipe trains for its own train.steps)")
    if args.branch_from is not None and (training or args.continue_to is None or args.out is None):
        parser.error("--branch-from takes a run directory, --continue-to and --out")
    print(f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}")
    host = PluginHost.create()
    try:
        if training:
            args.data = args.data or Path("../shared/data/weizmann64")
            run_dir = train_sessions(args, host)
        elif not (args.target / "checkpoints").is_dir():
            raise VidganError(f"{args.target}: not a recipe (.toml) nor a run directory (it has no checkpoints/)")
        else:
            run_dir = args.target
            if args.branch_from is not None:
                run_dir = branch_run(run_dir, args.branch_from, args.set, args.out, host)
            if args.continue_to is not None:
                continue_run(run_dir, args.continue_to, host, args.quiet)
        # A run is scored on its own recipe's data (its split says which actors it saw), unless --data names
        # the held-out table to read instead.
        data = heldout_table(args.data, args.test_actors) if args.data is not None and not training else None
        checkpoints = list_checkpoints(run_dir)
        if not checkpoints:
            raise VidganError(f"{run_dir} holds no complete checkpoint")
        times = training_minutes(run_dir)
        curve = []
        for step, path in checkpoints if args.curve_points != 1 else checkpoints[-1:]:
            point = score(path, args, host, run_dir / "heldout" / f"step-{step}", data)
            point["train_minutes"] = minutes_at(times, step)
            curve.append(point)
    except VidganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    final = curve[-1]
    index = read_index(checkpoints[-1][1])
    g = index["geometry"]
    print()
    print(f"run     : {run_dir}")
    print(f"scored  : step {final['step']} ({args.weights} weights where the checkpoint has them), {final['clips']} "
          f"held-out clips of identities {', '.join(final['identities'] or ['?'])}, {g['frames']} frames "
          f"{g['height']}x{g['width']}, after {final['train_minutes']:.1f} min of training")
    seen = final["identities_in_train"]
    if seen:
        print(f"WARNING : identities {', '.join(seen)} are in the run's train split: these clips are not held out")
    print()
    print_table(final)
    if len(curve) > 1:
        print()
        print(f"curve ({final['clips']} clips per point, frames {final['frames'][0] + 1}-{final['frames'][-1] + 1}):")
        print_curve(curve)
    results = {"run": str(run_dir), "final": final, "curve": curve,
               "args": {k: str(v) for k, v in vars(args).items()}}
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
