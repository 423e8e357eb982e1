"""Finding clips on disk and decoding windows of them, one reader per storage format.

Each format has a *probe* (cheap metadata, run once per clip when a data set indexes its
root: frame count and frame size, read from headers) and a *load* (decode frames
``start:stop:step`` of one clip, run per item). Probes are where broken files are caught,
so a bad file fails at start-up, not hours into training. Loads reopen the file each
time and hold nothing open, so data sets can be forked or pickled into DataLoader
workers.

Formats:

``strip``
    One image per clip, frames side by side: frame ``t`` occupies columns
    ``t*w .. t*w+w-1`` where ``w`` is the frame width (default: the image height, i.e.
    square frames). The layout of MoCoGAN's Weizmann/UvA-NEMO data, Monkey-Net and FOMM.
``frames``
    One folder per clip holding one image per frame, in natural order (``frame2`` before
    ``frame10``).
``video``
    A video file PyAV can decode (``.mp4 .m4v .mov .avi .webm .mkv .gif``).
``array``
    ``.npy``: ``[T, H, W, C]`` (one clip) or ``[N, T, H, W, C]`` (N clips), uint8,
    C = 1, 3 or 4. ``.npz``: if it has a ``videos`` array, that array (same two layouts;
    other members such as ``labels`` are ignored); otherwise every member is a clip
    ``[T, H, W, C]`` (or ``[N, T, H, W, C]``). Only the requested frames are read, from
    uncompressed and compressed archives alike, never the whole array.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from vidgan_kit.errors import DataError
from vidgan_kit.io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    probe_image,
    probe_video,
    read_image_array,
    read_video_array,
)

__all__ = [
    "ARRAY_EXTENSIONS",
    "ClipRef",
    "Frames",
    "natural_key",
    "find_files",
    "find_image_folders",
    "probe",
    "load",
]

ARRAY_EXTENSIONS: tuple[str, ...] = (".npy", ".npz")

#: What a load returns: ``[N, H, W, 3]`` uint8, or a list of ``[H, W, 3]`` frames that may
#: differ in size (frame folders with mixed sizes; the data set resizes each).
Frames = np.ndarray | list[np.ndarray]


@dataclass(frozen=True)
class ClipRef:
    """One clip on disk: where it lives and what its probe found.

    ``name`` is the clip's path relative to the data set's root (plus ``:member[i]`` for
    clips inside arrays); it is stable across machines, so splits and labels derive from it.
    """

    format: str
    path: str
    name: str
    frames: int
    height: int
    width: int
    files: tuple[str, ...] = ()  # frame folders: the frame files, in order
    member: str | None = None  # .npz: the member holding the array
    item: int | None = None  # arrays [N, T, H, W, C]: which clip
    channels: int = 3  # arrays: C of the stored array
    offset: int = 0  # arrays: byte offset of the data in the file or member


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[Any]:
    """Sort key putting ``frame2`` before ``frame10`` (text and numbers alternate)."""
    return [int(part) if i % 2 else part.lower() for i, part in enumerate(_DIGITS.split(text))]


def _visible(name: str) -> bool:
    return not name.startswith(".")


def find_files(root: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` (recursively; hidden ones skipped) with one of ``extensions``."""
    if root.is_file():
        return [root] if root.suffix.lower() in extensions else []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        found += [Path(dirpath, f) for f in filenames if _visible(f) and Path(f).suffix.lower() in extensions]
    return sorted(found, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def find_image_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) that directly contain image files."""
    if root.is_file():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        if any(_visible(f) and Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
            found.append(Path(dirpath))
    return sorted(found, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def images_in(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, in natural order."""
    files = [p for p in folder.iterdir() if _visible(p.name) and p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


# -- strips ------------------------------------------------------------------------------


def _probe_strip(path: Path, name: str, frame_width: int | None) -> list[ClipRef]:
    height, width = probe_image(path)
    fw = frame_width or height
    if width < fw or width % fw:
        source = "frame_width" if frame_width else "its height, as frames are square by default"
        raise DataError(
            f"strip {str(path)!r} is {width} px wide, not a multiple of its frame width {fw} ({source}); "
            f"expected frames of {fw} px side by side (set frame_width for non-square frames)"
        )
    return [ClipRef("strip", str(path), name, frames=width // fw, height=height, width=fw)]


def _load_strip(ref: ClipRef, start: int, stop: int, step: int) -> Frames:
    image = read_image_array(ref.path)  # the whole strip: PNG/JPEG cannot decode a part
    if image.shape[:2] != (ref.height, ref.frames * ref.width):
        raise DataError(
            f"strip {ref.path!r} changed since it was indexed: now {image.shape[1]}x{image.shape[0]} px, "
            f"was {ref.frames * ref.width}x{ref.height}"
        )
    frames = image.reshape(ref.height, ref.frames, ref.width, 3)[:, start:stop:step]
    return np.ascontiguousarray(frames.transpose(1, 0, 2, 3))


# -- frame folders -----------------------------------------------------------------------


def _probe_frames(folder: Path, name: str) -> list[ClipRef]:
    files = images_in(folder)
    if not files:
        raise DataError(f"frame folder {str(folder)!r} holds no images (expected {', '.join(IMAGE_EXTENSIONS)})")
    height, width = probe_image(files[0])  # later frames are checked when decoded
    return [
        ClipRef("frames", str(folder), name, frames=len(files), height=height, width=width,
                files=tuple(f.name for f in files))
    ]


def _load_frames(ref: ClipRef, start: int, stop: int, step: int) -> Frames:
    frames = [read_image_array(Path(ref.path, f)) for f in ref.files[start:stop:step]]
    if all(f.shape == frames[0].shape for f in frames):
        return np.stack(frames)
    return frames


# -- video files ---------------------------------------------------------------------------


def _probe_video(path: Path, name: str) -> list[ClipRef]:
    info = probe_video(path)
    return [ClipRef("video", str(path), name, frames=info.frames, height=info.height, width=info.width)]


def _load_video(ref: ClipRef, start: int, stop: int, step: int) -> Frames:
    return read_video_array(ref.path, start=start, stop=stop, step=step, strict=True)


# -- arrays ------------------------------------------------------------------------------


_LAYOUT = "uint8 [T, H, W, C] (one clip) or [N, T, H, W, C] (N clips) with C = 1, 3 or 4"


def _read_npy_header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype[Any], bool]:
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{where} is not a readable .npy array: {exc}") from None
    return tuple(shape), dtype, fortran


def _check_layout(shape: tuple[int, ...], dtype: np.dtype[Any], fortran: bool, where: str) -> None:
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects; only numeric arrays are read (expected {_LAYOUT})")
    if dtype != np.uint8:
        raise DataError(
            f"{where} has dtype {dtype}, expected {_LAYOUT}; convert with (x * 255).round().astype(np.uint8)"
        )
    if len(shape) not in (4, 5):
        raise DataError(f"{where} has shape {shape}, expected {_LAYOUT}")
    if shape[-1] not in (1, 3, 4):
        channels_first = len(shape) >= 4 and shape[-3] in (1, 3, 4)
        hint = " (channels first? move them last with x.transpose)" if channels_first else ""
        raise DataError(f"{where} has shape {shape}: last dimension must be C = 1, 3 or 4{hint}; expected {_LAYOUT}")
    if fortran and np.prod(shape) > 0:
        raise DataError(f"{where} is stored in Fortran order; save it with np.ascontiguousarray(x)")
    if min(shape) == 0:
        raise DataError(f"{where} has shape {shape}: it holds no frames")


def _array_refs(path: Path, name: str, shape: tuple[int, ...], member: str | None, offset: int) -> list[ClipRef]:
    *lead, t, h, w, c = shape
    label = f"{name}:{member}" if member else name
    if not lead:
        return [
            ClipRef("array", str(path), label, frames=t, height=h, width=w, member=member, channels=c, offset=offset)
        ]
    return [
        ClipRef("array", str(path), f"{label}[{i}]", frames=t, height=h, width=w, member=member, item=i,
                channels=c, offset=offset)
        for i in range(lead[0])
    ]


def _probe_array(path: Path, name: str) -> list[ClipRef]:
    if path.suffix.lower() == ".npy":
        where = f"array file {str(path)!r}"
        with open(path, "rb") as fp:
            shape, dtype, fortran = _read_npy_header(fp, where)
            offset = fp.tell()
        _check_layout(shape, dtype, fortran, where)
        expected = offset + int(np.prod(shape))
        if path.stat().st_size < expected:
            raise DataError(f"{where} is truncated: {path.stat().st_size} bytes, its header needs {expected}")
        return _array_refs(path, name, shape, None, offset)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".npy")]
            if "videos.npy" in members:
                members = ["videos.npy"]
            if not members:
                raise DataError(f"archive {str(path)!r} holds no arrays (expected .npz members; {_LAYOUT})")
            refs = []
            for member in sorted(members, key=natural_key):
                where = f"array {member[:-4]!r} in {str(path)!r}"
                with archive.open(member) as fp:
                    shape, dtype, fortran = _read_npy_header(fp, where)
                    offset = fp.tell()
                _check_layout(shape, dtype, fortran, where)
                expected = offset + int(np.prod(shape))
                if archive.getinfo(member).file_size < expected:
                    raise DataError(f"{where} is truncated: its header needs {expected} bytes")
                refs += _array_refs(path, name, shape, member[:-4], offset)
            return refs
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"cannot read archive {str(path)!r} (expected a .npz file): {exc}") from None


def _read_window(fp: IO[bytes], ref: ClipRef, start: int, stop: int, step: int, where: str) -> np.ndarray:
    frame_bytes = ref.height * ref.width * ref.channels
    first = (ref.item or 0) * ref.frames + start
    fp.seek(ref.offset + first * frame_bytes)
    wanted = (stop - start) * frame_bytes
    data = fp.read(wanted)
    if len(data) < wanted:
        raise DataError(f"{where} is truncated: frames {start}..{stop - 1} of clip {ref.name!r} are missing")
    frames = np.frombuffer(data, dtype=np.uint8).reshape(stop - start, ref.height, ref.width, ref.channels)[::step]
    if ref.channels == 1:
        return np.repeat(frames, 3, axis=-1)
    return np.ascontiguousarray(frames[..., :3])


def _load_array(ref: ClipRef, start: int, stop: int, step: int) -> Frames:
    if ref.member is None:
        where = f"array file {ref.path!r}"
        try:
            with open(ref.path, "rb") as fp:
                return _read_window(fp, ref, start, stop, step, where)
        except OSError as exc:
            raise DataError(f"cannot read {where}: {exc}") from None
    where = f"array {ref.member!r} in {ref.path!r}"
    try:
        with zipfile.ZipFile(ref.path) as archive, archive.open(f"{ref.member}.npy") as fp:
            return _read_window(fp, ref, start, stop, step, where)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise DataError(f"cannot read {where}: {exc}") from None


# -- dispatch --------------------------------------------------------------------------


_PROBES: dict[str, Callable[..., list[ClipRef]]] = {
    "strip": _probe_strip,
    "frames": _probe_frames,
    "video": _probe_video,
    "array": _probe_array,
}
_LOADS: dict[str, Callable[[ClipRef, int, int, int], Frames]] = {
    "strip": _load_strip,
    "frames": _load_frames,
    "video": _load_video,
    "array": _load_array,
}


def probe(kind: str, path: Path, name: str, *, frame_width: int | None = None) -> list[ClipRef]:
    """The clips in one file or folder of format ``kind``; :class:`DataError` if it is unusable."""
    if kind == "strip":
        return _probe_strip(path, name, frame_width)
    return _PROBES[kind](path, name)


def load(ref: ClipRef, start: int, stop: int, step: int) -> Frames:
    """Frames ``start:stop:step`` of a probed clip, as RGB uint8."""
    frames = _LOADS[ref.format](ref, start, stop, step)
    expected = len(range(start, stop, step))
    if len(frames) != expected:
        raise DataError(f"clip {ref.path!r} gave {len(frames)} frames for {start}:{stop}:{step}, expected {expected}")
    return frames


#: Which extensions each single-file format reads (frame folders are folders).
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "strip": IMAGE_EXTENSIONS,
    "video": VIDEO_EXTENSIONS,
    "array": ARRAY_EXTENSIONS,
}
__all__ += ["FORMAT_EXTENSIONS", "images_in"]
