"""Folders of numbered frame strips laid out as MoCoGAN's Weizmann strips, written by the tests.

A clip of actor ``a`` doing the action in slot ``s`` is ``<action>/<8a + 2s:08d>.png``, the
layout of the real data (file number = 8 * actor + 2 * action slot, action folders 0 1 3 4).
Each actor has a background grey of its own, and each action moves a bright bar its own way,
so clips of one actor share their look and clips of one action their motion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ACTIONS = ("0", "1", "3", "4")
#: The identity rule of recipes/weizmann.toml for these names: the file number // 8.
NUMBERED = {"identity_pattern": r"(?:^|/)(?P<identity>\d+)\.\w+$", "identity_divisor": 8}


def clip_name(actor: int, slot: int) -> str:
    return f"{ACTIONS[slot]}/{8 * actor + 2 * slot:08d}.png"


def actor_clip(actor: int, slot: int, frames: int, size: int) -> np.ndarray:
    """``[T, H, W, 3]`` uint8: the actor's grey, a bar moving by the action's rule."""
    clip = np.full((frames, size, size, 3), 40 + 30 * actor, dtype=np.uint8)
    for t in range(frames):
        x = (t * (slot + 1)) % (size - 3)
        if slot % 2:
            clip[t, x : x + 3, :, :] = 230  # a horizontal bar moving down
        else:
            clip[t, :, x : x + 3, :] = 230  # a vertical bar moving right
    return clip


def write_actor_strips(root: Path, actors: range | list[int] = range(4), frames: int = 6,
                       size: int = 16) -> dict[str, int]:
    """Every actor doing every action, as strips under ``root``; returns clip name -> actor."""
    written = {}
    for actor in actors:
        for slot in range(len(ACTIONS)):
            name = clip_name(actor, slot)
            clip = actor_clip(actor, slot, frames, size)
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(clip.transpose(1, 0, 2, 3).reshape(size, frames * size, 3)).save(path)
            written[name] = actor
    return written
