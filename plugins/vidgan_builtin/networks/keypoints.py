"""E_M from keypoint trajectories: a clip → where its parts are in every frame → z_M.

Why beside the paper's ``conv3d_motion_encoder``. With the layered content path, the
motion code has one job: say how each part moves relative to the first frame. A 3D CNN
over the clip has to learn to find the object in every frame *and* to subtract positions,
from a training signal that reaches it through G_T and an affine read-out, which is slow to
learn on a small budget. Here the geometry is explicit, as in the keypoint detectors of
Monkey-Net and the First Order Motion Model:

1. a small 2D network reads each frame (with its change from the first frame) and gives
   ``keypoints`` heatmaps, each a distribution over the frame (spatial softmax);
2. each heatmap's moments give a part's centre μ_t and spread (log standard deviations
   and correlation) at frame t;
3. an MLP reads the trajectories, absolute and relative to frame 1, of every keypoint
   over the clip and gives the posterior over z_M (mean, log-variance). With
   ``absolute = false`` it reads only the changes since frame 1: the code then cannot
   depend on where in the frame the subject stands or how large it is.

Two consequences worth knowing: a displacement is a plain difference of two inputs of the
MLP (nothing to learn about where the object is, only which heatmap follows it), and the
clip's appearance reaches z_M only through ``keypoints × 5`` numbers per frame, a
structural barrier against content leaking into the motion code. The detector is learned
end to end through the posterior; a recipe may also guide it with ``keypoint_tracking``
(L_kp), which asks the first keypoints to follow the parts that a layered content encoder
finds in every frame.

Keypoint moments (centre, spread) cannot see a turn: a square turned in place keeps both.
With ``orientation = true`` the detector gives one more map, a per-pixel probability of
belonging to a moving object (trained by ``object_tracking``, L_obj, towards the objects
that L_seg's targets find), and the MLP also reads that map's angular moments per frame
(:func:`~.geometry.angular_moments`, orders 2–4: each order's strength and the turn since
frame 1 it shows). The map's shape, not its colours, is all that reaches z_M from it.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry, assert_video
from vidgan_kit.errors import VidganError
from vidgan_kit.interfaces import MotionEncoder, MotionPosterior

from .geometry import ANGULAR_ORDERS, angular_moments, mask_moments, pixel_grid, turn_since_first
from .blocks import NormName, check_sides_multiple_of_4, conv3x3_block

__all__ = ["KeypointMotionEncoder", "FEATURES_PER_KEYPOINT", "RELATIVE_FEATURES", "ORIENTATION_FEATURES"]

#: Per frame and keypoint: centre (2), log standard deviations (2), correlation (1), and the
#: centre's and log-deviations' change since frame 1 (2 + 2).
FEATURES_PER_KEYPOINT = 9
#: Of those, the changes since frame 1 (the last four): all the MLP reads with ``absolute = false``.
RELATIVE_FEATURES = 4
#: Per frame with ``orientation``: per angular order, the object map's moment strength and turn since frame 1.
ORIENTATION_FEATURES = 2 * len(ANGULAR_ORDERS)
#: Smallest standard deviation (normalised units; a pixel of a 64-pixel side is 0.03) before the log.
_MIN_STD = 1e-3


class KeypointMotionEncoder(MotionEncoder):
    """E_M: clip → keypoint heatmaps per frame → their trajectories → posterior over z_M."""

    class Config(ComponentConfig):
        keypoints: int = Field(4, ge=1, description="Heatmaps the detector gives per frame.")
        width: int = Field(32, ge=1, description="Width of the detector's convolutions.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution of the detector.")
        hidden: int = Field(256, ge=1, description="Width of the MLP that reads the trajectories.")
        motion_dim: int = Field(16, ge=1, description="Length of the clip-level motion code z_M.")
        logvar_limit: float = Field(
            10.0, gt=0, description="The log-variance is clamped to [-limit, limit] for numerical safety."
        )
        orientation: bool = Field(
            False,
            description="One more detector map, the moving objects (train it with object_tracking), whose angular"
            " moments per frame (strength and turn since frame 1, orders 2-4) the MLP reads beside the keypoints:"
            " keypoint centres and spreads do not change when a shape turns in place.",
        )
        absolute: bool = Field(
            True,
            description="The MLP reads each keypoint's centre and spread in every frame beside their changes since"
            " frame 1; false: the changes only, so z_M cannot tell where the subject stands or how large it is"
            " (nothing about a training subject's place to memorise).",
        )
        object_resolution: Literal["half", "full"] = Field(
            "full",
            description="With orientation, the object map's resolution: `half`, the detector's own (the keypoint"
            " heatmaps'); `full`, the frame's (the half-resolution logits upsampled and refined by two small"
            " convolutions of the frame): a half-resolution map has a quarter of the pixels to show a shape's corners.",
        )

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        check_sides_multiple_of_4(geometry, "keypoint_motion_encoder")
        self.config = config
        self.geometry = geometry
        self.motion_dim = config.motion_dim
        c, w = geometry.channels, config.width
        # Heatmaps at half resolution: the moments are sub-pixel anyway, and the detector
        # runs on every frame of every clip.
        self.detector = nn.Sequential(
            conv3x3_block(2 * c, w, "none", stride=2),
            conv3x3_block(w, w, config.norm),
            conv3x3_block(w, w, config.norm, stride=2),
            conv3x3_block(w, w, config.norm),
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv3x3_block(w, w, config.norm),
            nn.Conv2d(w, config.keypoints + int(config.orientation), 3, 1, 1),
        )
        self.register_buffer("grid", pixel_grid(geometry.height // 2, geometry.width // 2), persistent=False)
        self.object_refine: nn.Module | None = None
        if config.orientation:
            full = config.object_resolution == "full"
            if full:
                self.object_refine = nn.Sequential(conv3x3_block(2 * c, 8, "none"), nn.Conv2d(8, 1, 3, 1, 1))
            side = (geometry.height, geometry.width) if full else (geometry.height // 2, geometry.width // 2)
            self.register_buffer("object_grid", pixel_grid(*side), persistent=False)
        per_keypoint = FEATURES_PER_KEYPOINT if config.absolute else RELATIVE_FEATURES
        per_frame = per_keypoint * config.keypoints + ORIENTATION_FEATURES * int(config.orientation)
        inputs = per_frame * geometry.frames
        self.head = nn.Sequential(
            nn.Linear(inputs, config.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(config.hidden, config.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(config.hidden, 2 * config.motion_dim),
        )

    def _detect(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The detector's logits per frame: keypoints ``[B, T, K, H/2, W/2]`` and, with
        ``orientation``, the object map's ``[B, T, h, w]`` (half or full resolution)."""
        b, t = video.shape[:2]
        change = video - video[:, :1]  # what moved since frame 1 (zero at frame 1)
        inputs = torch.cat([video, change], dim=2).flatten(0, 1)
        logits = self.detector(inputs)
        k = self.config.keypoints
        keypoints = logits[:, :k].view(b, t, k, *logits.shape[-2:])
        if not self.config.orientation:
            return keypoints, None
        objects = logits[:, k:]
        if self.object_refine is not None:
            objects = F.interpolate(objects, scale_factor=2.0, mode="bilinear", align_corners=False)
            objects = objects + self.object_refine(inputs)
        return keypoints, objects.view(b, t, *objects.shape[-2:])

    @staticmethod
    def _heatmaps_of(logits: torch.Tensor) -> torch.Tensor:
        return logits.flatten(-2).softmax(-1).view(logits.shape)

    def heatmaps(self, video: torch.Tensor) -> torch.Tensor:
        """Each keypoint's distribution over the (half-resolution) frame: ``[B, T, K, H/2, W/2]``."""
        return self._heatmaps_of(self._detect(video)[0])

    def object_maps(self, video: torch.Tensor) -> torch.Tensor:
        """With ``orientation``: each pixel's probability of belonging to a moving object,
        ``[B, T, h, w]`` at ``object_resolution`` (what ``object_tracking`` trains)."""
        if not self.config.orientation:
            raise VidganError("keypoint_motion_encoder has no object map: set orientation = true")
        return torch.sigmoid(self._detect(video)[1].float())

    def moments(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each keypoint's centre ``[B, T, K, 2]`` and covariance ``[B, T, K, 2, 2]`` per frame
        (normalised (x, y), the frame spans [-1, 1]; float32)."""
        return mask_moments(self.heatmaps(video).float(), self.grid)

    def trajectories(self, video: torch.Tensor) -> torch.Tensor:
        """Per frame and keypoint, the keypoint features the MLP reads: ``[B, T, K, FEATURES_PER_KEYPOINT]``."""
        return self._keypoint_features(self._heatmaps_of(self._detect(video)[0])).to(video.dtype)

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """Per frame, everything the MLP reads: ``[B, T, K * FEATURES_PER_KEYPOINT]`` (``K *
        RELATIVE_FEATURES``, the changes since frame 1, with ``absolute = false``; +
        ``ORIENTATION_FEATURES`` with ``orientation``: per angular order, the object map's
        moment strength, then per order its turn since frame 1 in radians)."""
        keypoints, objects = self._detect(video)
        per_keypoint = self._keypoint_features(self._heatmaps_of(keypoints))
        if not self.config.absolute:
            per_keypoint = per_keypoint[..., -RELATIVE_FEATURES:]
        features = [per_keypoint.flatten(2)]
        if objects is not None:
            phasors, strength = angular_moments(torch.sigmoid(objects.float()), self.object_grid)
            # The turn is read, not learnt through: the angles of faint moments have unstable
            # gradients (the map has its own target, object_tracking; the strengths pass).
            features += [strength, turn_since_first(phasors.detach())]
        return torch.cat(features, dim=-1).to(video.dtype)

    def _keypoint_features(self, heatmaps: torch.Tensor) -> torch.Tensor:
        centre, cov = mask_moments(heatmaps.float(), self.grid)
        var = cov.diagonal(dim1=-2, dim2=-1)
        std = var.clamp_min(_MIN_STD**2).sqrt()
        log_std = std.log()
        corr = (cov[..., 0, 1] / (std[..., 0] * std[..., 1])).clamp(-1, 1).unsqueeze(-1)
        return torch.cat([centre, log_std, corr, centre - centre[:, :1], log_std - log_std[:, :1]], dim=-1)

    def forward(self, video: torch.Tensor) -> MotionPosterior:
        assert_video(video, "keypoint_motion_encoder input", geometry=self.geometry)
        stats = self.head(self.features(video).flatten(1))
        mean, logvar = stats.chunk(2, dim=1)
        lim = self.config.logvar_limit
        return MotionPosterior(mean, logvar.clamp(-lim, lim))
