"""Cheap validation numbers during training: ``validate(model, registry, recipe, step)``.

The trainer calls it every ``train.validate_every`` steps. It scores a few fixed test clips
with the same protocols as ``vidgan eval`` (smaller K, no FVD, no figures), always on
the same clips with the same seeds, so the numbers compare across steps; it draws from no
global random stream (the training run's RNG state is left exactly as it was).

Keys (direction in :data:`vidgan_kit.recipe.VALIDATION_METRICS`):

- ``val/recon_l1``, ``val/recon_psnr``, ``val/recon_ssim``: reconstruction Ṽ_x;
- ``val/best_of_k_ssim``, ``val/best_of_k_psnr``: the paper's best of K (per metric) over
  frames 1..T-1; ``val/diversity``: mean pairwise L1 between the K samples;
- with ground-truth data (``synthetic_shapes``): ``val/transfer_l1``,
  ``val/transfer_psnr``, ``val/motion_gain_l1`` (> 0 when the motion clip is used) and
  ``val/leakage_ratio`` (output change when only the motion clip's content changes over
  the change when only its motion changes; 0 is ideal, NaN when the motion is ignored).
"""

from __future__ import annotations

from typing import Any

import torch

from ..layout import VideoGeometry
from ..recipe import VALIDATION_METRICS
from ..registry import ComponentRegistry
from .calls import on_device, reconstruct_fn
from .protocols import (
    CISettings,
    has_ground_truth,
    leakage,
    reconstruction,
    stochastic_best_of_k,
    transfer_ground_truth,
)
from .runner import EvalSettings, build_scorers, fit_clips

__all__ = ["validate", "VALIDATION_METRICS", "validation_dataset"]


def validation_dataset(registry: ComponentRegistry, recipe: Any) -> Any:
    """The recipe's data set, test split (build it once and pass it to :func:`validate`)."""
    return registry.build("dataset", recipe.data, geometry=recipe.video.geometry(), split="test", seed=recipe.seed)


def _ssim_window(geometry: VideoGeometry) -> int:
    side = min(geometry.height, geometry.width, 11)
    return side if side % 2 else side - 1


def validate(
    model: Any,
    registry: ComponentRegistry,
    recipe: Any,
    step: int,
    *,
    clips: int = 8,
    samples: int = 4,
    seed: int = 0,
    dataset: Any | None = None,
) -> dict[str, float]:
    """Validation metrics of ``model`` (any device; its train/eval mode is restored).

    :param step: the training step (for the caller's logging; the clips and seeds do not
        depend on it, so the numbers compare across steps).
    :param dataset: the test split, if the caller keeps one (else built from the recipe).
    """
    geometry: VideoGeometry = model.geometry
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        try:
            ds = dataset if dataset is not None else validation_dataset(registry, recipe)
            n = min(clips, len(ds))
            video, _ = fit_clips(torch.stack([ds[i]["video"] for i in range(n)]).float(), geometry)
            scorers = build_scorers(registry, EvalSettings(ssim_window=_ssim_window(geometry)))
            ci = CISettings()
            out: dict[str, float] = {}
            recon, _ = reconstruction(on_device(reconstruct_fn(model), device), video, scorers, ci=ci)
            out["val/recon_l1"] = _mean(recon.scores.l1)
            out["val/recon_psnr"] = _mean(recon.scores.psnr)
            out["val/recon_ssim"] = _mean(recon.scores.ssim)
            if callable(getattr(model, "sample", None)):
                st = stochastic_best_of_k(on_device(model.sample, device), video, scorers, samples=samples,
                                          seed=seed, ci=ci)
                out["val/best_of_k_ssim"] = _mean(st.result.per_metric.scores.ssim)
                out["val/best_of_k_psnr"] = _mean(st.result.per_metric.scores.psnr)
                out["val/diversity"] = _mean(st.result.diversity.samples)
            if callable(getattr(model, "transfer", None)) and has_ground_truth(ds) and n >= 2:
                tr, _ = transfer_ground_truth(on_device(model.transfer, device), ds, scorers, pairs=n, seed=seed,
                                              ci=ci)
                out["val/transfer_l1"] = _mean(tr.methods["model"].l1)
                out["val/transfer_psnr"] = _mean(tr.methods["model"].psnr)
                out["val/motion_gain_l1"] = float("nan") if tr.motion_gain_l1 is None else tr.motion_gain_l1
                if len(ds) >= 5:
                    leak = leakage(on_device(model.transfer, device), ds, triples=n, seed=seed, ci=ci)
                    out["val/leakage_ratio"] = float("nan") if leak.leakage_ratio is None else leak.leakage_ratio
        finally:
            model.train(was_training)
    return out


def _mean(estimate: Any) -> float:
    return float("nan") if estimate is None or estimate.mean is None else float(estimate.mean)
