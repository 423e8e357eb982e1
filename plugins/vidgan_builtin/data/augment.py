"""Clip augmentation through kornia, one random transform per clip.

A video GAN learns motion from how frames differ. An augmentation that drew a new
transform for every frame would add motion that is not in the data (a jittering camera,
flickering colours), so here every frame of a clip gets *the same* transform: the clip's
T frames are the batch of kornia's augmentations, with ``same_on_batch=True``.

Every built-in data set takes the same ``augment`` table (:class:`AugmentConfig`, the
``augment`` field of :class:`DatasetConfig`), all off by default::

    [data]
    type = "frame_strips"
    root = "data/weizmann64"
    augment = {hflip = 0.5, affine_degrees = 5, affine_translate = 0.05, color_jitter = 0.1}

It applies to the train split only; the test split is never augmented. The transform of
an item is a pure function of (data set seed, item index, epoch): the same run gives the
same items, and each epoch draws new transforms (see the data sets' ``set_epoch``).
Order: flip, then affine (rotation, translation and scale in one resampling, border
pixels reflected), then colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field, field_validator

from vidgan_kit import ComponentConfig

__all__ = ["AugmentConfig", "DatasetConfig", "ClipAugmenter", "augment_seed"]

_SALT = 0x6175_676D  # "augm": keeps augmentation draws apart from the window draws of the same item


class AugmentConfig(ComponentConfig):
    """The ``augment`` table of a data set: train-split augmentation, all off by default."""

    hflip: float = Field(0.0, ge=0, le=1, description="Probability of mirroring a clip left-right.")
    affine_degrees: float = Field(0.0, ge=0, le=180, description="Rotate by an angle drawn in ± this many degrees.")
    affine_translate: float = Field(
        0.0, ge=0, le=0.5, description="Shift by up to ± this fraction of the width (horizontally) and height."
    )
    affine_scale: tuple[float, float] = Field(
        (1.0, 1.0), description="Zoom by a factor drawn in [min, max]; [1, 1] = no zoom."
    )
    color_jitter: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Scale brightness, contrast and saturation each by a factor drawn in [1 - x, 1 + x] (hue is kept).",
    )

    @field_validator("affine_scale")
    @classmethod
    def _scale_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0 < lo <= hi:
            raise ValueError(f"expected [min, max] with 0 < min <= max, got {list(value)}")
        return value

    @property
    def affine(self) -> bool:
        return self.affine_degrees > 0 or self.affine_translate > 0 or self.affine_scale != (1.0, 1.0)

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return self.hflip > 0 or self.affine or self.color_jitter > 0


class DatasetConfig(ComponentConfig):
    """Options every built-in data set shares."""

    augment: AugmentConfig = Field(
        default_factory=AugmentConfig,
        description="Train-split augmentation, one transform per clip (all off by default): "
        "{hflip, affine_degrees, affine_translate, affine_scale, color_jitter}.",
    )


def augment_seed(seed: int, index: int, epoch: int) -> int:
    """The torch seed of item ``index``'s transform in ``epoch`` (same on every machine)."""
    parts = [int(p) % 2**64 for p in (seed, index, epoch, _SALT)]
    return int(np.random.SeedSequence(parts).generate_state(1, dtype=np.uint64)[0])


class ClipAugmenter:
    """Applies an :class:`AugmentConfig` to clips ``[T, C, H, W]`` in [-1, 1].

    kornia is imported and the modules built on first use, so data sets without
    augmentation never pay for the import. Works on RGB and grey (C = 1) clips.
    """

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config
        self._modules: list[tuple[Any, bool]] | None = None

    @property
    def active(self) -> bool:
        return self.config.active

    def _build(self) -> list[tuple[Any, bool]]:
        """(kornia module, whether it needs [0, 1] input) in the order they apply."""
        import kornia.augmentation as K

        c = self.config
        modules: list[tuple[Any, bool]] = []
        if c.hflip > 0:
            modules.append((K.RandomHorizontalFlip(p=c.hflip, same_on_batch=True), False))
        if c.affine:
            affine = K.RandomAffine(
                degrees=c.affine_degrees,
                translate=(c.affine_translate, c.affine_translate) if c.affine_translate > 0 else None,
                scale=c.affine_scale if c.affine_scale != (1.0, 1.0) else None,
                padding_mode="reflection",
                same_on_batch=True,
                p=1.0,
            )
            modules.append((affine, False))  # bilinear resampling is linear: any range works
        if c.color_jitter > 0:
            s = c.color_jitter
            jitter = K.ColorJitter(brightness=s, contrast=s, saturation=s, hue=0.0, same_on_batch=True, p=1.0)
            modules.append((jitter, True))
        return modules

    def __call__(self, video: torch.Tensor, seed: int) -> torch.Tensor:
        """``video`` transformed by the transform that ``seed`` draws (the same for every frame)."""
        if not self.active:
            return video
        if self._modules is None:
            self._modules = self._build()
        channels = video.shape[-3]
        x = video.expand(*video.shape[:-3], 3, *video.shape[-2:]) if channels == 1 else video
        # A private RNG stream: the transform depends on the seed alone, and the caller's
        # global torch RNG (which the trainer's model draws from) is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for module, unit_range in self._modules:
                if unit_range:  # colour operations are defined on [0, 1]
                    x = module((x + 1) / 2).clamp(0, 1) * 2 - 1
                else:
                    x = module(x)
        if channels == 1:
            x = x[..., :1, :, :]
        return x.clamp(-1, 1).contiguous()

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers rebuild the modules
        return {"config": self.config, "_modules": None}
