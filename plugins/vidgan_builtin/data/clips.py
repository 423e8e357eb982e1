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
``by_identity``
    Whole identities (people, faces, robots) are held out: every clip of a test identity
    is in the test split, all its frames, and the train split holds none of them. A clip's
    identity comes from ``identity_manifest`` (a JSON file mapping clip paths to
    identities) or from ``identity_pattern`` (a regular expression with a named group
    ``identity`` searched in the clip's path relative to ``root``, optionally divided by
    ``identity_divisor``); see :func:`clip_identities`. ``test_identities`` names the
    held-out identities, else a ``test_fraction`` of them is chosen by a hash salted by
    ``split_seed``.

Windows: an item is ``geometry.frames`` frames taken every ``frame_stride`` frames. In the
train split the window starts at a random frame drawn from (seed, index, epoch), see
:meth:`ClipFolderDataset.set_epoch`; the test split always starts at its first frame.

Augmentation (the ``augment`` table, :mod:`.augment`) applies to the train split only,
one transform per clip, drawn from (seed, index, epoch) too.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from torch.utils.data import Dataset

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import DataError
from vidgan_kit.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, image_size, resize_video, uint8_to_tensor

from . import formats
from .augment import ClipAugmenter, DatasetConfig, augment_seed
from .formats import ARRAY_EXTENSIONS, ClipRef, Frames, natural_key

__all__ = [
    "SkippedClipsWarning",
    "clip_identities",
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
DEFAULT_TEST_FRACTION = {"by_clip": 0.1, "by_time": 1 / 3, "by_folder": 0.0, "by_identity": 0.2}
_LISTED = 10  # bad files named in one warning or error


class SkippedClipsWarning(UserWarning):
    """Some files were skipped because of ``on_error = "skip"``; the message lists them."""


class ClipFolderConfig(DatasetConfig):
    """Options every real-clip data set shares."""

    root: str = Field(
        description="Folder holding the clips (searched recursively), or a single file where the format allows. "
        "`~` is expanded; a relative path starts at the working directory."
    )
    split_mode: Literal["by_clip", "by_time", "by_folder", "by_identity"] = Field(
        "by_clip",
        description="`by_clip`: hold out whole clips; `by_time`: every clip's first frames train, "
        "its last frames test (the Weizmann protocol); `by_folder`: clips under root/train and root/test; "
        "`by_identity`: hold out whole identities (people), every clip of them (needs identity_pattern or "
        "identity_manifest).",
    )
    test_fraction: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Share held out for test: of the clips for by_clip (default 0.1), of each clip's "
        "frames for by_time (default 1/3), of the identities for by_identity without test_identities "
        "(default 0.2, at least one); ignored by by_folder.",
    )
    split_seed: int = Field(
        0, description="Salt of the by_clip and by_identity hashes; change it for another split of the same files."
    )
    identity_pattern: str | None = Field(
        None,
        description="by_identity: a regular expression with a named group `identity`, searched in each clip's "
        "path relative to root (`/` between folders): the group is the clip's identity, e.g. "
        "`^(?P<identity>[^/]+)/` for one folder per person, or `/(?P<identity>[^/_]+)_[^/]+$` for "
        "`action/person_action.png`. A clip it does not match, and the manifest does not list, is an error.",
    )
    identity_divisor: int | None = Field(
        None,
        ge=1,
        description="With identity_pattern: where the group is a whole number n, the identity is n // N (other "
        "text stays as it is). For files numbered identity-major in blocks of N, which a regular expression "
        "cannot divide: MoCoGAN's Weizmann strips are numbered 8 * actor + 2 * action slot, so N = 8 gives the "
        "actor.",
    )
    identity_manifest: str | None = Field(
        None,
        description="by_identity: a JSON file (relative to root unless absolute) mapping clip paths relative to "
        'root to identities, `{"anna/wave.mp4": "anna", ...}` (a file of several clips, such as an array, maps all '
        "of them); its entries take precedence over identity_pattern.",
    )
    test_identities: list[str | int] | None = Field(
        None,
        description="by_identity: the identities held out for test, as identity_pattern or identity_manifest "
        "gives them (numbers may be written as numbers); unset: a test_fraction of the identities. The other "
        "split modes ignore the identity options, so `--set data.split_mode=by_time` switches a recipe back.",
    )
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

    @field_validator("identity_pattern")
    @classmethod
    def _pattern_has_identity_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "identity" not in compiled.groupindex:
            raise ValueError("needs a named group `identity`, e.g. '^(?P<identity>[^/]+)/' (one folder per person)")
        return value

    @field_validator("test_identities")
    @classmethod
    def _identities_as_text(cls, value: list[str | int] | None) -> list[str] | None:
        if value is None:
            return value
        names = [str(v) for v in value]
        if not names:
            raise ValueError("is empty; name at least one identity, or leave it out to hold out a test_fraction")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"names {', '.join(repeated)} more than once")
        return names

    @model_validator(mode="after")
    def _identity_options_fit(self) -> ClipFolderConfig:
        problems = []
        has_rule = self.identity_pattern is not None or self.identity_manifest is not None
        if self.split_mode == "by_identity" and not has_rule:
            problems.append(("identity_pattern", "split_mode = 'by_identity' needs identity_pattern or "
                             "identity_manifest: how to tell a clip's identity"))
        if self.split_mode == "by_identity" and self.test_identities is not None and self.test_fraction is not None:
            problems.append(("test_fraction", "give test_identities or test_fraction, not both"))
        if self.identity_divisor is not None and self.identity_pattern is None:
            problems.append(("identity_divisor", "divides the number identity_pattern captures; set identity_pattern"))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, [
                InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(key,),
                                 input=getattr(self, key))
                for key, message in problems
            ])
        return self


def _unit_hash(*parts: object) -> float:
    """A number in [0, 1) from the parts, the same on every machine and Python run."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _entropy(*parts: int) -> list[int]:
    return [int(p) % 2**64 for p in parts]


def _read_identity_manifest(path: Path) -> dict[str, str]:
    where = f"identity_manifest {str(path)!r}"
    if not path.is_file():
        raise DataError(f"{where} does not exist (a relative path starts at the data set's root)")
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {where}: {exc}") from None
    if not isinstance(mapping, dict):
        raise DataError(f'{where} must be a JSON object mapping clip paths to identities, {{"anna/wave.mp4": "anna"}}')
    bad = [k for k, v in mapping.items() if not isinstance(v, str | int) or isinstance(v, bool)]
    if bad:
        raise DataError(f"{where}: the identity of {bad[0]!r} is {mapping[bad[0]]!r}; identities are strings or "
                        "whole numbers")
    return {str(k): str(v) for k, v in mapping.items()}


def _file_name(ref: ClipRef, root: Path) -> str:
    """The path relative to ``root`` of the file holding ``ref`` (several clips share an array's)."""
    try:
        return Path(ref.path).relative_to(root).as_posix()
    except ValueError:
        return ref.name


def clip_identities(config: ClipFolderConfig, refs: list[ClipRef], root: Path) -> dict[str, str]:
    """The identity of every clip, by clip name: from ``identity_manifest`` where it lists the
    clip (or the file holding it), else from ``identity_pattern`` (and ``identity_divisor``).

    Empty unless ``split_mode`` is ``by_identity``. A clip without an identity is a
    :class:`DataError` naming the clips.
    """
    if config.split_mode != "by_identity":
        return {}
    manifest: dict[str, str] = {}
    if config.identity_manifest is not None:
        path = Path(config.identity_manifest).expanduser()
        manifest = _read_identity_manifest(path if path.is_absolute() else root / path)
    pattern = re.compile(config.identity_pattern) if config.identity_pattern is not None else None
    found: dict[str, str] = {}
    unmatched: list[str] = []
    for ref in refs:
        listed = manifest.get(ref.name, manifest.get(_file_name(ref, root)))
        if listed is not None:
            found[ref.name] = listed
            continue
        match = pattern.search(ref.name) if pattern is not None else None
        if match is None or match.group("identity") is None:
            unmatched.append(ref.name)
            continue
        identity = match.group("identity")
        if config.identity_divisor is not None and identity.isascii() and identity.isdigit():
            identity = str(int(identity) // config.identity_divisor)
        found[ref.name] = identity
    if unmatched:
        rules = " and ".join(
            f"{key} ({value!r})" for key, value in (("identity_manifest", config.identity_manifest),
                                                     ("identity_pattern", config.identity_pattern))
            if value is not None
        )
        listing = ", ".join(repr(n) for n in unmatched[:_LISTED]) + (" ..." if len(unmatched) > _LISTED else "")
        raise DataError(f"no identity for {len(unmatched)} clip(s) under {str(root)!r} from {rules}: {listing} "
                        "(names are paths relative to root)")
    return found


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
        #: by_identity: the identity of each clip, by name (empty in the other split modes).
        self.clip_identity = clip_identities(config, refs, self.root)
        #: by_identity: the identities held out for test (in both splits' data sets).
        self.test_identities: list[str] = []
        if config.split_mode == "by_identity":
            self.test_identities = self._held_out(sorted(set(self.clip_identity.values()), key=natural_key))
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
        #: by_identity: the identities of this split's clips, in natural order.
        self.identities = sorted({self.clip_identity[ref.name] for ref, *_ in self.clips if ref.name in
                                  self.clip_identity}, key=natural_key)
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

    def _held_out(self, identities: list[str]) -> list[str]:
        """by_identity: the test identities, ``test_identities`` or a hashed ``test_fraction`` of them."""
        wanted = self.config.test_identities
        if wanted is not None:
            missing = [i for i in wanted if i not in identities]
            if missing:
                raise DataError(f"{self.name}: test_identities {', '.join(map(repr, missing))} match no clip under "
                                f"{str(self.root)!r}; its identities are {', '.join(identities) or '(none)'}")
            if len(wanted) == len(identities):
                raise DataError(f"{self.name}: test_identities hold out every identity under {str(self.root)!r} "
                                f"({', '.join(identities)}): the train split would be empty")
            return sorted(wanted, key=natural_key)
        if len(identities) < 2:
            raise DataError(f"{self.name}: split_mode 'by_identity' needs two identities or more; the clips under "
                            f"{str(self.root)!r} have {', '.join(identities) or 'none'}")
        fraction = self.config.test_fraction if self.config.test_fraction is not None else DEFAULT_TEST_FRACTION[
            "by_identity"]
        count = min(max(1, round(fraction * len(identities))), len(identities) - 1)
        ranked = sorted(identities, key=lambda i: _unit_hash(self.config.split_seed, "identity", i))
        return sorted(ranked[:count], key=natural_key)

    def item_info(self, index: int) -> dict[str, Any]:
        """Where item ``index`` comes from: ``clip`` (its path relative to root), ``identity`` (None
        outside by_identity), ``label`` and ``class`` (None without class folders), ``frames``
        (the clip's usable range [first, end) in this split)."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        ref, lo, hi, label = self.clips[index % len(self.clips)]
        return {"clip": ref.name, "identity": self.clip_identity.get(ref.name), "label": label,
                "class": self.classes[label] if label is not None else None, "frames": [lo, hi]}

    def _split(self, refs: list[ClipRef]) -> list[tuple[ClipRef, tuple[int, int]]]:
        """The clips of this split with their usable frame range [lo, hi)."""
        mode = self.config.split_mode
        fraction = self.config.test_fraction if self.config.test_fraction is not None else DEFAULT_TEST_FRACTION[mode]
        if mode == "by_folder":  # the folder already chose: every clip found is in this split
            return [(r, (0, r.frames)) for r in refs]
        if mode == "by_identity":
            held_out = set(self.test_identities)
            want = self.split == "test"
            return [(r, (0, r.frames)) for r in refs if (self.clip_identity[r.name] in held_out) == want]
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
