"""Built-in data sets: ``synthetic_shapes`` and readers of real clips on disk.

Importing this package registers nothing; :mod:`.plugin` does, through the
``vidgan_register_components`` hook, exactly as a third-party plugin would.
"""

from __future__ import annotations

from .augment import AugmentConfig, ClipAugmenter, DatasetConfig
from .clips import (
    ClipFolderConfig,
    ClipFolderDataset,
    FrameFolders,
    FrameStrips,
    NumpyArrays,
    SkippedClipsWarning,
    VideoFiles,
    VideoFolder,
)
from .synthetic import ContentFactors, MotionFactors, SyntheticShapes, SyntheticShapesConfig, render, sample_factors

__all__ = [
    "AugmentConfig",
    "ClipAugmenter",
    "ClipFolderConfig",
    "ClipFolderDataset",
    "ContentFactors",
    "DatasetConfig",
    "FrameFolders",
    "FrameStrips",
    "MotionFactors",
    "NumpyArrays",
    "SkippedClipsWarning",
    "SyntheticShapes",
    "SyntheticShapesConfig",
    "VideoFiles",
    "VideoFolder",
    "render",
    "sample_factors",
]
