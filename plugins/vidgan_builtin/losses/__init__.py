"""Built-in losses of Dual-MTGAN, and the shared adversarial objectives.

Registered by :mod:`vidgan_builtin.losses.plugin` (kind ``loss``): ``content_consistency``
(Eq. 1), ``kl_divergence`` (Eq. 2), ``reconstruction`` (Eq. 4), ``image_adversarial``
(Eq. 5), ``video_adversarial`` (Eq. 6), ``motion_consistency`` (Eq. 7), and for layered
content paths ``motion_segmentation``, ``part_trajectory``, ``background_plate``,
``keypoint_tracking`` and ``object_tracking`` (not in the paper). Weights and
schedules are the recipe's (``[losses.NAME] weight/start/ramp``), never the loss's.
"""

from .adversarial import ImageAdversarialLoss, VideoAdversarialLoss
from .layered import BackgroundPlateLoss, MotionSegmentationLoss, PartTrajectoryLoss, moving_pixels
from .objectives import GanObjective, frozen_call, gan_objective
from .terms import ContentConsistencyLoss, KLDivergenceLoss, MotionConsistencyLoss, ReconstructionLoss, kl_per_dim

__all__ = [
    "GanObjective",
    "gan_objective",
    "frozen_call",
    "kl_per_dim",
    "ContentConsistencyLoss",
    "KLDivergenceLoss",
    "ReconstructionLoss",
    "MotionConsistencyLoss",
    "ImageAdversarialLoss",
    "VideoAdversarialLoss",
    "MotionSegmentationLoss",
    "PartTrajectoryLoss",
    "BackgroundPlateLoss",
    "moving_pixels",
]
