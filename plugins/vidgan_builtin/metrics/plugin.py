"""Registers the built-in metrics, through the same hook a third-party plugin uses."""

from __future__ import annotations

from vidgan_kit import Registrar, hookimpl

from .frame_metrics import L1Metric, PSNRMetric, SSIMMetric
from .fvd import FVDMetric


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add("metric", "ssim", SSIMMetric,
                 summary="SSIM per frame (kornia, 11x11 Gaussian window, data range 1).")
    registry.add("metric", "psnr", PSNRMetric, summary="PSNR per frame (data range 1), capped at 100 dB by default.")
    registry.add("metric", "l1", L1Metric, summary="Mean absolute error per frame on [0, 1].")
    registry.add("metric", "fvd", FVDMetric,
                 summary="Frechet Video Distance with I3D Kinetics-400 features (`vidgan weights fetch i3d`).")
