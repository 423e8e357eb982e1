"""``vidgan data crop``: square crops of raw footage, one steady box per clip, in the data sets' formats.

The finding and cropping are :mod:`vidgan_kit.io.crop`'s (in the core, so that inference
can crop on the fly too); this module walks a source, reads each clip, writes its crop and
records the boxes in ``crops.json``.

A source is a video file, an image (a clip of one frame), or a folder: every video under
it is a clip, and so is every folder that directly holds images (its frames, in natural
order). Each clip keeps its path relative to the source, so ``SRC/walk/anna.mp4`` becomes
``OUT/walk/anna.png`` (a strip), ``OUT/walk/anna/`` (a folder of frames) or
``OUT/walk/anna.mp4``; the folders that give classes to a data set give them to the crops
too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidgan_kit import __version__
from vidgan_kit.errors import DataError, ShapeError
from vidgan_kit.io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    probe_video,
    read_image_array,
    read_video_array,
    tensor_to_uint8,
    uint8_to_tensor,
    write_video,
)
from vidgan_kit.io.crop import CropBox, Subject, crop_frames, find_boxes, require_face_detector

from .formats import find_files, find_image_folders, images_in, natural_key
from .prepare.common import write_strip
from .prepare.manifest import staged_output

__all__ = ["CROPS", "CROP_FORMATS", "Cropped", "Source", "crop_sources", "find_crop_sources"]

#: The record of a crop run, written into OUT.
CROPS = "crops.json"
#: Frame rate of the MP4s written from images and image folders (videos keep their own).
FOLDER_FPS = 8.0


#: How crops are written: the layouts ``frame_strips``, ``frame_folders`` and ``video_files`` read.
CROP_FORMATS: tuple[str, ...] = ("strip", "folder", "mp4")


@dataclass(frozen=True)
class Source:
    """One clip to crop: a video file, an image, or a folder of frames; ``name`` is its output path stem."""

    path: Path
    name: str
    kind: str  # "video", "image" or "frames"


@dataclass(frozen=True)
class Cropped:
    """One clip written: where from, where to, how many frames, and its box."""

    source: Source
    output: str
    frames: int
    box: CropBox


def find_crop_sources(src: Path) -> list[Source]:
    """The clips under ``src`` in natural order; :class:`DataError` when there are none."""
    if not src.exists():
        raise DataError(f"source {str(src)!r} does not exist (expected a video, an image, or a folder of them)")
    if src.is_file():
        suffix = src.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            return [Source(src, src.stem, "video")]
        if suffix in IMAGE_EXTENSIONS:
            return [Source(src, src.stem, "image")]
        raise DataError(f"source {str(src)!r} is neither a video ({', '.join(VIDEO_EXTENSIONS)}) "
                        f"nor an image ({', '.join(IMAGE_EXTENSIONS)})")
    found = [Source(p, p.relative_to(src).with_suffix("").as_posix(), "video") for p in find_files(src, VIDEO_EXTENSIONS)]
    for folder in find_image_folders(src):
        found.append(Source(folder, folder.relative_to(src).as_posix() if folder != src else src.name, "frames"))
    if not found:
        raise DataError(f"found no videos ({', '.join(VIDEO_EXTENSIONS)}) and no folders of images under {str(src)!r}")
    return sorted(found, key=lambda s: natural_key(s.name))


def _read(source: Source) -> tuple[torch.Tensor, float]:
    """The clip ``[T, 3, H, W]`` in [-1, 1] and its frame rate."""
    if source.kind == "video":
        fps = probe_video(source.path).fps or FOLDER_FPS
        return uint8_to_tensor(read_video_array(source.path)), fps
    if source.kind == "image":
        return uint8_to_tensor(read_image_array(source.path))[None], FOLDER_FPS
    frames = []
    for file in images_in(source.path):
        frame = read_image_array(file)
        if frames and frame.shape != frames[0].shape:
            raise DataError(f"frame {str(file)!r} is {frame.shape[1]}x{frame.shape[0]}, the folder's first frame "
                            f"{frames[0].shape[1]}x{frames[0].shape[0]}; a clip's frames must share one size")
        frames.append(frame)
    return uint8_to_tensor(np.stack(frames)), FOLDER_FPS


def _target(stage: Path, name: str, fmt: str) -> Path:
    return stage / {"strip": f"{name}.png", "mp4": f"{name}.mp4"}.get(fmt, name)


def _write(stage: Path, name: str, clip: torch.Tensor, fmt: str, fps: float) -> str:
    """Write one cropped clip under ``stage``; returns its path relative to ``stage``."""
    target = _target(stage, name, fmt)
    if fmt == "strip":
        write_strip(target, tensor_to_uint8(clip))
    elif fmt == "folder":
        target.mkdir(parents=True)
        digits = max(4, len(str(len(clip) - 1)))
        for t, frame in enumerate(tensor_to_uint8(clip)):
            write_strip(target / f"{t:0{digits}d}.png", frame[None])
    else:
        write_video(target, clip, fps=fps)
    return target.relative_to(stage).as_posix()


def crop_sources(
    src: Path,
    out: Path,
    *,
    size: int,
    subject: Subject = "auto",
    margin: float,
    fmt: str = "strip",
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[Cropped], list[tuple[str, str]]]:
    """Crop every clip under ``src`` into ``out`` (absent or empty); returns (written, skipped as (file, reason)).

    A clip that cannot be read, or in which ``subject = "face"``/``"motion"`` finds nothing,
    is skipped and listed; the rest are written. ``out`` appears whole when the run ends
    (written in a staging folder beside it); with nothing written it is not created.
    """
    if fmt not in CROP_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(CROP_FORMATS)}, got {fmt!r}")
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"output {str(out)!r} exists and is not an empty folder; choose another OUT "
                        "(crop never overwrites)")
    if subject == "face":
        require_face_detector()  # before anything is read: a missing extra fails the whole run
    sources = find_crop_sources(src)
    written: list[Cropped] = []
    skipped: list[tuple[str, str]] = []
    with staged_output(out) as stage:
        for i, source in enumerate(sources):
            try:
                if _target(stage, source.name, fmt).exists():
                    raise DataError(f"another source was already written as {source.name!r}; rename one of them")
                frames, fps = _read(source)
                box = find_boxes(frames, subject=subject, margin=margin)
                clip = crop_frames(frames, box, size)
                output = _write(stage, source.name, clip, fmt, fps)
                written.append(Cropped(source, output, len(frames), box))
            except (DataError, ShapeError) as exc:
                skipped.append((str(source.path), str(exc)))
            if progress:
                progress(i + 1, len(sources), source.name)
        if not written:
            raise DataError(f"none of the {len(sources)} clip(s) under {str(src)!r} could be cropped:\n"
                            + "\n".join(f"  - {path}: {reason}" for path, reason in skipped))
        record: dict[str, Any] = {
            "toolkit": {"name": "vidgan-kit", "version": __version__},
            "source": str(src.absolute()),
            "size": size,
            "subject": subject,
            "margin": margin,
            "format": fmt,
            "clips": [{"source": str(c.source.path), "output": c.output, "frames": c.frames, "box": c.box.to_dict()}
                      for c in written],
            "skipped": [{"source": path, "reason": reason} for path, reason in skipped],
        }
        (stage / CROPS).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return written, skipped
