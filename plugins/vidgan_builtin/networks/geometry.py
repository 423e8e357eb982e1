"""The geometry of part masks and their motions that the layered networks and the losses
training them share: pixel grids, a mask's centre and spread, its turn between frames, a
part's landing point. Losses and benchmarks import these from here; the private
:mod:`._affine`, where the decoders' affine maps are built, defines them.
"""

from __future__ import annotations

from ._affine import (
    ANGULAR_ORDERS,
    MIN_CONFIDENT_PIXELS,
    angular_moments,
    clearest_turn,
    landing,
    map_turn,
    mask_moments,
    phasor_change,
    pixel_grid,
)

__all__ = [
    "ANGULAR_ORDERS",
    "MIN_CONFIDENT_PIXELS",
    "angular_moments",
    "clearest_turn",
    "landing",
    "map_turn",
    "mask_moments",
    "phasor_change",
    "pixel_grid",
]
