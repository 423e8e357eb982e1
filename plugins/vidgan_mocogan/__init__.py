"""The MoCoGAN family (Tulyakov et al., CVPR 2018) as its own plugin package.

A clip is one content code z_C, held for every frame, and a motion trajectory z_M^1..T from a
recurrent network R_M driven by per-frame noise; an image generator G_I draws each frame from
(z_C, z_M^t); an image discriminator D_I judges single frames and a video discriminator D_V
whole clips. With ``content = "image"`` z_C is the encoding of a given image (the paper's
image-to-video variant). The package holds what is MoCoGAN's own and takes the rest (G_I,
D_V, the content encoder, the video and reconstruction losses, the data sets) from
``vidgan_builtin``:

==================  ========================  =========================================
kind                name                      what
==================  ========================  =========================================
model               ``mocogan``               :class:`MoCoGAN`
temporal_generator  ``gru_motion_generator``  :class:`GRUMotionGenerator` (R_M)
discriminator       ``frame_discriminator``   :class:`FrameDiscriminator` (D_I)
loss                ``frame_adversarial``     :class:`FrameAdversarialLoss`
==================  ========================  =========================================

Registered by :mod:`vidgan_mocogan.plugin` (the ``mocogan`` entry point). It imports only
public modules of ``vidgan_builtin`` and nothing of another family.
"""

from .assembly import MoCoGAN, MoCoGANConfig
from .losses import FrameAdversarialLoss
from .networks import FrameDiscriminator, GRUMotionGenerator

__all__ = ["MoCoGAN", "MoCoGANConfig", "GRUMotionGenerator", "FrameDiscriminator", "FrameAdversarialLoss"]
