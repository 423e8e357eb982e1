"""What a component of each kind must look like.

A component is built by ``factory(config, **wiring)``: ``config`` is its own validated
:class:`~vidgan_kit.config.ComponentConfig`, ``wiring`` what the assembling code knows
(always ``geometry``, plus the kind's extra keyword arguments listed below). A model
assembly's slot names the base class its component needs (recipe validation checks it), so
any registered component of the right kind and role can fill it. The kinds, with their
wiring and contracts, are declared in :mod:`vidgan_kit.kinds`; the contract tests in
:mod:`vidgan_kit.testing` check these promises.

=====================  ==========================================  ==================================
kind / base class      wiring keywords                             forward
=====================  ==========================================  ==================================
encoder                geometry                                    frames [N,C,H,W] -> code [N,*code_shape]
  ContentEncoder
encoder                geometry                                    video [B,T,C,H,W] -> MotionPosterior
  MotionEncoder
temporal_generator     geometry, motion_dim                        z [B,motion_dim] -> [B,T,frame_code_dim]
decoder                geometry, content_shape, frame_code_dim      (content [N,*shape], motion [N,d]) -> [N,C,H,W]
discriminator          geometry                                    (condition, frame) [N,C,H,W] -> logits [N]
  ImageDiscriminator
discriminator          geometry                                    video [B,T,C,H,W] -> logits [B]
  VideoDiscriminator
loss                   (none)                                      (LossContext, phase) -> scalar
model                  geometry, registry                          batch -> outputs (see ModelAssembly)
dataset                geometry, split, seed                       torch Dataset of {"video": [T,C,H,W]}
=====================  ==========================================  ==================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from .layout import VideoGeometry

__all__ = [
    "ContentEncoder",
    "MotionEncoder",
    "MotionPosterior",
    "TemporalGenerator",
    "FrameDecoder",
    "ImageDiscriminator",
    "VideoDiscriminator",
    "Loss",
    "LossContext",
    "ModelAssembly",
    "GraphTensor",
    "ExportGraph",
    "ExportPlan",
]


class MotionPosterior(NamedTuple):
    """Diagonal Gaussian over the clip-level motion code z_M."""

    mean: torch.Tensor  # [B, D]
    logvar: torch.Tensor  # [B, D]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised sample (differentiable in mean and logvar)."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + eps * torch.exp(0.5 * self.logvar)


class ContentEncoder(nn.Module):
    """E_C: one frame → a time-invariant content code. Kind ``encoder``, role content."""

    role = "content"
    #: Shape of one content code, without the batch dimension: (D,) or (C, h, w).
    code_shape: tuple[int, ...]


class MotionEncoder(nn.Module):
    """E_M: a whole clip → posterior over the motion code. Kind ``encoder``, role motion."""

    role = "motion"
    motion_dim: int


class TemporalGenerator(nn.Module):
    """G_T: clip-level motion code → one motion code per frame."""

    frame_code_dim: int

    def forward(self, z: torch.Tensor, frames: int) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class FrameDecoder(nn.Module):
    """G_I: (content code, per-frame motion code) → frame in [-1, 1]. Kind ``decoder``."""

    def render_held(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Clips of content codes held over time: content [N, *code_shape] and motion [N, T, F]
        → [N, T, C, H, W], frame t = ``forward(content, motion[:, t])``.

        Motion transfer and sampling animate one content code with T motion codes. This
        default runs ``forward`` on every frame; a decoder that does per-content work (layers,
        masks) overrides it to do that work once per content code. The contract tests check
        that an override gives the frames ``forward`` gives.
        """
        n, t = motion.shape[:2]
        held = content.unsqueeze(1).expand(n, t, *content.shape[1:]).reshape(n * t, *content.shape[1:])
        frames = self(held, motion.reshape(n * t, *motion.shape[2:]))
        return frames.view(n, t, *frames.shape[1:])


class ImageDiscriminator(nn.Module):
    """D_I: scores a (condition image, frame) pair; one logit per pair."""

    role = "image"


class VideoDiscriminator(nn.Module):
    """D_V: scores a whole clip; one logit per clip."""

    role = "video"


@dataclass
class LossContext:
    """What a loss sees: the model, the batch and the outputs of the model's forward.

    ``cache`` lets losses share work within one step (e.g. discriminator logits of the
    real clips are computed once for the D phase).
    """

    model: ModelAssembly
    batch: dict[str, Any]
    outputs: dict[str, Any]
    step: int = 0
    cache: dict[str, Any] = field(default_factory=dict)


class Loss(nn.Module):
    """One training objective. ``phases`` names the phases it contributes to.

    Weights and schedules (start step, ramp) are not the loss's business: the recipe's
    loss table carries them and the trainer applies them.
    """

    phases: tuple[str, ...] = ("generator",)

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class GraphTensor:
    """One input or output of an exported graph. Its first dimension is the batch, of any size."""

    name: str
    #: The shape after the batch dimension.
    shape: tuple[int, ...]
    #: ``pixels``: frames in [-1, 1]; ``codes``: real-valued codes (inputs drawn from N(0, I) by checks).
    values: Literal["pixels", "codes"]
    description: str


@dataclass(frozen=True)
class ExportGraph:
    """A graph an assembly exports: ``module(*inputs) -> outputs`` (one tensor per output), batch
    first everywhere, in eval mode and without gradients. ``module`` runs exactly what the
    model's own inference runs, so that the exported file and the model give the same frames."""

    module: nn.Module
    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    description: str


@dataclass(frozen=True)
class ExportPlan:
    """What :meth:`ModelAssembly.export_graphs` returns: the graphs by name, how the model's tasks
    combine them (task -> expression in the graphs' names, e.g. ``"animate(image, encode_motion(video))"``)
    and JSON-able notes a user of the files needs (how to draw a motion code, say), all written
    to the exported ``model.json``."""

    graphs: dict[str, ExportGraph]
    tasks: dict[str, str]
    notes: dict[str, Any] = field(default_factory=dict)


class ModelAssembly(nn.Module):
    """Kind ``model``: wires slots into a trainable whole.

    The generic trainer relies on exactly these methods. An assembly implements three:

    - ``forward(batch) -> dict`` runs the generator side once per step;
    - ``parameter_groups() -> dict[str, list[Parameter]]``, one optimiser per group; a
      phase of the same name steps it;
    - ``slots() -> dict[str, nn.Module]``, the named sub-components a checkpoint stores
      one by one (each with its ``component_spec``).

    The others do nothing here, and the trainer calls them all the same: an assembly
    overrides those it has something to say with.

    Inference (:mod:`vidgan_kit.inference`) calls ``transfer(image, video)`` and
    ``sample(image, n, generator)`` on clips of the model's length, and two optional
    methods for longer ones: :meth:`transfer_windows` and :meth:`sample_windows`, which a
    model offers when :meth:`window_support` says so.
    """

    geometry: VideoGeometry
    #: Logged keys (e.g. ``"diag/kl"``) that the trainer's progress line shows beside the losses.
    progress_keys: tuple[str, ...] = ()
    #: What ``sample()`` starts from (read by inference and evaluation): ``"image"``,
    #: ``sample(image [B, C, H, W], n, generator) -> [B, n, T, C, H, W]``, clips of given images;
    #: ``"noise"``, ``sample(None, n, generator) -> [1, n, T, C, H, W]``, the content drawn as
    #: well (unconditional generation). An instance may set it from its config.
    samples_from: Literal["image", "noise"] = "image"
    #: Whether ``forward()``'s ``"reconstruction"`` rebuilds the input clip, which ``vidgan eval``
    #: scores; a model that only generates clips sets it False.
    reconstructs: bool = True
    #: The motion modes :meth:`transfer_windows` takes: ``relative``, the source's motion since
    #: its first frame applied to the target (what ``transfer`` does); ``absolute``, the target
    #: put in the pose of each source frame. A model lists only the modes it implements.
    motion_modes: tuple[str, ...] = ("relative",)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:  # pragma: no cover - interface
        raise NotImplementedError

    def slots(self) -> dict[str, nn.Module]:  # pragma: no cover - interface
        raise NotImplementedError

    def diagnostics(self, batch: dict[str, Any]) -> dict[str, float]:
        """Numbers that show how training goes on ``batch``, logged as ``diag/<name>`` every
        ``train.diagnostics_every`` steps (without gradients, the random streams set aside).
        None here."""
        return {}

    def track_inference_statistics(self, batch: dict[str, Any], step: int) -> None:
        """Update statistics that inference reads and the weights alone do not give (e.g. the
        spread of the codes a sampler draws). Called after every step (``step`` counts the steps
        done) with the weights inference loads (the EMA weights when ``train.ema`` is on),
        without gradients and with the random streams set aside. Nothing here."""

    def health_warnings(self, stats: dict[str, float], step: int) -> dict[str, str]:
        """The problems the latest logged values ``stats`` reveal: key -> message (e.g. a
        collapsed code). The trainer warns once per key and run
        (:class:`~vidgan_kit.training.TrainingHealthWarning`) and logs ``warn/<key>`` = 1 at
        that step. None here."""
        return {}

    def preview(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Clips for the sample grid the trainer writes every ``train.sample_every`` steps: row
        name -> ``[B, T, C, H, W]`` in [-1, 1], drawing noise from ``generator`` (called in eval
        mode, without gradients, with the EMA weights when there are any). None here: no grid."""
        return {}


    def window_support(self) -> str | None:
        """``None`` when :meth:`transfer_windows` and :meth:`sample_windows` animate more frames
        than the model's clip; otherwise why not, as a clause for an error message ("its
        decoder ..."). Here: they are not implemented."""
        return "it does not continue motion from one clip-length window to the next"

    def transfer_windows(
        self, image: torch.Tensor, windows: Iterable[tuple[int, torch.Tensor]], *, motion: str = "relative"
    ) -> Iterator[torch.Tensor]:
        """Animate ``image`` [B, C, H, W] along a source longer than the model's clip T.

        ``windows`` yields ``(start, clip)``: ``clip`` [1 or B, T, C, H, W] holds the source's
        frames ``start .. start + T - 1``. The first window starts at 0; each next one starts
        after the previous one's start and at or before its last frame (they overlap by at
        least one frame). For each window this yields the frames not yielded before, ``[B, n,
        C, H, W]`` in time order. The motion continues across windows: no jump where one
        window hands over to the next, and nothing re-encoded from generated frames (which
        would drift). ``motion`` is one of :attr:`motion_modes`. Eval mode, no gradients.
        """
        raise NotImplementedError(f"{type(self).__name__}: {self.window_support()}")

    def sample_windows(self, image: torch.Tensor, n: int, frames: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` random motions of ``frames`` frames (more than the model's clip) per image
        [B, C, H, W], continued across windows as in :meth:`transfer_windows`:
        ``[B, n, frames, C, H, W]``; ``generator`` seeds the draws."""
        raise NotImplementedError(f"{type(self).__name__}: {self.window_support()}")

    def export_graphs(self) -> ExportPlan | None:
        """The graphs inference runs, for ``vidgan export`` (:mod:`vidgan_kit.export`), with the
        model's current weights. None here: the model cannot be exported."""
        return None

