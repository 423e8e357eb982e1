"""Weizmann human actions → 64×64 frame strips centred on the person (MoCoGAN's layout).

Source, as the publishers distribute it (Blank et al., "Actions as space-time shapes",
ICCV 2005): one ``.avi`` per (person, action), 180×144 px, named ``person_action.avi``
(``daria_walk.avi``, ``lena_run1.avi``), usually one zip per action. Unzip them anywhere
under SRC; sub-folders do not matter.

Output: ``OUT/<action>/<person>_<action>.png``, one horizontal strip per clip (frame t at
columns 64t .. 64t+63), every frame kept; the action folders give the labels. The split
is by time, after MoCoGAN: each clip's first 2/3 of frames train, its last 1/3 test; the
manifest records each clip's frame ranges and the folder is read by ``frame_strips`` with
``split_mode = "by_time"`` (recipes/weizmann.toml).

Centring on the person, a simple method that the static camera allows:

1. the background is the per-pixel median over the clip's frames (the person moves, so
   each pixel shows the scene most of the time);
2. a pixel is foreground when some channel differs from the background by more than
   ``threshold`` (0-255);
3. the person's box is the central ``1 - 2 * quantile`` of the foreground pixels of the
   whole clip, along x and along y (quantiles, so specks of noise do not stretch it);
4. the crop is one square for the whole clip (the camera stays still, so motion is kept),
   centred on the box and shifted to lie inside the frame. Its side is the box's longer
   side plus ``margin`` on each side, but at least ``min_side`` times the frame's shorter
   side (and at most that side). Clips without foreground fall back to the centred square.

The default ``min_side = 1`` crops the full-height square (144×144) centred horizontally on
the person, which is how MoCoGAN's 64×64 Weizmann frames look: the whole body, about half
the frame high. It is also robust where the background model is weakest: when the torso
hardly moves (``wave1``, ``bend``) the median frame contains it, so the foreground is
mostly the moving limbs and a tight box would cut the body. Lower ``min_side`` for tighter
crops of people who move as a whole.

The crop is then resized to ``size`` × ``size`` (antialiased bilinear).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidgan_kit.errors import DataError
from vidgan_kit.io import read_video_array

from .common import find_sources, fit_square, require_source, write_strip
from .manifest import Progress, file_entry, new_manifest, source_entry, staged_output, write_manifest

__all__ = ["ACTIONS", "WeizmannOptions", "parse_name", "person_box", "prepare_weizmann"]

#: The ten actions of the data set, as they appear in its file names.
ACTIONS: tuple[str, ...] = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
VIDEO_SUFFIXES = (".avi",)
TEST_FRACTION = 1 / 3  # MoCoGAN: the last third of each clip is held out


@dataclass(frozen=True)
class WeizmannOptions:
    """Preprocessing parameters (recorded in the manifest)."""

    size: int = 64
    threshold: int = 30
    quantile: float = 0.01
    margin: float = 0.1
    min_side: float = 1.0


def parse_name(stem: str) -> tuple[str, str] | None:
    """``"lena_run1"`` → ``("lena", "run")``; ``None`` when the name is not ``person_action``.

    ``wave1``/``wave2`` are two actions; any other trailing digits number repetitions.
    """
    person, sep, token = stem.partition("_")
    token = token.lower()
    if not sep or not person:
        return None
    if token in ACTIONS:
        return person, token
    base = token.rstrip("0123456789")
    if base != token and base in ACTIONS:
        return person, base
    return None


def person_box(frames: np.ndarray, options: WeizmannOptions = WeizmannOptions()) -> tuple[int, int, int]:
    """The square crop ``(top, left, side)`` around the person of a clip ``[T, H, W, 3]``."""
    _, h, w, _ = frames.shape
    limit = min(h, w)
    background = np.median(frames, axis=0).astype(np.int16)
    mask = (np.abs(frames.astype(np.int16) - background).max(axis=-1) > options.threshold)  # [T, H, W]
    rows = mask.sum(axis=(0, 2)).astype(np.float64)
    cols = mask.sum(axis=(0, 1)).astype(np.float64)
    if rows.sum() == 0:
        side = limit
        return (h - side) // 2, (w - side) // 2, side

    def span(counts: np.ndarray) -> tuple[float, float]:
        cdf = np.cumsum(counts) / counts.sum()
        lo = int(np.searchsorted(cdf, options.quantile))
        hi = int(np.searchsorted(cdf, 1 - options.quantile))
        return float(lo), float(hi + 1)

    y0, y1 = span(rows)
    x0, x1 = span(cols)
    side = round(max(y1 - y0, x1 - x0) * (1 + 2 * options.margin))
    side = int(min(limit, max(side, round(options.min_side * limit), 1)))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top = int(min(max(round(cy - side / 2), 0), h - side))
    left = int(min(max(round(cx - side / 2), 0), w - side))
    return top, left, side


def prepare_weizmann(
    src: Path,
    out: Path,
    *,
    options: WeizmannOptions = WeizmannOptions(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Prepare the Weizmann actions under ``src`` into ``out``; returns the manifest."""
    src = require_source(src, "the Weizmann .avi files (person_action.avi)")
    videos = find_sources(src, VIDEO_SUFFIXES)
    if not videos:
        raise DataError(f"found no .avi files under {str(src)!r} (expected Weizmann videos such as daria_walk.avi)")
    manifest = new_manifest(
        "weizmann",
        "Weizmann human actions (Blank et al., ICCV 2005), centred on the person",
        src,
        "one .avi per person and action, 180x144 px, named person_action.avi",
        {
            **asdict(options),
            "crop": "square around the person: foreground = pixels differing from the clip's per-pixel median "
            "frame by more than `threshold` in some channel; box = central 1-2*quantile of the foreground pixels "
            "of the whole clip; side = longer box side * (1 + 2*margin), clamped to "
            "[min_side * shorter frame side, shorter frame side]; centred on the box, inside the frame",
            "resize": "antialiased bilinear (vidgan_kit.io.resize_video)",
            "frames": "all frames kept",
            "split": "by time: each clip's first 2/3 of frames train, last 1/3 test (after MoCoGAN)",
        },
        {"type": "frame_strips", "split_mode": "by_time"},
    )
    counts: dict[str, int] = {}
    train_frames = test_frames = 0
    with staged_output(out, overwrite) as stage:
        for i, video in enumerate(videos):
            parsed = parse_name(video.stem)
            if parsed is None:
                manifest["skipped"].append({
                    "source": video.relative_to(src).as_posix() if src.is_dir() else video.name,
                    "reason": f"name is not person_action.avi with an action in {', '.join(ACTIONS)}",
                })
                if progress:
                    progress(i + 1, len(videos), video.name)
                continue
            _, action = parsed
            target = stage / action / f"{video.stem}.png"
            if target.exists():
                raise DataError(
                    f"two source files are named {video.name} (one is {str(video)!r}); keep one copy under SRC"
                )
            frames = read_video_array(video)
            box = person_box(frames, options)
            clip = fit_square(frames, options.size, box)
            path = write_strip(target, clip)
            t = len(clip)
            cut = t - round(t * TEST_FRACTION)  # the same rule as frame_strips' by_time split
            manifest["source"]["files"].append(source_entry(video, src))
            manifest["files"].append(file_entry(
                stage, path, frames=t, clips=1, split="by_time", label=action,
                source=manifest["source"]["files"][-1]["path"],
                train_frames=[0, cut], test_frames=[cut, t], crop={"top": box[0], "left": box[1], "side": box[2]},
            ))
            counts[action] = counts.get(action, 0) + 1
            train_frames += cut
            test_frames += t - cut
            if progress:
                progress(i + 1, len(videos), video.name)
        if not manifest["files"]:
            raise DataError(
                f"none of the {len(videos)} .avi files under {str(src)!r} is named person_action.avi "
                f"with an action in {', '.join(ACTIONS)}"
            )
        clips = len(manifest["files"])
        manifest["classes"] = dict(sorted(counts.items()))
        manifest["splits"] = {
            "rule": "by time: first 2/3 of each clip's frames train, last 1/3 test",
            "train": {"clips": clips, "frames": train_frames},
            "test": {"clips": clips, "frames": test_frames},
        }
        write_manifest(stage, manifest)
    return manifest
