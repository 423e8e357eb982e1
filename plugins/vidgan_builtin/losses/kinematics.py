"""``path_smoothness`` (L_smooth, not in the paper): a part's *unbounced* path accelerates little.

Why. A sprite decoder with ``boundary = "reflect"`` bounces a part off the frame's walls,
so a motion code can give an unfolded velocity that replays in any target's geometry: what
the synthetic transfer's truth asks for (``benchmarks/transfer_ceiling.py``: bounces at the
target's walls are worth 5-6 dB on translating clips). But a rich temporal basis can draw the
source's folded path just as well, and the reconstruction (the same clip) cannot tell the
two apart, and reflection alone changes nothing. Here the path the codes draw *before* the
bounce pays for its acceleration: a folded path has a kink at every wall (a second difference of twice the speed), an unfolded
one none, and a smooth curve (an orbit) only its small, steady curvature. Physical priors
of this kind (smooth trajectories, collisions explained by the boundary) are common in
object-centric video models.

For the reconstruction's codes on x¹'s content, the decoder's backward map of part k at
frame t *before* any geometry option (``decoder.part_affine``) sends the point
``p_t = a - A_t⁻¹ e_t`` to the part's anchor ``a``; the term is the mean over clips, parts
and frames 2..T-1 of ``|p_{t+1} - 2 p_t + p_{t-1}|²`` (normalised units: the frame spans 2).
Only the motion path (E_M, G_T, the decoder's read-out) learns from it.
"""

from __future__ import annotations

from typing import Any

import torch

from vidgan_kit import ComponentConfig
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext

from ..networks.geometry import landing
from .objectives import ConfiguredLoss, require_method, require_output, require_slot

__all__ = ["PathSmoothnessLoss", "unbounced_path"]


def unbounced_path(decoder: Any, content: torch.Tensor, frame_codes: torch.Tensor) -> torch.Tensor:
    """Where each part's anchor lands in each frame as the codes give it, before bounces:
    content ``[B, *content_shape]``, frame codes ``[B, T, F]`` → ``[B, T, parts, 2]``."""
    b, t = frame_codes.shape[:2]
    linear, shift = decoder.part_affine(frame_codes.reshape(b * t, -1))
    with torch.no_grad():
        anchors = decoder.anchors(decoder.layers(content)[2])  # [B, K, 2]
    k = anchors.shape[1]
    linear, shift = linear.float().view(b, t, k, 2, 2), shift.float().view(b, t, k, 2)
    return landing(anchors.unsqueeze(1).expand(b, t, k, 2), linear, shift)


class PathSmoothnessLoss(ConfiguredLoss):
    """L_smooth: squared second differences of each part's unbounced path (see the module)."""

    phases = ("generator",)

    class Config(ComponentConfig):
        pass

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "path_smoothness"
        codes = require_output(ctx, "content_codes", name)
        frame_codes = require_output(ctx, "frame_codes", name)
        if frame_codes.shape[1] < 3:
            raise ShapeError(f"{name}: needs at least 3 frames for an acceleration, got {frame_codes.shape[1]}")
        decoder = require_slot(ctx, "decoder", name)
        require_method(decoder, "part_affine", name, "decoder", "sprite_frame_decoder")
        path = unbounced_path(decoder, codes[:, 0].detach(), frame_codes)
        acceleration = path[:, 2:] - 2 * path[:, 1:-1] + path[:, :-2]
        return acceleration.square().sum(-1).mean()
