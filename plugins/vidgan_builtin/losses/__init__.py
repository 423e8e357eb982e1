"""Losses any model can use, and the shared adversarial objectives.

Registered by :mod:`vidgan_builtin.losses.plugin` (kind ``loss``): ``kl_divergence``
(Eq. 2 of Dual-MTGAN), ``reconstruction`` (Eq. 4), ``image_adversarial`` (Eq. 5) and
``video_adversarial`` (Eq. 6). A model family's own terms live in its package (Dual-MTGAN's
L_C, L_M and layered-path terms in ``vidgan_dual_mtgan``). Weights and schedules are the
recipe's (``[losses.NAME] weight/start/ramp``), never the loss's.
"""

from .adversarial import ImageAdversarialLoss, VideoAdversarialLoss
from .objectives import ConfiguredLoss, GanObjective, frozen_call, gan_objective, require_method, require_output, require_slot
from .terms import KLDivergenceLoss, ReconstructionLoss, distance, kl_per_dim

__all__ = [
    "GanObjective",
    "gan_objective",
    "frozen_call",
    "ConfiguredLoss",
    "require_output",
    "require_slot",
    "require_method",
    "distance",
    "kl_per_dim",
    "KLDivergenceLoss",
    "ReconstructionLoss",
    "ImageAdversarialLoss",
    "VideoAdversarialLoss",
]
