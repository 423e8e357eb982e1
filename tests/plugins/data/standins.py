"""Tiny stand-ins of the public data sets, written by the tests in the publishers' formats.

- Weizmann: ``person_action.avi`` (Motion-JPEG AVI, 180×144) of a bright "person" (a
  rectangle with a swinging arm) on a static textured background.
- UvA-NEMO: ``.mp4`` (H.264) at a 16:9 size (smaller than 1920×1080 to stay fast; the
  code does not depend on the size).
- BAIR: ``softmotion30_44k/{train,test}/traj_*.tfrecords`` of ``tf.train.Example``
  records, encoded by hand (``tests/io/tfrecord_by_hand.py``), independently of the reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.io.tfrecord_by_hand import example, tfrecord_bytes
from vidgan_kit.io import uint8_to_tensor, write_video

WEIZMANN_SIZE = (144, 180)  # (H, W)


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A static, textured, darkish scene ``[H, W, 3]`` uint8."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 90, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(base.repeat(8, 0).repeat(8, 1)[:height, :width])


def person_clip(frames: int, centre: tuple[int, int], seed: int = 0,
                size: tuple[int, int] = WEIZMANN_SIZE) -> np.ndarray:
    """``[T, H, W, 3]``: a bright 20×60 px "person" around ``centre`` (y, x) on a static
    scene, swaying ±8 px left and right, one arm moving up and down."""
    h, w = size
    scene = background(h, w, seed)
    cy, cx = centre
    clip = np.repeat(scene[None], frames, axis=0)
    for t in range(frames):
        x = cx + (-8, -4, 0, 4, 8, 4, 0, -4)[t % 8]
        clip[t, cy - 30 : cy + 30, x - 10 : x + 10] = (230, 200, 180)
        arm = cy - 25 + (t * 7) % 30
        clip[t, arm : arm + 6, x + 10 : x + 20] = (230, 200, 180)
    return clip


def write_avi(path: Path, clip: np.ndarray, fps: float = 25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, uint8_to_tensor(clip), fps=fps)  # .avi: Motion-JPEG, as Weizmann's


def write_mp4(path: Path, frames: int, size: tuple[int, int] = (54, 96), seed: int = 0) -> Path:
    """A 16:9 smile-like clip: a face-coloured disc whose mouth widens over time."""
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    clip = np.repeat(background(h, w, seed)[None], frames, axis=0)
    face = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.4 * h) ** 2
    for t in range(frames):
        clip[t][face] = (220, 180, 150)
        mouth = (abs(yy - 0.62 * h) < 2) & (abs(xx - w / 2) < 3 + t % 8)
        clip[t][mouth] = (120, 30, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, uint8_to_tensor(clip), fps=25)


# -- BAIR ---------------------------------------------------------------------------------------


def bair_clip(seed: int, steps: int = 30, size: int = 64) -> np.ndarray:
    """``[T, size, size, 3]`` uint8 frames; the seed decides every pixel, frames differ."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    return np.stack([np.roll(base, t, axis=1) for t in range(steps)])


def write_bair(src: Path, files: dict[str, list[int]], steps: int = 30, size: int = 64) -> dict[str, np.ndarray]:
    """Write ``softmotion30_44k/<split>/traj_<i>.tfrecords`` files of the given record seeds.

    ``files`` maps "train/traj_0_to_1" to the seeds of its records; returns the clips by file.
    """
    written = {}
    for name, seeds in files.items():
        clips = [bair_clip(s, steps, size) for s in seeds]
        records = [example([frame.tobytes() for frame in clip]) for clip in clips]
        path = src / "softmotion30_44k" / f"{name}.tfrecords"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tfrecord_bytes(records))
        written[name] = np.stack(clips)
    return written
