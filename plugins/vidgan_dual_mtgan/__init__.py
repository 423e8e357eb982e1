"""The Dual-MTGAN model family (Yang, Wang & Fuh): its assembly, content paths and losses.

A plugin package like any third party's: :mod:`vidgan_dual_mtgan.plugin` is announced as
the ``dual_mtgan`` entry point and registers these names. The generic networks and losses
its recipes also use (convolutional encoders, temporal generators, discriminators, the KL,
reconstruction and adversarial terms) come from ``vidgan_builtin``; this package imports
only its public modules, and ``vidgan_builtin`` never imports this one.

=============  =============================  ==========================================
kind           name                           module
=============  =============================  ==========================================
model          ``dual_mtgan``                 :mod:`~vidgan_dual_mtgan.assembly`
encoder        ``spatial_content_encoder``    :mod:`~vidgan_dual_mtgan.spatial_encoder`
decoder        ``warp_frame_decoder``         :mod:`~vidgan_dual_mtgan.warp_decoder`
decoder        ``keypoint_frame_decoder``     :mod:`~vidgan_dual_mtgan.keypoint_decoder`
encoder        ``layered_content_encoder``    :mod:`~vidgan_dual_mtgan.layered_encoder`
decoder        ``sprite_frame_decoder``       :mod:`~vidgan_dual_mtgan.sprite_decoder`
loss           ``content_consistency``        :mod:`~vidgan_dual_mtgan.losses` (L_C, Eq. 1)
loss           ``motion_consistency``         :mod:`~vidgan_dual_mtgan.losses` (L_M, Eq. 7)
loss           ``motion_segmentation``        :mod:`~vidgan_dual_mtgan.layered_losses`
loss           ``part_trajectory``            :mod:`~vidgan_dual_mtgan.layered_losses`
loss           ``background_plate``           :mod:`~vidgan_dual_mtgan.layered_losses`
loss           ``keypoint_tracking``          :mod:`~vidgan_dual_mtgan.layered_losses`
loss           ``object_tracking``            :mod:`~vidgan_dual_mtgan.layered_losses`
loss           ``keypoint_equivariance``      :mod:`~vidgan_dual_mtgan.keypoint_losses`
=============  =============================  ==========================================
"""

from .assembly import DualMTGAN, DualMTGANConfig

__all__ = ["DualMTGAN", "DualMTGANConfig"]
