"""The equivariance constraint on a keypoint decoder's detector (``keypoint_frame_decoder``).

Not in the paper; after the First Order Motion Model. Keypoints learned from reconstruction
alone can sit anywhere that helps the warp, and nothing asks a point to stay on the same
part of the body when the body moves. Equivariance does: warp a real frame x by a random
smooth map W (an affine map plus a thin-plate spline), and the keypoints found in the
warped frame, carried back by W, must be the keypoints of x; each Jacobian likewise (the
warped frame's Jacobian times W's derivative at the point).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from vidgan_kit import ComponentConfig
from vidgan_kit.interfaces import LossContext
from vidgan_builtin.losses.objectives import ConfiguredLoss, require_method, require_output, require_slot
from vidgan_builtin.networks.geometry import pixel_grid

__all__ = ["KeypointEquivarianceLoss", "RandomWarp"]


class RandomWarp:
    """A random smooth backward map ``W(p) = A p + e + Σ_i w_i U(|p - c_i|)`` per image, with
    ``U(r) = r² log r²`` (thin-plate spline) about a ``control``×``control`` grid of points
    ``c_i`` spanning the frame. ``A - I``, ``e`` and ``w_i`` are Gaussian with the given
    deviations. The warped frame shows at p what the frame shows at W(p)."""

    def __init__(
        self, linear: torch.Tensor, shift: torch.Tensor, weights: torch.Tensor, control: torch.Tensor
    ) -> None:
        self.linear, self.shift, self.weights, self.control = linear, shift, weights, control

    @classmethod
    def draw(
        cls, n: int, sigma_linear: float, sigma_shift: float, sigma_tps: float, control_points: int,
        device: torch.device,
    ) -> RandomWarp:
        eye = torch.eye(2, device=device)
        linear = eye + sigma_linear * torch.randn(n, 2, 2, device=device)
        shift = sigma_shift * torch.randn(n, 2, device=device)
        axis = torch.linspace(-1, 1, control_points, device=device)
        control = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)
        weights = sigma_tps * torch.randn(n, control.shape[0], 2, device=device)
        return cls(linear, shift, weights, control)

    def points(self, p: torch.Tensor) -> torch.Tensor:
        """W(p) for points ``[N, ..., 2]`` (one map per leading index)."""
        flat = p.reshape(p.shape[0], -1, 2)
        affine = flat @ self.linear.transpose(1, 2) + self.shift.unsqueeze(1)
        diff = flat.unsqueeze(2) - self.control  # [N, P, I, 2]
        r2 = diff.square().sum(-1)
        u = r2 * torch.log(r2.clamp_min(1e-9))
        return (affine + u @ self.weights).view(p.shape)

    def derivative(self, p: torch.Tensor) -> torch.Tensor:
        """dW/dp at points ``[N, K, 2]``: ``[N, K, 2, 2]`` (row: output axis, column: input axis)."""
        diff = p.unsqueeze(2) - self.control  # [N, K, I, 2]
        r2 = diff.square().sum(-1, keepdim=True)
        grad_u = 2 * diff * (torch.log(r2.clamp_min(1e-9)) + 1)  # dU/dp, [N, K, I, 2]
        bend = torch.einsum("nio,nkid->nkod", self.weights, grad_u)
        return self.linear.unsqueeze(1) + bend

    def frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames`` [N, C, H, W] warped: each output pixel p reads the frame at W(p)."""
        n, _, h, w = frames.shape
        grid = pixel_grid(h, w).to(frames.device).expand(n, h, w, 2)
        return F.grid_sample(frames, self.points(grid).to(frames.dtype), mode="bilinear", padding_mode="border",
                             align_corners=False)


class KeypointEquivarianceLoss(ConfiguredLoss):
    """L_eq: the keypoints of a randomly warped real frame, carried back by the warp, are the
    frame's keypoints: ``|k(x) - W(k(W x))|``, and with Jacobians ``|J(x) - W'(k(W x)) J(W x)|``
    (L1, mean over frames, keypoints and coordinates). ``frames_per_clip`` frames of each clip
    of the batch, chosen at random; the frames' content maps are the model's own
    (``content_codes``), the warped frames' are E_C's. Needs a decoder with ``keypoints()``
    (``keypoint_frame_decoder``); both detections and E_C learn from it.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        sigma_linear: float = Field(0.05, ge=0, description="Deviation of the warp's linear part from I (each entry).")
        sigma_shift: float = Field(0.05, ge=0, description="Deviation of the warp's shift, in normalised units.")
        sigma_tps: float = Field(0.005, ge=0, description="Deviation of the thin-plate spline's weights (0: affine).")
        control_points: int = Field(5, ge=2, description="Thin-plate control points per side of the frame.")
        frames_per_clip: int = Field(1, ge=1, description="Frames of each clip scored per step.")
        jacobian_weight: float = Field(1.0, ge=0, description="Weight of the Jacobian term beside the points'.")

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "keypoint_equivariance"
        video = require_output(ctx, "video", name)
        codes = require_output(ctx, "content_codes", name)
        encoder = require_slot(ctx, "content_encoder", name)
        detect = require_method(require_slot(ctx, "decoder", name), "keypoints", name, "decoder",
                                "keypoint_frame_decoder")
        cfg = self.config
        b, t = video.shape[:2]
        clips = torch.arange(b, device=video.device).repeat_interleave(cfg.frames_per_clip)
        at = torch.randint(t, (clips.numel(),), device=video.device)
        frames, content = video[clips, at].detach(), codes[clips, at]
        warp = RandomWarp.draw(frames.shape[0], cfg.sigma_linear, cfg.sigma_shift, cfg.sigma_tps,
                               cfg.control_points, frames.device)
        found = detect(content)
        moved = detect(encoder(warp.frames(frames)))
        with torch.autocast(video.device.type, enabled=False):
            back = warp.points(moved.points.float())
            loss = (found.points.float() - back).abs().mean()
            if found.jacobians is not None and cfg.jacobian_weight > 0:
                carried = warp.derivative(moved.points.float()) @ moved.jacobians.float()
                loss = loss + cfg.jacobian_weight * (found.jacobians.float() - carried).abs().mean()
        return loss
