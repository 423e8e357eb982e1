"""BAIR robot pushing → 30-frame 64×64 clips as NumPy arrays, without TensorFlow.

Source, as the publishers distribute it (Ebert et al., CoRL 2017; the
``bair_robot_pushing_dataset_v0.tar`` archive): ``softmotion30_44k/train/traj_*.tfrecords``
and ``softmotion30_44k/test/traj_*.tfrecords``. Every record is a ``tf.train.Example``
of one trajectory, with the camera image of step t under ``{t}/image_aux1/encoded`` as raw
64×64×3 uint8 bytes (t = 0..29), next to actions and end-effector positions that video
models do not use. Point SRC at the extracted archive (or at ``softmotion30_44k``).

Records are read with :func:`vidgan_kit.io.read_tfrecords`, which checks both CRCs of
every record: a corrupted download stops with the file and the record's index instead of
producing wrong frames. Images stored encoded (PNG/JPEG) rather than raw are decoded too.

Output: ``OUT/train/<file>.npy`` and ``OUT/test/<file>.npy``, one array
``[N, T, 64, 64, 3]`` uint8 per TFRecord file (N trajectories of T = 30 frames; 256
trajectories per file in the original). The split is the publishers' (their train and
test folders: 40960 and 256 trajectories in the full set). Read by ``numpy_arrays`` with
``split_mode = "by_folder"`` (recipes/bair.toml).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgan_kit.errors import DataError
from vidgan_kit.io import parse_example, pil_to_rgb_array, read_tfrecords

from .common import find_sources, require_source
from .manifest import Progress, file_entry, new_manifest, source_entry, staged_output, write_manifest

__all__ = ["BairOptions", "record_frames", "prepare_bair"]

SUFFIXES = (".tfrecords", ".tfrecord")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class BairOptions:
    """Preprocessing parameters (recorded in the manifest)."""

    image_key: str = "{t}/image_aux1/encoded"
    size: int = 64
    frames: int | None = None  # None: every step present, 0, 1, 2, ... (30 in BAIR)


def _image(value: Any, size: int, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != 1:
        raise DataError(f"{where}: expected one bytes value, got {type(value).__name__} of length {len(value)}")
    data = value[0]
    if len(data) == size * size * 3:
        return np.frombuffer(data, dtype=np.uint8).reshape(size, size, 3)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            frame = pil_to_rgb_array(img)
    except (OSError, ValueError, SyntaxError):
        raise DataError(
            f"{where}: {len(data)} bytes are neither a raw {size}x{size}x3 uint8 image ({size * size * 3} bytes) "
            "nor an encoded image; set --size to the frames' size"
        ) from None
    if frame.shape[:2] != (size, size):
        raise DataError(f"{where}: the image is {frame.shape[1]}x{frame.shape[0]} px, expected {size}x{size}")
    return frame


def record_frames(features: dict[str, Any], options: BairOptions, where: str) -> np.ndarray:
    """The clip ``[T, size, size, 3]`` uint8 of one decoded record."""
    key = options.image_key
    if options.frames is None:
        steps = 0
        while key.format(t=steps) in features:
            steps += 1
    else:
        steps = options.frames
    if steps == 0:
        images = sorted(k for k in features if "encoded" in k or "image" in k)[:5]
        raise DataError(
            f"{where}: no feature {key.format(t=0)!r}; "
            + (f"image features found: {', '.join(images)} (set --image-key)" if images else "it holds no images")
        )
    frames = []
    for t in range(steps):
        name = key.format(t=t)
        if name not in features:
            raise DataError(f"{where}: feature {name!r} is missing (the record has {steps} steps?)")
        frames.append(_image(features[name], options.size, f"{where}, feature {name!r}"))
    return np.stack(frames)


def _split_of(path: Path, src: Path) -> str | None:
    base = src.parent
    for part in reversed(path.relative_to(base).parts[:-1]):
        if part in SPLITS:
            return part
    return None


def prepare_bair(
    src: Path,
    out: Path,
    *,
    options: BairOptions = BairOptions(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Prepare the BAIR TFRecords under ``src`` into ``out``; returns the manifest."""
    if "{t}" not in options.image_key:
        raise DataError(f"image key {options.image_key!r} must contain {{t}}, the step number")
    src = require_source(src, "the BAIR TFRecords (softmotion30_44k/{train,test}/traj_*.tfrecords)")
    records = find_sources(src, SUFFIXES)
    if not records:
        raise DataError(
            f"found no .tfrecords files under {str(src)!r} (expected softmotion30_44k/train/traj_*.tfrecords)"
        )
    manifest = new_manifest(
        "bair",
        "BAIR robot pushing (Ebert et al., CoRL 2017), 64x64 trajectories",
        src,
        "TFRecords softmotion30_44k/{train,test}/traj_*.tfrecords of tf.train.Example, raw 64x64x3 images",
        {**asdict(options), "resize": "none (already 64x64)", "split": "the publishers' train/ and test/ folders"},
        {"type": "numpy_arrays", "split_mode": "by_folder"},
    )
    clips = {"train": 0, "test": 0}
    lengths: set[int] = set()
    with staged_output(out, overwrite) as stage:
        for i, path in enumerate(records):
            rel = path.relative_to(src).as_posix() if src.is_dir() else path.name
            split = _split_of(path, src)
            if split is None:
                manifest["skipped"].append({"source": rel, "reason": "not under a train/ or test/ folder"})
                if progress:
                    progress(i + 1, len(records), path.name)
                continue
            clip_list = []
            for r, data in enumerate(read_tfrecords(path)):
                where = f"TFRecord file {str(path)!r}, record {r}"
                try:
                    features = parse_example(data)
                except DataError as exc:
                    raise DataError(f"{where}: {exc}") from None
                clip = record_frames(features, options, where)
                if clip_list and clip.shape != clip_list[0].shape:
                    raise DataError(f"{where}: {len(clip)} steps, record 0 of the file has {len(clip_list[0])}")
                clip_list.append(clip)
            if not clip_list:
                manifest["skipped"].append({"source": rel, "reason": "holds no records"})
                if progress:
                    progress(i + 1, len(records), path.name)
                continue
            array = np.stack(clip_list)
            target = stage / split / (path.name.split(".")[0] + ".npy")
            if target.exists():
                raise DataError(f"two source files would both be written to {split}/{target.name}; rename one")
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, array)
            manifest["source"]["files"].append(source_entry(path, src))
            manifest["files"].append(file_entry(
                stage, target, frames=int(array.shape[1]), clips=int(array.shape[0]), split=split, source=rel,
            ))
            clips[split] += int(array.shape[0])
            lengths.add(int(array.shape[1]))
            if progress:
                progress(i + 1, len(records), path.name)
        if not manifest["files"]:
            raise DataError(f"no usable TFRecord file under {str(src)!r} (they must sit in train/ or test/ folders)")
        manifest["splits"] = {
            "rule": "the publishers' train/ and test/ folders (40960 / 256 trajectories in the full set)",
            "frames_per_clip": sorted(lengths),
            "train": {"clips": clips["train"]},
            "test": {"clips": clips["test"]},
        }
        write_manifest(stage, manifest)
    return manifest
