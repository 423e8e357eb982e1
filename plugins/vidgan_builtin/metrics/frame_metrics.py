"""Per-frame metrics: ``ssim``, ``psnr``, ``l1`` (paired, on [0, 1], data range 1)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from vidgan_kit import ComponentConfig
from vidgan_kit.eval.base import FrameMetric
from vidgan_kit.eval.frames import PSNR_CAP_DB, SSIM_SIGMA, SSIM_WINDOW, l1_frames, psnr_frames, ssim_frames

__all__ = ["SSIMMetric", "PSNRMetric", "L1Metric", "SSIMConfig", "PSNRConfig", "L1Config"]


class SSIMConfig(ComponentConfig):
    """Options of ``ssim``."""

    window: int = Field(SSIM_WINDOW, ge=3, description="Side of the Gaussian window (odd; σ = 1.5 whatever the size).")
    padding: Literal["valid", "same"] = Field(
        "valid", description="`valid`: average only where the window fits (Wang et al.); `same`: kornia's default."
    )


class SSIMMetric(FrameMetric):
    """Structural similarity per frame (kornia, Gaussian window, data range 1, channels averaged)."""

    Config = SSIMConfig
    name = "ssim"
    higher_is_better = True

    def __init__(self, config: SSIMConfig | None = None, **wiring: Any) -> None:
        super().__init__()
        self.config = config or SSIMConfig()
        if self.config.window % 2 == 0:
            raise ValueError(f"ssim: window must be odd, got {self.config.window}")

    def score(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_frames(pred, target, window=self.config.window, padding=self.config.padding)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "implementation": "kornia.metrics.ssim", "window": self.config.window,
                "window_type": "gaussian", "sigma": SSIM_SIGMA, "data_range": 1.0, "padding": self.config.padding,
                "channels": "per channel, averaged", "kornia_version": _kornia_version()}


class PSNRConfig(ComponentConfig):
    """Options of ``psnr``."""

    cap_db: float = Field(PSNR_CAP_DB, gt=0, description="Upper limit in dB (identical frames score exactly this).")


class PSNRMetric(FrameMetric):
    """Peak signal-to-noise ratio per frame (data range 1), capped; ``compute`` reports the capped share."""

    Config = PSNRConfig
    name = "psnr"
    higher_is_better = True
    unit = "dB"

    def __init__(self, config: PSNRConfig | None = None, **wiring: Any) -> None:
        super().__init__()
        self.config = config or PSNRConfig()
        self._capped = 0
        self._frames = 0

    def score(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr_frames(pred, target, cap_db=self.config.cap_db)[0]

    def reset(self) -> None:
        super().reset()
        self._capped = self._frames = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        scores, capped = psnr_frames(pred, target, cap_db=self.config.cap_db)
        self._scores.append(scores)
        self._capped += int(capped.sum())
        self._frames += capped.numel()

    def compute(self) -> dict[str, float]:
        out = super().compute()
        out["capped_fraction"] = self._capped / self._frames if self._frames else float("nan")
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "implementation": "10*log10(1/MSE) per frame (kornia.metrics.psnr's formula)",
                "data_range": 1.0, "cap_db": self.config.cap_db}


class L1Config(ComponentConfig):
    """``l1`` has no options."""


class L1Metric(FrameMetric):
    """Mean absolute error per frame on [0, 1]."""

    Config = L1Config
    name = "l1"
    higher_is_better = False

    def __init__(self, config: L1Config | None = None, **wiring: Any) -> None:
        super().__init__()
        self.config = config or L1Config()

    def score(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return l1_frames(pred, target)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "implementation": "mean |pred - target| on [0, 1]", "data_range": 1.0}


def _kornia_version() -> str:
    import kornia

    return str(kornia.__version__)
