"""UvA-NEMO smiles → 64×64, 16-frame sequences as frame strips, split 1110 / 124 videos.

Source, as the publishers distribute it (Dibeklioğlu et al., ECCV 2012): ``.mp4`` videos
of posed and spontaneous smiles, 1920×1080 px (names such as
``001_deliberate_smile_1.mp4``). Put them anywhere under SRC.

Preprocessing (MoCoGAN's, which Dual-MTGAN follows):

- every frame is centre-cropped to a square (the shorter side) and resized to 64×64
  (antialiased bilinear); with ``frame_stride`` N only every N-th frame is kept;
- each video is cut into consecutive, non-overlapping 16-frame sequences; the last
  ``frames mod 16`` frames are dropped;
- the split is by video, so no video has sequences in both splits. The rule is fixed and
  deterministic: the videos are sorted by path (natural order), and the last
  ``round(N * 124 / 1234)`` of them are test (:func:`held_out_count`). For the full data
  set (N = 1234) that is exactly the paper's 1110 training and 124 test videos; as names
  start with the subject's number, test videos are those of the last subjects. With
  another number of videos in SRC the same ratio is kept (and the command says so).

Frames are decoded one at a time (a 1080p video does not fit in memory decoded).

Output: ``OUT/train/<video>_<k>.png`` and ``OUT/test/<video>_<k>.png``, one 16-frame strip
each; read by ``frame_strips`` with ``split_mode = "by_folder"`` (recipes/uva_nemo.toml).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidgan_kit.errors import DataError
from vidgan_kit.io import VIDEO_EXTENSIONS, iter_video_arrays

from .common import find_sources, fit_square, require_source, write_strip
from .manifest import Progress, file_entry, new_manifest, source_entry, staged_output, write_manifest

__all__ = ["PAPER_TRAIN", "PAPER_TEST", "NemoOptions", "held_out_count", "split_videos", "prepare_uva_nemo"]

PAPER_TRAIN, PAPER_TEST = 1110, 124


@dataclass(frozen=True)
class NemoOptions:
    """Preprocessing parameters (recorded in the manifest)."""

    size: int = 64
    sequence: int = 16
    frame_stride: int = 1


def held_out_count(videos: int) -> int:
    """How many of ``videos`` videos are test: the paper's ratio, at least one of each split from 2 on."""
    n = round(videos * PAPER_TEST / (PAPER_TRAIN + PAPER_TEST))
    if videos >= 2:
        n = min(max(n, 1), videos - 1)
    return n


def split_videos(videos: list[Path]) -> tuple[list[Path], list[Path]]:
    """(train, test) of videos already in natural order: the last :func:`held_out_count` are test."""
    n = held_out_count(len(videos))
    return videos[: len(videos) - n], videos[len(videos) - n :]


def prepare_uva_nemo(
    src: Path,
    out: Path,
    *,
    options: NemoOptions = NemoOptions(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Prepare the UvA-NEMO smile videos under ``src`` into ``out``; returns the manifest."""
    if options.sequence < 1 or options.frame_stride < 1 or options.size < 1:
        raise DataError("sequence, frame_stride and size must be at least 1")
    src = require_source(src, "the UvA-NEMO smile videos (.mp4)")
    videos = find_sources(src, VIDEO_EXTENSIONS)
    if not videos:
        raise DataError(f"found no videos under {str(src)!r} (expected the UvA-NEMO .mp4 files)")
    train, test = split_videos(videos)
    paper = len(videos) == PAPER_TRAIN + PAPER_TEST
    rule = (
        f"by video: natural order of the paths, the last round(N * {PAPER_TEST} / {PAPER_TRAIN + PAPER_TEST}) "
        "videos are test"
    )
    manifest = new_manifest(
        "uva_nemo",
        "UvA-NEMO smile database (Dibeklioglu et al., ECCV 2012), 64x64 16-frame sequences",
        src,
        "one .mp4 per smile, 1920x1080 px",
        {
            **asdict(options),
            "crop": "centred square of the shorter side",
            "resize": "antialiased bilinear (vidgan_kit.io.resize_video)",
            "sequences": "consecutive, non-overlapping; the last (frames mod sequence) frames are dropped",
            "split": rule,
        },
        {"type": "frame_strips", "split_mode": "by_folder"},
    )
    split_of = {v: "train" for v in train} | {v: "test" for v in test}
    sequences = {"train": 0, "test": 0}
    with staged_output(out, overwrite) as stage:
        for i, video in enumerate(videos):
            split = split_of[video]
            rel = video.relative_to(src).as_posix() if src.is_dir() else video.name
            stem = rel.rsplit(".", 1)[0].replace("/", "__")
            kept: list[np.ndarray] = []
            count = k = 0
            for t, frame in enumerate(iter_video_arrays(video)):
                count = t + 1
                if t % options.frame_stride:
                    continue
                kept.append(frame)
                if len(kept) == options.sequence:
                    clip = fit_square(np.stack(kept), options.size)
                    path = write_strip(stage / split / f"{stem}_{k:03d}.png", clip)
                    first = t - (options.sequence - 1) * options.frame_stride
                    manifest["files"].append(file_entry(
                        stage, path, frames=options.sequence, clips=1, split=split, source=rel,
                        source_frames=[first, t + 1],
                    ))
                    kept, k = [], k + 1
            sequences[split] += k
            manifest["source"]["files"].append({**source_entry(video, src), "frames": count, "split": split,
                                                "sequences": k})
            if k == 0:
                manifest["skipped"].append({
                    "source": rel,
                    "reason": f"{count} frames: too short for one {options.sequence}-frame sequence "
                    f"(frame_stride {options.frame_stride})",
                })
            if progress:
                progress(i + 1, len(videos), video.name)
        if not manifest["files"]:
            raise DataError(f"no video under {str(src)!r} is long enough for one {options.sequence}-frame sequence")
        manifest["splits"] = {
            "rule": rule,
            "paper_split": paper,
            "note": "the paper's 1110/124 split" if paper else
            f"SRC holds {len(videos)} videos, not the paper's {PAPER_TRAIN + PAPER_TEST}: the same ratio is kept",
            "train": {"videos": len(train), "clips": sequences["train"]},
            "test": {"videos": len(test), "clips": sequences["test"],
                     "video_names": [f["path"] for f in manifest["source"]["files"] if f["split"] == "test"]},
        }
        write_manifest(stage, manifest)
    return manifest
