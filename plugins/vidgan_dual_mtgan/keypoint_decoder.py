"""A keypoint / dense-motion G_I: the target's keypoints moved by the motion code, a dense flow
mixed from their local warps, the target's features warped along it and decoded.

After the First Order Motion Model (Siarohin et al., 2019), Thin-Plate Spline Motion Model
(Zhao & Zhang, 2022) and MRAA (Siarohin et al., 2021), with the driving frame's keypoints
replaced by Dual-MTGAN's per-frame motion code. ``warp_frame_decoder`` moves a few parts by
affine maps; a few affine layers cannot draw limbs that move apart. Here:

- ``keypoints`` points of the *target* are found in E_C's content map, image and features (a
  heatmap per point, soft-argmax), each with an optional local 2×2 Jacobian (heatmap-weighted, as FOMM's);
- the frame code z_m^t (relative to frame 1: ``relative_to_first``) is read out as each
  point's displacement and the change of its local linear map, expressed in the point's own
  frame (the Jacobian conjugates it), by a read-out without bias that starts at zero: a
  zero code is the identity, so frame 1 and a fresh model give the static target image;
- a dense motion network at half resolution sees the target deformed by each point's
  backward map (and the identity, for the background) and the Gaussian heatmap differences
  between moved and target points; it mixes the K + 1 maps with softmax masks into one
  dense flow and predicts an occlusion map;
- a generator encodes the target once (features at half resolution), warps the features
  along the flow, multiplies them by the occlusion map and inpaints with residual blocks;
  the frame is the target image warped at full resolution where it is visible and the
  inpainted frame where the warp uncovered something.

Everything that depends on the target alone (keypoints, Jacobians, encoded features) runs once
per content map in ``render_held``; a frame costs the dense motion network and the inpainting
convolutions at half resolution. Needs a content map whose first ``channels`` planes are the
image (``spatial_content_encoder``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import FrameDecoder
from vidgan_builtin.networks.blocks import NormName, check_sides_multiple_of_4, conv3x3_block, make_norm
from vidgan_builtin.networks.geometry import backward_grids, bounded_affine, pixel_grid

from .spatial_encoder import check_image_map

__all__ = ["KeypointFrameDecoder", "Keypoints", "MotionFields"]


class Keypoints(NamedTuple):
    """Keypoints of content maps: positions ``[N, K, 2]`` in normalised (x, y), Jacobians
    ``[N, K, 2, 2]`` (None when the decoder has none)."""

    points: torch.Tensor
    jacobians: torch.Tensor | None


class MotionFields(NamedTuple):
    """What a clip of motion codes makes of the target, per frame (``T`` of them):

    - ``driving`` ``[N, T, K, 2]``: where each target keypoint moves to;
    - ``flow`` ``[N, T, H, W, 2]``: the dense backward flow (where each output pixel is read in the
      target, normalised (x, y));
    - ``masks`` ``[N, T, K + 1, H/2, W/2]``: the share of the background (index 0) and of each
      keypoint's local map in the flow;
    - ``visible`` ``[N, T, 1, H, W]``: the occlusion map (1: the warped target shows there).
    """

    driving: torch.Tensor
    flow: torch.Tensor
    masks: torch.Tensor
    visible: torch.Tensor


class ResidualBlock(nn.Sequential):
    """x + conv(act(norm(conv(x)))): two 3×3 convolutions of ``width`` channels."""

    def __init__(self, width: int, norm: NormName) -> None:
        super().__init__(conv3x3_block(width, width, norm), nn.Conv2d(width, width, 3, 1, 1), make_norm(norm, width, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def inverse_2x2(m: torch.Tensor, min_det: float = 1e-2) -> torch.Tensor:
    """Inverse of 2×2 matrices ``[..., 2, 2]`` by the adjugate, the determinant kept at least
    ``min_det`` away from 0 (sign kept): finite for any Jacobian a head can produce."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    det = torch.where(det < 0, det.clamp(max=-min_det), det.clamp(min=min_det))
    return torch.stack([d, -b, -c, a], dim=-1).view(m.shape) / det[..., None, None]


def gaussian_heatmaps(grid: torch.Tensor, points: torch.Tensor, variance: float) -> torch.Tensor:
    """``exp(-|p - k|² / (2 variance))`` for every pixel p of ``grid`` [H, W, 2] and point k of
    ``points`` [..., K, 2] → [..., K, H, W]."""
    diff = grid.to(points.dtype) - points[..., None, None, :]
    return torch.exp(-0.5 * diff.square().sum(-1) / variance)


class KeypointFrameDecoder(FrameDecoder):
    """G_I: (content map, frame motion code) → frame, through keypoints of the target and a
    dense motion network (see the module's docstring for the model)."""

    class Config(ComponentConfig):
        keypoints: int = Field(10, ge=1, description="Keypoints K found in the target's content map.")
        jacobians: bool = Field(
            True,
            description="Give each keypoint a local 2×2 Jacobian, and let the motion code change each keypoint's"
            " local linear map (in that Jacobian's frame); false: keypoints only translate.",
        )
        width: int = Field(16, ge=1, description="Width of the generator (target encoder, inpainting blocks).")
        motion_width: int = Field(16, ge=1, description="Width of the dense motion network (doubled at its middle).")
        residual_blocks: int = Field(1, ge=0, description="Residual blocks that inpaint the warped features.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution.")
        max_shift: float = Field(
            1.0, gt=0, description="Bound on a keypoint's displacement (tanh), in normalised units (the frame spans 2)."
        )
        max_linear: float = Field(
            0.5, gt=0, description="Bound on each entry of a keypoint's local linear change minus I (tanh)."
        )
        temperature: float = Field(
            0.1, gt=0, description="Temperature of the softmax that turns each keypoint heatmap into a point."
        )
        heatmap_variance: float = Field(
            0.01, gt=0, description="Variance of the Gaussians around keypoints that the dense motion network sees."
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
        check_sides_multiple_of_4(geometry, "keypoint_frame_decoder")
        check_image_map(content_shape, geometry, "keypoint_frame_decoder")
        c = geometry.channels
        self.config = config
        self.geometry = geometry
        self.content_shape = tuple(content_shape)
        self.frame_code_dim = frame_code_dim
        k, w, wm = config.keypoints, config.width, config.motion_width
        planes = content_shape[0]
        # The detector: heatmaps (and Jacobian fields, identity at the start) from the content map.
        self.keypoint_head = nn.Conv2d(planes, k, 3, 1, 1)
        if config.jacobians:
            self.jacobian_head = nn.Conv2d(planes, 4 * k, 3, 1, 1)
            nn.init.zeros_(self.jacobian_head.weight)
            with torch.no_grad():
                self.jacobian_head.bias.copy_(torch.eye(2).flatten().repeat(k))
        # The read-out of the frame code: no bias, zero weights (a zero code is the identity).
        self.motion_head = nn.Linear(frame_code_dim, (6 if config.jacobians else 2) * k, bias=False)
        nn.init.zeros_(self.motion_head.weight)
        # The dense motion network: an hourglass at half and quarter resolution.
        self.motion_in = conv3x3_block((k + 1) * (c + 1), wm, "none")
        self.motion_down = nn.Sequential(conv3x3_block(wm, 2 * wm, config.norm, stride=2),
                                         conv3x3_block(2 * wm, 2 * wm, config.norm))
        self.motion_up = conv3x3_block(3 * wm, wm, config.norm)
        self.motion_out = nn.Conv2d(wm, k + 2, 3, 1, 1)  # K + 1 mask logits, then the occlusion logit
        with torch.no_grad():  # start by trusting the warped target everywhere (99.3 % visible)
            self.motion_out.weight[k + 1].zero_()
            self.motion_out.bias[k + 1] = 5.0
        # The generator: the target encoded once, its warped features inpainted per frame.
        self.encoder = nn.Sequential(conv3x3_block(planes, w, "none"), conv3x3_block(w, w, config.norm, stride=2))
        self.inpaint = nn.Sequential(*(ResidualBlock(w, config.norm) for _ in range(config.residual_blocks)),
                                     nn.LeakyReLU(0.2), nn.Conv2d(w, c, 3, 1, 1))
        h, wd = geometry.height, geometry.width
        self.register_buffer("grid", pixel_grid(h, wd), persistent=False)
        self.register_buffer("half_grid", pixel_grid(h // 2, wd // 2), persistent=False)

    # -- the detector ----------------------------------------------------------------------
    def keypoints(self, content: torch.Tensor) -> Keypoints:
        """The target's keypoints in content maps ``[N, *content_shape]``: soft-argmax of each
        heatmap, and each Jacobian as the heatmap-weighted mean of its field."""
        self._check_content(content)
        n, k = content.shape[0], self.config.keypoints
        logits = self.keypoint_head(content).flatten(2).float() / self.config.temperature
        prob = logits.softmax(-1)  # [N, K, H*W]
        points = prob @ self.grid.reshape(-1, 2)
        jacobians = None
        if self.config.jacobians:
            field = self.jacobian_head(content).float().view(n, k, 4, -1)
            jacobians = (field * prob.unsqueeze(2)).sum(-1).view(n, k, 2, 2)
        return Keypoints(points.to(content.dtype), None if jacobians is None else jacobians.to(content.dtype))

    # -- the motion --------------------------------------------------------------------------
    def keypoint_motion(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Frame codes ``[..., frame_code_dim]`` → each keypoint's displacement ``[..., K, 2]`` and
        the change of its local linear map ``[..., K, 2, 2]`` (None without Jacobians); zeros
        give no displacement and the identity."""
        k = self.config.keypoints
        raw = self.motion_head(motion).view(*motion.shape[:-1], k, -1)
        if not self.config.jacobians:
            return self.config.max_shift * torch.tanh(raw), None
        change, shift = bounded_affine(raw, self.config.max_linear, self.config.max_shift)
        return shift, change

    def motion_fields(self, content: torch.Tensor, motion: torch.Tensor, kp: Keypoints | None = None) -> MotionFields:
        """The flow, masks and occlusion that motion codes ``[N, T, frame_code_dim]`` make of content
        maps ``[N, *content_shape]`` (:class:`MotionFields`)."""
        self._check_content(content)
        self._check_motion(content, motion)
        return self._fields(content, motion, self.keypoints(content) if kp is None else kp)

    def _fields(self, content: torch.Tensor, motion: torch.Tensor, kp: Keypoints) -> MotionFields:
        n, t = motion.shape[:2]
        c, k = self.geometry.channels, self.config.keypoints
        h, w = self.geometry.height, self.geometry.width
        hs, ws = h // 2, w // 2
        shift, change = self.keypoint_motion(motion)  # [N, T, K, 2], [N, T, K, 2, 2]
        source = kp.points.unsqueeze(1).expand(n, t, k, 2)
        driving = source + shift
        if change is None:
            linear = torch.eye(2, device=motion.device, dtype=shift.dtype).expand(n, t, k, 2, 2)
        else:  # the change in the keypoint's own frame: J C J⁻¹ (its determinant is C's)
            jac = kp.jacobians.unsqueeze(1)
            linear = jac @ change @ inverse_2x2(jac)
        # Backward map of keypoint k: src(p) = s_k + B_k (p - d_k), about the moved point d_k.
        with torch.autocast(motion.device.type, enabled=False):
            half = self.half_grid.to(torch.float32)
            driving_, source_ = driving.reshape(n * t, k, 2).float(), source.reshape(n * t, k, 2).float()
            maps = backward_grids(half, driving_, linear.reshape(n * t, k, 2, 2).float(), source_ - driving_)
            grids = torch.cat([half.expand(n * t, 1, hs, ws, 2), maps], dim=1)  # [N*T, K+1, hs, ws, 2]
            heat = (gaussian_heatmaps(half, driving_, self.config.heatmap_variance)
                    - gaussian_heatmaps(half, source_, self.config.heatmap_variance))
        # The target at half resolution read along every frame's K + 1 maps in one call: the maps
        # stacked along the rows of one grid per target, no copy of the target per frame.
        small = F.avg_pool2d(content[:, :c], 2)
        views = F.grid_sample(
            small, grids.reshape(n, t * (k + 1) * hs, ws, 2).to(small.dtype),
            mode="bilinear", padding_mode="border", align_corners=False,
        ).view(n, c, t, k + 1, hs, ws).permute(0, 2, 3, 1, 4, 5).reshape(n * t, k + 1, c, hs, ws)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1).to(views.dtype)  # the background: none
        x = torch.cat([views, heat.unsqueeze(2)], dim=2).flatten(1, 2)
        top = self.motion_in(x)
        mid = F.interpolate(self.motion_down(top), scale_factor=2, mode="nearest")
        out = self.motion_out(self.motion_up(torch.cat([top, mid], dim=1)))
        masks = out[:, : k + 1].float().softmax(1)  # [N*T, K+1, hs, ws]
        with torch.autocast(motion.device.type, enabled=False):
            flow_half = (masks.unsqueeze(-1) * grids).sum(1)  # [N*T, hs, ws, 2]
            # Up-sample the displacement, not the flow: a zero displacement is the identity at full size too.
            moved = F.interpolate((flow_half - half).permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                  align_corners=False)
            flow = self.grid + moved.permute(0, 2, 3, 1)
        visible = F.interpolate(torch.sigmoid(out[:, k + 1 :].float()), size=(h, w), mode="bilinear",
                                align_corners=False)
        return MotionFields(
            driving=driving,
            flow=flow.view(n, t, h, w, 2),
            masks=masks.view(n, t, k + 1, hs, ws),
            visible=visible.view(n, t, 1, h, w),
        )

    # -- rendering ---------------------------------------------------------------------------
    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n = content.shape[0]
        self._check_content(content)
        if motion.shape != (n, self.frame_code_dim):
            raise ShapeError(
                f"keypoint_frame_decoder: expected motion [{n}, {self.frame_code_dim}], got {tuple(motion.shape)}"
            )
        return self._render_clip(content, motion.unsqueeze(1))[:, 0]

    def render_held(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """A clip per content map ``[N, *content_shape]`` held over the frames of ``motion``
        ``[N, T, frame_code_dim]``: ``[N, T, C, H, W]``; the keypoints and the target's features are
        computed once per content map."""
        self._check_content(content)
        self._check_motion(content, motion)
        return self._render_clip(content, motion)

    def _render_clip(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n, t = motion.shape[:2]
        c = self.geometry.channels
        h, w = self.geometry.height, self.geometry.width
        fields = self._fields(content, motion, self.keypoints(content))
        visible = fields.visible.transpose(1, 2)  # [N, 1, T, H, W]
        # Each target's features and image read along its T flows in one call (the flows stacked
        # along the rows), as in _fields.
        features = self.encoder(content)  # [N, width, H/2, W/2], once per target
        # The half-resolution flow, read back from the full one: the feature warp and the image warp agree.
        flow_half = F.avg_pool2d(fields.flow.reshape(n * t, h, w, 2).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        warped = F.grid_sample(features, flow_half.reshape(n, t * (h // 2), w // 2, 2).to(features.dtype),
                               mode="bilinear", padding_mode="border", align_corners=False)
        warped = warped.view(n, -1, t, h // 2, w // 2) * F.avg_pool3d(visible, (1, 2, 2)).to(warped.dtype)
        warped = warped.transpose(1, 2).reshape(n * t, -1, h // 2, w // 2)
        painted = F.interpolate(torch.tanh(self.inpaint(warped)), size=(h, w), mode="bilinear", align_corners=False)
        image = F.grid_sample(content[:, :c], fields.flow.reshape(n, t * h, w, 2).to(content.dtype), mode="bilinear",
                              padding_mode="border", align_corners=False).clamp(-1, 1).view(n, c, t, h, w)
        visible = visible.to(image.dtype)
        painted = painted.view(n, t, c, h, w).transpose(1, 2)
        return (visible * image + (1 - visible) * painted).transpose(1, 2)

    def _check_content(self, content: torch.Tensor) -> None:
        if tuple(content.shape[1:]) != self.content_shape:
            raise ShapeError(
                f"keypoint_frame_decoder: expected content [N, {', '.join(map(str, self.content_shape))}], "
                f"got {tuple(content.shape)}"
            )

    def _check_motion(self, content: torch.Tensor, motion: torch.Tensor) -> None:
        if motion.dim() != 3 or motion.shape[0] != content.shape[0] or motion.shape[2] != self.frame_code_dim:
            raise ShapeError(
                f"keypoint_frame_decoder: expected motion [{content.shape[0]}, T, {self.frame_code_dim}], "
                f"got {tuple(motion.shape)}"
            )
