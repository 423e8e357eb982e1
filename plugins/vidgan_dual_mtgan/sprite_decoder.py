"""A layered content path: E_C splits the target image into moving parts and a background,
G_I moves each part by its own affine transform and composites the layers.

Why beside ``warp_frame_decoder``. That decoder decides per output frame, with
convolutions over 3·B·T frames, which pixels follow which transform: costly on a CPU and
slow to learn. Here everything that depends on the content alone is computed once per
image, in the content encoder:

- ``parts + 1`` soft masks that split the image into parts and a background (softmax over
  a map of logits), and
- a background plate: the image with its parts painted out (what a moving part uncovers).

The decoder then only resamples: per frame and part k, the motion code gives an affine map
``src(p) = a_k + A_k (p - a_k) + e_k`` about the part's anchor ``a_k``, the centroid of
its mask (so the same motion moves an object about *its own* centre, wherever it is in
the image); the part's pixels and its mask are sampled along that map and laid over the
background. A frame costs a few ``grid_sample`` calls and no convolution.

Properties worth knowing:

- a zero motion code is the identity transform (the read-out has no bias): with a temporal
  generator whose first code is zero (``lstm_temporal_generator``'s
  ``relative_to_first``) the first frame is the target image, as in the data;
- appearance cannot travel through the motion path: the motion code reaches nothing but
  the transforms' six numbers per part (a structural barrier against content leaking
  into z_M);
- the content code is a map that changes when the object moves, so the content
  consistency loss L_C, which asks all frames' codes to agree, does not apply to it
  (the recipes that use this path leave L_C out; see the Dual-MTGAN docs page).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import FrameDecoder
from vidgan_builtin.networks.geometry import bounded_affine, mask_moments, pixel_grid, similarity_affine, stacked_grids
from vidgan_builtin.networks.sampling import grid_sample_bilinear

from .compositing import composite
from .layered_encoder import layer_masks

__all__ = ["SpriteFrameDecoder"]


class SpriteFrameDecoder(FrameDecoder):
    """G_I: (layered content map, frame motion code) → frame, by moving each part's layer.

    Needs the content map of ``layered_content_encoder`` (image, background plate, mask
    logits); ``parts`` must match the encoder's. See the module's docstring for the model.
    """

    class Config(ComponentConfig):
        linear: Literal["bounded", "similarity"] = Field(
            "bounded",
            description="Form of each part's linear map A_k: `bounded` (each entry of A_k - I within max_linear:"
            " scale, turn and shear, turns of at most 30° at 0.5) or `similarity` (a scaled rotation: any angle,"
            " scale within exp(±max_log_scale), no shear).",
        )
        max_linear: float = Field(
            0.5, gt=0, description="Bound on each entry of A_k - I (tanh) with linear = bounded."
        )
        max_log_scale: float = Field(
            1.0, gt=0, description="Bound on a part's log scale (tanh) with linear = similarity."
        )
        max_shift: float = Field(
            2.0, gt=0, description="Bound on the shift e_k (tanh), in normalised units (the frame spans 2)."
        )
        motion_init_std: float = Field(
            0.0,
            ge=0,
            description="Standard deviation of the motion read-out's initial weights. 0: zeros, every frame starts"
            " as the identity (the static baseline). > 0: small random maps (a zero code stays the identity), so"
            " that every read-out row passes the motion codes a gradient from the first step.",
        )

    def __init__(
        self,
        config: Config,
        *,
        geometry: VideoGeometry,
        content_shape: tuple[int, ...],
        frame_code_dim: int,
        **wiring: Any,
    ) -> None:
        super().__init__()
        c = geometry.channels
        expected = (geometry.height, geometry.width)
        if len(content_shape) != 3 or tuple(content_shape[1:]) != expected or content_shape[0] < 2 * c + 2:
            raise ShapeError(
                f"sprite_frame_decoder needs a layered content map [{2 * c} + parts + 1, {expected[0]}, {expected[1]}]"
                f" (image, background, mask logits: layered_content_encoder); got content_shape {tuple(content_shape)}"
            )
        self.config = config
        self.geometry = geometry
        self.content_shape = tuple(content_shape)
        self.frame_code_dim = frame_code_dim
        self.parts = content_shape[0] - 2 * c - 1
        # No bias: a zero motion code is the identity, whatever the training did.
        self.motion_head = nn.Linear(frame_code_dim, 6 * self.parts, bias=False)
        if config.motion_init_std > 0:
            nn.init.normal_(self.motion_head.weight, std=config.motion_init_std)
        else:
            nn.init.zeros_(self.motion_head.weight)  # identity at the start: the static baseline
        self.register_buffer("identity_grid", pixel_grid(*expected), persistent=False)

    def layers(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, background layer, part masks ``[N, parts, H, W]``, soft-edge residual) of a content map.

        The residual is what compositing the unmoved layers misses where masks are soft,
        ``m (1 - m) (image - plate)`` per pixel; adding it back makes a zero motion give
        the image exactly (and costs nothing where the masks are 0 or 1).
        """
        c = self.geometry.channels
        image, plate = content[:, :c], content[:, c : 2 * c]
        masks = layer_masks(content, c)
        parts = 1 - masks[:, :1]
        background = (1 - parts) * image + parts * plate  # the image with its parts painted out
        return image, background, masks[:, 1:], parts * (1 - parts) * (image - plate)

    def anchors(self, masks: torch.Tensor) -> torch.Tensor:
        """Centroid of each part's mask, ``[N, parts, 2]`` in normalised (x, y)."""
        return mask_moments(masks, self.identity_grid)[0]

    def part_maps(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The backward maps that motion codes ``[..., frame_code_dim]`` give each part: linear
        parts ``A`` ``[..., parts, 2, 2]`` and shifts ``e`` ``[..., parts, 2]``."""
        raw = self.motion_head(motion).view(*motion.shape[:-1], self.parts, 6)
        if self.config.linear == "similarity":
            return similarity_affine(raw, self.config.max_log_scale, self.config.max_shift)
        return bounded_affine(raw, self.config.max_linear, self.config.max_shift)

    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n = content.shape[0]
        self._check_content(content)
        if motion.shape != (n, self.frame_code_dim):
            raise ShapeError(f"sprite_frame_decoder: expected motion [{n}, {self.frame_code_dim}], got {tuple(motion.shape)}")
        return self._compose_clip(content, *self.part_maps(motion.unsqueeze(1)))[:, 0]

    def render_held(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """A clip per content map ``[N, *content_shape]`` held over the frames of ``motion``
        ``[N, T, frame_code_dim]``: ``[N, T, C, H, W]``, the layers and anchors computed once per
        content map instead of once per frame."""
        self._check_content(content)
        if motion.dim() != 3 or motion.shape[0] != content.shape[0] or motion.shape[2] != self.frame_code_dim:
            raise ShapeError(
                f"sprite_frame_decoder: expected motion [{content.shape[0]}, T, {self.frame_code_dim}], "
                f"got {tuple(motion.shape)}"
            )
        return self._compose_clip(content, *self.part_maps(motion))

    def compose(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """The frame of a content map ``[N, *content_shape]`` with each part moved by the backward
        map ``src(p) = a + A (p - a) + e`` about its anchor: ``linear`` A [N, parts, 2, 2],
        ``shift`` e [N, parts, 2]. ``forward`` is this on the motion code's maps; benchmarks call
        it with known maps (``benchmarks/transfer_ceiling.py``)."""
        return self._compose_clip(content, linear.unsqueeze(1), shift.unsqueeze(1))[:, 0]

    def part_anchors(self, content: torch.Tensor) -> torch.Tensor:
        """Each part's anchor in a content map ``[N, *content_shape]``: ``[N, parts, 2]``, the
        points the maps of :meth:`part_maps` turn about."""
        self._check_content(content)
        return self.anchors(self.layers(content)[2])

    def render_maps(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """The frames of a content map ``[N, *content_shape]`` with each part moved by given maps
        about its anchor, ``linear`` [N, T, parts, 2, 2] and ``shift`` [N, T, parts, 2], of any
        size (a transfer chains them across windows): ``[N, T, C, H, W]``."""
        self._check_content(content)
        return self._compose_clip(content, linear, shift)

    def _check_content(self, content: torch.Tensor) -> None:
        if tuple(content.shape[1:]) != self.content_shape:
            raise ShapeError(
                f"sprite_frame_decoder: expected content [N, {', '.join(map(str, self.content_shape))}], "
                f"got {tuple(content.shape)}"
            )

    def move_masks(
        self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor, threshold: float = 0.0
    ) -> torch.Tensor:
        """Where each part's mask lands under the maps ``linear`` [N, T, parts, 2, 2] and ``shift``
        [N, T, parts, 2] (as :meth:`part_maps` gives them): ``[N, T, parts, H, W]``, the alpha the
        decoder composites with; losses compare it with the masks E_C finds in each frame. With
        ``threshold`` > 0, the mask's silhouette (1 where it exceeds the threshold, else 0) is
        moved instead, about the same anchor."""
        masks = self.layers(content)[2]
        layer = (masks > threshold).to(masks.dtype) if threshold > 0 else masks
        return self._resample(layer.unsqueeze(2), self.anchors(masks), linear, shift)[:, :, 0].transpose(1, 2)

    def _resample(
        self, layer: torch.Tensor, anchors: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor
    ) -> torch.Tensor:
        """Each part's ``layer`` [N, parts, L, H, W] moved by its T maps about its anchor
        [N, parts, 2]: ``[N, parts, L, T, H, W]`` (time after the planes: the layout the
        resampling writes, so neither it nor its gradient is transposed in memory)."""
        n, t = linear.shape[:2]
        k, planes = layer.shape[1:3]
        h, w = self.geometry.height, self.geometry.width
        # Each part's frames stacked along the rows of one grid: the layer is resampled T times
        # in one call without being copied T times.
        grids = stacked_grids(self.identity_grid, anchors, linear, shift)  # [N*K, T*H, W, 2]
        moved = grid_sample_bilinear(layer.reshape(n * k, planes, h, w), grids)  # [N*K, L, T*H, W]
        return moved.view(n, k, planes, t, h, w)

    def _compose_clip(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """``compose`` for T maps per content map: linear [N, T, parts, 2, 2], shift [N, T, parts, 2]
        → [N, T, C, H, W]."""
        c, k = self.geometry.channels, self.parts
        h, w = self.geometry.height, self.geometry.width
        image, background, masks, residual = self.layers(content)
        n = image.shape[0]
        # One resampling of [image, mask] per part: the part's pixels and where they land.
        layer = torch.cat([image.unsqueeze(1).expand(n, k, c, h, w), masks.unsqueeze(2)], dim=2)
        moved = self._resample(layer, self.anchors(masks), linear, shift)  # [N, K, C+1, T, H, W]
        return composite(moved, background, residual)  # parts that overlap share the pixel
