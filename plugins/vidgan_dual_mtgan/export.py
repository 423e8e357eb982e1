"""Dual-MTGAN's inference as two exportable graphs (``vidgan export``).

- ``encode_motion``: E_M, a source clip → z_M (the posterior's mean);
- ``animate``: E_C + G_T + G_I, a target image and a motion code → a clip.

Transfer is ``animate(image, encode_motion(video))``, sampling ``animate(image, z)`` with z
drawn as ``model.json`` says (N(0, I), or the fitted aggregate posterior, times
``sample_scale``): the draw is a few lines of user code, so the graphs stay deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from vidgan_kit.interfaces import ExportGraph, ExportPlan, GraphTensor, MotionPosterior

if TYPE_CHECKING:
    from .assembly import DualMTGAN

__all__ = ["MotionEncoding", "Animation", "export_plan"]


class MotionEncoding(nn.Module):
    """E_M's posterior mean: video [B, T, C, H, W] → z_M [B, motion_dim] (``DualMTGAN.encode_motion``)."""

    def __init__(self, motion_encoder: nn.Module) -> None:
        super().__init__()
        self.motion_encoder = motion_encoder

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return MotionPosterior(*self.motion_encoder(video)).mean


class Animation(nn.Module):
    """G_I(E_C(image), G_T(z, T)): image [B, C, H, W] and z [B, motion_dim] → clip [B, T, C, H, W]
    (``DualMTGAN.animate`` with one motion code per image)."""

    def __init__(self, content_encoder: nn.Module, temporal_generator: nn.Module, decoder: nn.Module,
                 frames: int) -> None:
        super().__init__()
        self.content_encoder, self.temporal_generator, self.decoder = content_encoder, temporal_generator, decoder
        self.frames = frames

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.render_held(self.content_encoder(image), self.temporal_generator(z, self.frames))


def export_plan(model: DualMTGAN) -> ExportPlan:
    """The two graphs with ``model``'s weights, and how to draw z for sampling."""
    g = model.geometry
    d = model.motion_encoder.motion_dim
    video = GraphTensor("video", g.clip_shape, "pixels", "the source clip whose motion is transferred")
    image = GraphTensor("image", (g.channels, g.height, g.width), "pixels", "the target image (appearance)")
    z = GraphTensor("z", (d,), "codes", "the clip-level motion code z_M")
    clip = GraphTensor("clip", g.clip_shape, "pixels", "the image animated with the motion z")
    graphs = {
        "encode_motion": ExportGraph(MotionEncoding(model.motion_encoder), (video,), (z,),
                                     "E_M: the mean of the motion posterior q(z_M | video)"),
        "animate": ExportGraph(Animation(model.content_encoder, model.temporal_generator, model.decoder, g.frames),
                               (image, z), (clip,), "G_I(E_C(image), G_T(z)): the image animated by the motion code"),
    }
    fitted = model.fitted_posterior()
    scale = model.config.sample_scale
    mean = torch.zeros(d) if fitted is None else fitted[0]
    std = torch.ones(d) if fitted is None else fitted[1]
    draws = {
        "distribution": "normal",
        "source": "prior N(0, I)" if fitted is None else "aggregate posterior fitted in training",
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in scale * std],
        "how": "z = mean + std * eps with eps ~ N(0, I) of shape [batch, motion_dim] (std includes sample_scale)",
    }
    return ExportPlan(
        graphs=graphs,
        tasks={
            "transfer": "animate(image, encode_motion(video))",
            "sample": "animate(image, z) with z drawn as motion_draws says",
        },
        notes={"motion_dim": d, "motion_draws": draws},
    )
