"""Registers the Dual-MTGAN family: the ``dual_mtgan`` assembly, its spatial and layered content
paths and the losses written for them. Announced as the ``dual_mtgan`` entry point."""

from vidgan_kit import Registrar, hookimpl

from .assembly import DualMTGAN, DualMTGANConfig
from .keypoint_decoder import KeypointFrameDecoder
from .keypoint_losses import KeypointEquivarianceLoss
from .layered_encoder import LayeredContentEncoder
from .layered_losses import (
    BackgroundPlateLoss,
    KeypointTrackingLoss,
    MotionSegmentationLoss,
    ObjectTrackingLoss,
    PartTrajectoryLoss,
)
from .losses import ContentConsistencyLoss, MotionConsistencyLoss
from .spatial_encoder import SpatialContentEncoder
from .sprite_decoder import SpriteFrameDecoder
from .warp_decoder import WarpFrameDecoder


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "model",
        "dual_mtgan",
        DualMTGAN,
        config=DualMTGANConfig,
        summary="Dual-MTGAN: E_C, E_M, G_T, G_I with D_I and D_V; deterministic transfer and stochastic sampling.",
    )
    registry.add(
        "encoder",
        "spatial_content_encoder",
        SpatialContentEncoder,
        config=SpatialContentEncoder.Config,
        summary="E_C: content map = the frame itself + conv features (for warp_frame_decoder).",
    )
    registry.add(
        "encoder",
        "layered_content_encoder",
        LayeredContentEncoder,
        config=LayeredContentEncoder.Config,
        summary="E_C: content map = the frame + a background plate + part masks (for sprite_frame_decoder).",
    )
    registry.add(
        "decoder",
        "warp_frame_decoder",
        WarpFrameDecoder,
        config=WarpFrameDecoder.Config,
        summary="G_I: moves parts of the content's image by per-part affine warps (FOMM-style), fills occlusions.",
    )
    registry.add(
        "decoder",
        "keypoint_frame_decoder",
        KeypointFrameDecoder,
        config=KeypointFrameDecoder.Config,
        summary="G_I: target keypoints moved by the motion code, a dense motion network, warped features inpainted.",
    )
    registry.add(
        "decoder",
        "sprite_frame_decoder",
        SpriteFrameDecoder,
        config=SpriteFrameDecoder.Config,
        summary="G_I: moves each part of a layered content map by its own affine transform over the background.",
    )
    registry.add(
        "loss",
        "content_consistency",
        ContentConsistencyLoss,
        config=ContentConsistencyLoss.Config,
        summary="L_C (Eq. 1): L1 between content codes of consecutive frames.",
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
        "keypoint_equivariance",
        KeypointEquivarianceLoss,
        config=KeypointEquivarianceLoss.Config,
        summary="L_eq (not in the paper): keypoints of a randomly warped frame are the warped keypoints of the frame.",
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
