"""Built-in inputs, so the page works with nothing uploaded.

Written at start-up into the server's temporary folder: target images and a source video
from the ``synthetic_shapes`` data set's renderer (held-out split) when that data set is
registered, and a made-up source video drawn here (a disc swinging on a gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..io import write_image, write_video
from ..layout import VideoGeometry
from ..registry import ComponentRegistry

__all__ = ["EXAMPLE_FPS", "EXAMPLE_FRAMES", "EXAMPLE_SIZE", "Example", "write_examples"]

#: Frames of each example video: longer than the clips of the shipped recipes (4 and 16).
EXAMPLE_FRAMES = 32
EXAMPLE_SIZE = 64
EXAMPLE_FPS = 8


@dataclass(frozen=True)
class Example:
    id: str
    kind: str  # "image" or "video"
    title: str
    path: Path


def swinging_disc(frames: int = EXAMPLE_FRAMES, size: int = EXAMPLE_SIZE) -> torch.Tensor:
    """A made-up source video ``[T, 3, H, W]`` in [-1, 1]: a disc swinging left and right on a pendulum's arc."""
    axis = torch.linspace(0, 1, size)
    v, u = torch.meshgrid(axis, axis, indexing="ij")
    background = torch.stack([0.2 + 0.3 * v, 0.3 + 0.2 * u, 0.6 - 0.3 * v])
    clip = []
    for t in range(frames):
        angle = 0.6 * math.sin(2 * math.pi * t / 16)
        cx, cy = 0.5 + 0.35 * math.sin(angle), 0.15 + 0.35 * math.cos(angle)
        disc = (((u - cx) ** 2 + (v - cy) ** 2) < 0.12**2).float()
        colour = torch.tensor([0.95, 0.8, 0.2]).view(3, 1, 1)
        clip.append(background * (1 - disc) + colour * disc)
    return torch.stack(clip) * 2 - 1


def write_examples(folder: Path, registry: ComponentRegistry) -> list[Example]:
    """The examples, written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    if ("dataset", "synthetic_shapes") in registry:
        geometry = VideoGeometry(frames=EXAMPLE_FRAMES, channels=3, height=EXAMPLE_SIZE, width=EXAMPLE_SIZE)
        shapes = registry.build("dataset", "synthetic_shapes", {}, geometry=geometry, split="test", seed=0)
        for i in range(3):
            path = write_image(folder / f"shape-{i}.png", shapes.clip(i)[0])
            found.append(Example(f"image-{i}", "image", f"synthetic shape {i}", Path(path)))
        path = write_video(folder / "shape-motion.mp4", shapes.clip(3), fps=EXAMPLE_FPS)
        found.append(Example("video-shape", "video", "synthetic motion", Path(path)))
    path = write_video(folder / "swing.mp4", swinging_disc(), fps=EXAMPLE_FPS)
    found.append(Example("video-swing", "video", "swinging disc", Path(path)))
    if not any(e.kind == "image" for e in found):
        path = write_image(folder / "disc.png", swinging_disc(1)[0])
        found.append(Example("image-disc", "image", "disc", Path(path)))
    return found
