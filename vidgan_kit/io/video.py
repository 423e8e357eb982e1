"""Reading and writing video files with PyAV (FFmpeg).

Reading is strict on purpose: a truncated download that decodes to 14 of its 16 frames,
or to no frames at all, raises :class:`~vidgan_kit.errors.DataError` naming the file
instead of quietly training on a shorter or black clip. A file is judged complete when
its decoded frames match what its container declares: the frame count of MP4/MOV/AVI
indexes, the duration of Matroska/WebM, the trailer byte of GIF.

Writing picks a codec per extension (see :data:`VIDEO_WRITERS`) and is atomic; :class:`VideoWriter`
writes chunk by chunk, :func:`iter_video_arrays` reads frame by frame.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image

from ..errors import DataError, ShapeError
from ._common import atomic_output, existing_file, tensor_to_uint8, uint8_to_tensor

__all__ = [
    "VIDEO_EXTENSIONS",
    "VIDEO_WRITERS",
    "VideoInfo",
    "VideoWriter",
    "probe_video",
    "read_video",
    "read_video_array",
    "iter_video_arrays",
    "write_video",
]

#: Extensions :func:`read_video` and the ``video_files`` data set recognise.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".gif")

#: Extension → (container format, codecs in order of preference). ``.mp4``/``.mov``: H.264
#: (4:2:0 for even sizes so any player opens it, 4:4:4 for odd sizes so the size is kept
#: exactly), MPEG-4 part 2 if this FFmpeg build lacks libx264; ``.webm``: VP9; ``.avi``:
#: Motion-JPEG; ``.mkv``: FFV1, lossless, for archiving data exactly; ``.gif``: one
#: 256-colour palette per clip, looping forever.
VIDEO_WRITERS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".mp4": ("mp4", ("libx264", "mpeg4")),
    ".mov": ("mov", ("libx264", "mpeg4")),
    ".webm": ("webm", ("libvpx-vp9", "libvpx")),
    ".avi": ("avi", ("mjpeg", "mpeg4")),
    ".mkv": ("matroska", ("ffv1", "libx264")),
    ".gif": ("gif", ("gif",)),
}

#: Frames up to this many pixels are decoded on one thread (data sets open a file per item).
_SMALL_FRAME = 256 * 256

#: Pixels the GIF palette is computed from (median cut is slow on millions of pixels).
_PALETTE_SAMPLE = 32768

_FFMPEG_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, EOFError)


@dataclass(frozen=True)
class VideoInfo:
    """Cheap metadata of a video file, from its packets (nothing is decoded)."""

    frames: int
    height: int
    width: int
    fps: float


def _gif_complete(path: Path) -> bool:
    """A GIF ends with the trailer byte 0x3B; a cut-off download does not."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\x3b"


def _open_error(path: Path, exc: BaseException) -> DataError:
    return DataError(f"cannot decode video {str(path)!r} (expected a readable {path.suffix or 'video'} file): {exc}")


def _video_stream(container: Any, path: Path) -> Any:
    if not container.streams.video:
        raise DataError(f"video file {str(path)!r} has no video stream")
    return container.streams.video[0]


def _rate(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _check_complete(path: Path, container: Any, stream: Any, count: int, end_time: float | None) -> None:
    """Raise when fewer frames came out than the container promised."""
    if path.suffix.lower() == ".gif" and not _gif_complete(path):
        raise DataError(f"video file {str(path)!r} is truncated: the GIF trailer is missing ({count} frames readable)")
    declared = int(stream.frames or 0)
    if declared > 0:
        if count < declared:
            raise DataError(
                f"video file {str(path)!r} is truncated: its index declares {declared} frames, "
                f"only {count} are readable"
            )
        return
    if container.duration and end_time is not None:
        fps = _rate(stream)
        slack = (1.5 / fps if fps else 0.0) + 0.02 * container.duration / av.time_base
        if end_time + slack < container.duration / av.time_base:
            raise DataError(
                f"video file {str(path)!r} is truncated: it declares {container.duration / av.time_base:.2f} s "
                f"but its frames end at {end_time:.2f} s ({count} frames readable)"
            )


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, size and rate of a video, by reading its packets without decoding.

    Data sets call this once per file when they index a folder: it is what makes a
    truncated file fail at start-up instead of in the middle of training.
    """
    p = existing_file(path, "video file")
    try:
        with av.open(str(p)) as container:
            stream = _video_stream(container, p)
            height, width = stream.codec_context.height, stream.codec_context.width
            count, end = 0, None
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                count += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.time_base is not None:
                    finish = float((ts + (packet.duration or 0)) * packet.time_base)
                    end = finish if end is None else max(end, finish)
            _check_complete(p, container, stream, count, end)
            fps = _rate(stream)
    except DataError:
        raise
    except _FFMPEG_ERRORS as exc:
        raise _open_error(p, exc) from None
    if count == 0:
        raise DataError(f"video file {str(p)!r} holds no frames (expected at least one)")
    if not height or not width:
        raise DataError(f"video file {str(p)!r} does not declare a frame size")
    return VideoInfo(frames=count, height=height, width=width, fps=fps)


def _decoded_frames(p: Path, stop: int | None) -> Iterator[tuple[int, av.VideoFrame]]:
    """Yield ``(index, frame)`` for every decoded frame of ``p``, up to ``stop``.

    Decoding to the end checks the file is complete (a truncated file raises
    :class:`DataError` once its readable frames are out); stopping early at ``stop`` does
    not, since the rest of the file is not the caller's business. Decoder errors name the
    file; so does a file with no frames at all.
    """
    count = 0
    try:
        with av.open(str(p)) as container:
            stream = _video_stream(container, p)
            context = stream.codec_context
            if context.width * context.height <= _SMALL_FRAME:
                context.thread_count = 1  # starting a thread pool costs more than decoding tiny frames
            end: float | None = None
            for frame in container.decode(stream):
                if frame.time is not None:
                    duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
                    end = frame.time + duration
                yield count, frame
                count += 1
                if stop is not None and count >= stop:
                    return
            _check_complete(p, container, stream, count, end)
    except DataError:
        raise
    except _FFMPEG_ERRORS as exc:
        raise _open_error(p, exc) from None
    if count == 0:
        raise DataError(f"video file {str(p)!r} holds no frames (expected at least one)")


def read_video_array(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
    strict: bool = True,
) -> np.ndarray:
    """Decode frames ``start:stop:step`` of a video to ``[N, H, W, 3]`` uint8 RGB.

    Decoding stops at ``stop``, and frames outside the slice are never converted to RGB,
    so taking a 16-frame window from a long clip costs little more than the window. With
    ``strict`` a ``stop`` beyond the end of the video is an error; without it the slice is
    simply shorter (like Python's slicing). Grey, YUV, palette and alpha formats all come
    out as RGB.
    """
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"invalid frame slice start={start} stop={stop} step={step}")
    p = existing_file(path, "video file")
    frames: list[np.ndarray] = []
    count = 0
    for index, frame in _decoded_frames(p, stop):
        count = index + 1
        if index >= start and (index - start) % step == 0:
            frames.append(frame.to_ndarray(format="rgb24"))
    if strict and stop is not None and count < stop:
        raise DataError(f"video file {str(p)!r} has {count} frames; frames {start}..{stop - 1} were requested")
    if not frames:
        raise DataError(f"video file {str(p)!r} has {count} frames; none lies in {start}:{stop}:{step}")
    return np.stack(frames)


def iter_video_arrays(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Yield every frame of a video as ``[H, W, 3]`` uint8 RGB, one at a time.

    For videos too big to hold decoded (a minute of 1080p is about 20 GB): memory stays
    at one frame. Completeness is checked like :func:`read_video_array`'s, after the last
    frame, so a truncated file raises :class:`DataError` once its readable frames are out.
    """
    for _, frame in _decoded_frames(existing_file(path, "video file"), None):
        yield frame.to_ndarray(format="rgb24")


def read_video(path: str | os.PathLike[str], *, max_frames: int | None = None) -> torch.Tensor:
    """Read a whole video (or its first ``max_frames``) as ``[T, C, H, W]`` float32 RGB in [-1, 1]."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    return uint8_to_tensor(read_video_array(path, stop=max_frames, strict=False))


def _pick_codec(ext: str) -> str:
    for codec in VIDEO_WRITERS[ext][1]:
        if codec in av.codecs_available:
            return codec
    raise DataError(
        f"this FFmpeg build (PyAV {av.__version__}) has none of the codecs {', '.join(VIDEO_WRITERS[ext][1])} "
        f"needed to write {ext} files; write another format"
    )


class _Encoder:
    """An open FFmpeg encoder for one file: frames go in chunk by chunk, ``close`` finishes it."""

    def __init__(self, tmp: Path, container_format: str, codec: str, height: int, width: int, fps: Fraction) -> None:
        odd = height % 2 == 1 or width % 2 == 1
        options: dict[str, str] = {}
        if codec == "libx264":
            pix_fmt = "yuv444p" if odd else "yuv420p"
            options = {"crf": "17", "preset": "fast"}
        elif codec in ("libvpx-vp9", "libvpx"):
            pix_fmt = "yuv420p"
            options = {"crf": "20", "b": "0", "cpu-used": "4"} if codec == "libvpx-vp9" else {"crf": "10", "b": "1M"}
        elif codec == "mjpeg":
            pix_fmt = "yuvj444p"
        elif codec == "ffv1":
            pix_fmt = "bgr0"
        else:  # mpeg4
            pix_fmt = "yuv420p"
            options = {"qscale": "2"}
        self.container = av.open(str(tmp), mode="w", format=container_format)
        self.stream: Any = self.container.add_stream(codec, rate=fps, options=options)  # a VideoStream
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        if codec == "mjpeg":
            self.stream.codec_context.qmin, self.stream.codec_context.qmax = 1, 3

    def write(self, frames: np.ndarray) -> None:
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            self.container.mux(self.stream.encode(frame))

    def close(self, finish: bool = True) -> None:
        try:
            if finish:
                self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()


def _gif_palette(frames: np.ndarray) -> Image.Image:
    """One 256-colour palette for a whole clip ``[T, H, W, 3]`` (an array or a memory map): Pillow's
    median cut over its pixels, a fixed random sample of them for big clips to bound the time."""
    pixels = frames.reshape(-1, 3)
    if len(pixels) > _PALETTE_SAMPLE:  # a fixed random sample: strided ones alias on grids
        pick = np.random.default_rng(0).choice(len(pixels), size=_PALETTE_SAMPLE, replace=False)
        pixels = pixels[np.sort(pick)]
    sample = Image.fromarray(np.ascontiguousarray(pixels[None]))
    return sample.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _encode_gif(tmp: Path, frames: np.ndarray, fps: Fraction) -> None:
    """GIF through FFmpeg with one palette for the whole clip.

    Pillow's GIF writer merges identical consecutive frames into one longer frame, which
    changes the frame count of a still clip; FFmpeg keeps every frame. The palette
    (:func:`_gif_palette`) covers all frames at once, so colours do not flicker from frame
    to frame; frames are quantised one at a time, so a memory-mapped clip is never loaded whole.
    """
    t, height, width, _ = frames.shape
    palette_image = _gif_palette(frames)
    rgb = np.asarray(palette_image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)[:256]
    palette = np.zeros((256, 4), dtype=np.uint8)
    palette[:, 0] = 255  # opaque (ARGB)
    palette[: len(rgb), 1:] = rgb
    with av.open(str(tmp), mode="w", format="gif", options={"loop": "0"}) as container:  # 0 = forever
        stream: Any = container.add_stream("gif", rate=fps)  # a VideoStream
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
        for array in frames:
            quantised = Image.fromarray(np.ascontiguousarray(array)).quantize(palette=palette_image,
                                                                              dither=Image.Dither.NONE)
            index = np.asarray(quantised, dtype=np.uint8)
            pair = (np.ascontiguousarray(index), palette)  # pal8 takes (indices, ARGB palette)
            frame = av.VideoFrame.from_ndarray(pair, format="pal8")  # type: ignore[arg-type]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _check_target(p: Path, fps: float) -> str:
    """The extension of a video to write at ``p``, after checking it and ``fps``."""
    ext = p.suffix.lower()
    if ext not in VIDEO_WRITERS:
        raise DataError(
            f"cannot write video {str(p)!r}: unknown extension {ext or '(none)'!r}; "
            f"supported: {', '.join(VIDEO_WRITERS)}"
        )
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return ext


class VideoWriter:
    """Writes a video chunk by chunk, so memory stays flat however long it is.

        with VideoWriter("out.mp4", fps=25) as writer:
            for chunk in chunks:            # [n, C, H, W] in [-1, 1]
                writer.write(chunk)

    The formats, codecs and settings are :func:`write_video`'s (which writes through it):
    the same frames decode the same whether written at once or in chunks. The file appears atomically
    when the block ends without an error; an error leaves no file (and an earlier one
    untouched). GIF needs one palette for the whole clip before its first frame, so its
    frames wait in a temporary file beside the output, not in memory, until the end.
    """

    def __init__(self, path: str | os.PathLike[str], *, fps: float = 8) -> None:
        self.path = Path(path)
        self.ext = _check_target(self.path, fps)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.codec = _pick_codec(self.ext)
        self.frames = 0
        self._size: tuple[int, int] | None = None
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self._encoder: _Encoder | None = None
        self._spool: Any = None

    def __enter__(self) -> VideoWriter:
        self._tmp = self._stack.enter_context(atomic_output(self.path))
        return self

    def write(self, video: torch.Tensor) -> None:
        """Append frames ``[n, C, H, W]`` (C = 1 or 3) in [-1, 1]; every chunk has the first's size."""
        if self._tmp is None:
            raise RuntimeError("VideoWriter.write() outside its with-block")
        if not isinstance(video, torch.Tensor) or video.dim() != 4:
            shape = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
            raise ShapeError(f"video: expected [T, C, H, W], got {shape}")
        frames = tensor_to_uint8(video, "video")
        size = frames.shape[1:3]
        if self._size is None:
            self._size = (int(size[0]), int(size[1]))
            if self.ext == ".gif":
                self._spool = self._stack.enter_context(tempfile.TemporaryFile(dir=self.path.parent))
            else:
                container_format, _ = VIDEO_WRITERS[self.ext]
                self._encoder = _Encoder(self._tmp, container_format, self.codec, *self._size, self.rate)
        elif tuple(size) != self._size:
            raise ShapeError(f"video: frames of {size[0]}x{size[1]} after frames of {self._size[0]}x{self._size[1]}")
        try:
            if self._encoder is not None:
                self._encoder.write(frames)
            else:
                self._spool.write(np.ascontiguousarray(frames).tobytes())
        except av.error.FFmpegError as exc:
            raise DataError(f"cannot encode {str(self.path)!r} with {self.codec}: {exc}") from None
        self.frames += len(frames)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc_type is None:
                self._finish()
            elif self._encoder is not None:
                self._encoder.close(finish=False)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        self._stack.__exit__(exc_type, exc, tb)

    def _finish(self) -> None:
        if self.frames == 0 or self._size is None:
            raise ShapeError(f"video {str(self.path)!r}: expected at least one frame, got none")
        try:
            if self._encoder is not None:
                self._encoder.close()
            else:
                self._spool.flush()
                frames = np.memmap(self._spool, dtype=np.uint8, mode="r", shape=(self.frames, *self._size, 3))
                _encode_gif(self._tmp, frames, self.rate)  # type: ignore[arg-type]
        except av.error.FFmpegError as exc:
            raise DataError(f"cannot encode {str(self.path)!r} with {self.codec}: {exc}") from None


def write_video(path: str | os.PathLike[str], video: torch.Tensor, *, fps: float = 8) -> Path:
    """Write ``[T, C, H, W]`` (C = 1 or 3) in [-1, 1] to a file whose extension picks the format.

    Supported extensions are the keys of :data:`VIDEO_WRITERS`. The file appears atomically
    (encoded beside it, then renamed), so a crash never leaves half a video behind. For videos
    too long to hold, :class:`VideoWriter` takes them chunk by chunk.
    """
    p = Path(path)
    _check_target(p, fps)
    if not isinstance(video, torch.Tensor) or video.dim() != 4:
        shape = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ShapeError(f"video: expected [T, C, H, W], got {shape}")
    if video.shape[0] == 0:
        raise ShapeError("video: expected at least one frame, got T = 0")
    with VideoWriter(p, fps=fps) as writer:
        writer.write(video)
    return p
