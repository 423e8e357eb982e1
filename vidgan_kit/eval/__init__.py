"""Evaluation: metric components, the paper's protocols, metric cards.

Kind ``metric``
===============

A metric is a registered component like any other: ``factory(config, **wiring)`` with its
own :class:`~vidgan_kit.config.ComponentConfig` (unknown keys are errors), built with
``registry.build("metric", name, params)``. Wiring is optional (a metric must accept and
may ignore ``geometry``). The object must derive from one of these bases
(:mod:`vidgan_kit.eval.base`):

=====================  ==========================================  ===========================================
base class             methods                                     meaning
=====================  ==========================================  ===========================================
FrameMetric            score(pred, target) -> [B, T] float64       paired per-frame score (SSIM, PSNR, L1);
                       update(pred, target); compute() -> dict     ``compute()["value"]``: mean over frames
DistributionMetric     update(pred | None, target | None)          set-to-set distance (FVD); the two sets
                       compute() -> dict; check_ready()            need not be paired; ``check_ready()``
                                                                   raises what to do when it cannot run
(both)                 reset(); describe() -> dict                 ``describe()``: protocol choices for the card
                       higher_is_better, unit                      direction and unit of the score
=====================  ==========================================  ===========================================

``pred`` and ``target`` are videos ``[B, T, C, H, W]`` in [-1, 1]; scores are computed on
[0, 1] (data range 1). A metric that needs pretrained weights declares them as
``weights = (WeightSource(...),)`` on its factory; ``vidgan weights fetch NAME`` fetches
them (:mod:`vidgan_kit.eval.weights`).

Built-in metrics (plugin ``builtin_metrics``): ``ssim``, ``psnr``, ``l1``, ``fvd``.

Protocols (:mod:`vidgan_kit.eval.protocols`) and the runner
===========================================================

- :func:`stochastic_best_of_k`: the paper's Sec. 4.3/4.4 protocol (first real frame in, K
  samples, best of K per metric / joint / mean of K, per-frame curves, diversity);
- :func:`reconstruction`: Ṽ_x against its own clip;
- :func:`transfer_ground_truth` and :func:`leakage`: ground-truth transfer, wrong-motion
  control, baselines and content leakage on ``synthetic_shapes``;
- :func:`evaluate`: all of it from a checkpoint, writing ``metric_card.json``
  (:class:`MetricCard`), ``report.md`` and figures;
- :func:`~vidgan_kit.eval.validation.validate`: a few cheap numbers during training.
"""

from __future__ import annotations

from .base import DistributionMetric, FrameMetric, Metric, check_pair
from .card import MetricCard, checkpoint_sha256, library_versions
from .frames import PSNR_CAP_DB, SSIM_WINDOW, l1_frames, psnr_frames, ssim_frames, to_unit
from .frechet import frechet_distance, frechet_distance_features, gaussian_stats, trace_sqrt_product
from .protocols import (
    CISettings,
    leakage,
    clip_l1,
    leakage_changes,
    leakage_picks,
    pairwise_l1,
    reconstruction,
    select_best,
    stochastic_best_of_k,
    transfer_ground_truth,
)
from .runner import EvalSettings, evaluate
from .stats import Estimate, mean_ci, t_quantile
from .validation import VALIDATION_METRICS, validate
from .weights import (
    UnsafePickleError,
    WeightsError,
    WeightsMissingError,
    WeightSource,
    cache_dir,
    restricted_load,
    weight_sources,
)

__all__ = [
    "Metric",
    "FrameMetric",
    "DistributionMetric",
    "check_pair",
    "MetricCard",
    "checkpoint_sha256",
    "library_versions",
    "PSNR_CAP_DB",
    "SSIM_WINDOW",
    "ssim_frames",
    "psnr_frames",
    "l1_frames",
    "to_unit",
    "frechet_distance",
    "frechet_distance_features",
    "gaussian_stats",
    "trace_sqrt_product",
    "CISettings",
    "stochastic_best_of_k",
    "select_best",
    "reconstruction",
    "transfer_ground_truth",
    "leakage",
    "clip_l1",
    "leakage_changes",
    "leakage_picks",
    "pairwise_l1",
    "EvalSettings",
    "evaluate",
    "Estimate",
    "mean_ci",
    "t_quantile",
    "validate",
    "VALIDATION_METRICS",
    "WeightSource",
    "WeightsError",
    "WeightsMissingError",
    "UnsafePickleError",
    "cache_dir",
    "restricted_load",
    "weight_sources",
]
