"""Losses for layered content paths (``layered_content_encoder`` + ``sprite_frame_decoder``).

Not in the paper. A layered content code splits the target image into parts with masks,
and the decoder moves each part by an affine map; the terms here give that structure a
direct training signal, where the reconstruction's only reaches it through the image
gradient at the parts' edges (a few pixels of reach: slow to learn large motions):

- ``motion_segmentation`` (L_seg): every frame's part masks cover the pixels that move;
- ``part_trajectory`` (L_traj): the moved parts land where the content encoder finds them
  in each frame of the clip (mask centroids and spreads), like keypoints in Monkey-Net and
  the First Order Motion Model, but read off the content code's masks;
- ``background_plate`` (L_bg): where something moves, the background plate shows what the
  clip shows there most of the time (its temporal median): what a moving part uncovers;
- ``keypoint_tracking`` (L_kp): a keypoint motion encoder's first keypoints follow the parts
  that the content encoder finds in every frame;
- ``object_tracking`` (L_obj): a keypoint motion encoder's object map covers the moving
  objects, so that its shape (and how it turns) reaches z_M.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from vidgan_kit import ComponentConfig
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext
from vidgan_builtin.losses.objectives import ConfiguredLoss, require_method, require_output, require_slot
from vidgan_builtin.networks.geometry import (
    ANGULAR_ORDERS,
    MIN_CONFIDENT_PIXELS,
    angular_moments,
    clearest_turn,
    map_turn,
    mask_moments,
    phasor_change,
    pixel_grid,
)

from .regions import fill_moving_objects

__all__ = [
    "MotionSegmentationLoss",
    "PartTrajectoryLoss",
    "BackgroundPlateLoss",
    "KeypointTrackingLoss",
    "ObjectTrackingLoss",
    "moving_pixels",
]

#: Angular-moment strength below which a silhouette's orientation is noise. On filled
#: silhouettes at 32x32 a disc's strongest order averages 0.06, a square's or a cross's 4-fold
#: moment 0.41, a triangle's 3-fold 0.65 (`python benchmarks/segmentation_targets.py`).
MIN_TURN_STRENGTH = 0.15


def moving_pixels(video: torch.Tensor, threshold: float, median: torch.Tensor | None = None) -> torch.Tensor:
    """How surely each pixel of each frame belongs to something that moves: [B, T, H, W] in [0, 1].

    The larger of two self-supervised cues (``video`` [B, T, C, H, W], differences on the
    largest channel against ``threshold``):

    - the share of the clip's other frames in which the pixel differs from this frame's:
      near 1 on the edges of a moving object, but low inside a uniformly coloured one (its
      inside keeps its colour while it moves a little);
    - whether the frame differs from the clip's temporal median there: the median of a
      pixel that an object passes is the background behind it, so this marks the whole
      object, inside included, once it moves by more than its size.

    ``median`` [B, 1, C, H, W], the clip's temporal median, when the caller has it already.
    """
    b, t = video.shape[:2]
    # Each pair of frames compared once (the difference is symmetric), one frame against all
    # later ones at a time: the [B, T, T, C, H, W] differences at once were 200 MB at 64×64,
    # allocated and written every step.
    share = video.new_zeros(b, t, *video.shape[3:])
    for s in range(t - 1):
        differs = (video[:, s + 1 :] - video[:, s : s + 1]).abs().amax(dim=2) > threshold
        share[:, s + 1 :] += differs
        share[:, s] += differs.sum(dim=1)
    share /= max(t - 1, 1)
    if median is None:
        median = video.median(dim=1, keepdim=True).values
    away = ((video - median).abs().amax(dim=2) > threshold).float()
    return torch.maximum(share, away)


def _once_per_step(ctx: LossContext, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` without gradient (its results are targets), cached in ``ctx.cache`` under
    ``key`` so that every loss of the step that needs it shares one computation."""
    if key not in ctx.cache:
        with torch.no_grad():
            ctx.cache[key] = compute()
    return ctx.cache[key]


def _clip_targets(ctx: LossContext, video: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(:func:`moving_pixels` [B, T, H, W], temporal median [B, 1, C, H, W]) of the step's clips,
    once per step and threshold."""

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        clip = video.detach().float()
        median = clip.median(dim=1, keepdim=True).values
        return moving_pixels(clip, threshold, median), median

    return _once_per_step(ctx, f"layered/clip_targets/{threshold}", compute)


class MovingPixelsConfig(ComponentConfig):
    """Options of the losses whose targets come from :func:`moving_pixels`."""

    threshold: float = Field(
        0.1, gt=0, description="Change on [-1, 1] (largest channel) above which a pixel counts as moving."
    )


class _MovingPixelsLoss(ConfiguredLoss):
    """A generator-phase term scored against the clip's own targets (:func:`_clip_targets`),
    through a method of a layered content encoder (L_obj: of the motion encoder)."""

    phases = ("generator",)

    Config = MovingPixelsConfig

    @staticmethod
    def _inputs(ctx: LossContext, loss: str, method: str) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """(clips [B, T, C, H, W], content codes [B, T, ...], the content encoder's ``method``)."""
        video = require_output(ctx, "video", loss)
        codes = require_output(ctx, "content_codes", loss)
        encoder = require_slot(ctx, "content_encoder", loss)
        return video, codes, require_method(encoder, method, loss, "content encoder", "layered_content_encoder")


class MotionSegmentationLoss(_MovingPixelsLoss):
    """L_seg: the part masks of every frame should cover the pixels that move.

    Not in the paper: a self-supervised signal for layered content encoders
    (``layered_content_encoder``), whose masks say which pixels a motion moves. Learned
    from the reconstruction alone, the masks settled on a fixed blob in the middle of every
    image (the reconstruction gradient reaches a mask only where a moving part already
    helps); this term gives them the object from the first step. Target: per pixel of
    each frame, how surely it belongs to something that moves (:func:`moving_pixels`);
    binary cross-entropy against the encoder's part share (``content_encoder.part_share``)
    of that frame's code. Every frame is scored, not only the first, because
    ``part_trajectory`` reads the part's position in every frame off these masks. The
    change target marks only the ring that the edge of an object zooming or turning in
    place sweeps; ``fill_objects`` completes it to the whole object where the clip allows
    (:func:`~vidgan_dual_mtgan.regions.fill_moving_objects`).
    """

    class Config(MovingPixelsConfig):
        fill_objects: bool = Field(
            False,
            description="Target the whole moving objects (the change target completed by the regions that a"
            " colour flood from the frame's still border cannot reach; `fill_moving_objects`), so that a mask"
            " grows with an object that zooms in place. For uniformly coloured objects on smooth or striped"
            " backgrounds (synthetic_shapes); textured backgrounds stop the flood at every edge.",
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video, codes, part_share = self._inputs(ctx, "motion_segmentation", "part_share")
        share = part_share(codes.flatten(0, 1)).float().clamp(1e-6, 1 - 1e-6)
        target = _object_targets(ctx, video, self.config.threshold, self.config.fill_objects)
        return _binary_cross_entropy(share, target.flatten(0, 1))


def _object_targets(ctx: LossContext, video: torch.Tensor, threshold: float, fill: bool) -> torch.Tensor:
    """Per frame, how surely each pixel belongs to a moving object [B, T, H, W]: the change
    target, or with ``fill`` the whole objects (:func:`_filled_targets`)."""
    return _filled_targets(ctx, video, threshold) if fill else _clip_targets(ctx, video, threshold)[0]


def _filled_targets(ctx: LossContext, video: torch.Tensor, threshold: float) -> torch.Tensor:
    """:func:`fill_moving_objects` of the step's clips [B, T, H, W], once per step and threshold."""
    return _once_per_step(
        ctx,
        f"layered/filled_targets/{threshold}",
        lambda: fill_moving_objects(video.detach().float(), _clip_targets(ctx, video, threshold)[0], threshold),
    )


def _part_masks(ctx: LossContext, codes: torch.Tensor, loss: str) -> torch.Tensor:
    """The part masks [B*T, K, H, W] the content encoder finds in every frame (no gradient:
    they are targets), once per step."""

    def compute() -> torch.Tensor:
        encoder = require_slot(ctx, "content_encoder", loss)
        part_masks = require_method(encoder, "part_masks", loss, "content encoder", "layered_content_encoder")
        return part_masks(codes.flatten(0, 1)).float()

    return _once_per_step(ctx, "layered/part_masks", compute)


def _silhouette_phasors(ctx: LossContext, codes: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular-moment phasors [B, T, K, O, 2] and strengths [B, T, K, O] of E_C's part
    silhouettes (masks above ``threshold``) in every frame (:func:`angular_moments`)."""
    b, t = codes.shape[:2]
    masks = _part_masks(ctx, codes, "part_trajectory")
    silhouettes = (masks > threshold).float()
    phasors, strength = angular_moments(silhouettes, pixel_grid(*masks.shape[-2:]).to(masks.device))
    return phasors.view(b, t, *phasors.shape[1:]), strength.view(b, t, *strength.shape[1:])


def _part_moments(
    ctx: LossContext, codes: torch.Tensor, loss: str, threshold: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre [B, T, K, 2], covariance [B, T, K, 2, 2] and mass [B, T, K] (in pixels) of the part
    masks in every frame, once per step and ``threshold``: the soft masks as they are (0),
    or the pixels where a mask exceeds ``threshold``."""

    def compute() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t = codes.shape[:2]
        masks = _part_masks(ctx, codes, loss)
        if threshold > 0:
            masks = (masks > threshold).float()
        centre, cov = mask_moments(masks, pixel_grid(*masks.shape[-2:]).to(masks.device))
        k = masks.shape[1]
        mass = masks.flatten(2).sum(-1).view(b, t, k)
        return centre.view(b, t, k, 2), cov.view(b, t, k, 2, 2), mass

    return _once_per_step(ctx, f"layered/part_moments/{threshold}", compute)


class PartTrajectoryLoss(ConfiguredLoss):
    """L_traj: each moved part lands where the content encoder finds it in the clip's frames.

    For the reconstruction Ṽ_x (x¹'s content, V's motion codes), the decoder's backward map
    of part k at frame t (``decoder.part_maps``: as the decoder applies it) is
    ``src(p) = a + A (p - a) + e`` with ``a`` the part's centroid in x¹. The content
    encoder's masks of frame x^t give the part's centroid μ_t and covariance Σ_t there. If
    the map is right, it sends μ_t back onto ``a`` and Σ_t onto x¹'s Σ_1: the residuals
    ``A (μ_t - a) + e`` and ``(A Σ_t Aᵀ - Σ_1) / tr Σ_1`` are scored
    (squared, mean over clips, frames 2..T and parts). Mask statistics are targets
    (detached): only the motion path (E_M, G_T, the decoder's motion read-out) learns from
    this term, with a gradient that does not fade with the size of the motion. A part that
    shrinks below ``min_mass`` of its first-frame mass (it left the frame) is not scored.
    With ``spread_threshold`` > 0 the covariances come from the pixels where a mask exceeds
    it: a soft mask's faint tail over the frame can dominate its covariance, which then
    barely grows when the part does (``benchmarks/motion_precision.py`` measures it). With
    ``shape = "masks"`` the covariance residual is replaced by a dense one: frame 1's part
    mask moved by the map (``decoder.move_masks``) against the mask found at frame t, summed
    absolute difference over the frame in units of the found mask's area, which draws the
    reconstruction's path more precisely than the covariance residual. Neither residual
    leads a map from the identity to a turn larger than a few degrees (the image gradient of
    a turning shape points nowhere beyond its symmetry); ``turn_weight`` > 0 adds a turn
    residual against the turn of E_C's silhouettes, read off their angular
    moments (:meth:`_turn_residual`).
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        spread_weight: float = Field(
            1.0, ge=0, description="Weight of the shape residual (scale, rotation; see `shape`) beside the centroid's."
        )
        min_mass: float = Field(
            0.5, ge=0, le=1, description="Score a part at frame t only while its mask keeps this share of its mass."
        )
        spread_threshold: float = Field(
            0.0,
            ge=0,
            lt=1,
            description="Read the shape target off the pixels where a part mask exceeds this (0: the soft masks"
            " as they are, whose faint tails can hide how much a part grows): their covariance, or with"
            " shape = masks the silhouettes of both masks.",
        )
        shape: Literal["moments", "masks"] = Field(
            "moments",
            description="What the shape residual compares: `moments`, the covariance that the map sends frame t's"
            " mask to against frame 1's; `masks`, frame 1's part mask moved by the map (as the decoder moves it)"
            " against the mask E_C finds at frame t, pixel by pixel (a part must grow, shrink or turn as the"
            " masks do; soft tails barely matter).",
        )

        turn_weight: float = Field(
            0.0,
            ge=0,
            description="Weight of a turn residual: the map's turn against the turn of E_C's part silhouettes"
            " (masks above spread_threshold, or 0.5) read off their angular moments (orders 2-4, each weighted by"
            " how clearly the silhouette shows it; modulo the shape's symmetry). A dense mask residual cannot"
            " lead a map from the identity to a large turn; this term can. 0: off.",
        )

        turn_target: Literal["periodic", "unwrapped"] = Field(
            "periodic",
            description="What the turn residual compares the map's turn with: `periodic`, each angular order's"
            " phase change since frame 1 (blind to turns the shape's symmetry hides, but from the identity its"
            " gradient points the wrong way once the turn passes half a symmetry period); `unwrapped`, the turn"
            " followed frame to frame (steps within half a period) on the clip's clearest order, squared.",
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        codes = require_output(ctx, "content_codes", "part_trajectory")
        frame_codes = require_output(ctx, "frame_codes", "part_trajectory")
        b, t = codes.shape[:2]
        if t < 2 or frame_codes.shape[:2] != (b, t):
            raise ShapeError(
                f"part_trajectory: content codes {tuple(codes.shape)} and frame codes {tuple(frame_codes.shape)} "
                "must share [B, T>=2]"
            )
        centre, cov, mass = _part_moments(ctx, codes, "part_trajectory")
        decoder = require_slot(ctx, "decoder", "part_trajectory")
        part_maps = require_method(decoder, "part_maps", "part_trajectory", "decoder", "sprite_frame_decoder")
        with torch.no_grad():
            keep = (mass[:, 1:] >= self.config.min_mass * mass[:, :1]).float()  # [B, T-1, K]
            anchor = centre[:, :1]
            keep_shape = keep
            if self.config.spread_threshold > 0:
                _, cov, hard_mass = _part_moments(ctx, codes, "part_trajectory", self.config.spread_threshold)
                # A part with almost no pixels above the threshold has no shape to match.
                found = hard_mass >= MIN_CONFIDENT_PIXELS
                keep_shape = keep * (found[:, 1:] & found[:, :1]).float()
            spread = cov[:, :1]
            scale = spread.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-4)  # tr Σ_1, [B, 1, K]
        # The maps as the decoder applies them to x¹'s content.
        linear, shift = part_maps(frame_codes)
        linear, shift = linear.float()[:, 1:], shift.float()[:, 1:]
        moved = torch.einsum("btkij,btkj->btki", linear, centre[:, 1:] - anchor) + shift
        position = moved.square().sum(-1)  # [B, T-1, K]
        if self.config.shape == "masks":
            shape = self._mask_residual(ctx, decoder, codes, linear, shift, self.config.spread_threshold)
        else:
            back = linear @ cov[:, 1:] @ linear.transpose(-1, -2)
            shape = ((back - spread) / scale[..., None, None]).square().sum((-1, -2))
        per_part = position * keep + self.config.spread_weight * shape * keep_shape
        if self.config.turn_weight > 0:
            threshold = self.config.spread_threshold or 0.5
            if self.config.turn_target == "unwrapped":
                turn = self._unwrapped_turn_residual(ctx, codes, linear, threshold)
            else:
                turn = self._turn_residual(ctx, codes, linear, threshold)
            per_part = per_part + self.config.turn_weight * turn * keep
        return per_part.sum() / keep.sum().clamp_min(1.0)

    @staticmethod
    def _turn_residual(ctx: LossContext, codes: torch.Tensor, linear: torch.Tensor, threshold: float) -> torch.Tensor:
        """Per clip, frame 2..T and part: how far the turn θ of the maps ``linear`` [B, T-1, K, 2, 2]
        is from the turn of E_C's part silhouettes since frame 1, ``sum_n w_n (1 - cos(n θ - ψ_n)) 2 / n²``
        over the angular orders n, ψ_n the phase change of the order-n moment (so the residual is
        ≈ (θ - turn)² near the answer and blind to turns the shape's symmetry hides), w_n how
        clearly both silhouettes show that order (strength above ``MIN_TURN_STRENGTH``)."""

        def compute() -> tuple[torch.Tensor, torch.Tensor]:
            phasors, strength = _silhouette_phasors(ctx, codes, threshold)
            change = phasor_change(phasors[:, 1:], phasors[:, :1])  # [B, T-1, K, O, 2]
            weight = (torch.minimum(strength[:, :1], strength[:, 1:]) - MIN_TURN_STRENGTH).clamp_min(0)
            return change, weight

        change, weight = _once_per_step(ctx, f"layered/silhouette_turns/{threshold}", compute)
        n = torch.tensor(ANGULAR_ORDERS, dtype=torch.float32, device=linear.device)
        angle = map_turn(linear).unsqueeze(-1) * n  # [B, T-1, K, O]
        agreement = torch.cos(angle) * change[..., 0] + torch.sin(angle) * change[..., 1]
        return (weight * (1 - agreement) * 2 / n.square()).sum(-1)

    @staticmethod
    def _unwrapped_turn_residual(
        ctx: LossContext, codes: torch.Tensor, linear: torch.Tensor, threshold: float
    ) -> torch.Tensor:
        """Per clip, frame 2..T and part: ``w (θ - turn)²``, θ the turn of the maps ``linear``
        [B, T-1, K, 2, 2], ``turn`` the turn of E_C's part silhouettes since frame 1 followed
        frame to frame on the angular order the part shows most clearly over the clip
        (:func:`clearest_turn`), ``w`` that order's mean strength above ``MIN_TURN_STRENGTH``."""

        def compute() -> tuple[torch.Tensor, torch.Tensor]:
            turn, _, clarity = clearest_turn(*_silhouette_phasors(ctx, codes, threshold))  # [B, T, K], [B, K]
            return turn[:, 1:], (clarity - MIN_TURN_STRENGTH).clamp_min(0).unsqueeze(1)

        turn, weight = _once_per_step(ctx, f"layered/silhouette_unwrapped_turns/{threshold}", compute)
        return weight * (map_turn(linear) - turn).square()

    @staticmethod
    def _mask_residual(
        ctx: LossContext, decoder: Any, codes: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor,
        threshold: float,
    ) -> torch.Tensor:
        """Per clip, frame 2..T and part, how far frame 1's part mask moved by the maps ``linear``
        [B, T-1, K, 2, 2] / ``shift`` [B, T-1, K, 2] is from the mask E_C finds in that frame: the
        summed absolute difference over the frame, in units of the found mask's area; with
        ``threshold`` > 0, between the masks' silhouettes (pixels above it). Only the maps learn
        from it (E_C's masks are detached on both sides)."""
        move_masks = require_method(decoder, "move_masks", "part_trajectory", "decoder", "sprite_frame_decoder")
        b, t = codes.shape[:2]
        found = _part_masks(ctx, codes, "part_trajectory")
        found = found.view(b, t, *found.shape[1:])[:, 1:]  # [B, T-1, K, H, W]
        if threshold > 0:
            found = (found > threshold).float()
        moved = move_masks(codes[:, 0].detach(), linear.to(codes.dtype), shift.to(codes.dtype), threshold).float()
        area = found.flatten(-2).sum(-1).clamp_min(1.0)
        return (moved - found).abs().flatten(-2).sum(-1) / area


class BackgroundPlateLoss(_MovingPixelsLoss):
    """L_bg: where something moves, the background plate shows the clip's temporal median.

    The plate (``content_encoder.background_plate``) is what the decoder shows where a part
    moves away. From the reconstruction alone it learns only at the few pixels a part has
    just uncovered, and stayed dark there (a smudge trailing every moving object). A pixel
    that an object passes shows the background most of the time, so the clip's median over
    time is a free target for it: L1 between each frame's plate and the median, weighted
    by :func:`moving_pixels` of that frame (still pixels are the image anyway).
    """

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video, codes, plate_of = self._inputs(ctx, "background_plate", "background_plate")
        moving, median = _clip_targets(ctx, video, self.config.threshold)
        weight = moving.unsqueeze(2)  # [B, T, 1, H, W]
        plate = plate_of(codes.flatten(0, 1)).float().view(video.shape)
        per_pixel = (plate - median).abs().mean(dim=2, keepdim=True)
        return (per_pixel * weight).sum() / weight.sum().clamp_min(1.0)


class KeypointTrackingLoss(ConfiguredLoss):
    """L_kp: a keypoint motion encoder's first keypoints follow the content encoder's parts.

    Not in the paper. ``keypoint_motion_encoder`` learns where to put its heatmaps only
    through the posterior, the LSTM and the decoder's read-out: a long way for a gradient,
    and its keypoints start as uniform distributions whose centres hardly move with the
    object. A layered content encoder already finds the moving parts in every frame (its
    masks, trained by L_seg). This term asks keypoint k (k < parts) to have part k's mask
    centroid μ and covariance Σ in every frame: ``|μ_kp - μ|² + w |Σ_kp - Σ|² / (tr Σ)²``,
    mean over clips, frames and guided keypoints. Mask moments are targets (detached), so
    only E_M's detector learns from it; keypoints beyond ``parts`` stay free.
    """

    phases = ("generator",)

    class Config(ComponentConfig):
        spread_weight: float = Field(
            1.0, ge=0, description="Weight of the covariance residual (size, elongation) beside the centre's."
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video = require_output(ctx, "video", "keypoint_tracking")
        codes = require_output(ctx, "content_codes", "keypoint_tracking")
        encoder = require_slot(ctx, "motion_encoder", "keypoint_tracking")
        moments = require_method(encoder, "moments", "keypoint_tracking", "motion encoder", "keypoint_motion_encoder")
        centre, cov, _ = _part_moments(ctx, codes, "keypoint_tracking")
        kp_centre, kp_cov = moments(video)
        k = min(centre.shape[2], kp_centre.shape[2])
        position = (kp_centre[:, :, :k] - centre[:, :, :k]).square().sum(-1)
        scale = cov[:, :, :k].diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-4)
        shape = (kp_cov[:, :, :k] - cov[:, :, :k]).square().sum((-1, -2)) / scale.square()
        return (position + self.config.spread_weight * shape).mean()


class ObjectTrackingLoss(_MovingPixelsLoss):
    """L_obj: a keypoint motion encoder's object map covers the moving objects of every frame.

    Not in the paper. ``keypoint_motion_encoder`` with ``orientation = true`` reads the angular
    moments of an object map (which way a shape points, and how far it turned since frame 1):
    the map needs a target, or it is just another heatmap. The target is L_seg's, from the
    clip itself (:func:`moving_pixels`, or with ``fill_objects`` the whole objects), averaged
    down to the map's resolution; binary cross-entropy. Only the map's path in E_M (detector,
    refinement) learns from it.
    """

    class Config(MovingPixelsConfig):
        fill_objects: bool = Field(
            True,
            description="Target the whole moving objects (as motion_segmentation's fill_objects); false: where the"
            " clip changes, which for a shape turning in place is the ring its corners sweep.",
        )

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        video = require_output(ctx, "video", "object_tracking")
        encoder = require_slot(ctx, "motion_encoder", "object_tracking")
        object_maps = require_method(encoder, "object_maps", "object_tracking", "motion encoder",
                             "keypoint_motion_encoder with orientation = true")
        maps = object_maps(video).clamp(1e-6, 1 - 1e-6)  # [B, T, h, w]
        target = _object_targets(ctx, video, self.config.threshold, self.config.fill_objects)
        target = F.adaptive_avg_pool2d(target.flatten(0, 1), maps.shape[-2:]).view(maps.shape)
        return _binary_cross_entropy(maps, target)


def _binary_cross_entropy(probability: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``F.binary_cross_entropy`` in float32 outside autocast: CUDA's autocast refuses it
    (unsafe in half precision: its log saturates), and our inputs are probabilities already,
    not logits, so the with-logits form does not apply."""
    with torch.autocast(probability.device.type, enabled=False):
        return F.binary_cross_entropy(probability.float(), target.float())
