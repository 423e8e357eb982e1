"""Using a trained model: motion transfer and sampling, from a checkpoint.

    from vidgan_kit.inference import load_pipeline
    pipe = load_pipeline("runs/dual_mtgan")           # run dir → its latest checkpoint
    video = pipe.transfer("face.png", "driving.mp4")  # [N, C, H, W] in [-1, 1]: every source frame
    clips = pipe.sample("face.png", n=4, seed=0)      # [4, T, C, H, W]

The pipeline delegates to the model assembly's own methods, so it works for any model
that provides them:

- ``transfer(image [B, C, H, W], video [B, T, C, H, W]) -> [B, T, C, H, W]``: animate
  ``image`` with the motion of ``video``, a clip of the model's length T;
- ``sample(image [B, C, H, W], n, generator) -> [B, n, T, C, H, W]``: ``n`` random motions;
  a model whose ``samples_from`` is ``"noise"`` draws its content as well:
  ``sample(None, n, generator) -> [1, n, T, C, H, W]`` (``pipe.sample(None, n=8)``);
- for more than T frames, ``transfer_windows`` and ``sample_windows``
  (:class:`~vidgan_kit.interfaces.ModelAssembly`): the source is cut into windows of T frames
  that overlap by :data:`WINDOW_OVERLAP`, and the model continues the motion from one to the
  next.

A model without ``transfer`` (one that only generates) is refused plainly by
:meth:`Pipeline.transfer`.

Inputs are tensors in [-1, 1] (``[C, H, W]`` images, ``[N, C, H, W]`` videos) or file paths,
read with :mod:`vidgan_kit.io`; either is fitted to the model's geometry (centre-crop and
resize, with a note on stderr). Video files are decoded as a stream and
:meth:`Pipeline.transfer_frames` hands the result back in chunks, so a transfer's memory does
not grow with the video's length.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import build_model, load_weights, read_index
from .errors import ShapeError, VidganError
from .interfaces import ModelAssembly
from .layout import VideoGeometry, assert_video
from .registry import ComponentRegistry

__all__ = ["Pipeline", "WINDOW_OVERLAP", "best_matching_frame", "compile_transfer", "load_pipeline"]

ImageInput = torch.Tensor | str | os.PathLike[str]
VideoInput = torch.Tensor | str | os.PathLike[str]
Progress = Callable[[int, int], Any]

#: Frames two consecutive windows of a long source share: each window's motion goes on from
#: the previous window's last frame.
WINDOW_OVERLAP = 1


def compile_transfer(transfer: Callable[..., torch.Tensor], device: str | torch.device) -> Callable[..., torch.Tensor]:
    """``transfer`` through ``torch.compile`` as :class:`Pipeline` runs it with ``compile=True``:
    built for the shapes of its first call (``dynamic=False``; a transfer's inputs keep the
    model's shapes) and, on a CPU, with inductor's C++ wrapper, which calls the graph's kernels
    from C++ rather than Python, which saves Python's overhead on every call. Builds on the
    first call."""
    options = {"cpp_wrapper": True} if torch.device(device).type == "cpu" else None
    _drop_c_shim_notes()
    return torch.compile(transfer, dynamic=False, options=options)


class _CShimNotes(logging.Filter):
    """Drops inductor's warning that an operator has no C shim and goes through its proxy
    executor: with the C++ wrapper it comes once per such operator of every build (the
    registration's FFT and 2×2 solves), is about inductor's plumbing, not the user's inputs,
    and the frames are the same either way."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "missing a c-shim implementation" not in str(record.msg)


def _drop_c_shim_notes() -> None:
    log = logging.getLogger("torch._inductor.ir")
    if not any(isinstance(f, _CShimNotes) for f in log.filters):
        log.addFilter(_CShimNotes())


class Pipeline:
    """A model assembly ready for inference on one device, in eval mode, without gradients."""

    def __init__(
        self,
        model: ModelAssembly,
        *,
        device: str | torch.device = "cpu",
        source: str | None = None,
        step: int | None = None,
        notes: Callable[[str], Any] | None = None,
        compile: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.geometry: VideoGeometry = model.geometry
        self.source, self.step = source, step
        self.notes = notes or _print_note
        # torch.compile builds on the first call, not here. Only transfer: sampling gains
        # nothing from compiling.
        transfer = getattr(self.model, "transfer", None)
        self._compiled_transfer = compile_transfer(transfer, self.device) if compile and callable(transfer) else None

    def __repr__(self) -> str:
        spec = getattr(self.model, "component_spec", None)
        name = spec.type if spec is not None else type(self.model).__name__
        return f"Pipeline(model={name!r}, geometry={self.geometry}, step={self.step}, device={self.device})"

    # -- inputs --------------------------------------------------------------------------
    def _note(self, message: str) -> None:
        self.notes(f"note: {message}")

    def _fit(self, x: torch.Tensor, what: str, note: bool = True) -> torch.Tensor:
        """Channels and size to the model's geometry; values must already be in [-1, 1]. ``note``:
        say what was changed (a stream fits frame by frame and says it once)."""
        from .io import resize_video

        g = self.geometry
        if not x.is_floating_point():
            raise ShapeError(f"{what}: expected a floating-point tensor in [-1, 1], got dtype {x.dtype}")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.001 or hi > 1.001:
            raise ShapeError(
                f"{what}: expected values in [-1, 1], got [{lo:.3g}, {hi:.3g}]"
                " (convert 0..255 pixels with x / 127.5 - 1, 0..1 ones with x * 2 - 1)."
            )
        c = x.shape[-3]
        if c != g.channels:
            if g.channels == 1 and c == 3:
                x = x.mean(dim=-3, keepdim=True)
                if note:
                    self._note(f"{what}: converted RGB to grey for a {g.channels}-channel model")
            elif g.channels == 3 and c == 1:
                x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
                if note:
                    self._note(f"{what}: repeated the grey channel for an RGB model")
            else:
                raise ShapeError(f"{what}: has {c} channels, the model takes {g.channels}")
        h, w = x.shape[-2:]
        if (h, w) != (g.height, g.width):
            x = resize_video(x.float(), g.height, g.width, mode="crop")
            if note:
                self._note(f"{what}: resized {h}x{w} to the model's {g.height}x{g.width} (centre crop)")
        return x

    def _image(self, image: ImageInput) -> torch.Tensor:
        if isinstance(image, str | os.PathLike):
            from .io import read_image

            x, what = read_image(image), f"image {os.fspath(image)!r}"
        else:
            x, what = image, "image"
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            raise ShapeError(f"{what}: expected [C, H, W], got {tuple(getattr(x, 'shape', ()))}")
        return self._fit(x, what).to(self.device).unsqueeze(0)

    def _method(self, name: str) -> Any:
        fn = getattr(self.model, name, None)
        if not callable(fn):
            if name == "transfer":
                raise VidganError(f"{self._name()} cannot transfer motion (it has no transfer()); "
                                  "`vidgan generate` samples clips from it.")
            raise VidganError(f"{self!r}: the model does not implement {name}(); it cannot be used for that.")
        return self._compiled_transfer if name == "transfer" and self._compiled_transfer is not None else fn

    # -- tasks ---------------------------------------------------------------------------
    def transfer(
        self,
        image: ImageInput,
        video: VideoInput,
        *,
        motion: str = "relative",
        best_frame: bool = False,
        start: int = 0,
        frames: int | None = None,
        progress: Progress | None = None,
        crop: bool = False,
    ) -> torch.Tensor:
        """Animate ``image`` with the motion of ``video``: every frame of the source from
        ``start`` (at most ``frames`` of them), ``[N, C, H, W]`` in [-1, 1].

        A source of the model's clip length T is one call of the model's ``transfer``; a longer
        one goes window by window (:meth:`transfer_frames`, which hands the frames back in
        chunks instead of at once). ``motion``: one of the model's ``motion_modes``;
        ``relative``, the default, applies the source's motion since its first used frame to
        the target. ``best_frame``: start from the source frame that best matches the target
        (:func:`best_matching_frame`), animate forward from it to the end and backward from it
        to the start, and join the two in time order. ``progress(done, total)`` is called
        after each chunk of frames.
        """
        chunks = list(self.transfer_frames(image, video, motion=motion, best_frame=best_frame, start=start,
                                           frames=frames, progress=progress, crop=crop))
        return torch.cat(chunks)

    def transfer_frames(
        self,
        image: ImageInput,
        video: VideoInput,
        *,
        motion: str = "relative",
        best_frame: bool = False,
        start: int = 0,
        frames: int | None = None,
        progress: Progress | None = None,
        crop: bool = False,
    ) -> Iterator[torch.Tensor]:
        """:meth:`transfer` as a stream: yields the frames in time order, in chunks ``[n, C, H,
        W]``, while a video file is decoded as it goes. With ``best_frame`` the frames before
        the chosen one are computed first and wait in a temporary file, not in memory. With
        ``crop`` the image and the source are each cropped to a steady square around their
        subject first (:func:`vidgan_kit.io.crop.crop_subject`); the whole source is decoded for
        that, since its box is found over all its frames."""
        if crop:
            image, video = self._crop(image, "image"), self._crop(video, "video")
        modes = tuple(getattr(self.model, "motion_modes", ("relative",)))
        if motion not in modes:
            raise VidganError(
                f"motion {motion!r}: {self._name()} offers {', '.join(modes)}"
                + (" (see its docs for why it has no absolute mode)" if "absolute" not in modes else "")
            )
        target = self._image(image)
        source = _Source(self, video, start, frames)
        t, total = self.geometry.frames, source.count
        if total < t:
            raise VidganError(
                f"{source.what} has {total} frame(s){source.range_note()}; the model needs at least {t}"
                f" (it drives clips of {t} frames)."
            )
        if not best_frame:
            self._check_length(total, motion, source)
            pieces: Iterable[torch.Tensor] = self._segment(target, source.stream(), total, motion)
        else:
            pieces = self._from_best_frame(target, source, motion)
        done = 0
        for chunk in pieces:
            chunk = chunk.float().clamp(-1, 1)  # outside inference mode: an ordinary tensor
            done += chunk.shape[0]
            if progress is not None:
                progress(done, total)
            yield chunk

    def _crop(self, x: ImageInput | VideoInput, kind: str) -> torch.Tensor:
        """An image or a video (a path or a tensor) cropped to its subject at the model's size."""
        from .io import read_image, read_video
        from .io.crop import crop_subject

        what = f"{kind} {os.fspath(x)!r}" if isinstance(x, str | os.PathLike) else kind
        if isinstance(x, str | os.PathLike):
            x = read_image(x) if kind == "image" else read_video(x)
        clip = x.unsqueeze(0) if kind == "image" else x
        cropped, box = crop_subject(clip, max(self.geometry.height, self.geometry.width))
        self._note(f"{what}: cropped to the {box.size}x{box.size} square at ({box.x}, {box.y}) ({box.detector})")
        return cropped[0] if kind == "image" else cropped

    def window_limit(self) -> str | None:
        """``None`` when the model continues motion past its clip length (windows); otherwise
        why it animates one clip at a time."""
        support = getattr(self.model, "window_support", None)
        return support() if callable(support) else "it does not continue motion from one window to the next"

    def _name(self) -> str:
        spec = getattr(self.model, "component_spec", None)
        return f"model {spec.type if spec is not None else type(self.model).__name__!r}"

    def _check_length(self, length: int, motion: str, source: _Source) -> None:
        """Refuse up front a transfer the model cannot do in one clip and cannot continue."""
        t = self.geometry.frames
        if length <= t and motion == "relative":
            return
        why = self.window_limit()
        if why is not None:
            raise VidganError(
                f"{source.what} has {source.count} frames{source.range_note()}, but {self._name()} animates at most {t}"
                f" at a time: {why}. Transfer {t} frames (--frames {t}, or frames={t} in Python)."
            )

    def _segment(
        self, target: torch.Tensor, frames: Iterator[torch.Tensor], length: int, motion: str
    ) -> Iterator[torch.Tensor]:
        """The transfer of ``length`` fitted source frames: one call of the model's ``transfer``
        for a clip (one shorter than T is padded by holding its last frame, and cut back), else
        window by window. Each model call runs in inference mode."""
        t = self.geometry.frames
        if length <= t and motion == "relative":
            clip = _held(torch.stack(list(frames)), t)
            fn = self._method("transfer")
            with torch.inference_mode():
                out = fn(target, clip.unsqueeze(0))
            assert_video(out, "transfer() output", batch=1, geometry=self.geometry)
            yield out[0, :length]
            return
        chunks = iter(self.model.transfer_windows(target, _windows(frames, t), motion=motion))  # type: ignore[attr-defined]
        left = length
        while left > 0:
            with torch.inference_mode():
                chunk = next(chunks, None)
            if chunk is None:
                raise ShapeError(f"transfer_windows() ended {left} frame(s) short of {length}")
            if chunk.dim() != 5 or chunk.shape[0] != 1 or tuple(chunk.shape[2:]) != self.geometry.frame_shape:
                raise ShapeError(f"transfer_windows() output: expected [1, n, *{self.geometry.frame_shape}], got"
                                 f" {tuple(chunk.shape)}")
            chunk = chunk[0, :left]
            left -= chunk.shape[0]
            yield chunk

    def _from_best_frame(self, target: torch.Tensor, source: _Source, motion: str) -> Iterator[torch.Tensor]:
        """Forward from the best-matching frame k to the end, backward from k to the start; the
        backward part (frames k down to 0) waits in a temporary file and comes out reversed."""
        total = source.count
        with tempfile.TemporaryDirectory(prefix="vidgan-transfer-") as scratch:
            store = source.random_access(Path(scratch) / "source.npy")
            k = best_matching_frame(target[0], (store[i] for i in range(total)))
            self._note(f"{source.what}: starting from its frame {source.start + k}, the best match of the target image")
            self._check_length(max(k + 1, total - k), motion, source)
            backward = _Spool(Path(scratch) / "backward.npy", (k + 1, *self.geometry.frame_shape))
            for chunk in self._segment(target, (store[i] for i in range(k, -1, -1)), k + 1, motion):
                backward.extend(chunk)
            step = self.geometry.frames
            for end in range(k + 1, 0, -step):
                yield backward.read(max(end - step, 0), end).flip(0).to(self.device)
            if k + 1 < total:
                forward = self._segment(target, (store[i] for i in range(k, total)), total - k, motion)
                first = next(forward)
                yield first[1:]  # frame k is the backward part's first frame
                yield from forward

    def sample(
        self, image: ImageInput | None = None, n: int = 1, seed: int = 0, frames: int | None = None
    ) -> torch.Tensor:
        """``n`` clips of ``image`` with random motion, or with ``image=None`` ``n`` clips of a
        model that draws its content too (``samples_from = "noise"``); returns ``[n, frames, C,
        H, W]`` in [-1, 1]. A model given an image it does not take, or none where it needs one,
        is refused.

        ``frames`` defaults to the model's clip length T; more than T are sampled window by
        window with the motion continued (the model's ``sample_windows``), fewer are the first
        frames of a clip."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        unconditional = getattr(self.model, "samples_from", "image") == "noise"
        if unconditional and image is not None:
            raise VidganError(f"{self._name()} samples unconditionally (it draws its content from noise) and"
                              " takes no image; leave the image out (no --image).")
        if not unconditional and image is None:
            raise VidganError(f"{self._name()} animates a given image: pass one (--image).")
        target = None if image is None else self._image(image)
        g = self.geometry
        length = g.frames if frames is None else frames
        if length < 1:
            raise ValueError(f"frames must be at least 1, got {length}")
        generator = torch.Generator(device=self.device).manual_seed(seed)
        if length > g.frames:
            why = self.window_limit()
            if why is not None:
                raise VidganError(f"{length} frames: {self._name()} samples at most {g.frames} at a time: {why}.")
            fn = self.model.sample_windows  # type: ignore[attr-defined]
            with torch.inference_mode():
                out = fn(target, n, length, generator)
            shape = (1, n, length, *g.frame_shape)
        else:
            fn = self._method("sample")
            with torch.inference_mode():  # as in transfer()
                out = fn(target, n, generator)
            shape = (1, n, *g.clip_shape)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
            raise ShapeError(
                f"sample() output: expected [B, n, T, C, H, W] = {list(shape)}, got {tuple(getattr(out, 'shape', ()))}"
            )
        return out[0, :, :length].float().clamp(-1, 1)


def load_pipeline(
    path: str | os.PathLike[str],
    *,
    registry: ComponentRegistry | None = None,
    device: str | torch.device = "cpu",
    use_ema: bool = True,
    notes: Callable[[str], Any] | None = None,
    options: Sequence[str] = (),
    compile: bool = False,
) -> Pipeline:
    """A :class:`Pipeline` from a checkpoint directory or a run directory (its latest checkpoint).

    :param registry: where the model's components are looked up; by default every
        installed plugin's (:func:`vidgan_kit.load_registry`).
    :param use_ema: use the EMA weights of the slots that have them (the better samples).
    :param notes: called with each note about the inputs (resizing, frames dropped) and the
        weights; by default notes are printed to stderr.
    :param options: model options changed from the checkpoint's, each ``"slot.option=value"``
        (e.g. ``decoder.max_shift=3.0``); only options that change no weights load.
    :param compile: run ``transfer`` through ``torch.compile`` (needs a C++
        compiler on a CPU; :func:`compile_transfer`). The first call builds it (43 s for the
        default recipe's 64×64 transfer on 2 CPU cores); later ones are faster (17.0 → 11.6 ms
        there, the same frames within 1e-5: ``benchmarks/speed.py --configs transfer
        --compile``), so it pays off over many transfers, not for one. Inputs keep the model's
        shapes, so it builds once.
    """
    if registry is None:
        from . import load_registry

        registry = load_registry()
    index = read_index(path)
    model = build_model(index, registry, options)
    load_weights(model, index["path"], use_ema=use_ema)
    pipeline = Pipeline(model, device=device, source=str(Path(index["path"])), step=index.get("step"), notes=notes,
                        compile=compile)
    if use_ema and not index.get("ema_slots"):
        pipeline._note("the checkpoint has no EMA weights; using the raw weights")
    return pipeline


def _print_note(message: str) -> None:
    print(message, file=sys.stderr)


def _standardised(frame: torch.Tensor) -> torch.Tensor:
    x = frame.flatten().float()
    return (x - x.mean()) / (x.std(unbiased=False) + 1e-6)


def best_matching_frame(image: torch.Tensor, frames: Iterable[torch.Tensor]) -> int:
    """The index of the frame most like ``image`` [C, H, W] (the first of equals): the smallest
    mean squared difference after each is standardised (its own mean subtracted, divided by
    its own standard deviation), at the model's size. A plain image distance that knows
    nothing of the data; standardising leaves out a change of brightness or contrast. Only
    the index is used: the motion still reaches the output through the model's encoder."""
    reference = _standardised(image)
    best, best_distance = -1, math.inf
    for i, frame in enumerate(frames):
        distance = float((_standardised(frame) - reference).square().mean())
        if distance < best_distance:
            best, best_distance = i, distance
    if best < 0:
        raise VidganError("best_matching_frame: the source has no frames")
    return best


def _held(clip: torch.Tensor, t: int) -> torch.Tensor:
    """``clip`` [n, ...] padded to ``t`` frames by holding its last frame (a still end)."""
    return clip if clip.shape[0] >= t else torch.cat([clip, clip[-1:].expand(t - clip.shape[0], *clip.shape[1:])])


def _windows(frames: Iterable[torch.Tensor], t: int) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, [1, t, ...])`` windows over a stream of frames: every ``t - WINDOW_OVERLAP``
    frames, and a last one that ends at the last frame (overlapping its predecessor more). A
    stream shorter than ``t`` gives one window, padded by holding its last frame."""
    stride = t - WINDOW_OVERLAP
    if stride < 1:
        raise VidganError(f"a model of {t}-frame clips cannot be run in overlapping windows")
    buffer: deque[torch.Tensor] = deque(maxlen=t)
    next_start, end, count = 0, 0, 0
    for count, frame in enumerate(frames, start=1):
        buffer.append(frame)
        if count - t == next_start:
            yield next_start, torch.stack(tuple(buffer)).unsqueeze(0)
            end, next_start = count, next_start + stride
    if count < t:
        yield 0, _held(torch.stack(tuple(buffer)), t).unsqueeze(0)
    elif end < count:
        yield count - t, torch.stack(tuple(buffer)).unsqueeze(0)


class _Spool:
    """Frames ``[C, H, W]`` in a float32 file on disk, written in order and read in any order."""

    def __init__(self, path: Path, shape: tuple[int, ...]) -> None:
        self.array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        self.count = 0

    def extend(self, frames: torch.Tensor) -> None:
        self.array[self.count : self.count + len(frames)] = frames.detach().float().cpu().numpy()
        self.count += len(frames)

    def read(self, start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.array[start:stop]))


class _Source:
    """The frames ``start .. start + count - 1`` of a source video (a file or a tensor), fitted
    to the model's geometry and read as a stream (a file is decoded as it goes)."""

    def __init__(self, pipe: Pipeline, video: VideoInput, start: int, frames: int | None) -> None:
        self.pipe, self.start = pipe, start
        self.path: Path | None = None
        self.tensor: torch.Tensor | None = None
        if isinstance(video, str | os.PathLike):
            from .io import probe_video

            self.path = Path(video)
            self.what = f"video {os.fspath(video)!r}"
            info = probe_video(video)  # packets only: nothing decoded yet
            length, self.fps = info.frames, info.fps
        else:
            self.what, self.fps = "video", None
            if not isinstance(video, torch.Tensor) or video.dim() != 4:
                raise ShapeError(f"video: expected [N, C, H, W], got {tuple(getattr(video, 'shape', ()))}")
            length, self.tensor = video.shape[0], video
        if start < 0 or start >= length:
            raise VidganError(f"{self.what}: start {start} is outside its frames 0..{length - 1} (--start)")
        if frames is not None and frames < 1:
            raise VidganError(f"{self.what}: frames must be at least 1, got {frames} (--frames)")
        if frames is not None and start + frames > length:
            raise VidganError(
                f"{self.what}: {frames} frames from frame {start} run past its end; it has {length} (--frames)"
            )
        self.length = length
        self.count = length - start if frames is None else frames

    def range_note(self) -> str:
        return "" if (self.start, self.count) == (0, self.length) else f" from frame {self.start}"

    def stream(self) -> Iterator[torch.Tensor]:
        """The frames in order, each ``[C, H, W]`` on the pipeline's device."""
        pipe = self.pipe
        if self.tensor is not None:
            fitted = pipe._fit(self.tensor[self.start : self.start + self.count], self.what).to(pipe.device)
            yield from fitted
            return
        from .io import iter_video_arrays, uint8_to_tensor

        assert self.path is not None
        arrays = iter_video_arrays(self.path)
        for i, array in enumerate(arrays):
            if i < self.start:
                continue
            if i >= self.start + self.count:
                arrays.close()  # stop decoding: the rest is not asked for
                return
            yield pipe._fit(uint8_to_tensor(array), self.what, note=i == self.start).to(pipe.device)

    def random_access(self, spool: Path) -> Any:
        """The frames, indexable: the tensor itself, or a file's frames spooled to ``spool``."""
        if self.tensor is not None:
            return self.pipe._fit(self.tensor[self.start : self.start + self.count], self.what).to(self.pipe.device)
        store = _Spool(spool, (self.count, *self.pipe.geometry.frame_shape))
        for frame in self.stream():
            store.extend(frame.unsqueeze(0))
        device = self.pipe.device

        class _Frames:
            def __getitem__(self, i: int) -> torch.Tensor:
                return store.read(i, i + 1)[0].to(device)

        return _Frames()
