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

The ``transfer`` protocol is chosen by the data: a data set with ground-truth transfers
(``synthetic_shapes``) is scored against its truth (:func:`.protocols.transfer_ground_truth`,
leakage); real clips, or any data with ``real_clips``, by self-transfer through the model's
``encode_motion`` and ``animate`` (:func:`.protocols.transfer_real`).
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from collections.abc import Callable, Mapping
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
    transfer_real,
)
from .report import curve_series, plot_curves, write_report
from .results import FVDResult

__all__ = ["EvalSettings", "evaluate", "load_eval_data", "fit_clips", "build_scorers", "OUTPUT_FILES"]

#: Files ``evaluate`` writes (``--overwrite`` replaces exactly these).
OUTPUT_FILES = ("metric_card.json", "report.md", "curves_ssim.png", "curves_psnr.png", "examples.gif",
                "transfer_curves_psnr.png", "transfer_curves_ssim.png", "transfer_examples.gif")
#: The model methods of the real-clip transfer protocol.
REAL_TRANSFER_METHODS = ("encode_motion", "animate")


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
    real_clips: bool = False  # transfer protocol by self-transfer even where the data has ground truth
    leakage_triples: int = 16
    model_options: list[str] = field(default_factory=list)  # slot.option=value, changing no weights
    use_ema: bool = True
    device: str = "cpu"
    examples: int = 4
    split: str = "test"
    batch_size: int = 8


# -- data ------------------------------------------------------------------------------------


def load_eval_data(
    data: str | Path | Mapping[str, Any] | None, index: dict[str, Any], registry: ComponentRegistry, split: str
) -> tuple[Any, ComponentSpec, VideoGeometry, str, int]:
    """The evaluation data set: from a recipe (.toml), a folder of clips, a ``[data]`` table
    (a mapping, read at the model's geometry), or the checkpoint's recipe.

    Returns (dataset, its spec, its geometry, a description of the source, the recipe seed).
    """
    model_geometry = VideoGeometry(**index["geometry"])
    if isinstance(data, Mapping):
        spec, _ = registry.resolve("dataset", dict(data), "data")
        geometry, source = model_geometry, "a [data] table given by the caller"
        seed = int((index.get("recipe") or {}).get("seed", 0))
    elif data is None:
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


# -- which clips ------------------------------------------------------------------------------


def _describe_items(dataset: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per evaluated item: ``clip`` name, ``identity``, ``label`` (the label that picks the
    wrong sources) and ``labels_from`` (which: a motion label where items carry one, as
    ``synthetic_shapes`` does, else the class), from the data set's ``item_info`` where it has one."""
    info = getattr(dataset, "item_info", None)
    out = []
    for i, item in enumerate(items):
        known = info(i) if callable(info) else {}
        if "motion_label" in item:
            label, labels_from = int(item["motion_label"]), "motion_label"
        elif known.get("class") is not None:
            label, labels_from = known["class"], "class folder"
        elif "label" in item:
            label, labels_from = int(item["label"]), "label"
        else:
            label, labels_from = None, None
        out.append({"clip": known.get("clip") or f"item {i}", "identity": known.get("identity"), "label": label,
                    "labels_from": labels_from})
    return out


def _identities_seen(
    described: list[dict[str, Any]], dataset: Any, registry: ComponentRegistry, spec: ComponentSpec,
    geometry: VideoGeometry, seed: int, data: Any, notes: list[str],
) -> tuple[list[str] | None, list[str] | None]:
    """(identities of the evaluated clips, those of them the train split holds): None without identities.

    In the data set's order of identities where it lists them, else in the clips' order."""
    found = dict.fromkeys(d["identity"] for d in described if d["identity"] is not None)
    if not found:
        return None, None
    listed = list(getattr(dataset, "identities", []))
    identities = [i for i in listed if i in found] + [i for i in found if i not in listed]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skipped files were reported when the data set was built
            train = registry.build("dataset", spec, geometry=geometry, split="train", seed=seed)
    except VidganError as exc:
        notes.append(f"identities seen in training unknown: the train split did not build ({exc})")
        return identities, None
    if data is not None:
        notes.append("identities_in_train is read from the train split of the evaluation's [data] table, "
                     "not from the checkpoint's own recipe")
    seen = set(getattr(train, "identities", []))
    return identities, [i for i in identities if i in seen]


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

    dataset, spec, data_geometry, source, data_seed = load_eval_data(data, index, registry, settings.split)
    available = len(dataset)
    n = min(settings.clips, available)
    if n < 1:
        raise DataError(f"the {settings.split} split of {spec.type} holds no clips")
    with torch.random.fork_rng(devices=[]):
        items = [dataset[i] for i in range(n)]
    raw = torch.stack([item["video"] for item in items]).float()
    clips, resize_note = fit_clips(raw, geometry)
    described = _describe_items(dataset, items)
    notes_out: list[str] = []
    if n < settings.clips:
        notes_out.append(f"asked for {settings.clips} clips, the {settings.split} split holds {available}")

    run_paper = settings.protocol in ("paper", "all")
    run_transfer = run_real = False
    if settings.protocol in ("transfer", "all") and not callable(getattr(model, "transfer", None)):
        why = f"model {index['model']['type']!r} cannot transfer motion (it has no transfer())"
        if settings.protocol == "transfer":
            raise VidganError(f"{why}; the transfer protocol needs it. Use --protocol paper.")
        notes_out.append(f"transfer protocol skipped: {why}")
    elif settings.protocol in ("transfer", "all"):
        run_real = settings.real_clips or not has_ground_truth(dataset)
        run_transfer = not run_real
    if run_real:
        missing = [m for m in REAL_TRANSFER_METHODS if not callable(getattr(model, m, None))]
        why = None
        if missing:
            why = (f"the real-clip transfer protocol needs the model's encode_motion(video) -> z and "
                   f"animate(image, z) -> video; {type(model).__name__} has no {' and no '.join(missing)}()")
        elif n < 2:
            why = "the real-clip transfer protocol needs at least 2 clips (the wrong source is another clip)"
        if why is not None:
            if settings.protocol == "transfer":
                raise VidganError(why)
            notes_out.append(f"transfer protocol skipped: {why}")
            run_real = False
    if run_transfer and (data_geometry != geometry):
        raise DataError(f"the transfer protocol renders truth at the data's geometry {data_geometry}; the model's is "
                        f"{geometry}. Evaluate with a recipe whose [video] matches the checkpoint.")

    for needed, method, what in ((run_paper, "sample", "paper"), (run_transfer, "transfer", "transfer")):
        if needed and not callable(getattr(model, method, None)):
            raise VidganError(f"{type(model).__name__} has no {method}(); the {what} protocol needs it")
    if run_paper and getattr(model, "samples_from", "image") == "noise":
        raise VidganError(f"model {index['model']['type']!r} samples unconditionally (its content is drawn from noise);"
                          " the paper protocol scores samples of each test clip's first frame: evaluate a variant"
                          " that samples from an image")
    identities, in_train = _identities_seen(described, dataset, registry, spec, data_geometry, data_seed, data,
                                            notes_out)

    fvd_metric = None
    if run_paper and settings.fvd:
        fvd_metric = registry.build("metric", "fvd", dict(settings.fvd_params))
        if not isinstance(fvd_metric, DistributionMetric):
            raise VidganError("metric component 'fvd' must derive from vidgan_kit.eval.DistributionMetric")
        fvd_metric.check_ready()  # before any expensive work: missing weights fail now

    scorers = build_scorers(registry, settings)
    _prepare_out(out_dir)
    ci = CISettings(level=settings.ci_level, method=settings.ci_method, seed=settings.seed)  # type: ignore[arg-type]
    stochastic = recon = fvd = transfer = disent = real = None
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
        if getattr(model, "reconstructs", True):
            recon, _ = reconstruction(on_device(reconstruct_fn(model), device), clips, scorers, ci=ci,
                                      batch_size=settings.batch_size)
        else:
            notes_out.append(f"reconstruction not scored: model {index['model']['type']!r} does not reconstruct"
                             " its input clip")
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

    if run_real:
        real, videos = transfer_real(
            on_device(model.encode_motion, device), on_device(model.animate, device), clips, scorers,
            names=[d["clip"] for d in described], labels=[d["label"] for d in described],
            identities=[d["identity"] for d in described], labels_from=described[0]["labels_from"], ci=ci,
            batch_size=settings.batch_size,
        )
        for metric, label in (("psnr", "PSNR (dB)"), ("ssim", "SSIM")):
            name = f"transfer_curves_{metric}.png"
            plot_curves(out_dir / name, curve_series(real.curves, metric),
                        title=f"self-transfer on real clips: {label} per frame, {real.clips} clips, 95% CI",
                        ylabel=label)
            figures[f"real-clip transfer {label} per frame"] = name
        e = min(settings.examples, n)
        rows = [videos[key][:e] for key in ("clips", "right", "wrong_source", "wrong", "zero_code", "static")]
        write_video(out_dir / "transfer_examples.gif", video_grid(rows), fps=8)
        figures["real-clip transfer examples (rows: clip, right source, wrong source clip, its transfer, zero code,"
                " static)"] = "transfer_examples.gif"

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
                      split=settings.split, split_mode=spec.params.get("split_mode"), clips=n,
                      clips_available=available, clip_selection=f"the first {n} clips of the split, in index order",
                      identities=identities, identities_in_train=in_train, frames=t,
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
            transfer_kind="real_clips" if real else "ground_truth" if transfer else None,
            transfer_pairs=transfer.pairs if transfer else None,
            leakage_triples=disent.triples if disent else None,
            model_options=list(settings.model_options),
            fvd=fvd is not None, fvd_fake_set=fvd.fake_set if fvd else None, device=str(device),
        ),
        stochastic=stochastic, reconstruction=recon, fvd=fvd, transfer=transfer, disentanglement=disent,
        real_transfer=real,
        versions=library_versions(), notes=notes_out,
    )
    (out_dir / "metric_card.json").write_text(card.to_json() + "\n", encoding="utf-8")
    write_report(out_dir, card, figures)
    return card

