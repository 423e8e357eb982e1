"""A layered content path: E_C splits the target image into moving parts and a background,
G_I moves each part by its own affine transform and composites the layers.

Why beside ``warp_frame_decoder``. That decoder decides per output frame, with
convolutions over 3·B·T frames, which pixels follow which transform; at 32×32 it cost
1.4 s per iteration on two CPU cores and in 10 minutes learned little more than to hold
the image still. Here everything that depends on the content alone is computed once per
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

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry, assert_frames
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import ContentEncoder, FrameDecoder

from ._affine import (
    bounded_affine,
    confident_moments,
    confident_radius,
    fold,
    gyration_radius,
    mask_moments,
    landing,
    map_turn,
    part_shading,
    part_walls,
    pixel_grid,
    reflect_shift,
    registered_turns,
    rescaled_zoom,
    similarity_affine,
    similarity_linear,
    similarity_params,
    stacked_grids,
    turn_arounds,
    unfold_path,
)
from ._blocks import NormName, check_sides_multiple_of_4, conv3x3_block, conv3x3_of_upsampled
from ._compositing import composite
from ._sampling import grid_sample_bilinear

__all__ = ["LayeredContentEncoder", "SpriteFrameDecoder"]

#: scale_rate = target: how near (log scale) to its extremes a measured zoom turns to bounce there,
#: and how far it must travel to be a zoom at all (E_C's masks measure a still part's log scale
#: within a few hundredths).
ZOOM_TOLERANCE = 0.1
ZOOM_MIN_TRAVEL = 0.15


def layer_logits(content: torch.Tensor, channels: int) -> torch.Tensor:
    """The background's and each part's mask logits of layered content maps ``[N, 2C + parts + 1, H, W]``
    (image, background plate, mask logits; ``channels`` = C): ``[N, parts + 1, H, W]``, background first."""
    return content[:, 2 * channels :]


def layer_masks(content: torch.Tensor, channels: int) -> torch.Tensor:
    """The soft masks of :func:`layer_logits`: ``[N, parts + 1, H, W]``, background first."""
    return layer_logits(content, channels).softmax(1)


def _encoder_decoder(channels: int, width: int, norm: NormName) -> tuple[nn.Sequential, nn.Sequential]:
    """The two stride-2 levels down and back up of a layered map's network (``up`` ends in the
    last 2× up-sampling, which :func:`_head_over` folds into the head's convolution)."""
    down = nn.Sequential(
        conv3x3_block(channels, width, "none", stride=2),
        conv3x3_block(width, width, norm),
        conv3x3_block(width, width, norm, stride=2),
        conv3x3_block(width, width, norm),
    )
    up = nn.Sequential(
        conv3x3_block(width, width, norm),
        nn.Upsample(scale_factor=2, mode="nearest"),
        conv3x3_block(width, width, norm),
        nn.Upsample(scale_factor=2, mode="nearest"),
    )
    return down, up


def _head_over(head: nn.Conv2d, features: torch.Tensor, frames: torch.Tensor, outputs: slice = slice(None)) -> torch.Tensor:
    """``head`` over [up-sampled ``features``, ``frames``] stacked along channels, computed
    without the stack or the up-sampling: the sum of its convolution over each (a convolution
    is linear in its input channels), the features' one at their own resolution
    (:func:`conv3x3_of_upsampled`). The stacked full-resolution input cost several times the
    arithmetic in memory traffic (``benchmarks/RESULTS.md``, tenth session). ``features``: the
    output of ``up`` before its last up-sampling; ``outputs``: the head's output channels wanted."""
    w = features.shape[1]
    weight, bias = head.weight[outputs], head.bias[outputs]
    return conv3x3_of_upsampled(features, weight[:, :w], bias) + F.conv2d(frames, weight[:, w:], None, padding=1)


def _part_prior_bias(head: nn.Conv2d, background: int, parts: int, prior: float) -> None:
    """Start with background logits (channel ``background`` of ``head``) such that the parts
    share ``prior`` of each pixel: a part must cover some pixels at the start, or its motion
    gets no gradient."""
    with torch.no_grad():
        head.bias[background] = float(torch.logit(torch.tensor(1 - prior))) + float(torch.log(torch.tensor(parts)))


class LayeredContentEncoder(ContentEncoder):
    """E_C: a frame → ``[C image, C background, parts + 1 mask logits]`` at the frame's size.

    The image planes are the frame unchanged (the decoder resamples them, so detail never
    passes a bottleneck); the background plate and the mask logits come from a small
    encoder-decoder (two stride-2 levels, enough receptive field to see a whole object at
    32×32 or 64×64, and to paint out what a part covers).

    With ``source_reader_width``, a second network of the same shape, that much narrower,
    learns to give E_C's own mask logits (the ``source_reader`` loss; nothing else trains it,
    and E_C does not learn from it): a transfer can then read its 16 source frames' masks with
    it (``read_source_with = "reader"``) instead of E_C, whose full width the target image's
    background plate and masks keep.
    """

    class Config(ComponentConfig):
        parts: int = Field(1, ge=1, description="Moving parts the image is split into (besides the background).")
        width: int = Field(32, ge=1, description="Width of the hidden convolutions.")
        norm: NormName = Field("group", description="Normalisation after each hidden convolution.")
        part_prior: float = Field(
            0.3, gt=0, lt=1,
            description="Initial share of the parts' masks (the rest is background): a part must cover some "
            "pixels at the start, or its motion gets no gradient.",
        )
        source_reader_width: int = Field(
            0, ge=0,
            description="Width of a lighter network trained (loss `source_reader`) to read E_C's part masks, for a "
            "transfer's source frames (0: none). Built from its own random numbers: the rest of the model "
            "starts and trains as without it.",
        )
        source_reader_norm: NormName = Field(
            "group",
            description="Normalisation after each of the source reader's hidden convolutions. `none` suits a reader "
            "distilled after training (`vidgan distill-reader`): its GroupNorm took 1.0-1.8 ms of a compiled 64×64 "
            "transfer, and the distilled reader scores as well without it.",
        )
        read_source_with: Literal["encoder", "reader"] = Field(
            "encoder",
            description="What reads a transfer's source frames: `encoder`, E_C itself; `reader`, the source "
            "reader (needs source_reader_width > 0; the source frames' background plates are then not computed).",
        )

        @model_validator(mode="after")
        def _reader_exists(self) -> "LayeredContentEncoder.Config":
            if self.read_source_with == "reader" and self.source_reader_width == 0:
                raise ValueError("read_source_with = 'reader' needs a source reader: set source_reader_width > 0")
            return self

    def __init__(self, config: Config, *, geometry: VideoGeometry, **wiring: Any) -> None:
        super().__init__()
        check_sides_multiple_of_4(geometry, "layered_content_encoder")
        self.config = config
        self.geometry = geometry
        c, w, k = geometry.channels, config.width, config.parts
        self.down, self.up = _encoder_decoder(c, w, config.norm)
        self.head = nn.Conv2d(w + c, c + k + 1, 3, 1, 1)
        _part_prior_bias(self.head, c, k, config.part_prior)
        self.code_shape = (2 * c + k + 1, geometry.height, geometry.width)
        self.source_reader = None
        if config.source_reader_width:
            # Its own random numbers: the global stream is where it would be without the reader,
            # so every other slot starts (and, the reader's targets detached, trains) bit for bit
            # as without it, and a run with a reader compares to one without on the same weights.
            with torch.random.fork_rng(devices=[]):
                rw, norm = config.source_reader_width, config.source_reader_norm
                self.source_reader = nn.ModuleDict(dict(zip(("down", "up"), _encoder_decoder(c, rw, norm))))
                self.source_reader["head"] = nn.Conv2d(rw + c, k + 1, 3, 1, 1)
                _part_prior_bias(self.source_reader["head"], 0, k, config.part_prior)

    def part_masks(self, codes: torch.Tensor) -> torch.Tensor:
        """Each part's soft mask: codes [N, *code_shape] → [N, parts, H, W]."""
        return layer_masks(codes, self.geometry.channels)[:, 1:]

    def background_plate(self, codes: torch.Tensor) -> torch.Tensor:
        """The image with its parts painted out: codes [N, *code_shape] → [N, C, H, W]."""
        c = self.geometry.channels
        return codes[:, c : 2 * c]

    def part_share(self, codes: torch.Tensor) -> torch.Tensor:
        """How much of each pixel the parts hold (1 - background mask): codes [N, *code_shape] → [N, H, W]."""
        return 1 - layer_masks(codes, self.geometry.channels)[:, 0]

    def mask_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """The background's and each part's mask logits of codes [N, *code_shape]: [N, parts + 1, H, W]."""
        return layer_logits(codes, self.geometry.channels)

    def read_mask_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """The source reader's mask logits of frames [N, C, H, W]: [N, parts + 1, H, W], E_C's
        :meth:`mask_logits` as far as it has learnt them."""
        if self.source_reader is None:
            raise ValueError("layered_content_encoder: no source reader to read masks with (source_reader_width = 0)")
        reader = self.source_reader
        return _head_over(reader["head"], reader["up"][:-1](reader["down"](frames)), frames)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        assert_frames(frames, "layered_content_encoder input", geometry=self.geometry)
        return self._maps(frames, self._features(frames))

    def _features(self, frames: torch.Tensor) -> torch.Tensor:
        # ``up`` ends in a 2× nearest up-sampling, which the head folds into its convolution.
        return self.up[:-1](self.down(frames))

    def _maps(self, frames: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The content maps of ``frames`` from the trunk's ``features``."""
        c = self.geometry.channels
        out = _head_over(self.head, features, frames)
        # A dense copy first: tanh of a channel slice of a channels-last map walks it with a stride
        # and took 9x as long in bf16 (33 ms against 4 for 256 frames at 64x64; nineteenth session).
        background = torch.tanh(out[:, :c].contiguous())
        return torch.cat([frames, background, out[:, c:]], dim=1)

    def encode_transfer(self, images: torch.Tensor, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The content maps of a transfer's target ``images`` and of its ``source`` frames ([N, C,
        H, W] each). A decoder reads a source frame's image and masks, never its background
        plate: the source's plates are zeros, and their mask logits come from E_C's head alone
        (the images and the source frames pass E_C's trunk in one batch) or, with
        ``read_source_with = "reader"``, from the source reader."""
        assert_frames(images, "layered_content_encoder images", geometry=self.geometry)
        assert_frames(source, "layered_content_encoder source frames", geometry=self.geometry)
        n, c = images.shape[0], self.geometry.channels
        if self.config.read_source_with == "reader":
            content, logits = self(images), self.read_mask_logits(source)
        else:
            features = self._features(torch.cat([images, source]))
            content = self._maps(images, features[:n])
            logits = _head_over(self.head, features[n:], source, slice(c, None))
        return content, torch.cat([source, torch.zeros_like(source), logits], dim=1)


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
        boundary: Literal["none", "reflect"] = Field(
            "none",
            description="`reflect`: a part's anchor bounces off the frame's edges (its reach: `reach` times the"
            " standard deviation of its confident mask pixels, per axis), so one motion code means one velocity"
            " whatever the target's walls; raise `max_shift` with it, the code then gives the unfolded travel."
            " `none`: moved as coded.",
        )
        bounce_point: Literal["anchor", "centre"] = Field(
            "anchor",
            description="With boundary = reflect, the point that bounces: `anchor` (the soft mask's centroid, about"
            " which the part turns and scales) or `centre` (the centroid of its confident pixels, as the reach"
            " is measured: a soft mask's faint tail pulls the anchor towards the frame's middle, so its walls"
            " sit pixels off).",
        )
        reach_measure: Literal["spread", "radius"] = Field(
            "spread",
            description="With boundary = reflect, what a part's reach (how close its bouncing point comes to a"
            " wall) is measured from: `spread`, `reach` times the standard deviation of its confident pixels per"
            " axis; `radius`, `reach` times the radius of the circle about the bouncing point that holds them"
            " (set reach = 1: the part bounces when that circle touches a wall, whichever way it is turned).",
        )
        reach: float = Field(
            2.0, gt=0,
            description="With boundary = reflect, the factor (its start value where learnt: learn_reach) between"
            " a part's reach from its bouncing point and its measure (reach_measure): 2 for a disc's standard"
            " deviation, 1 for the radius.",
        )
        learn_reach: bool = Field(
            True,
            description="With boundary = reflect, learn the factor `reach` (true) or hold it (false). Learnt, it"
            " let a 3441-step run walk its walls outward (factor 1.0 -> 0.53 with reach_measure = radius) until"
            " parts stopped bouncing, back to copying the source's path; hold it where the measure is a true"
            " extent (radius).",
        )
        source_bounces: Literal["copy", "unfold"] = Field(
            "copy",
            description="With boundary = reflect, what a transfer does with the source clip's bounces (needs the"
            " source's first frame: the model's transfer passes it). `copy`: the path the codes draw, bounces"
            " included, is moved onto the target and folded at the target's walls. `unfold`: the path is first"
            " unfolded at the *source's* walls (every turn-around within unfold_tolerance of one is mirrored"
            " away), so the target replays the velocity and bounces where its own walls are, as the codes"
            " cannot say by themselves: reconstruction is served as well by a folded path as by an unfolded one."
            " Reconstruction and sampling are unchanged.",
        )
        unfold_tolerance: float = Field(
            0.15, gt=0,
            description="With source_bounces = unfold, how close (normalised units: the frame spans 2) to a wall a"
            " turn-around must be to count as a bounce: codes draw a rounded corner that turns short of it.",
        )
        unfold_min_travel: float = Field(
            0.125, ge=0,
            description="With source_bounces = unfold, the least a part must travel along an axis over the clip"
            " (normalised units) for its turn-arounds on that axis to count as bounces.",
        )
        unfold_at: Literal["walls", "turns", "straight"] = Field(
            "walls",
            description="With source_bounces = unfold, what the path is mirrored about at a bounce: `walls`, the"
            " source's walls as its part masks place them (their error, about half a pixel, doubles after the"
            " bounce); `turns`, where the path's own turn puts that wall (straight lines before and after the"
            " turn, at the clip's median speed, meet there; a turn is a bounce where they meet within"
            " unfold_tolerance of the wall), and the target's walls on that side move by as much as the"
            " source's did, so that a transfer onto the source itself is still its reconstruction;"
            " `straight`, per part, `turns` where that unfolds its path to a straight line (within 0.05,"
            " normalised), else `walls`: an orbit's turns are not where straight lines meet.",
        )
        unfold_between_frames: bool = Field(
            False,
            description="With source_bounces = unfold, place a bounce between frames: where the path after its peak"
            " frame is closer to the wall than the path before it, the bounce came before the peak frame, which is"
            " mirrored too (otherwise it is left folded, an error of up to one frame's travel).",
        )
        unfold_turns_from: Literal["codes", "tracks", "parts"] = Field(
            "codes",
            description="With source_bounces = unfold, where the source's bounces are found: `codes`, in the path"
            " the motion codes draw (G_T draws it smooth, so a bounce's corner is rounded off and an orbit's turn"
            " looks alike); `tracks`, in the path of the point E_M follows nearest the part (needs a motion"
            " encoder with tracks, e.g. keypoint_motion_encoder), frame by frame; `parts`, in the path of the"
            " part's bouncing point as E_C finds it in every source frame (the walls' own geometry, corners"
            " as sharp as the clip's; costs E_C on every source frame). The path unfolded is source_path's.",
        )
        source_path: Literal["codes", "parts"] = Field(
            "codes",
            description="With source_bounces = unfold, the source part's path that a transfer unfolds and replays:"
            " `codes`, the path the motion codes draw for the source's part (G_T's smooth curve; 0.5-0.6 px"
            " from the truth at 32x32); `parts`, the part's bouncing point as E_C finds it in every source frame"
            " (0.2 px from the truth at 32x32, bounces as sharp as the clip's; costs E_C on every source frame)."
            " Either way the codes give the part's scale, turn and shear, and reconstruction and sampling follow"
            " the codes.",
        )
        source_turn: Literal["codes", "parts"] = Field(
            "codes",
            description="With source_bounces = unfold, a part's turn in a transfer: `codes`, as the motion codes give"
            " it; `parts`, read off the source clip: the angle by which the part's mask in every source frame is"
            " turned against the first frame's (registered about its centre), times the source part's radius over"
            " the target's (the rim moves as fast: a smaller part turns faster), in place of the codes' turn and"
            " shear. A disc's outline shows no turn: it reads 0 unless turn_reads = shading. Costs E_C on every"
            " source frame.",
        )
        turn_reads: Literal["silhouette", "shading"] = Field(
            "silhouette",
            description="With source_turn = parts, what is registered to read a part's turn: `silhouette`, its mask;"
            " `shading`, its mask and its shading (the part's luminance about its mean inside the mask, from the"
            " source frames' content maps), so that a part whose outline shows no orientation but whose shading does"
            " (a shaded disc) reads its turn too. Costs a second channel in the registration.",
        )
        turn_step: float = Field(
            0.6, gt=0, le=1.5,
            description="With source_turn = parts, the largest turn between two frames looked for (radians); keep it"
            " under half the symmetry angle of the shapes (a square's 90 degrees) so that a turn is followed past it.",
        )
        source_scale: Literal["codes", "parts"] = Field(
            "codes",
            description="With source_bounces = unfold, a part's scale in a transfer: `codes`, as the motion codes give"
            " it; `parts`, read off the source clip: the growth of the part's confident pixels' spread (the root"
            " of their covariance's determinant) since the first frame. Costs E_C on every source frame.",
        )
        scale_rate: Literal["source", "target"] = Field(
            "source",
            description="With source_scale = parts, how fast the measured zoom runs on the target: `source`, as"
            " measured; `target`, at the source part's size over the target's (radius of gyration of the confident"
            " pixels: the same edge speed, so a smaller part zooms faster), its bounces kept where the source"
            " turned (_affine.rescaled_zoom; where the source never turned, nothing bounds it).",
        )
        motion_units: Literal["frame", "part"] = Field(
            "frame",
            description="`part` (needs linear = similarity): the code's turn angle and log scale are divided by the"
            " part's radius relative to `reference_radius`, so one code turns or zooms a small and a large part at"
            " the same edge speed. `frame`: the same angle and scale for every part.",
        )
        reference_radius: float = Field(
            0.25, gt=0,
            description="With motion_units = part, the radius (root of the trace of the part's confident-pixel"
            " covariance, normalised units: the frame spans 2) at which the code means what it says.",
        )
        motion_init_std: float = Field(
            0.0,
            ge=0,
            description="Standard deviation of the motion read-out's initial weights. 0: zeros, every frame starts"
            " as the identity (the static baseline). > 0: small random maps (a zero code stays the identity), so"
            " that every read-out row, the turn's included, passes the motion codes a gradient from the first step"
            " instead of waiting for the codes to carry what that row needs.",
        )
        zoom_range: tuple[float, float] | None = Field(
            None,
            description="With linear = similarity, [min, max] scale (initial values, learnt): a part's log scale"
            " bounces between them instead of running on (the code then gives the unfolded zoom). None: no bounds"
            " beyond max_log_scale.",
        )

        @model_validator(mode="after")
        def _similarity_options(self) -> "SpriteFrameDecoder.Config":
            if self.linear != "similarity":
                if self.motion_units == "part":
                    raise ValueError("motion_units = 'part' needs linear = 'similarity' (a scale and an angle to divide)")
                if self.zoom_range is not None:
                    raise ValueError("zoom_range needs linear = 'similarity' (a log scale to bounce)")
            if self.source_bounces == "unfold" and self.boundary != "reflect":
                raise ValueError("source_bounces = 'unfold' needs boundary = 'reflect' (walls to unfold at and fold at)")
            measured = [k for k in ("source_path", "unfold_turns_from", "source_turn", "source_scale")
                        if getattr(self, k) == "parts"]
            if measured and self.source_bounces != "unfold":
                raise ValueError(f"{' and '.join(measured)} = 'parts' needs source_bounces = 'unfold' (the source"
                                 " clip's parts are read in a transfer that unfolds its bounces)")
            if self.turn_reads != "silhouette" and self.source_turn != "parts":
                raise ValueError(f"turn_reads = '{self.turn_reads}' needs source_turn = 'parts' (a turn read off the source)")
            if self.scale_rate != "source" and self.source_scale != "parts":
                raise ValueError(f"scale_rate = '{self.scale_rate}' needs source_scale = 'parts' (a zoom read off the source)")
            if self.zoom_range is not None and not 0 < self.zoom_range[0] < 1 < self.zoom_range[1]:
                raise ValueError(f"zoom_range must satisfy 0 < min < 1 < max (scale 1 is frame 1), got {list(self.zoom_range)}")
            return self

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
        if config.boundary == "reflect":
            log_reach = torch.tensor(math.log(config.reach))
            if config.learn_reach:
                self.log_reach = nn.Parameter(log_reach)
            else:
                self.register_buffer("log_reach", log_reach, persistent=False)  # the config holds it
        if config.zoom_range is not None:
            self.log_zoom_range = nn.Parameter(torch.tensor([math.log(v) for v in config.zoom_range]))
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

    def part_masks(self, content: torch.Tensor) -> torch.Tensor:
        """The part masks of :meth:`layers` alone: ``[N, parts, H, W]``."""
        return layer_masks(content, self.geometry.channels)[:, 1:]

    def anchors(self, masks: torch.Tensor) -> torch.Tensor:
        """Centroid of each part's mask, ``[N, parts, 2]`` in normalised (x, y)."""
        return mask_moments(masks, self.identity_grid)[0]

    def part_confident(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each part's centroid and per-axis standard deviation ``[N, parts, 2]`` each, from its
        confident mask pixels (``_affine.confident_moments``), without gradient: where a part is
        and how far it reaches, whatever a faint tail of its mask does; the masks are learnt
        from other terms."""
        centre, cov = self._confident_moments(masks)
        return centre, self._deviations(cov)

    def _confident_moments(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`part_confident`'s centroids with the full covariance ``[N, parts, 2, 2]``."""
        with torch.no_grad():
            return confident_moments(masks.float(), self.identity_grid)

    @staticmethod
    def _deviations(cov: torch.Tensor) -> torch.Tensor:
        return cov.diagonal(dim1=-2, dim2=-1).clamp_min(1e-8).sqrt()

    def part_centres(self, masks: torch.Tensor) -> torch.Tensor:
        """The centroid half of :meth:`part_confident`: ``[N, parts, 2]``."""
        return self.part_confident(masks)[0]

    def part_spread(self, masks: torch.Tensor) -> torch.Tensor:
        """The standard-deviation half of :meth:`part_confident`: ``[N, parts, 2]``."""
        return self.part_confident(masks)[1]

    def bounce_geometry(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """With boundary = reflect: each part's bouncing point and its reach from it (the
        learnt or held factor included), ``[N, parts, 2]`` each, as :meth:`part_maps` uses them."""
        return self._walls(masks, self.anchors(masks), *self.part_confident(masks))

    def _walls(
        self, masks: torch.Tensor, anchors: torch.Tensor, centres: torch.Tensor, spread: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        point, measure = self._reach_measure(masks, anchors, centres, spread)
        return point, self.log_reach.exp() * measure

    def _reach_measure(
        self, masks: torch.Tensor, anchors: torch.Tensor, centres: torch.Tensor, spread: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_walls` before the reach factor: the bouncing point and what its reach is measured from."""
        point = centres if self.config.bounce_point == "centre" else anchors.detach()
        if self.config.reach_measure == "spread":
            return point, spread
        return point, self._confident_radius(masks, point)

    def _confident_radius(self, masks: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """``_affine.confident_radius`` of masks ``[N, parts, H, W]`` about ``centres``, without gradient."""
        with torch.no_grad():
            return confident_radius(masks.float(), centres.float(), self.identity_grid)

    def part_maps(
        self, content: torch.Tensor, motion: torch.Tensor, source: torch.Tensor | None = None,
        tracks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The maps the decoder applies to a content map ``[N, *content_shape]`` for motion codes
        ``[N, T, frame_code_dim]``: linear parts ``A`` [N, T, parts, 2, 2] and shifts ``e``
        [N, T, parts, 2], after the options that depend on the parts' geometry (``motion_units``,
        ``zoom_range``, ``boundary``); with none of them, :meth:`part_affine` of every code.
        ``source``: in a transfer, the content map of the source clip's first frame, which
        ``source_bounces = "unfold"`` unfolds the codes' path at (of every frame, ``[N, T,
        *content_shape]``, where :attr:`uses_source_clip`); ``tracks``: the points E_M
        follows in the source clip ``[N, T, K, 2]`` (``unfold_turns_from = "tracks"``)."""
        linear, shift, _ = self._part_maps(content, motion, source, tracks)
        return linear, shift

    def _part_maps(
        self, content: torch.Tensor, motion: torch.Tensor, source: torch.Tensor | None = None,
        tracks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[tuple[torch.Tensor, ...], torch.Tensor] | None]:
        """:meth:`part_maps`, and the content maps' layers and anchors where it measured them (else
        None), so that compositing does not measure them again."""
        n, t = motion.shape[:2]
        k = self.parts
        geometric = self.config.boundary != "none" or self.config.motion_units != "frame"
        unfolding = source is not None and self.config.boundary == "reflect" and self.config.source_bounces == "unfold"
        whole_clip = unfolding and source.dim() == content.dim() + 1
        layers = self.layers(content) if geometric else None
        masks = layers[2] if geometric else None
        if unfolding:
            # A transfer's source frames are measured in the same pass as the target (one batch of
            # moments); of their layers only the masks are needed.
            source_maps = source.flatten(0, 1) if whole_clip else source
            masks = torch.cat([masks, self.part_masks(source_maps)])
        centres, cov = self._confident_moments(masks) if geometric else (None, None)
        spread = None if cov is None else self._deviations(cov)
        if whole_clip and not self.uses_transfer_codes:
            # Path, turn and zoom are all read off the source clip: the codes' maps would only
            # cancel (landed where they draw the target's part, less where they draw the source's),
            # so the transfer starts from the identity and does not read the codes at all.
            linear = torch.eye(2, dtype=motion.dtype, device=motion.device).expand(n, t, k, 2, 2)
            shift = motion.new_zeros(n, t, k, 2)
        else:
            linear, shift = self._coded_maps(motion, None if spread is None else spread[:n])
        anchors = None
        if self.config.boundary == "reflect":
            anchors = self.anchors(masks)
            point, measure = self._reach_measure(masks, anchors, centres, spread)
            reach = self.log_reach.exp() * measure

            def per_frame(x: torch.Tensor) -> torch.Tensor:
                return x.unsqueeze(1).expand(n, t, k, 2).reshape(-1, k, 2)

            moved = None
            if unfolding:
                source_geometry, path = self._split_source((anchors[n:], point[n:], reach[n:]), n if whole_clip else None)
                anchors, point, reach = anchors[:n], point[:n], reach[:n]
                shift, moved = self._unfold_source_bounces(source_geometry, anchors, point, linear, shift, tracks, path)
                moved = tuple(per_frame(m) for m in moved)
            # The anchor mode passes no point: reflect_shift then bounces the anchor itself, gradient included.
            bouncing = per_frame(point) if self.config.bounce_point == "centre" else None
            shift = reflect_shift(per_frame(anchors), per_frame(reach), linear.reshape(-1, k, 2, 2),
                                  shift.reshape(-1, k, 2), bouncing, moved).view(n, t, k, 2)
            if whole_clip and "parts" in (self.config.source_turn, self.config.source_scale):
                luminance = source_maps[:, : self.geometry.channels].mean(1).view(n, t, *masks.shape[-2:])
                radius = None
                if self.config.source_turn == "parts":  # the turn is read in the target's size
                    # The confident radius about the confident centres: the walls' own measure where
                    # the part bounces at its centre with its radius as reach.
                    walls_measured_it = (self.config.bounce_point, self.config.reach_measure) == ("centre", "radius")
                    radius = measure if walls_measured_it else self._confident_radius(masks, centres)
                linear, shift = self._measured_form(linear, shift, anchors, point,
                                                    masks[n:].view(n, t, *masks.shape[1:]), centres, spread, luminance,
                                                    cov[n:], radius)
        target = None
        if geometric:
            target = (layers, self.anchors(masks[:n]) if anchors is None else anchors[:n])
        return linear, shift, target

    def _measured_form(
        self, linear: torch.Tensor, shift: torch.Tensor, anchors: torch.Tensor, point: torch.Tensor,
        source_masks: torch.Tensor, centres: torch.Tensor, spread: torch.Tensor, luminance: torch.Tensor,
        source_cov: torch.Tensor, radius: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The maps ``linear`` [N, T, parts, 2, 2], ``shift`` [N, T, parts, 2] with each part's turn
        and/or scale read off the source clip (``source_turn``, ``source_scale``): the linear part
        becomes the similarity of that turn and scale (the codes' where not read), and the shift
        keeps the part's bouncing point where the maps already put it (bounces included).
        ``anchors``, ``point``: the target parts' ``[N, parts, 2]``; ``source_masks``: every source
        frame's part masks ``[N, T, parts, H, W]``;
        ``centres``: the confident centres :meth:`part_confident` gave the target's parts and then
        every source frame's, ``[N + N*T, parts, 2]``, and ``spread`` their per-axis deviations
        alike; ``luminance``: every source frame's image channels' mean ``[N, T, H, W]``
        (``turn_reads = "shading"``); ``source_cov``: the confident covariances of every source frame's
        parts ``[N*T, parts, 2, 2]``; ``radius``: the confident radius about the confident centres
        ``[N + N*T, parts, 2]``, the targets' then every source frame's (``source_turn = "parts"``)."""
        cfg = self.config
        n, t, k = linear.shape[:3]
        grid = self.identity_grid
        centres = centres[n:].view(n, t, k, 2)  # every source frame's
        with torch.no_grad():
            if cfg.source_scale == "parts":
                cov = source_cov.flatten(0, 1).double()  # the full covariance
                logdet = torch.logdet(cov)
                # A frame whose part shows no spread (a mask on one line, or none) has a singular
                # covariance: read with each pixel's footprint added (a unit square's variance, 1/12
                # pixel² per axis) rather than as -inf, which turned the whole transfer NaN (an
                # untrained E_C's masks, nineteenth session). Finite readings are left as they were.
                side = torch.tensor(source_masks.shape[-1:-3:-1], dtype=cov.dtype, device=cov.device)
                footprint = torch.diag((2 / side).square() / 12)  # normalised units: a side spans 2
                logdet = torch.where(torch.isfinite(logdet), logdet, torch.logdet(cov.nan_to_num() + footprint)).view(n, t, k)
                log_scale = (0.25 * (logdet - logdet[:, :1])).to(linear.dtype)
                if cfg.scale_rate == "target":
                    size = gyration_radius(spread)  # [N + N*T, parts]: the targets', then every source frame's
                    ratio = size[n:].view(n, t, k)[:, 0] / size[:n].clamp_min(1e-6)
                    log_scale = rescaled_zoom(log_scale, ratio, ZOOM_TOLERANCE, ZOOM_MIN_TRAVEL)
            else:
                log_scale = -0.5 * torch.logdet(linear.double()).to(linear.dtype)  # the codes' A = R(-θ) / s
            if cfg.source_turn == "parts":
                per_part = source_masks.float().transpose(1, 2).flatten(0, 1)  # [N*parts, T, H, W]
                shading = None
                if cfg.turn_reads == "shading":
                    shading = part_shading(per_part, luminance.float().repeat_interleave(k, 0))
                turn = registered_turns(per_part, centres.transpose(1, 2).flatten(0, 1), grid, cfg.turn_step,
                                        shading=shading)
                turn = turn.view(n, k, t).transpose(1, 2)
                # In the target's size: the source's rim speed, so a part half the size turns twice as fast.
                target_radius, source_radius = radius[:n, :, 0], radius[n:, :, 0].view(n, t, k)[:, 0]
                turn = turn * (source_radius / target_radius.clamp_min(1e-6)).unsqueeze(1)
            else:
                turn = map_turn(linear)
        landed = landing(anchors.unsqueeze(1).expand(n, t, k, 2), linear, shift, point.unsqueeze(1).expand(n, t, k, 2))
        measured = similarity_linear(log_scale, turn.to(linear.dtype))
        a = anchors.unsqueeze(1).to(linear.dtype)
        return measured, point.unsqueeze(1).to(linear.dtype) - a - (measured @ (landed - a).unsqueeze(-1)).squeeze(-1)

    def _coded_maps(self, motion: torch.Tensor, spread: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The maps motion codes ``[N, T, frame_code_dim]`` give before any bounce (``motion_units``
        and ``zoom_range`` included; ``spread``: the parts' confident spread ``[N, parts, 2]``, which
        ``motion_units = "part"`` needs): ``[N, T, parts, 2, 2]`` and ``[N, T, parts, 2]``."""
        n, t = motion.shape[:2]
        k = self.parts
        if self.config.linear == "similarity":
            raw = self.motion_head(motion).view(n, t, k, 6)
            log_scale, angle, shift = similarity_params(raw, self.config.max_log_scale, self.config.max_shift)
            if self.config.motion_units == "part":
                radius = gyration_radius(spread)  # [N, K]
                relative = (self.config.reference_radius / radius.clamp_min(1e-3)).unsqueeze(1).to(raw.dtype)
                log_scale, angle = log_scale * relative, angle * relative
            if self.config.zoom_range is not None:
                lo, hi = self.log_zoom_range[0].clamp(max=-1e-3), self.log_zoom_range[1].clamp(min=1e-3)
                log_scale = fold(log_scale, lo, hi)  # 0 stays 0: a zero code is still the identity
            linear = similarity_linear(log_scale, angle)
        else:
            linear, shift = self.part_affine(motion.reshape(n * t, -1))
            linear, shift = linear.view(n, t, k, 2, 2), shift.view(n, t, k, 2)
        return linear, shift

    @staticmethod
    def _split_source(
        geometry: tuple[torch.Tensor, torch.Tensor, torch.Tensor], clips: int | None
    ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor | None]:
        """The source's first-frame geometry (anchors, bouncing points, reach ``[N, parts, 2]``) and,
        where ``geometry`` holds every frame of ``clips`` source clips (``[N*T, parts, 2]`` each),
        the path of each part's bouncing point ``[N, T, parts, 2]`` (else None)."""
        if clips is None:
            return geometry, None
        anchors, point, reach = (x.view(clips, -1, *x.shape[1:]) for x in geometry)
        return (anchors[:, 0], point[:, 0], reach[:, 0]), point

    def _unfold_source_bounces(
        self, source: tuple[torch.Tensor, torch.Tensor, torch.Tensor], anchors: torch.Tensor, point: torch.Tensor,
        linear: torch.Tensor, shift: torch.Tensor, tracks: torch.Tensor | None = None, path: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Shifts ``[N, T, parts, 2]`` that move each target part along the path the codes draw for
        the source's part (``source``: its anchors, bouncing points and reach, :meth:`_source_geometry`),
        with that path's bounces off the source's walls unfolded
        (:func:`~._affine.unfold_bounces`), and how far the target's walls move ``(lo, hi)``
        ``[N, parts, 2]`` (``unfold_at = "turns"``; zeros otherwise); ``part_maps`` then folds
        the path at the target's walls."""
        n, t = linear.shape[:2]

        def along(x: torch.Tensor) -> torch.Tensor:
            return x.unsqueeze(1).expand(n, t, *x.shape[1:])

        drawn, seen, free, lo, hi, mirror_lo, mirror_hi = self._source_paths(source, linear, shift, tracks, path)
        target = landing(along(anchors), linear, shift, along(point)) + (free - drawn)
        # The shift that lands the bouncing point at `target`: src(target) = point.
        a = along(anchors).to(linear.dtype)
        moved = (mirror_lo - lo, mirror_hi - hi)
        return along(point).to(linear.dtype) - a - (linear @ (target - a).unsqueeze(-1)).squeeze(-1), moved

    def _source_geometry(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A content map's parts as a transfer's source: anchors, bouncing points and reach
        ``[N, parts, 2]`` each (as ``part_maps`` measures them in one pass with the target's)."""
        masks = self.part_masks(source)
        anchors = self.anchors(masks)
        return (anchors, *self._walls(masks, anchors, *self.part_confident(masks)))

    def _source_clip_geometry(
        self, source: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor | None]:
        """:meth:`_split_source` of a transfer's source: the first frame's content map ``[N,
        *content_shape]`` or every frame's ``[N, T, *content_shape]``."""
        whole_clip = source.dim() == 2 + len(self.content_shape)
        return self._split_source(self._source_geometry(source.flatten(0, 1) if whole_clip else source),
                                  source.shape[0] if whole_clip else None)

    def _source_paths(
        self, source: tuple[torch.Tensor, torch.Tensor, torch.Tensor], linear: torch.Tensor, shift: torch.Tensor,
        tracks: torch.Tensor | None = None, path: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """The source's parts (anchors, bouncing points, reach: :meth:`_source_geometry`) under the
        maps ``(linear, shift)`` ``[N, T, parts, ...]``: the path of each part's bouncing point
        before any bounce, as the source's walls fold it (with ``source_path = "parts"``: the
        measured ``path`` of its bouncing point in every source frame ``[N, T, parts, 2]``), and
        unfolded (``[N, T, parts, 2]`` each); the source's walls and the walls the path was
        unfolded at (``[N, parts, 2]`` each). The bounces are found where ``unfold_turns_from``
        says: on the path unfolded, on ``tracks`` (see :meth:`_track_turns`) or on ``path``."""
        n, t = linear.shape[:2]
        cfg = self.config
        source_anchors, source_point, source_reach = source
        if cfg.bounce_point == "anchor":
            source_point = source_anchors
        lo, hi = part_walls(source_reach, source_point)
        drawn = landing(source_anchors.unsqueeze(1).expand(n, t, *source_anchors.shape[1:]), linear, shift,
                        source_point.unsqueeze(1).expand(n, t, *source_point.shape[1:]))  # before any bounce
        seen = fold(drawn, lo.unsqueeze(1), hi.unsqueeze(1))  # what the source's reconstruction shows
        if "parts" in (cfg.source_path, cfg.unfold_turns_from):
            if path is None or path.shape[:2] != seen.shape[:2]:
                raise ShapeError("sprite_frame_decoder: source_path or unfold_turns_from = 'parts' needs the content"
                                 f" maps of every source frame ({t}), got {None if path is None else path.shape[1]}")
            path = path.to(seen.dtype)
            # Walls measured on frame 1 alone can sit a fraction of a pixel inside where the part
            # goes later: widened to hold the measured path, so folding the unfolded path returns it.
            lo, hi = torch.minimum(lo.to(seen.dtype), path.amin(1)), torch.maximum(hi.to(seen.dtype), path.amax(1))
        codes_path = seen
        if cfg.source_path == "parts":
            seen = path
        turns = None
        if cfg.unfold_turns_from == "tracks":
            if tracks is None:
                raise ShapeError("sprite_frame_decoder: unfold_turns_from = 'tracks' needs the source's tracks")
            turns = self._track_turns(tracks, seen, lo, hi)
        elif cfg.unfold_turns_from != cfg.source_path:  # found on the other path than the one unfolded
            near = "lines" if cfg.unfold_at == "turns" else "frames"
            found_on = path if cfg.unfold_turns_from == "parts" else codes_path
            turns = turn_arounds(found_on, lo, hi, cfg.unfold_tolerance, cfg.unfold_min_travel, near=near)
        free, mirror_lo, mirror_hi = unfold_path(seen, lo, hi, cfg.unfold_at, cfg.unfold_tolerance,
                                                 cfg.unfold_min_travel, cfg.unfold_between_frames, turns)
        return drawn, seen, free, lo.to(seen.dtype), hi.to(seen.dtype), mirror_lo, mirror_hi

    def _track_turns(
        self, tracks: torch.Tensor, seen: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The source's bounces ``(off_hi, off_lo)`` ``[N, T, parts, 2]`` found on the tracked point
        that starts nearest each part's path ``seen`` ``[N, T, parts, 2]``; its walls are the
        part's ``lo``, ``hi`` moved by the offset between the two at frame 0 (the point and the
        part's bouncing point need not be the same point of the object)."""
        cfg = self.config
        start = (tracks[:, 0, None, :, :] - seen[:, 0, :, None, :]).norm(dim=-1)  # [N, parts, K]
        nearest = start.argmin(-1)  # [N, parts]
        n, t = tracks.shape[:2]
        index = nearest[:, None, :, None].expand(n, t, nearest.shape[1], 2)
        track = torch.gather(tracks.to(seen.dtype), 2, index)  # [N, T, parts, 2]
        offset = track[:, 0] - seen[:, 0]
        return turn_arounds(track, lo + offset, hi + offset, cfg.unfold_tolerance, cfg.unfold_min_travel)

    def source_free_path(
        self, source: torch.Tensor, motion: torch.Tensor, tracks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """For probes: the path of each source part's bouncing point as a transfer reads it (as the
        reconstruction shows it, or as measured with ``source_path = "parts"``) and as it unfolds
        it (``source_bounces = "unfold"``), content map of the source's first frame ``[N,
        *content_shape]`` (every frame's ``[N, T, *content_shape]`` where :attr:`uses_source_clip`),
        motion codes ``[N, T, frame_code_dim]`` (and the source's tracks, for ``unfold_turns_from =
        "tracks"``) → ``[N, T, parts, 2]`` each."""
        if self.config.source_bounces != "unfold":
            raise ValueError("sprite_frame_decoder: source_free_path needs source_bounces = 'unfold'")
        geometry, path = self._source_clip_geometry(source)
        first = source[:, 0] if path is not None else source
        spread = self.part_confident(self.layers(first)[2])[1]
        linear, shift = self._coded_maps(motion, spread)
        _, seen, free, *_ = self._source_paths(geometry, linear, shift, tracks, path)
        return seen, free

    def part_affine(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The backward maps' linear parts ``A`` [N, parts, 2, 2] and shifts ``e`` [N, parts, 2] as
        the codes ``[N, frame_code_dim]`` give them, before any option that depends on the parts'
        geometry (see :meth:`part_maps`)."""
        raw = self.motion_head(motion).view(motion.shape[0], self.parts, 6)
        if self.config.linear == "similarity":
            return similarity_affine(raw, self.config.max_log_scale, self.config.max_shift)
        return bounded_affine(raw, self.config.max_linear, self.config.max_shift)

    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n = content.shape[0]
        self._check_content(content)
        if motion.shape != (n, self.frame_code_dim):
            raise ShapeError(f"sprite_frame_decoder: expected motion [{n}, {self.frame_code_dim}], got {tuple(motion.shape)}")
        return self._compose_clip(content, *self._part_maps(content, motion.unsqueeze(1)))[:, 0]

    def render_held(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """A clip per content map ``[N, *content_shape]`` held over the frames of ``motion``
        ``[N, T, frame_code_dim]``: ``[N, T, C, H, W]``, the layers and anchors computed once per
        content map instead of once per frame."""
        return self.render_transfer(content, motion, None)

    @property
    def uses_transfer_source(self) -> bool:  # type: ignore[override]
        return self.config.source_bounces == "unfold"

    @property
    def uses_source_tracks(self) -> bool:  # type: ignore[override]
        return self.config.source_bounces == "unfold" and self.config.unfold_turns_from == "tracks"

    @property
    def uses_source_clip(self) -> bool:  # type: ignore[override]
        cfg = self.config
        return cfg.source_bounces == "unfold" and "parts" in (
            cfg.source_path, cfg.unfold_turns_from, cfg.source_turn, cfg.source_scale)

    @property
    def uses_transfer_codes(self) -> bool:  # type: ignore[override]
        # With the path (its bounces found on it too), the turn and the zoom read off the source
        # clip, the codes' similarity is replaced and their path cancels: nothing of them is left.
        cfg = self.config
        measured = (cfg.source_path, cfg.unfold_turns_from, cfg.source_turn, cfg.source_scale) == ("parts",) * 4
        return not (cfg.source_bounces == "unfold" and cfg.boundary == "reflect" and measured)

    def render_transfer(
        self, content: torch.Tensor, motion: torch.Tensor, source: torch.Tensor | None,
        tracks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``render_held`` with the source's geometry (``source_bounces = "unfold"``; see the config)."""
        self._check_content(content)
        n, t = motion.shape[:2]
        if source is not None:
            if self.uses_source_clip:
                if source.dim() != 2 + len(self.content_shape) or tuple(source.shape[:2]) != (n, t):
                    raise ShapeError(
                        f"sprite_frame_decoder: expected the source clip's content maps [{n}, {t}, "
                        f"{', '.join(map(str, self.content_shape))}], got {tuple(source.shape)}"
                    )
                self._check_content(source[:, 0])
            else:
                self._check_content(source)
        if motion.shape != (n, t, self.frame_code_dim) or n != content.shape[0]:
            raise ShapeError(
                f"sprite_frame_decoder: expected motion [{content.shape[0]}, T, {self.frame_code_dim}], "
                f"got {tuple(motion.shape)}"
            )
        if tracks is not None and (tracks.dim() != 4 or tuple(tracks.shape[:2]) != (n, t) or tracks.shape[-1] != 2):
            raise ShapeError(f"sprite_frame_decoder: expected tracks [{n}, {t}, K, 2], got {tuple(tracks.shape)}")
        return self._compose_clip(content, *self._part_maps(content, motion, source, tracks))

    def compose(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """The frame of a content map ``[N, *content_shape]`` with each part moved by the backward
        map ``src(p) = a + A (p - a) + e`` about its anchor: ``linear`` A [N, parts, 2, 2],
        ``shift`` e [N, parts, 2]. ``forward`` is this on the motion code's maps; benchmarks call
        it with known maps (``benchmarks/transfer_ceiling.py``)."""
        return self._compose_clip(content, linear.unsqueeze(1), shift.unsqueeze(1))[:, 0]

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

    def _compose_clip(
        self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor,
        measured: tuple[tuple[torch.Tensor, ...], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``compose`` for T maps per content map: linear [N, T, parts, 2, 2], shift [N, T, parts, 2]
        → [N, T, C, H, W]. ``measured``: the content maps' layers and anchors, where
        :meth:`_part_maps` has them."""
        c, k = self.geometry.channels, self.parts
        h, w = self.geometry.height, self.geometry.width
        (image, background, masks, residual), anchors = measured or (self.layers(content), None)
        if anchors is None:
            anchors = self.anchors(masks)
        n = image.shape[0]
        # One resampling of [image, mask] per part: the part's pixels and where they land.
        layer = torch.cat([image.unsqueeze(1).expand(n, k, c, h, w), masks.unsqueeze(2)], dim=2)
        moved = self._resample(layer, anchors, linear, shift)  # [N, K, C+1, T, H, W]
        return composite(moved, background, residual)  # parts that overlap share the pixel
