"""Data sets of real clips on disk: ``frame_strips``, ``frame_folders``, ``video_files``,
``numpy_arrays`` and ``video_folder``.

They share one behaviour, implemented once in :class:`ClipFolderDataset` and configured by
:class:`ClipFolderConfig`; a format only decides which files or folders under ``root`` are
clips (the decoding lives in :mod:`.formats`).

Indexing happens once, in ``__init__``: every clip is probed (frame count and size from
headers), assigned to a split and checked to be long enough, so broken or short files are
reported at start-up, all of them at once. Items are decoded on demand; nothing is cached
and no file stays open, so a data set forks or pickles cleanly into DataLoader workers.

Splits:

``by_clip``
    Whole clips are held out. A clip's split comes from a hash of its path relative to
    ``root`` (salted by ``split_seed``), so it never depends on the recipe's seed, on the
    machine, or on which other files exist: adding clips never moves old ones between
    splits. With two or more clips each split gets at least one.
``by_time``
    Every clip is in both splits: its first frames train, its last ``test_fraction`` of
    frames test (MoCoGAN's and Dual-MTGAN's protocol for Weizmann: the last third).
``by_folder``
    The split is a folder: clips under ``root/train`` train, clips under ``root/test``
    test (the layout ``vidgan data prepare`` writes for UvA-NEMO and BAIR, whose split is
    fixed by the data set). Labels then come from the first sub-folder below the split's.

Windows: an item is ``geometry.frames`` frames taken every ``frame_stride`` frames. In the
train split the window starts at a random frame drawn from (seed, index, epoch), see
:meth:`ClipFolderDataset.set_epoch`; the test split always starts at its first frame.

Augmentation (the ``augment`` table, :mod:`.augment`) applies to the train split only,
one transform per clip, drawn from (seed, index, epoch) too.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import Dataset

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import DataError
from vidgan_kit.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, image_size, resize_video, uint8_to_tensor

from . import formats
from .augment import ClipAugmenter, DatasetConfig, augment_seed
from .formats import ARRAY_EXTENSIONS, ClipRef, Frames, natural_key

__all__ = [
    "SkippedClipsWarning",
    "ClipFolderConfig",
    "ClipFolderDataset",
    "FrameStripsConfig",
    "FrameStrips",
    "FrameFoldersConfig",
    "FrameFolders",
    "VideoFilesConfig",
    "VideoFiles",
    "NumpyArraysConfig",
    "NumpyArrays",
    "VideoFolderConfig",
    "VideoFolder",
]

SPLITS: tuple[str, ...] = ("train", "test")
DEFAULT_TEST_FRACTION = {"by_clip": 0.1, "by_time": 1 / 3, "by_folder": 0.0}
_LISTED = 10  # bad files named in one warning or error


class SkippedClipsWarning(UserWarning):
    """Some files were skipped because of ``on_error = "skip"``; the message lists them."""


class ClipFolderConfig(DatasetConfig):
    """Options every real-clip data set shares."""

    root: str = Field(
        description="Folder holding the clips (searched recursively), or a single file where the format allows. "
        "`~` is expanded; a relative path starts at the working directory."
    )
    split_mode: Literal["by_clip", "by_time", "by_folder"] = Field(
        "by_clip",
        description="`by_clip`: hold out whole clips; `by_time`: every clip's first frames train, "
        "its last frames test (the Weizmann protocol); `by_folder`: clips under root/train and root/test.",
    )
    test_fraction: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Share held out for test: of the clips for by_clip (default 0.1), of each clip's "
        "frames for by_time (default 1/3); ignored by by_folder.",
    )
    split_seed: int = Field(0, description="Salt of the by_clip hash; change it for another split of the same files.")
    frame_stride: int = Field(1, ge=1, description="Take every N-th source frame (a clip then spans (frames-1)*N+1).")
    random_start: bool = Field(
        True,
        description="Train split: start each window at a random frame (seeded by seed, index and epoch). "
        "The test split always starts at its first frame.",
    )
    train_repeats: int = Field(
        1, ge=1, description="Random windows per clip in one pass over the train split (lengthens tiny data sets)."
    )
    fit: Literal["crop", "stretch"] = Field(
        "crop", description="Fit frames to the geometry by centre-cropping to its aspect ratio, or by stretching."
    )
    hflip: bool = Field(
        False, description="Train split: mirror half of the items left-right; shorthand for `augment.hflip = 0.5`."
    )
    labels: bool = Field(
        True,
        description="Give items a `label` from their first-level sub-folder under root (under root/train or "
        "root/test with by_folder), when every clip has one.",
    )
    on_error: Literal["raise", "skip"] = Field(
        "raise",
        description="A bad file (unreadable, truncated, too short) stops with an error naming it (`raise`), "
        "or is left out, counted and listed in a warning (`skip`).",
    )


def _unit_hash(*parts: object) -> float:
    """A number in [0, 1) from the parts, the same on every machine and Python run."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _entropy(*parts: int) -> list[int]:
    return [int(p) % 2**64 for p in parts]


class ClipFolderDataset(Dataset[dict[str, Any]]):
    """Clips found under ``config.root``, decoded per item to the model's geometry.

    Items are ``{"video": [T, C, H, W] in [-1, 1], "index": i}`` plus ``"label"`` when the
    clips sit in class sub-folders (``classes`` lists the folder names, label = position).
    ``skipped`` lists ``(file, reason)`` of everything left out with ``on_error="skip"``.
    """

    Config: ClassVar[type[ClipFolderConfig]] = ClipFolderConfig
    #: Registry name, used in messages.
    name: ClassVar[str] = "clips"
    #: What the format looks for, used in the "nothing found" message.
    looks_for: ClassVar[str] = "clips"

    def __init__(
        self,
        config: ClipFolderConfig,
        *,
        geometry: VideoGeometry | None = None,
        split: str = "train",
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; {self.name} has splits {', '.join(SPLITS)}")
        self.config = config
        self.geometry = geometry or VideoGeometry()
        if self.geometry.channels not in (1, 3):
            raise DataError(f"{self.name} gives RGB or grey clips; geometry asks for {self.geometry.channels} channels")
        self.split = split
        self.seed = seed
        self.epoch = 0
        self.skipped: list[tuple[str, str]] = []
        self._broken: set[int] = set()  # positions in self.clips that failed to decode
        self.root = Path(config.root).expanduser()
        if not self.root.exists():
            raise DataError(
                f"{self.name}: root {str(self.root)!r} does not exist (expected a folder of {self.looks_for})"
            )
        self._span = (self.geometry.frames - 1) * config.frame_stride + 1  # source frames per item
        augment = config.augment
        if config.hflip and augment.hflip == 0:
            augment = augment.model_copy(update={"hflip": 0.5})
        self.augmenter = ClipAugmenter(augment)

        self._base = self.root  # where clips are searched and names are relative to
        if config.split_mode == "by_folder":
            self._base = self.root / split
            if not self._base.is_dir():
                raise DataError(
                    f"{self.name}: split_mode 'by_folder' reads the {split} split from {str(self._base)!r}, "
                    f"which is not a folder; expected {str(self.root)!r} to hold train/ and test/ folders "
                    "(the layout `vidgan data prepare` writes)"
                )
        candidates = self.candidates(self._base)
        if not candidates:
            raise DataError(f"{self.name}: found no {self.looks_for} under {str(self._base)!r}")
        refs: list[ClipRef] = []
        for kind, path in candidates:
            try:
                refs += formats.probe(kind, path, self._relative(path), frame_width=self._frame_width())
            except DataError as exc:
                self._fail(str(path), exc)
        self.classes = self._classes(refs)
        self.clips: list[tuple[ClipRef, int, int, int | None]] = []  # (clip, first frame, end, label)
        for ref, (lo, hi) in self._split(refs):
            if hi - lo < self._span:
                part = f"its {split} part (frames {lo}..{hi - 1})" if config.split_mode == "by_time" else "it"
                self._fail(
                    ref.path,
                    DataError(
                        f"clip {ref.name!r} ({ref.path}) is too short: {part} has {hi - lo} frames, an item needs "
                        f"{self._span} ({self.geometry.frames} frames, stride {config.frame_stride})"
                    ),
                )
                continue
            self.clips.append((ref, lo, hi, self._label(ref)))
        if not self.clips:
            # The reasons go into the error itself: with nothing usable there is no data set
            # whose warning a caller could show.
            why = f"; {self._skip_report()}" if self.skipped else ""
            error = DataError(f"{self.name}: no usable clips for the {split} split under {str(self.root)!r}{why}")
            error.skipped = list(self.skipped)  # type: ignore[attr-defined]  # `vidgan data inspect` lists them
            raise error
        if self.skipped:
            warnings.warn(self._skip_report(), SkippedClipsWarning, stacklevel=2)

    # -- what a format decides ------------------------------------------------------------
    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        """``(format, path)`` of every clip source under ``root``, in a stable order."""
        raise NotImplementedError

    def _frame_width(self) -> int | None:
        return getattr(self.config, "frame_width", None)

    # -- indexing --------------------------------------------------------------------------
    def _relative(self, path: Path) -> str:
        if self._base.is_file() or path == self._base:
            return path.name
        return path.relative_to(self._base).as_posix()

    def _fail(self, path: str, exc: DataError) -> None:
        if self.config.on_error == "raise":
            raise exc
        self.skipped.append((path, str(exc)))

    def _skip_report(self) -> str:
        lines = [f"  {path}: {reason}" for path, reason in self.skipped[:_LISTED]]
        more = f"\n  ... and {len(self.skipped) - _LISTED} more" if len(self.skipped) > _LISTED else ""
        return (
            f"{self.name}: skipped {len(self.skipped)} bad file(s) or clip(s) under {str(self.root)!r} "
            f"(on_error='skip'):\n" + "\n".join(lines) + more
        )

    @staticmethod
    def _class_of(ref: ClipRef) -> str | None:
        parts = ref.name.split("/")
        return parts[0] if len(parts) > 1 else None

    def _classes(self, refs: list[ClipRef]) -> list[str]:
        if not self.config.labels or not refs:
            return []
        names = [self._class_of(r) for r in refs]
        if any(n is None for n in names):
            return []
        return sorted({n for n in names if n is not None}, key=natural_key)

    def _label(self, ref: ClipRef) -> int | None:
        return self.classes.index(self._class_of(ref)) if self.classes else None  # type: ignore[arg-type]

    def _split(self, refs: list[ClipRef]) -> list[tuple[ClipRef, tuple[int, int]]]:
        """The clips of this split with their usable frame range [lo, hi)."""
        mode = self.config.split_mode
        fraction = self.config.test_fraction if self.config.test_fraction is not None else DEFAULT_TEST_FRACTION[mode]
        if mode == "by_folder":  # the folder already chose: every clip found is in this split
            return [(r, (0, r.frames)) for r in refs]
        if mode == "by_time":
            out = []
            for ref in refs:
                cut = ref.frames - round(ref.frames * fraction)
                out.append((ref, (0, cut) if self.split == "train" else (cut, ref.frames)))
            return out
        scores = [_unit_hash(self.config.split_seed, r.name) for r in refs]
        test = [s < fraction for s in scores]
        if len(refs) >= 2 and fraction > 0:  # tiny data sets: never leave a split empty
            if not any(test):
                test[int(np.argmin(scores))] = True
            if all(test):
                test[int(np.argmax(scores))] = False
        want_test = self.split == "test"
        return [(r, (0, r.frames)) for r, t in zip(refs, test, strict=True) if t == want_test]

    # -- items ----------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Draw new random windows and augmentations: items depend on (seed, index, epoch).

        Call it at the start of every epoch (as with ``DistributedSampler``); without it
        every epoch repeats the same windows. With ``persistent_workers`` the workers keep
        their copy, so set it before the workers start.
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * (self.config.train_repeats if self.split == "train" else 1)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rng = np.random.default_rng(_entropy(self.seed, index, self.epoch))
        position = index % len(self.clips)
        for attempt in range(len(self.clips)):
            slot = (position + attempt) % len(self.clips)
            if slot in self._broken:
                continue
            ref, lo, hi, label = self.clips[slot]
            start = lo
            if self.split == "train" and self.config.random_start:
                start += int(rng.integers(0, hi - lo - self._span + 1))
            try:
                frames = formats.load(ref, start, start + self._span, self.config.frame_stride)
                break
            except DataError as exc:
                if self.config.on_error == "raise":
                    raise
                # Broken since indexing: never retried in this process, so the list stays bounded.
                self._broken.add(slot)
                self.skipped.append((ref.path, str(exc)))
                warnings.warn(f"{self.name}: skipping {ref.path}: {exc}", SkippedClipsWarning, stacklevel=2)
        else:
            raise DataError(f"{self.name}: every clip failed to decode; see the warnings for the files")
        video = self._to_geometry(frames)
        if self.split == "train" and self.augmenter.active:
            video = self.augmenter(video, augment_seed(self.seed, index, self.epoch))
        item: dict[str, Any] = {"video": video, "index": int(index)}
        if label is not None:
            item["label"] = label
        return item

    def _to_geometry(self, frames: Frames) -> torch.Tensor:
        g = self.geometry
        if isinstance(frames, np.ndarray):
            video = resize_video(uint8_to_tensor(frames), g.height, g.width, mode=self.config.fit)
        else:  # frames of different sizes: fit each on its own
            fitted = [resize_video(uint8_to_tensor(f), g.height, g.width, mode=self.config.fit) for f in frames]
            video = torch.stack(fitted)
        if g.channels == 1:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            video = (video * weights).sum(1, keepdim=True)
        return video.contiguous()

    def __repr__(self) -> str:
        labels = f", classes={self.classes}" if self.classes else ""
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, clips={len(self.clips)}{labels})"


# -- the formats ------------------------------------------------------------------------------


class FrameStripsConfig(ClipFolderConfig):
    """Options of ``frame_strips``."""

    frame_width: int | None = Field(
        None, ge=1, description="Width of one frame in a strip, in pixels; unset = the strip's height (square frames)."
    )


class FrameStrips(ClipFolderDataset):
    """Clips stored as horizontal strip images (MoCoGAN's Weizmann layout): one image per clip,
    frame t at columns t*w .. t*w+w-1. RGBA and grey strips are read as RGB."""

    Config = FrameStripsConfig
    name = "frame_strips"
    looks_for = f"strip images ({', '.join(IMAGE_EXTENSIONS)})"

    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        return [("strip", p) for p in formats.find_files(root, IMAGE_EXTENSIONS)]


class FrameFoldersConfig(ClipFolderConfig):
    """Options of ``frame_folders``."""


class FrameFolders(ClipFolderDataset):
    """Clips stored as one folder of frame images each, in natural order (frame2 < frame10).

    Any folder under root that directly holds images is a clip; put clip folders in class
    folders (root/class/clip/frame.png) to get labels.
    """

    Config = FrameFoldersConfig
    name = "frame_folders"
    looks_for = f"folders of frame images ({', '.join(IMAGE_EXTENSIONS)})"

    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        return [("frames", p) for p in formats.find_image_folders(root)]


class VideoFilesConfig(ClipFolderConfig):
    """Options of ``video_files``."""


class VideoFiles(ClipFolderDataset):
    """Clips stored as video files, decoded with PyAV (FFmpeg)."""

    Config = VideoFilesConfig
    name = "video_files"
    looks_for = f"video files ({', '.join(VIDEO_EXTENSIONS)})"

    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        return [("video", p) for p in formats.find_files(root, VIDEO_EXTENSIONS)]


class NumpyArraysConfig(ClipFolderConfig):
    """Options of ``numpy_arrays``."""


class NumpyArrays(ClipFolderDataset):
    """Clips stored in NumPy files, uint8, channels last.

    ``.npy``: ``[T, H, W, C]`` (one clip) or ``[N, T, H, W, C]`` (N clips), C = 1, 3 or 4.
    ``.npz``: the ``videos`` member if there is one (either layout; other members are
    ignored), else every member is one clip ``[T, H, W, C]`` (or N clips). Only an item's
    frames are read from disk; pickled object arrays are refused.
    """

    Config = NumpyArraysConfig
    name = "numpy_arrays"
    looks_for = "NumPy arrays (.npy, .npz)"

    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        return [("array", p) for p in formats.find_files(root, ARRAY_EXTENSIONS)]


class VideoFolderConfig(ClipFolderConfig):
    """Options of ``video_folder``."""

    images: Literal["auto", "strips", "frames"] = Field(
        "auto",
        description="How to read a folder of images: each image a strip clip, or the folder one clip of frames. "
        "`auto`: strips when the first image is a whole number (>= 2) of frames wide, or is alone.",
    )
    frame_width: int | None = Field(
        None, ge=1, description="Width of one frame in a strip, in pixels; unset = the strip's height (square frames)."
    )


class VideoFolder(ClipFolderDataset):
    """Every clip under root in any supported format: video files, NumPy arrays, strips and
    frame folders, mixed freely; labels from class sub-folders."""

    Config = VideoFolderConfig
    config: VideoFolderConfig
    name = "video_folder"
    looks_for = "clips (video files, .npy/.npz arrays, strip images or frame folders)"

    def candidates(self, root: Path) -> list[tuple[str, Path]]:
        found = [("video", p) for p in formats.find_files(root, VIDEO_EXTENSIONS)]
        found += [("array", p) for p in formats.find_files(root, ARRAY_EXTENSIONS)]
        for folder in formats.find_image_folders(root):
            images = formats.images_in(folder)
            mode = self.config.images
            if mode == "auto":
                try:
                    mode = "strips" if len(images) == 1 or self._looks_like_strip(images[0]) else "frames"
                except DataError as exc:
                    self._fail(str(images[0]), exc)
                    continue
            found += [("strip", p) for p in images] if mode == "strips" else [("frames", folder)]
        if root.is_file() and root.suffix.lower() in IMAGE_EXTENSIONS:
            found.append(("strip", root))
        return sorted(found, key=lambda kp: natural_key(self._relative(kp[1])))

    def _looks_like_strip(self, image: Path) -> bool:
        height, width = image_size(image)
        frame = self._frame_width() or height
        return width >= 2 * frame and width % frame == 0
