"""Generic networks for the slots of a video GAN (E_C, E_M, G_T, G_I, D_I, D_V), DCGAN-style.

Registered by :mod:`vidgan_builtin.networks.plugin` under these stable names:

==================  =================================  ===================================
kind                name                               class
==================  =================================  ===================================
encoder             ``conv_content_encoder``           :class:`ConvContentEncoder`
encoder             ``conv3d_motion_encoder``          :class:`Conv3dMotionEncoder`
encoder             ``keypoint_motion_encoder``        :class:`KeypointMotionEncoder`
temporal_generator  ``lstm_temporal_generator``        :class:`LSTMTemporalGenerator`
temporal_generator  ``basis_temporal_generator``       :class:`BasisTemporalGenerator`
decoder             ``conv_frame_decoder``             :class:`ConvFrameDecoder`
discriminator       ``conditional_image_discriminator``  :class:`ConditionalImageDiscriminator`
discriminator       ``conv3d_video_discriminator``     :class:`Conv3dVideoDiscriminator`
==================  =================================  ===================================
"""

from .basis import BasisTemporalGenerator
from .discriminators import ConditionalImageDiscriminator, Conv3dVideoDiscriminator
from .encoders import Conv3dMotionEncoder, ConvContentEncoder
from .generators import ConvFrameDecoder, LSTMTemporalGenerator
from .keypoints import KeypointMotionEncoder

__all__ = [
    "ConvContentEncoder",
    "Conv3dMotionEncoder",
    "KeypointMotionEncoder",
    "LSTMTemporalGenerator",
    "BasisTemporalGenerator",
    "ConvFrameDecoder",
    "ConditionalImageDiscriminator",
    "Conv3dVideoDiscriminator",
]
