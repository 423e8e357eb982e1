"""Registers the built-in losses: Dual-MTGAN's Eq. 1, 2, 4, 5, 6 and 7, and the layered path's five."""

from vidgan_kit import Registrar, hookimpl

from .adversarial import ImageAdversarialLoss, VideoAdversarialLoss
from .layered import (
    BackgroundPlateLoss,
    KeypointTrackingLoss,
    MotionSegmentationLoss,
    ObjectTrackingLoss,
    PartTrajectoryLoss,
)
from .terms import (
    ContentConsistencyLoss,
    KLDivergenceLoss,
    MotionConsistencyLoss,
    ReconstructionLoss,
)


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "loss",
        "content_consistency",
        ContentConsistencyLoss,
        config=ContentConsistencyLoss.Config,
        summary="L_C (Eq. 1): L1 between content codes of consecutive frames.",
    )
    registry.add(
        "loss",
        "kl_divergence",
        KLDivergenceLoss,
        config=KLDivergenceLoss.Config,
        summary="L_KL (Eq. 2): KL of the motion posterior to N(0, I), summed over dims, batch mean.",
    )
    registry.add(
        "loss",
        "reconstruction",
        ReconstructionLoss,
        config=ReconstructionLoss.Config,
        summary="L_rec (Eq. 4): per-pixel L1 (or MSE) between the reconstruction and the clip.",
    )
    registry.add(
        "loss",
        "motion_consistency",
        MotionConsistencyLoss,
        config=MotionConsistencyLoss.Config,
        summary="L_M (Eq. 7): E_M of the reconstruction and the transfer must give back z_M.",
    )
    registry.add(
        "loss",
        "motion_segmentation",
        MotionSegmentationLoss,
        config=MotionSegmentationLoss.Config,
        summary="L_seg (not in the paper): every frame's part masks cover the pixels that move in the clip.",
    )
    registry.add(
        "loss",
        "part_trajectory",
        PartTrajectoryLoss,
        config=PartTrajectoryLoss.Config,
        summary="L_traj (not in the paper): moved parts land on the parts' centroids and spreads in each frame.",
    )
    registry.add(
        "loss",
        "background_plate",
        BackgroundPlateLoss,
        config=BackgroundPlateLoss.Config,
        summary="L_bg (not in the paper): where something moves, the background plate shows the clip's median.",
    )
    registry.add(
        "loss",
        "keypoint_tracking",
        KeypointTrackingLoss,
        config=KeypointTrackingLoss.Config,
        summary="L_kp (not in the paper): E_M's first keypoints follow the parts E_C finds in each frame.",
    )
    registry.add(
        "loss",
        "object_tracking",
        ObjectTrackingLoss,
        config=ObjectTrackingLoss.Config,
        summary="L_obj (not in the paper): E_M's object map covers the moving objects (it reads their turn off it).",
    )
    registry.add(
        "loss",
        "image_adversarial",
        ImageAdversarialLoss,
        config=ImageAdversarialLoss.Config,
        summary="L_GAN^I (Eq. 5): conditional image-pair GAN loss with mismatch pairs (D and G phases).",
    )
    registry.add(
        "loss",
        "video_adversarial",
        VideoAdversarialLoss,
        config=VideoAdversarialLoss.Config,
        summary="L_GAN^V (Eq. 6): whole-clip GAN loss on reconstruction, transfer and sample (D and G phases).",
    )
