"""Registers the built-in data sets and the ``vidgan data`` commands, through the same
hooks a third-party plugin uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vidgan_kit import Registrar, hookimpl

from .clips import FrameFolders, FrameStrips, NumpyArrays, VideoFiles, VideoFolder
from .synthetic import SyntheticShapes

if TYPE_CHECKING:
    import typer

#: name → (factory, one-line summary shown by `vidgan list-components`)
DATASETS: dict[str, tuple[Any, str]] = {
    "synthetic_shapes": (
        SyntheticShapes,
        "Procedural moving shapes with independent content and motion factors and exact transfer ground truth.",
    ),
    "frame_strips": (FrameStrips, "Clips stored as horizontal strip images (MoCoGAN's Weizmann layout)."),
    "frame_folders": (FrameFolders, "Clips stored as one folder of frame images each, in natural order."),
    "video_files": (VideoFiles, "Clips stored as video files (mp4, avi, webm, mov, mkv, gif), decoded with PyAV."),
    "numpy_arrays": (NumpyArrays, "Clips stored as uint8 NumPy arrays (.npy, .npz), channels last."),
    "video_folder": (VideoFolder, "Any mix of the formats above under one root; labels from class sub-folders."),
}


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    for name, (factory, summary) in DATASETS.items():
        registry.add("dataset", name, factory, config=factory.Config, summary=summary)


@hookimpl
def vidgan_register_commands(app: typer.Typer) -> None:
    from .commands import register

    register(app)
