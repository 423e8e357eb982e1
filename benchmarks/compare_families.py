"""Dual-MTGAN against MoCoGAN: both trained on the same data for the same budget and scored
with the same `vidgan eval` protocols, the static baseline beside both (the paper's Table 1
made measurable).

    python benchmarks/compare_families.py --steps 1500 --size 32 --set data.root=../shared/data/weizmann64
    python benchmarks/compare_families.py --recipes recipes/dual_mtgan.toml recipes/mocogan.toml \\
        --set-for mocogan:model.content=image --steps 1500 --size 32        # the synthetic pair

Each recipe trains with `--steps` steps at `--size`×`--size` (the same seed, data and
clips), then `vidgan eval --protocol paper` scores it on the test split: best of K SSIM and
PSNR against the static baseline (the first frame held still), best − mean of K, sample
diversity, and FVD where the I3D weights are cached (`vidgan weights fetch i3d`). A model
that transfers is scored by `--protocol transfer` as well. `--set-for NAME:KEY=VALUE` applies
to the recipe NAME.toml alone (the synthetic MoCoGAN recipe samples unconditionally; the
paper protocol needs its image-to-video variant). Prints a markdown table and writes
comparison.json and comparison.md to `--out`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECIPES = ["recipes/weizmann.toml", "recipes/mocogan_weizmann.toml"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=DEFAULT_RECIPES, help="The recipes compared (two or more).")
    p.add_argument("--steps", type=int, default=1500, help="Training steps of every recipe (the shared budget).")
    p.add_argument("--size", type=int, default=32, help="Frame height and width.")
    p.add_argument("--frames", type=int, default=None, help="Frames per clip (default: the recipes').")
    p.add_argument("--batch", type=int, default=None, help="Clips per batch (default: the recipes').")
    p.add_argument("--set", action="append", default=[], help="An override for every recipe, KEY=VALUE.")
    p.add_argument("--set-for", action="append", default=[],
                   help="An override for one recipe, NAME:KEY=VALUE (NAME: the recipe's file name without .toml).")
    p.add_argument("--clips", type=int, default=32, help="Test clips scored.")
    p.add_argument("--samples", type=int, default=25, help="K of best of K.")
    p.add_argument("--fvd", choices=["auto", "on", "off"], default="auto",
                   help="FVD: where the I3D weights are cached (auto), always (on) or never (off).")
    p.add_argument("--out", type=Path, default=Path("runs/compare_families"), help="Runs, evaluations and the table.")
    p.add_argument("--threads", type=int, default=None, help="train.threads (default: the recipes').")
    p.add_argument("--run", action="append", default=[],
                   help="NAME=RUN: score the finished run RUN for recipe NAME instead of training it (a run of the same"
                        " recipe, data and budget, e.g. one heldout_transfer.py trained).")
    return p.parse_args(argv)


def _recipe(path: Path, args: argparse.Namespace, registry: Any) -> Any:
    from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe

    table = read_recipe_table(path)
    sets = [f"video.height={args.size}", f"video.width={args.size}", f"train.steps={args.steps}",
            "train.sample_every=0", f"train.checkpoint_every={args.steps}"]
    sets += [f"video.frames={args.frames}"] * (args.frames is not None)
    sets += [f"loader.batch_size={args.batch}"] * (args.batch is not None)
    sets += [f"train.threads={args.threads}"] * (args.threads is not None)
    sets += args.set + [s.partition(":")[2] for s in args.set_for if s.partition(":")[0] == path.stem]
    return validate_recipe(apply_overrides(table, sets), registry, source=str(path))


def _mean(estimate: Any) -> float | None:
    return None if estimate is None else estimate.mean


def scores(card: Any, transfer: Any) -> dict[str, float | None]:
    """The compared figures of one model (and the static baseline's) from its metric cards."""
    s = card.stochastic
    best, mean, static = s.per_metric.scores, s.mean_of_k.scores, s.static.scores
    row = {
        "best_ssim": _mean(best.ssim), "best_psnr": _mean(best.psnr),
        "mean_ssim": _mean(mean.ssim), "mean_psnr": _mean(mean.psnr),
        "static_ssim": _mean(static.ssim), "static_psnr": _mean(static.psnr),
        "diversity": _mean(s.diversity.samples), "diversity_real": _mean(s.diversity.real),
        "fvd": card.fvd.value if card.fvd is not None else None,
        "transfer_psnr": None, "transfer_minus_static_psnr": None,
    }
    if row["best_psnr"] is not None and row["mean_psnr"] is not None:
        row["best_minus_mean_psnr"] = row["best_psnr"] - row["mean_psnr"]
    if transfer is not None and transfer.real_transfer is not None:
        r = transfer.real_transfer
        row["transfer_psnr"] = _mean(r.methods["right"].psnr)
        row["transfer_minus_static_psnr"] = _mean(r.gaps["right - static"].psnr)
    elif transfer is not None and transfer.transfer is not None:
        row["transfer_psnr"] = _mean(transfer.transfer.methods["model"].psnr)
    return row


ROWS = [("best of K SSIM", "best_ssim", 3), ("best of K PSNR (dB)", "best_psnr", 2),
        ("mean of K PSNR (dB)", "mean_psnr", 2), ("best − mean PSNR (dB)", "best_minus_mean_psnr", 2),
        ("diversity (pairwise L1)", "diversity", 4), ("FVD", "fvd", 1), ("transfer PSNR (dB)", "transfer_psnr", 2),
        ("transfer − static PSNR (dB)", "transfer_minus_static_psnr", 2)]
STATIC = {"best_ssim": "static_ssim", "best_psnr": "static_psnr", "mean_psnr": "static_psnr",
          "diversity": "diversity_real"}


def markdown(results: dict[str, dict[str, float | None]], k: int) -> str:
    """The comparison table: one column per model, the static baseline (or the real clips'
    diversity) first, "—" where a figure does not apply."""
    names = list(results)
    first = results[names[0]]
    lines = [f"| measure (K = {k}) | static / real | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for label, key, digits in ROWS:
        def fmt(v: float | None) -> str:
            return "—" if v is None else f"{v:.{digits}f}"

        base = fmt(first.get(STATIC[key])) if key in STATIC else "—"
        lines.append(f"| {label} | {base} | " + " | ".join(fmt(results[n].get(key)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    import torch

    from vidgan_kit import PluginHost
    from vidgan_kit.eval.runner import EvalSettings, evaluate
    from vidgan_kit.training import train

    print(f"# {shlex.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}")
    host = PluginHost.create()
    fvd = args.fvd == "on"
    if args.fvd == "auto":
        from vidgan_builtin.metrics.i3d import I3D_WEIGHTS

        fvd = I3D_WEIGHTS.available()
        print(f"# FVD: {'on' if fvd else 'off (no cached I3D weights: vidgan weights fetch i3d)'}")
    paths = [REPO / p if not Path(p).is_absolute() else Path(p) for p in args.recipes]
    unknown = {s.partition(":")[0] for s in args.set_for} - {p.stem for p in paths}
    if unknown:
        raise SystemExit(f"--set-for names no recipe of --recipes: {', '.join(sorted(unknown))}")
    trained = dict(s.partition("=")[::2] for s in args.run)
    unknown = set(trained) - {p.stem for p in paths}
    if unknown:
        raise SystemExit(f"--run names no recipe of --recipes: {', '.join(sorted(unknown))}")
    results: dict[str, dict[str, float | None]] = {}
    for path in paths:
        recipe = _recipe(path, args, host.registry)
        if path.stem in trained:
            run = Path(trained[path.stem])
            print(f"# {path.stem}: scoring the finished run {run}")
        else:
            run = args.out / path.stem
            train(recipe, host=host, run_dir=run, quiet=True)
        common = dict(clips=args.clips, samples=args.samples, seed=0, fvd=fvd)
        card = evaluate(run, registry=host.registry, out_dir=run / "eval_paper", overwrite=True,
                        settings=EvalSettings(protocol="paper", **common))
        transfer = None
        model_type = recipe.model.type
        if callable(getattr(host.registry.get("model", model_type).factory, "transfer", None)):
            transfer = evaluate(run, registry=host.registry, out_dir=run / "eval_transfer", overwrite=True,
                                settings=EvalSettings(protocol="transfer", **{**common, "fvd": False}))
        results[f"{path.stem} ({model_type})"] = scores(card, transfer)
    table = markdown(results, args.samples)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "comparison.md").write_text(table, encoding="utf-8")
    report = {"steps": args.steps, "size": args.size, "samples": args.samples, "clips": args.clips, "fvd": fvd,
              "recipes": args.recipes, "models": results}
    (args.out / "comparison.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
