"""Using a trained model: motion transfer and sampling, from a checkpoint.

    from vidgan_kit.inference import load_pipeline
    pipe = load_pipeline("runs/dual_mtgan")           # run dir → its latest checkpoint
    clip = pipe.transfer("face.png", "driving.mp4")   # [T, C, H, W] in [-1, 1]
    clips = pipe.sample("face.png", n=4, seed=0)      # [4, T, C, H, W]

The pipeline delegates to the model assembly's own methods, so it works for any model
that provides them:

- ``transfer(image [B, C, H, W], video [B, T, C, H, W]) -> [B, T, C, H, W]``: animate
  ``image`` with the motion of ``video``;
- ``sample(image [B, C, H, W], n, generator) -> [B, n, T, C, H, W]``: ``n`` random motions;
  a model whose ``samples_from`` is ``"noise"`` draws its content as well:
  ``sample(None, n, generator) -> [1, n, T, C, H, W]`` (``pipe.sample(None, n=8)``).

A model without ``transfer`` (one that only generates) is refused plainly by
:meth:`Pipeline.transfer`.

Inputs are tensors in [-1, 1] (``[C, H, W]`` images, ``[T, C, H, W]`` clips) or file paths,
read with :mod:`vidgan_kit.io`; either is fitted to the model's geometry (centre-crop and
resize, with a note on stderr).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .checkpoint import build_model, load_weights, read_index
from .errors import ShapeError, VidganError
from .interfaces import ModelAssembly
from .layout import VideoGeometry, assert_video
from .registry import ComponentRegistry

__all__ = ["Pipeline", "compile_transfer", "load_pipeline"]

ImageInput = torch.Tensor | str | os.PathLike[str]
VideoInput = torch.Tensor | str | os.PathLike[str]


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
        return f"Pipeline(model={self._name()!r}, geometry={self.geometry}, step={self.step}, device={self.device})"

    # -- inputs --------------------------------------------------------------------------
    def _note(self, message: str) -> None:
        self.notes(f"note: {message}")

    def _fit(self, x: torch.Tensor, what: str) -> torch.Tensor:
        """Channels and size to the model's geometry; values must already be in [-1, 1]."""
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
                self._note(f"{what}: converted RGB to grey for a {g.channels}-channel model")
            elif g.channels == 3 and c == 1:
                x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
                self._note(f"{what}: repeated the grey channel for an RGB model")
            else:
                raise ShapeError(f"{what}: has {c} channels, the model takes {g.channels}")
        h, w = x.shape[-2:]
        if (h, w) != (g.height, g.width):
            x = resize_video(x.float(), g.height, g.width, mode="crop")
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

    def _video(self, video: VideoInput) -> torch.Tensor:
        t = self.geometry.frames
        total = None
        if isinstance(video, str | os.PathLike):
            from .io import probe_video, read_video

            what = f"video {os.fspath(video)!r}"
            total = probe_video(video).frames  # packets only: decode just the frames used below
            x = read_video(video, max_frames=t)
        else:
            x, what = video, "video"
            total = x.shape[0] if isinstance(x, torch.Tensor) and x.dim() == 4 else None
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ShapeError(f"{what}: expected [T, C, H, W], got {tuple(getattr(x, 'shape', ()))}")
        if x.shape[0] < t:
            raise VidganError(
                f"{what} has {x.shape[0]} frame(s); the model needs at least {t} (it drives clips of {t} frames)."
            )
        if total is not None and total > t:
            self._note(f"{what}: using its first {t} of {total} frames")
            x = x[:t]
        return self._fit(x, what).to(self.device).unsqueeze(0)

    def _name(self) -> str:
        spec = getattr(self.model, "component_spec", None)
        return spec.type if spec is not None else type(self.model).__name__

    def _method(self, name: str) -> Any:
        fn = getattr(self.model, name, None)
        if not callable(fn):
            if name == "transfer":
                raise VidganError(f"model {self._name()!r} cannot transfer motion (it has no transfer()); "
                                  "`vidgan generate` samples clips from it.")
            raise VidganError(f"{self!r}: the model does not implement {name}(); it cannot be used for that.")
        return self._compiled_transfer if name == "transfer" and self._compiled_transfer is not None else fn

    # -- tasks ---------------------------------------------------------------------------
    def transfer(self, image: ImageInput, video: VideoInput) -> torch.Tensor:
        """Animate ``image`` with the motion of ``video``; returns ``[T, C, H, W]`` in [-1, 1]."""
        fn = self._method("transfer")
        # Inference mode, not no_grad (which still tracks versions and views): shorter, and the
        # same output.
        # The result is finished outside it, so the caller gets an ordinary tensor it may modify.
        with torch.inference_mode():
            out = fn(self._image(image), self._video(video))
        assert_video(out, "transfer() output", batch=1, geometry=self.geometry)
        return out[0].float().clamp(-1, 1)

    def sample(self, image: ImageInput | None = None, n: int = 1, seed: int = 0) -> torch.Tensor:
        """``n`` clips of ``image`` with random motion, or with ``image=None`` ``n`` clips of a
        model that draws its content too (``samples_from = "noise"``); returns ``[n, T, C, H, W]``
        in [-1, 1]. A model given an image it does not take, or none where it needs one, is refused."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        fn = self._method("sample")
        unconditional = getattr(self.model, "samples_from", "image") == "noise"
        if unconditional and image is not None:
            raise VidganError(f"model {self._name()!r} samples unconditionally (it draws its content from noise) and"
                              " takes no image; leave the image out (no --image).")
        if not unconditional and image is None:
            raise VidganError(f"model {self._name()!r} animates a given image: pass one (--image).")
        generator = torch.Generator(device=self.device).manual_seed(seed)
        with torch.inference_mode():  # as in transfer()
            out = fn(None if image is None else self._image(image), n, generator)
        g = self.geometry
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, n, *g.clip_shape):
            raise ShapeError(
                f"sample() output: expected [B, n, T, C, H, W] = [1, {n}, {g.frames}, {g.channels}, {g.height},"
                f" {g.width}], got {tuple(getattr(out, 'shape', ()))}"
            )
        return out[0].float().clamp(-1, 1)


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
