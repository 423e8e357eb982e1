"""A spatial content path: E_C keeps the target image, G_I moves its parts by warping.

Why these exist beside the paper's vector networks. With a content *vector* the decoder
has to redraw the whole frame, object position included, from 64 numbers; on CPU budgets
the prototype (and our first runs) learned to paint the background and leave out the
small moving object, and the motion path collapsed (KL → 0, output independent of the
motion video). Here the content code is a feature map that still holds the target image,
and the per-frame motion code can only say *how parts move*: for each of ``parts``
regions an affine transform about an anchor that the decoder finds in the content. The
frame is the target image resampled along the resulting flow, with a learned fill for
what was hidden (disoccluded background). This is the structure of the First Order Motion
Model (Siarohin et al., 2019) with the keypoints' motion taken from Dual-MTGAN's motion
code instead of a driving frame, so Dual-MTGAN's training scheme, losses and stochastic
branch stay as they are.

Consequences worth knowing:

- at initialisation every transform is the identity, so the output is the target image
  held still (the static baseline), and training can only improve on that;
- appearance cannot travel through the motion path: the motion code reaches nothing but
  the transforms' parameters (a structural barrier against content leaking into z_M);
- the content code changes when the object moves (it is a map), so the content
  consistency loss L_C, which asks codes of all frames to agree, does not apply; recipes
  using this path leave it out (see the Dual-MTGAN docs page).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import FrameDecoder
from vidgan_builtin.networks.blocks import NormName, check_sides_multiple_of_4, conv3x3_block
from vidgan_builtin.networks.geometry import backward_grids, bounded_affine, pixel_grid

from .spatial_encoder import check_image_map

__all__ = ["WarpFrameDecoder"]


class WarpFrameDecoder(FrameDecoder):
    """G_I: (content map, frame motion code) → frame, by moving parts of the content's image.

    Per frame and per part k (``parts`` of them) the motion code gives a backward affine
    map ``src(p) = a_k + B_k (p - a_k) + e_k`` in normalised coordinates, where the anchor
    ``a_k`` is the soft-argmax of a heatmap computed from the content features (so the same
    motion moves an object about *its own* centre, wherever it is) and ``B_k``, ``e_k``
    are bounded linear read-outs of the motion code, zero at initialisation (identity).
    One more candidate, the identity, stands for the static background. A small network
    looks at the content warped by every candidate and assigns each pixel to one of them
    (softmax masks); the composite flow resamples the image. Where the image cannot supply
    the pixel (background uncovered by the moving part), a fill branch paints it, blended
    by a learned occlusion map. Needs a content map whose first ``channels`` planes are the
    image (``spatial_content_encoder``).
    """

    class Config(ComponentConfig):
        parts: int = Field(1, ge=1, description="Independently moving parts (each an affine transform about an anchor).")
        width: int = Field(32, ge=1, description="Width of the mask and fill networks.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution.")
        max_linear: float = Field(
            1.0, gt=0, description="Bound on each entry of B_k - I (tanh): limits scale, rotation and shear per frame."
        )
        max_shift: float = Field(
            2.0, gt=0, description="Bound on the shift e_k (tanh), in normalised units (the frame spans 2)."
        )
        anchor_temperature: float = Field(
            0.1, gt=0, description="Temperature of the softmax that turns each anchor heatmap into a point."
        )
        motion_bias: bool = Field(
            True,
            description="Give the motion read-out a bias. Without one the zero frame code is the identity for every "
            "part, so a frame whose code has not moved from the first frame's draws the target image.",
        )
        fill_sees_flow: bool = Field(
            False,
            description="Give the fill and occlusion branch the composite flow's displacement too, so it can tell "
            "where nothing moved (and nothing was uncovered) from where a part moved away.",
        )

    def __init__(
        self,
        config: Config,
        *,
        geometry: VideoGeometry,
        content_shape: tuple[int, ...],
        frame_code_dim: int,
        **wiring: Any,
    ) -> None:
        super().__init__()
        check_sides_multiple_of_4(geometry, "warp_frame_decoder")
        check_image_map(content_shape, geometry, "warp_frame_decoder")
        c = geometry.channels
        self.config = config
        self.geometry = geometry
        self.content_shape = tuple(content_shape)
        self.frame_code_dim = frame_code_dim
        k, w = config.parts, config.width
        feats = content_shape[0] - c
        self.anchor_head = nn.Conv2d(feats, k, 3, 1, 1)
        self.motion_head = nn.Linear(frame_code_dim, 6 * k, bias=config.motion_bias)
        nn.init.zeros_(self.motion_head.weight)  # identity transforms at the start: the static baseline
        if self.motion_head.bias is not None:
            nn.init.zeros_(self.motion_head.bias)
        self.mask_net = nn.Sequential(
            conv3x3_block((k + 1) * (feats + c), w, "none"),
            conv3x3_block(w, w, config.norm),
            nn.Conv2d(w, k + 1, 3, 1, 1),
        )
        flow_planes = 2 if config.fill_sees_flow else 0
        self.fill_net = nn.Sequential(
            conv3x3_block(c + feats + k + 1 + flow_planes, w, "none"),
            conv3x3_block(w, w, config.norm),
            conv3x3_block(w, w, config.norm),
            nn.Conv2d(w, c + 1, 3, 1, 1),
        )
        with torch.no_grad():  # start by trusting the warped image (99.3 % visible)
            self.fill_net[-1].bias[c] = 5.0
        self.register_buffer("identity_grid", pixel_grid(geometry.height, geometry.width), persistent=False)

    def anchors(self, features: torch.Tensor) -> torch.Tensor:
        """Soft-argmax of each part's heatmap: ``[N, parts, 2]`` in normalised (x, y)."""
        logits = self.anchor_head(features).flatten(2) / self.config.anchor_temperature
        prob = logits.softmax(-1)  # [N, K, H*W]
        return prob @ self.identity_grid.reshape(-1, 2).to(prob.dtype)  # [N, K, 2]

    def part_maps(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The backward maps that motion codes ``[..., frame_code_dim]`` give each part: linear
        parts ``B`` ``[..., parts, 2, 2]`` and shifts ``e`` ``[..., parts, 2]``."""
        raw = self.motion_head(motion).view(*motion.shape[:-1], self.config.parts, 6)
        return bounded_affine(raw, self.config.max_linear, self.config.max_shift)

    def part_anchors(self, content: torch.Tensor) -> torch.Tensor:
        """Each part's anchor in a content map: ``[N, parts, 2]``."""
        return self.anchors(content[:, self.geometry.channels :])

    def part_grids(self, anchors: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Backward sampling grids of the background and every part: ``[N, 1 + parts, H, W, 2]``."""
        return self._grids(anchors, *self.part_maps(motion))

    def _grids(self, anchors: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        n = linear.shape[0]
        p = self.identity_grid.to(linear.dtype)  # [H, W, 2]
        moved = backward_grids(p, anchors, linear, shift)
        return torch.cat([p.expand(n, 1, *p.shape), moved], dim=1)

    def render_maps(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """The frames of a content map ``[N, *content_shape]`` with each part moved by given maps
        about its anchor, ``linear`` [N, T, parts, 2, 2] and ``shift`` [N, T, parts, 2], of any
        size (a transfer chains them across windows): ``[N, T, C, H, W]``."""
        n, t = linear.shape[:2]
        self._check_content(content)
        anchors = self.part_anchors(content).repeat_interleave(t, dim=0)
        held = content.repeat_interleave(t, dim=0)
        frames = self._draw(held, self._grids(anchors, linear.flatten(0, 1), shift.flatten(0, 1)))
        return frames.view(n, t, *frames.shape[1:])

    def _check_content(self, content: torch.Tensor) -> None:
        if tuple(content.shape[1:]) != self.content_shape:
            raise ShapeError(
                f"warp_frame_decoder: expected content [N, {', '.join(map(str, self.content_shape))}], "
                f"got {tuple(content.shape)}"
            )

    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n = content.shape[0]
        self._check_content(content)
        if motion.shape != (n, self.frame_code_dim):
            raise ShapeError(f"warp_frame_decoder: expected motion [{n}, {self.frame_code_dim}], got {tuple(motion.shape)}")
        return self._draw(content, self.part_grids(self.part_anchors(content), motion))

    def _draw(self, content: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
        """The frame of each content map moved along its grids ``[N, 1 + parts, H, W, 2]``."""
        n = content.shape[0]
        c, k = self.geometry.channels, self.config.parts
        h, w = self.geometry.height, self.geometry.width
        # Masks, occlusion and fill are computed at half resolution (the convolutions are
        # most of the cost); only the image is resampled at full resolution.
        small = F.avg_pool2d(content, 2)
        hs, ws = h // 2, w // 2
        small_grids = F.avg_pool2d(grids.permute(0, 1, 4, 2, 3).reshape(n, (k + 1) * 2, h, w), 2)
        small_grids = small_grids.view(n, k + 1, 2, hs, ws).permute(0, 1, 3, 4, 2)
        views = F.grid_sample(
            small.repeat_interleave(k + 1, dim=0),
            small_grids.reshape(n * (k + 1), hs, ws, 2),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        ).view(n, k + 1, content.shape[1], hs, ws)
        masks = self.mask_net(views.flatten(1, 2)).softmax(1)  # [N, K+1, h/2, w/2]
        warped_small = (masks.unsqueeze(2) * views).sum(1)  # the content as the composite flow moves it
        fill_inputs = [warped_small, masks]
        if self.config.fill_sees_flow:  # the displacement in half-resolution pixels: 0 where nothing moved
            moved = (masks.unsqueeze(-1) * small_grids).sum(1) - small_grids[:, 0]  # small_grids[:, 0]: identity
            fill_inputs.append(moved.permute(0, 3, 1, 2) * (hs / 2))
        out = F.interpolate(self.fill_net(torch.cat(fill_inputs, dim=1)), size=(h, w), mode="bilinear",
                            align_corners=False)
        full_masks = F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
        flow = (full_masks.unsqueeze(-1) * grids).sum(1)  # [N, H, W, 2]
        warped = F.grid_sample(content[:, :c], flow, mode="bilinear", padding_mode="border", align_corners=False)
        visible = torch.sigmoid(out[:, c : c + 1])
        image = warped.clamp(-1, 1)  # a no-op for real frames; keeps any content map's output in range
        return visible * image + (1 - visible) * torch.tanh(out[:, :c])
