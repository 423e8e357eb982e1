"""``evaluate()``: a checkpoint and test clips in, a metric card, a report and figures out.

What ``vidgan eval`` runs. The steps, in order:

1. refuse a non-empty output folder unless ``overwrite``;
2. rebuild the model from the checkpoint (EMA weights where it has them) and hash its files;
3. build the test split of the data (the ``--data`` recipe or folder, else the
   checkpoint's own recipe) and take its first ``clips`` clips, fitted to the model's
   geometry (centre crop + antialiased bilinear resize, first T frames) if they differ;
4. check that FVD can run (weights fetched) *before* any expensive work;
5. run the protocols (see :mod:`.protocols`) and write ``metric_card.json``,
   ``report.md``, ``curves_ssim.png``, ``curves_psnr.png`` and example GIFs.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import build_model, load_weights, read_index
from ..config import ComponentSpec
from ..errors import DataError, VidganError
from ..io import resize_video, video_grid, write_video
from ..layout import VideoGeometry
from ..recipe import load_recipe
from ..registry import ComponentRegistry
from .base import DistributionMetric, FrameMetric
from .calls import on_device, reconstruct_fn
from .card import CheckpointInfo, DataInfo, MetricCard, Protocol, ProtocolSettings, checkpoint_sha256, library_versions
from .protocols import (
    CISettings,
    has_ground_truth,
    leakage,
    reconstruction,
    still_image_sampler,
    stochastic_best_of_k,
    transfer_ground_truth,
)
from .report import curve_series, plot_curves, write_report
from .results import FVDResult

__all__ = ["EvalSettings", "evaluate", "load_eval_data", "fit_clips", "build_scorers", "OUTPUT_FILES"]

#: Files ``evaluate`` writes (``--overwrite`` replaces exactly these).
OUTPUT_FILES = ("metric_card.json", "report.md", "curves_ssim.png", "curves_psnr.png", "examples.gif",
                "transfer_curves_psnr.png", "transfer_examples.gif")


@dataclass(frozen=True)
class EvalSettings:
    """Every choice of an evaluation run (all of them end up in the metric card)."""

    protocol: Protocol = "paper"
    clips: int = 32
    samples: int = 25
    seed: int = 0
    joint_by: str = "ssim"
    ssim_window: int = 11
    ssim_padding: str = "valid"
    psnr_cap_db: float = 100.0
    ci_level: float = 0.95
    ci_method: str = "t"
    fvd: bool = True
    fvd_params: dict[str, Any] = field(default_factory=dict)
    fvd_samples_per_clip: int = 1
    transfer_pairs: int | None = None  # default: as many as clips
    leakage_triples: int = 16
    model_options: list[str] = field(default_factory=list)  # slot.option=value, changing no weights
    use_ema: bool = True
    device: str = "cpu"
    examples: int = 4
    split: str = "test"
    batch_size: int = 8


# -- data ------------------------------------------------------------------------------------


def load_eval_data(
    data: str | Path | None, index: dict[str, Any], registry: ComponentRegistry, split: str
) -> tuple[Any, ComponentSpec, VideoGeometry, str, int]:
    """The evaluation data set: from a recipe (.toml), a folder of clips, or the checkpoint's recipe.

    Returns (dataset, its spec, its geometry, a description of the source, the recipe seed).
    """
    model_geometry = VideoGeometry(**index["geometry"])
    if data is None:
        recipe = index.get("recipe")
        if not recipe:
            raise VidganError(f"checkpoint {index['path']} stores no recipe; pass the data with "
                              "--data RECIPE_OR_FOLDER")
        spec = ComponentSpec.model_validate(recipe["data"])
        geometry = VideoGeometry(**{k: recipe["video"][k] for k in ("frames", "channels", "height", "width")})
        source, seed = f"the checkpoint's recipe ({index['path']}/index.json)", int(recipe.get("seed", 0))
    else:
        path = Path(data)
        if path.suffix == ".toml":
            recipe_obj = load_recipe(path, registry)
            spec, geometry, source, seed = recipe_obj.data, recipe_obj.video.geometry(), str(path), recipe_obj.seed
        elif path.is_dir():
            spec = ComponentSpec(kind="dataset", type="video_folder", params={"root": str(path)})
            geometry, source, seed = model_geometry, str(path), 0
        else:
            raise DataError(f"--data {path}: expected a recipe (.toml) or a folder of clips, and it is neither")
    dataset = registry.build("dataset", spec, geometry=geometry, split=split, seed=seed)
    return dataset, spec, geometry, source, seed


def fit_clips(clips: torch.Tensor, geometry: VideoGeometry) -> tuple[torch.Tensor, str]:
    """Clips ``[N, T, C, H, W]`` fitted to the model's geometry; returns them and what was done."""
    done = []
    if clips.shape[1] < geometry.frames:
        raise DataError(f"the data's clips have {clips.shape[1]} frames; the model generates {geometry.frames}")
    if clips.shape[1] > geometry.frames:
        clips = clips[:, : geometry.frames]
        done.append(f"first {geometry.frames} frames")
    if clips.shape[2] != geometry.channels:
        channels = clips.shape[2]
        if geometry.channels == 1:
            clips = clips.mean(dim=2, keepdim=True)
        elif clips.shape[2] == 1:
            clips = clips.expand(-1, -1, geometry.channels, -1, -1)
        else:
            raise DataError(f"the data has {clips.shape[2]} channels, the model {geometry.channels}")
        done.append(f"channels {channels}->{geometry.channels}")
    h, w = clips.shape[-2:]
    if (h, w) != (geometry.height, geometry.width):
        clips = resize_video(clips, geometry.height, geometry.width, mode="crop")
        done.append(f"centre crop + bilinear (antialiased) {h}x{w}->{geometry.height}x{geometry.width}")
    return clips.contiguous(), "; ".join(done) or "none (data already at the model's geometry)"


def build_scorers(registry: ComponentRegistry, settings: EvalSettings) -> dict[str, FrameMetric]:
    """The per-frame metric components the protocols use, built through the registry."""
    scorers = {
        "ssim": registry.build("metric", "ssim", {"window": settings.ssim_window, "padding": settings.ssim_padding}),
        "psnr": registry.build("metric", "psnr", {"cap_db": settings.psnr_cap_db}),
        "l1": registry.build("metric", "l1", {}),
    }
    for name, metric in scorers.items():
        if not isinstance(metric, FrameMetric):
            raise VidganError(f"metric component {name!r} must derive from vidgan_kit.eval.FrameMetric")
    return scorers


# -- evaluate ----------------------------------------------------------------------------------


def _check_out(out_dir: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder without ``overwrite`` (checked before any work)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise VidganError(f"--out {out_dir} is a file; choose a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise VidganError(f"--out {out_dir} is not empty; pass --overwrite to replace its evaluation files, "
                          "or choose another folder")


def _prepare_out(out_dir: Path) -> None:
    """Create the folder; remove the files a previous evaluation wrote there (and only those)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def evaluate(
    checkpoint: str | Path,
    *,
    registry: ComponentRegistry,
    out_dir: str | Path,
    settings: EvalSettings = EvalSettings(),
    data: str | Path | None = None,
    overwrite: bool = False,
    notes: Callable[[str], Any] = lambda _m: None,
    command: str | None = None,
) -> MetricCard:
    """Evaluate a checkpoint (or a run directory's latest one); returns the card it wrote."""
    out_dir = Path(out_dir)
    if settings.clips < 1 or settings.samples < 1:
        raise VidganError("--clips and --samples must be at least 1")
    index = read_index(checkpoint)
    ckpt = Path(index["path"])
    _check_out(out_dir, overwrite)
    device = torch.device(settings.device)

    model = build_model(index, registry, settings.model_options)
    use_ema = settings.use_ema and bool(index.get("ema_slots"))
    load_weights(model, ckpt, use_ema=use_ema)
    model = model.to(device).eval()
    sha, hashed = checkpoint_sha256(ckpt)
    geometry: VideoGeometry = model.geometry

    dataset, spec, data_geometry, source, _ = load_eval_data(data, index, registry, settings.split)
    available = len(dataset)
    n = min(settings.clips, available)
    if n < 1:
        raise DataError(f"the {settings.split} split of {spec.type} holds no clips")
    with torch.random.fork_rng(devices=[]):
        raw = torch.stack([dataset[i]["video"] for i in range(n)]).float()
    clips, resize_note = fit_clips(raw, geometry)
    notes_out: list[str] = []
    if n < settings.clips:
        notes_out.append(f"asked for {settings.clips} clips, the {settings.split} split holds {available}")

    run_paper = settings.protocol in ("paper", "all")
    run_transfer = settings.protocol in ("transfer", "all")
    if run_transfer and not has_ground_truth(dataset):
        if settings.protocol == "transfer":
            raise DataError(f"--protocol transfer needs ground-truth transfers (synthetic_shapes); "
                            f"{spec.type} has none")
        notes_out.append(f"transfer protocol skipped: {spec.type} has no ground-truth transfer")
        run_transfer = False
    if run_transfer and (data_geometry != geometry):
        raise DataError(f"the transfer protocol renders truth at the data's geometry {data_geometry}; the model's is "
                        f"{geometry}. Evaluate with a recipe whose [video] matches the checkpoint.")

    for needed, method, what in ((run_paper, "sample", "paper"), (run_transfer, "transfer", "transfer")):
        if needed and not callable(getattr(model, method, None)):
            raise VidganError(f"{type(model).__name__} has no {method}(); the {what} protocol needs it")

    fvd_metric = None
    if run_paper and settings.fvd:
        fvd_metric = registry.build("metric", "fvd", dict(settings.fvd_params))
        if not isinstance(fvd_metric, DistributionMetric):
            raise VidganError("metric component 'fvd' must derive from vidgan_kit.eval.DistributionMetric")
        fvd_metric.check_ready()  # before any expensive work: missing weights fail now

    scorers = build_scorers(registry, settings)
    _prepare_out(out_dir)
    ci = CISettings(level=settings.ci_level, method=settings.ci_method, seed=settings.seed)  # type: ignore[arg-type]
    stochastic = recon = fvd = transfer = disent = None
    figures: dict[str, str] = {}

    if run_paper:
        reference = None
        if has_ground_truth(dataset) and data_geometry == geometry and available >= 3:
            k_ref = min(settings.samples, available - 1)

            def reference(i: int) -> torch.Tensor:  # same first frame, true motions of other clips
                others = [(i + j) % available for j in range(1, k_ref + 1)]
                return torch.stack([dataset.transfer_truth(i, m) for m in others])

        keep = max(settings.fvd_samples_per_clip, 3)
        out = stochastic_best_of_k(
            on_device(model.sample, device), clips, scorers, samples=settings.samples, seed=settings.seed,
            joint_by=settings.joint_by, keep=keep, ci=ci, diversity_reference=reference,
            progress=lambda i, total: notes(f"stochastic: clip {i}/{total}") if i == total or i % 8 == 0 else None,
        )
        # The same protocol on the input held still (one sample: all K would be equal).
        still = stochastic_best_of_k(still_image_sampler(clips.shape[1]), clips, scorers, samples=1,
                                     seed=settings.seed, ci=ci)
        stochastic = out.result.model_copy(update={"static": still.result.per_metric})
        recon, _ = reconstruction(on_device(reconstruct_fn(model), device), clips, scorers, ci=ci,
                                  batch_size=settings.batch_size)
        curves = {"best of K (per metric)": stochastic.per_metric.curves, "mean of K": stochastic.mean_of_k.curves,
                  "static (input held still)": still.result.per_metric.curves}
        for metric, label in (("ssim", "SSIM"), ("psnr", "PSNR (dB)")):
            name = f"curves_{metric}.png"
            plot_curves(out_dir / name, curve_series(curves, metric),
                        title=f"{label} per frame, K = {settings.samples}, {n} clips, 95% CI", ylabel=label)
            figures[f"{label} per frame"] = name
        e = min(settings.examples, n)
        rows = [clips[:e], out.best[:e]] + [out.kept[:e, j] for j in range(min(3, out.kept.shape[1]))]
        write_video(out_dir / "examples.gif", video_grid(rows), fps=8)
        figures["examples (rows: real, best-SSIM sample, samples 1-3)"] = "examples.gif"
        if fvd_metric is not None:
            notes("fvd: extracting I3D features")
            k = max(1, min(settings.fvd_samples_per_clip, out.kept.shape[1]))
            fake = out.kept[:, :k].reshape(-1, *clips.shape[1:])
            fvd_metric.reset()
            fvd_metric.update(fake, clips)
            value = fvd_metric.compute()
            fvd = FVDResult(value=value["value"] if value["value"] == value["value"] else None,
                            n_fake=int(value.get("n_fake", len(fake))), n_real=int(value.get("n_real", n)),
                            fake_set=f"the first {k} sample(s) of each clip's K (seeded), whole clips incl. frame 0",
                            settings=fvd_metric.describe())
            if n < 50:
                notes_out.append(f"FVD from {n} real clips is strongly biased upward; compare only like-sized runs")

    if run_transfer:
        pairs = settings.transfer_pairs or max(2, settings.clips)
        transfer, videos = transfer_ground_truth(on_device(model.transfer, device), dataset, scorers, pairs=pairs,
                                                 seed=settings.seed, ci=ci, batch_size=settings.batch_size)
        disent = leakage(on_device(model.transfer, device), dataset, triples=settings.leakage_triples,
                         seed=settings.seed, ci=ci)
        plot_curves(out_dir / "transfer_curves_psnr.png", curve_series(transfer.curves, "psnr"),
                    title=f"transfer vs ground truth: PSNR per frame, {transfer.pairs} pairs, 95% CI",
                    ylabel="PSNR (dB)")
        figures["transfer PSNR per frame"] = "transfer_curves_psnr.png"
        e = min(settings.examples, transfer.pairs)
        rows = [videos["image"][:e].unsqueeze(1), videos["source"][:e], videos["model"][:e], videos["truth"][:e],
                videos["model_wrong_motion"][:e]]
        write_video(out_dir / "transfer_examples.gif", video_grid(rows), fps=8)
        figures["transfer examples (rows: target, source, transfer, truth, wrong motion)"] = "transfer_examples.gif"

    metrics_desc = {name: m.describe() for name, m in scorers.items()}
    if fvd_metric is not None:
        metrics_desc["fvd"] = fvd_metric.describe()
    t = geometry.frames
    card = MetricCard(
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        command=command,
        checkpoint=CheckpointInfo(path=str(ckpt), step=index.get("step"), sha256=sha, files_hashed=hashed,
                                  weights="ema" if use_ema else "raw", model=index["model"]["type"]),
        data=DataInfo(source=source, dataset=spec.type, params=json.loads(json.dumps(spec.params)),
                      split=settings.split, clips=n, clips_available=available,
                      clip_selection=f"the first {n} clips of the split, in index order", frames=t,
                      height=geometry.height, width=geometry.width, channels=geometry.channels, resize=resize_note),
        settings=ProtocolSettings(
            protocol=settings.protocol, samples_k=settings.samples,
            selection=["per_metric", f"joint (best by {settings.joint_by})", "mean_of_k"], joint_by=settings.joint_by,
            scored_frames=list(range(1, t)), conditioning_frame=0, conditioning_frame_excluded=True,
            value_range="[-1, 1] mapped to [0, 1] by (x + 1) / 2, clamped", metrics=metrics_desc,
            ci_level=settings.ci_level, ci_method=settings.ci_method,
            ci_over="clips (per-clip mean over scored frames)",
            seed=settings.seed, sample_seed_rule="clip i draws its K motions from torch.Generator seeded "
            "(seed * 1000003 + i) mod (2^63 - 1)",
            transfer_pairs=transfer.pairs if transfer else None,
            leakage_triples=disent.triples if disent else None,
            model_options=list(settings.model_options),
            fvd=fvd is not None, fvd_fake_set=fvd.fake_set if fvd else None, device=str(device),
        ),
        stochastic=stochastic, reconstruction=recon, fvd=fvd, transfer=transfer, disentanglement=disent,
        versions=library_versions(), notes=notes_out,
    )
    (out_dir / "metric_card.json").write_text(card.to_json() + "\n", encoding="utf-8")
    write_report(out_dir, card, figures)
    return card

