"""Registers the generic networks: encoders, temporal generators, a frame decoder and discriminators."""

from vidgan_kit import Registrar, hookimpl

from .basis import BasisTemporalGenerator
from .discriminators import ConditionalImageDiscriminator, Conv3dVideoDiscriminator
from .encoders import Conv3dMotionEncoder, ConvContentEncoder
from .generators import ConvFrameDecoder, LSTMTemporalGenerator
from .keypoints import KeypointMotionEncoder


@hookimpl
def vidgan_register_components(registry: Registrar) -> None:
    registry.add(
        "encoder",
        "conv_content_encoder",
        ConvContentEncoder,
        config=ConvContentEncoder.Config,
        summary="E_C: per-frame DCGAN conv encoder → scale-normalised content vector z_c.",
    )
    registry.add(
        "encoder",
        "conv3d_motion_encoder",
        Conv3dMotionEncoder,
        config=Conv3dMotionEncoder.Config,
        summary="E_M: 3D conv encoder of a clip → Gaussian posterior over z_M.",
    )
    registry.add(
        "encoder",
        "keypoint_motion_encoder",
        KeypointMotionEncoder,
        config=KeypointMotionEncoder.Config,
        summary="E_M: per-frame keypoint heatmaps → their trajectories (centres, spreads) → posterior over z_M.",
    )
    registry.add(
        "temporal_generator",
        "lstm_temporal_generator",
        LSTMTemporalGenerator,
        config=LSTMTemporalGenerator.Config,
        summary="G_T: LSTM turning z_M into one motion code per frame (z_M fed at every step).",
    )
    registry.add(
        "temporal_generator",
        "basis_temporal_generator",
        BasisTemporalGenerator,
        config=BasisTemporalGenerator.Config,
        summary="G_T: z_M → per-frame codes as smooth curves on a fixed temporal basis (DCT or Legendre).",
    )
    registry.add(
        "decoder",
        "conv_frame_decoder",
        ConvFrameDecoder,
        config=ConvFrameDecoder.Config,
        summary="G_I: DCGAN generator of a frame from concatenated content and frame motion codes.",
    )
    registry.add(
        "discriminator",
        "conditional_image_discriminator",
        ConditionalImageDiscriminator,
        config=ConditionalImageDiscriminator.Config,
        summary="D_I: conv discriminator of a channel-concatenated (condition, frame) pair.",
    )
    registry.add(
        "discriminator",
        "conv3d_video_discriminator",
        Conv3dVideoDiscriminator,
        config=Conv3dVideoDiscriminator.Config,
        summary="D_V: 3D conv discriminator of a whole clip.",
    )
