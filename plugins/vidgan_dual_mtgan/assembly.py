"""The Dual-MTGAN model assembly: six slots wired into one trainable model.

Slots, declared in :class:`DualMTGANConfig` (any registered component of the right kind
*and role* fits; the defaults are the built-in networks). G_T gets E_M's ``motion_dim``, G_I
gets E_C's ``code_shape`` and G_T's ``frame_code_dim``: the wiring their kinds declare.

=======================  ===================  ==================================  =====================
slot                     kind                 base class                          default
=======================  ===================  ==================================  =====================
content_encoder (E_C)    encoder              ContentEncoder                      conv_content_encoder
motion_encoder (E_M)     encoder              MotionEncoder                       conv3d_motion_encoder
temporal_generator (G_T) temporal_generator   TemporalGenerator                   lstm_temporal_generator
decoder (G_I)            decoder              FrameDecoder                        conv_frame_decoder
image_discriminator      discriminator        ImageDiscriminator                  conditional_image_discriminator
video_discriminator      discriminator        VideoDiscriminator                  conv3d_video_discriminator
=======================  ===================  ==================================  =====================

Training pairs. The paper trains on a source clip V and a target image y from another
clip V_y. Here both come from one batch: V_y is the batch rolled by one (clip i is paired
with clip i-1) and y is V_y's first frame, so every clip serves once as V and once as V_y
and no second data stream is needed. With a batch of one clip, V_y = V.

Outputs of ``forward(batch)`` (the built-in losses read these keys):

================== ======================= =====================================================
key                shape                   meaning
================== ======================= =====================================================
video              [B, T, C, H, W]         V, the input clips
video_y            [B, T, C, H, W]         V_y = V rolled by one along the batch
target             [B, C, H, W]            y, first frame of V_y
content_codes      [B, T, *code_shape]     z_c^t = E_C(x^t) for every frame of V
content_target     [B, *code_shape]        z_c,y = E_C(y) (taken from content_codes, no extra pass)
posterior          MotionPosterior         q(z_M | V): mean, logvar [B, motion_dim] (V as E_M read it: ``source_jitter``)
z_motion           [B, motion_dim]         z_M: a reparameterised sample in training, the mean in eval
z_prior            [B, motion_dim]         z ~ N(0, I) for the stochastic branch
frame_codes        [B, T, frame_code_dim]  z_m,d^t = G_T(z_M)
frame_codes_prior  [B, T, frame_code_dim]  z_m,s^t = G_T(z_prior)
reconstruction     [B, T, C, H, W]         Ṽ_x (Eq. 3; content per ``recon_content``)
transfer           [B, T, C, H, W]         Ṽ_y,d: y's content, V's motion
sample             [B, T, C, H, W]         Ṽ_y,s: y's content, motion from the prior
================== ======================= =====================================================

G_T runs once on [z_M; z_prior] and G_I once on all three generated clips (3·B·T frames).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, ComponentSpec, Slot, VideoGeometry, assert_frames, assert_video, build_slots
from vidgan_kit.config import slot_fields
from vidgan_kit.errors import ShapeError, VidganError
from vidgan_kit.interfaces import (
    ContentEncoder,
    ExportPlan,
    FrameDecoder,
    ImageDiscriminator,
    ModelAssembly,
    MotionEncoder,
    MotionPosterior,
    TemporalGenerator,
    VideoDiscriminator,
)
from vidgan_kit.layout import fold_time, unfold_time

from .source_jitter import SourceJitterConfig, jitter_source

__all__ = ["DualMTGAN", "DualMTGANConfig", "GENERATOR_SLOTS", "DISCRIMINATOR_SLOTS", "PartMotionDecoder"]

GENERATOR_SLOTS = ("content_encoder", "motion_encoder", "temporal_generator", "decoder")
DISCRIMINATOR_SLOTS = ("image_discriminator", "video_discriminator")


@runtime_checkable
class PartMotionDecoder(Protocol):
    """A G_I that draws a frame by moving parts of the content with affine maps about anchors
    (``sprite_frame_decoder``, ``warp_frame_decoder``): the maps of one window can be chained
    onto the last frame of the one before, which is how a transfer continues its motion past
    the model's clip length (:meth:`DualMTGAN.transfer_windows`). A backward map sends an
    output pixel p to ``a + A (p - a) + e``, in ``grid_sample``'s normalised coordinates."""

    def part_maps(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Motion codes ``[..., F]`` → linear parts A ``[..., K, 2, 2]`` and shifts e ``[..., K, 2]``."""

    def part_anchors(self, content: torch.Tensor) -> torch.Tensor:
        """Content codes ``[N, *cs]`` → each part's anchor a ``[N, K, 2]``."""

    def render_maps(self, content: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """Content ``[N, *cs]`` and maps ``[N, T, K, 2, 2]``, ``[N, T, K, 2]`` of any size → ``[N, T, C, H, W]``."""


class DualMTGANConfig(ComponentConfig):
    """Options of the ``dual_mtgan`` assembly: its six slots and how they are wired."""

    content_encoder: Annotated[ComponentSpec, Slot(
        "encoder", "E_C, the per-frame content encoder (frames -> content code)", ContentEncoder,
    )] = ComponentSpec(type="conv_content_encoder")
    motion_encoder: Annotated[ComponentSpec, Slot(
        "encoder", "E_M, the clip-level motion encoder (clip -> MotionPosterior)", MotionEncoder,
    )] = ComponentSpec(type="conv3d_motion_encoder")
    temporal_generator: Annotated[ComponentSpec, Slot(
        "temporal_generator", "G_T, the per-frame motion generator (z_M -> per-frame codes)", TemporalGenerator,
    )] = ComponentSpec(type="lstm_temporal_generator")
    decoder: Annotated[ComponentSpec, Slot(
        "decoder", "G_I, the frame decoder ((content, motion) -> frame)", FrameDecoder,
    )] = ComponentSpec(type="conv_frame_decoder")
    image_discriminator: Annotated[ComponentSpec, Slot(
        "discriminator", "D_I, the conditional image-pair discriminator ((condition, frame) -> logit)",
        ImageDiscriminator,
    )] = ComponentSpec(type="conditional_image_discriminator")
    video_discriminator: Annotated[ComponentSpec, Slot(
        "discriminator", "D_V, the video discriminator (clip -> logit)", VideoDiscriminator,
    )] = ComponentSpec(type="conv3d_video_discriminator")
    recon_content: Literal["first_frame", "per_frame"] = Field(
        "first_frame",
        description="Content code of the reconstruction Ṽ_x: the first frame's for every frame (no shortcut "
        "around the motion path; as at inference) or each frame's own (Eq. 3 literally).",
    )
    preview_samples: int = Field(2, ge=0, le=16, description="Stochastic rows (sample_1, ...) in preview().")
    sample_from: Literal["prior", "posterior"] = Field(
        "prior",
        description="sample()'s motion codes: `prior`, N(0, I) as in the paper; `posterior`, a diagonal Gaussian"
        " fitted to E_M's posteriors of the training clips (their aggregate), tracked during training as a running"
        " average of a batch's statistics every posterior_every steps, with the weights inference uses (the EMA"
        " weights when train.ema is on), and saved with the model. The KL term at the recipe's weight leaves"
        " the aggregate far narrower than N(0, I), so prior draws land mostly where training never put a code."
        " Training's own prior samples (for D_V) use N(0, I) either way.",
    )
    posterior_decay: float = Field(
        0.99, gt=0, lt=1,
        description="sample_from = 'posterior': weight of the running average's past per observation.",
    )
    posterior_every: int = Field(
        10, ge=1,
        description="sample_from = 'posterior': steps between two observations of a batch's posterior (each one"
        " E_M forward without gradients; with the default decay the average spans about 1000 steps, as an EMA"
        " of decay 0.999 does).",
    )
    sample_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        description="sample(): the draws' spread times s (the truncation trick: fewer outlying motions, less"
        " spread): N(0, s² I), or the fitted Gaussian with its deviations times s. Changes no weights.",
    )
    active_dim_threshold: float = Field(
        0.01, ge=0, description="diagnostics(): a motion dimension is active when its batch-mean KL exceeds this (nats)."
    )
    health_after: int = Field(
        500, ge=0, description="health_warnings(): steps of grace before a collapse is reported (early steps are noisy)."
    )
    min_motion_gap: float = Field(
        1e-3, ge=0, description="health_warnings(): diag/motion_gap (L1) below this means the motion video is ignored."
    )
    source_jitter: SourceJitterConfig = Field(
        default_factory=SourceJitterConfig,
        description="In training, E_M reads its clip with colours and place changed, one draw per clip (off by"
        " default): {color, channel_shuffle, translate}. The reconstruction is scored against the clip as it is.",
    )
    max_leakage_ratio: float = Field(
        1.0, ge=0, description="health_warnings(): val/leakage_ratio above this means the motion clip's content leaks."
    )


class DualMTGAN(ModelAssembly):
    """Dual-MTGAN (Yang, Wang & Fuh): deterministic motion transfer and stochastic motion generation."""

    Config = DualMTGANConfig
    #: Shown in the trainer's progress line beside the losses.
    progress_keys = ("diag/kl", "diag/kl_active_dims", "diag/motion_gap", "val/leakage_ratio")

    def __init__(self, config: DualMTGANConfig, *, geometry: VideoGeometry, registry: Any, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        for name, component in build_slots(config, registry, geometry=geometry).items():
            setattr(self, name, component)
        if config.sample_from == "posterior":
            # Running sums of the posterior's mean and second moment per dimension, and of the
            # weights (as Adam's bias correction): saved in the checkpoint's _assembly/ weights.
            d = self.motion_encoder.motion_dim
            self.register_buffer("posterior_mean_sum", torch.zeros(d))
            self.register_buffer("posterior_square_sum", torch.zeros(d))
            self.register_buffer("posterior_weight", torch.zeros(()))

    # -- the trainer's API -----------------------------------------------------------------
    def slots(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in slot_fields(DualMTGANConfig)}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``generator``: E_C, E_M, G_T, G_I. ``discriminator``: D_I, D_V."""

        def collect(names: tuple[str, ...]) -> list[nn.Parameter]:
            seen: set[int] = set()
            out = []
            for n in names:
                for p in getattr(self, n).parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
            return out

        return {"generator": collect(GENERATOR_SLOTS), "discriminator": collect(DISCRIMINATOR_SLOTS)}

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        video = assert_video(batch["video"], "batch['video']", geometry=self.geometry)
        b, t = video.shape[:2]
        video_y = video.roll(1, dims=0)
        target = video_y[:, 0]

        codes = unfold_time(self.content_encoder(fold_time(video)), b)  # [B, T, *cs]
        content_y = codes[:, 0].roll(1, dims=0)  # E_C(y): y is frame 0 of the rolled batch

        source = jitter_source(video, self.config.source_jitter) if self.training else video
        posterior = MotionPosterior(*self.motion_encoder(source))
        z_motion = posterior.sample() if self.training else posterior.mean
        z_prior = torch.randn_like(z_motion)
        frame_codes, frame_codes_prior = self.temporal_generator(torch.cat([z_motion, z_prior]), t).chunk(2)

        # One decoder call on all three clips (3·B·T frames): every content code is held over
        # time, except the reconstruction's with recon_content = "per_frame".
        if self.config.recon_content == "per_frame":
            held_y = content_y.unsqueeze(1).expand_as(codes)
            content = torch.cat([codes, held_y, held_y])
        else:
            content = torch.cat([codes[:, 0], content_y, content_y])
        recon, transfer, sample = self._render(
            content, torch.cat([frame_codes, frame_codes, frame_codes_prior])
        ).chunk(3)
        return {
            "video": video,
            "video_y": video_y,
            "target": target,
            "content_codes": codes,
            "content_target": content_y,
            "posterior": posterior,
            "z_motion": z_motion,
            "z_prior": z_prior,
            "frame_codes": frame_codes,
            "frame_codes_prior": frame_codes_prior,
            "reconstruction": recon,
            "transfer": transfer,
            "sample": sample,
        }

    @torch.no_grad()
    def track_inference_statistics(self, batch: dict[str, Any], step: int) -> None:
        """With ``sample_from = "posterior"``, every ``posterior_every`` steps: one observation of
        the aggregate posterior's moments on the batch. The trainer calls it with the weights
        that inference loads (the EMA weights when there are any): sample() feeds its draws to
        the averaged G_T, and the raw encoder's posteriors make a wider Gaussian than the
        averaged encoder's."""
        if self.config.sample_from != "posterior" or step % self.config.posterior_every:
            return
        video = assert_video(batch["video"], "batch['video']", geometry=self.geometry)
        was = self.motion_encoder.training
        self.motion_encoder.eval()  # as sample() and transfer() run it
        try:
            posterior = MotionPosterior(*self.motion_encoder(video))
        finally:
            self.motion_encoder.train(was)
        self._observe_posterior(posterior)

    def _observe_posterior(self, posterior: MotionPosterior) -> None:
        """One step of the running average of the aggregate posterior's moments: over the batch,
        E[z] = mean(μ) and E[z²] = mean(μ² + σ²)."""
        mean, var = posterior.mean.float(), posterior.logvar.float().exp()
        decay = self.config.posterior_decay
        self.posterior_mean_sum.mul_(decay).add_(mean.mean(0), alpha=1 - decay)
        self.posterior_square_sum.mul_(decay).add_((mean.square() + var).mean(0), alpha=1 - decay)
        self.posterior_weight.mul_(decay).add_(1 - decay)

    def motion_draws(self, n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        """``n`` motion codes z_M for sample(): from N(0, I) or, with ``sample_from = "posterior"``
        and some training tracked, from the fitted aggregate posterior; spread times ``sample_scale``."""
        eps = torch.randn((n, self.motion_encoder.motion_dim), generator=generator, device=like.device, dtype=like.dtype)
        scale = self.config.sample_scale
        fitted = self.fitted_posterior()
        if fitted is None:
            return scale * eps
        mean, std = fitted
        return (mean + scale * std * eps).to(like.dtype)

    def fitted_posterior(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Mean and standard deviation [motion_dim] of the aggregate posterior that sample() draws
        from with ``sample_from = "posterior"``; None when it draws from N(0, I) (the option, or an
        untrained model, a preview at step 0, that has nothing fitted yet)."""
        if self.config.sample_from == "prior" or float(self.posterior_weight) == 0:
            return None
        mean = self.posterior_mean_sum / self.posterior_weight
        return mean, (self.posterior_square_sum / self.posterior_weight - mean.square()).clamp_min(0).sqrt()

    def _render(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """G_I on content [N, T, *cs] (or [N, *cs], held over time) and motion [N, T, F] → [N, T, C, H, W]."""
        n, t = motion.shape[:2]
        if content.dim() == 1 + len(self.content_encoder.code_shape):
            return self.decoder.render_held(content, motion)
        frames = self.decoder(content.reshape(n * t, *content.shape[2:]), motion.reshape(n * t, -1))
        return unfold_time(frames, n)

    # -- inference -------------------------------------------------------------------------
    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        # Switching modes walks every module, on every transfer: only when needed.
        switch = any(m.training for m in self.modules())
        was = self.training
        if switch:
            self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            if switch:
                self.train(was)

    def encode_motion(self, video: torch.Tensor) -> torch.Tensor:
        """z_M of each clip of ``video`` [B, T, C, H, W]: the mean of E_M's posterior, in eval mode
        and without gradients → [B, motion_dim]. The only way a transfer reads its source clip."""
        assert_video(video, "encode_motion: video", geometry=self.geometry)
        with self._evaluating():
            return MotionPosterior(*self.motion_encoder(video)).mean

    def animate(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``image`` [B, C, H, W] animated by the motion codes ``z`` [B, motion_dim] (or [1,
        motion_dim] for one motion for every image): G_I(E_C(image), G_T(z, T)), in eval mode and
        without gradients → [B, T, C, H, W]."""
        assert_frames(image, "animate: image", geometry=self.geometry)
        b, d = image.shape[0], self.motion_encoder.motion_dim
        if z.dim() != 2 or z.shape[1] != d or z.shape[0] not in (1, b):
            raise ShapeError(f"animate: expected motion codes [{b} or 1, {d}] for {b} images, got {tuple(z.shape)}")
        with self._evaluating():
            content = self.content_encoder(image)
            codes = self.temporal_generator(z.to(content.device, content.dtype).expand(b, d), self.geometry.frames)
            return self.decoder.render_held(content, codes)

    def transfer(self, image: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """Deterministic motion transfer: ``image`` [B, C, H, W] animated with ``video``'s motion,
        G_I(E_C(image), G_T(z_M)) with z_M the posterior mean of E_M(video): ``video`` reaches the
        output only through :meth:`encode_motion`.

        ``video`` is [B, T, C, H, W] (or [1, T, ...] for one motion for every image); eval mode
        and no gradients. Returns [B, T, C, H, W].
        """
        assert_frames(image, "transfer: image", geometry=self.geometry)
        assert_video(video, "transfer: video", geometry=self.geometry)
        if video.shape[0] not in (1, image.shape[0]):
            raise ShapeError(f"transfer: {image.shape[0]} images but {video.shape[0]} motion videos (give one or as many)")
        return self.animate(image, self.encode_motion(video))

    def sample(self, image: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stochastic motion generation: ``n`` clips per image with z_M drawn by
        :meth:`motion_draws` (by default N(0, I), as in the paper).

        ``image`` [B, C, H, W] → [B, n, T, C, H, W]; ``generator`` seeds the motion draws.
        """
        assert_frames(image, "sample: image", geometry=self.geometry)
        if n < 1:
            raise ValueError(f"sample: n must be at least 1, got {n}")
        b = image.shape[0]
        with self._evaluating():
            content = self.content_encoder(image).repeat_interleave(n, dim=0)
            z = self.motion_draws(b * n, generator, content)
            clips = self._render(content, self.temporal_generator(z, self.geometry.frames))
        return clips.view(b, n, *clips.shape[1:])

    # -- longer than a clip -----------------------------------------------------------------
    def window_support(self) -> str | None:
        """``None`` with a decoder that moves parts by affine maps (:class:`PartMotionDecoder`);
        otherwise why the motion cannot continue past one window."""
        if isinstance(self.decoder, PartMotionDecoder):
            return None
        spec = getattr(self.decoder, "component_spec", None)
        name = spec.type if spec is not None else type(self.decoder).__name__
        return (
            f"its decoder {name} draws each frame from a code rather than moving parts by affine maps, so the motion"
            " of one window cannot be continued into the next (sprite_frame_decoder and warp_frame_decoder can)"
        )

    def transfer_windows(
        self, image: torch.Tensor, windows: Iterable[tuple[int, torch.Tensor]], *, motion: str = "relative"
    ) -> Iterator[torch.Tensor]:
        """``image`` [B, C, H, W] animated along a source longer than a clip, window by window
        (:meth:`~vidgan_kit.interfaces.ModelAssembly.transfer_windows`).

        Each window ``(start, clip)`` reaches the output only through :meth:`encode_motion`: its
        z_M gives G_T's codes and the decoder's per-part maps, which are relative to the
        window's first frame. Those maps are chained onto the map of that same frame in the
        previous window (:meth:`_continued`), so every frame is drawn from the original target
        image and the motion goes on where the previous window left it.
        """
        self._check_windows(motion)
        assert_frames(image, "transfer_windows: image", geometry=self.geometry)
        b, t = image.shape[0], self.geometry.frames
        with self._evaluating():
            content = self.content_encoder(image)

        def codes() -> Iterator[tuple[int, torch.Tensor]]:
            for start, clip in windows:
                if clip.shape[0] not in (1, b):
                    raise ShapeError(f"transfer_windows: {b} images but {clip.shape[0]} motion videos (give one or as many)")
                z = self.encode_motion(clip)
                with self._evaluating():
                    codes = self.temporal_generator(z.to(content.dtype).expand(b, -1), t)
                yield start, codes  # outside the no-grad block: a suspended generator would hold it

        yield from self._continued(content, codes())

    def sample_windows(self, image: torch.Tensor, n: int, frames: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` clips of ``frames`` frames per image [B, C, H, W], each window's z_M drawn by
        :meth:`motion_draws` and chained as in :meth:`transfer_windows` (windows overlap by one
        frame); the first window is the clip :meth:`sample` draws with the same generator.
        Returns [B, n, frames, C, H, W]."""
        self._check_windows("relative")
        assert_frames(image, "sample_windows: image", geometry=self.geometry)
        if n < 1 or frames < 1:
            raise ValueError(f"sample_windows: n and frames must be at least 1, got {n} and {frames}")
        b, t = image.shape[0], self.geometry.frames
        with self._evaluating():
            content = self.content_encoder(image).repeat_interleave(n, dim=0)

        def codes() -> Iterator[tuple[int, torch.Tensor]]:
            start = 0
            while True:
                with self._evaluating():
                    codes = self.temporal_generator(self.motion_draws(b * n, generator, content), t)
                yield start, codes
                if start + t >= frames:
                    return
                start += t - 1

        clips = torch.cat(list(self._continued(content, codes())), dim=1)[:, :frames]
        return clips.view(b, n, *clips.shape[1:])

    def _check_windows(self, motion: str) -> None:
        if motion not in self.motion_modes:
            raise VidganError(
                f"dual_mtgan offers the motion mode(s) {', '.join(self.motion_modes)}, not {motion!r}: its motion codes"
                " are relative to a clip's first frame, and the target's pose in the source could only be read from"
                " the source's pixels, which reach a transfer only through E_M."
            )
        why = self.window_support()
        if why is not None:
            raise VidganError(f"dual_mtgan animates at most {self.geometry.frames} frames at a time: {why}.")

    def _continued(self, content: torch.Tensor, windows: Iterable[tuple[int, torch.Tensor]]) -> Iterator[torch.Tensor]:
        """Frames of ``content`` [N, *cs] moved by the codes of consecutive windows ``(start,
        codes [N, T, F])``, the maps of each window chained onto the previous one's: yields the
        new frames of each window, [N, n, C, H, W].

        A part's map is affine, ``p -> L p + b``. Window w's maps M_t are relative to its first
        frame s: R_t = M_0⁻¹ ∘ M_t (the identity at t = 0). The frame s was drawn by the previous
        window with the map G_s, and the part sits at G_s⁻¹(a) there, so R_t is moved to turn
        about that point instead of the anchor a, and frame s + t is drawn with G_s ∘ R_t. The
        first window's maps are used as they are, as :meth:`transfer` uses them.
        """
        decoder: Any = self.decoder
        t = self.geometry.frames
        with self._evaluating():
            anchors = decoder.part_anchors(content).float()  # [N, K, 2]
        last: tuple[int, torch.Tensor, torch.Tensor] | None = None
        done = 0
        for start, codes in windows:
            with self._evaluating():
                linear, shift = decoder.part_maps(codes)
                lin, off = _affine(linear.float(), shift.float(), anchors.unsqueeze(1))  # [N, T, K, 2, 2], [N, T, K, 2]
                if last is None:
                    if start != 0:
                        raise ValueError(f"transfer_windows: the first window must start at 0, not {start}")
                else:
                    prev_start, prev_lin, prev_off = last
                    at = start - prev_start
                    if not 0 < at < t:
                        raise ValueError(
                            f"transfer_windows: a window at {start} after one at {prev_start} does not overlap it"
                            f" by at least one frame of {t}"
                        )
                    lin, off = _chain(prev_lin[:, at], prev_off[:, at], lin, off, anchors)
                new = slice(done - start, t)
                frames = decoder.render_maps(
                    content, lin[:, new].to(linear.dtype), _shift_about(lin[:, new], off[:, new], anchors).to(shift.dtype)
                )
            last, done = (start, lin, off), start + t
            yield frames

    def export_graphs(self) -> ExportPlan:
        """``encode_motion`` (E_M) and ``animate`` (E_C + G_T + G_I), as transfer and sample() run
        them (:mod:`vidgan_dual_mtgan.export`)."""
        from .export import export_plan

        return export_plan(self)

    def preview(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Rows of a sample grid, each [B, T, C, H, W]: target, source, transfer, reconstruction, sample_1...

        ``target`` is y (first frame of the rolled batch) held for T frames, ``source`` the
        clip whose motion is transferred, ``reconstruction`` Ṽ_x with the posterior mean.
        """
        video = assert_video(batch["video"], "preview: batch['video']", geometry=self.geometry)
        t = video.shape[1]
        target = video.roll(1, dims=0)[:, 0]
        rows = {
            "target": target.unsqueeze(1).expand(-1, t, -1, -1, -1).clone(),
            "source": video,
            "transfer": self.transfer(target, video),
        }
        with self._evaluating():
            rows["reconstruction"] = self._reconstruct(video, MotionPosterior(*self.motion_encoder(video)).mean)
        if self.config.preview_samples:
            samples = self.sample(target, self.config.preview_samples, generator)
            for i in range(self.config.preview_samples):
                rows[f"sample_{i + 1}"] = samples[:, i]
        return rows

    def _reconstruct(self, video: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b = video.shape[0]
        codes = unfold_time(self.content_encoder(fold_time(video)), b)
        content = codes if self.config.recon_content == "per_frame" else codes[:, 0]
        return self._render(content, self.temporal_generator(z, video.shape[1]))

    def health_warnings(self, stats: dict[str, float], step: int) -> dict[str, str]:
        """The known Dual-MTGAN collapses, read from logged diagnostics and validation values."""
        cfg = self.config
        if step < cfg.health_after:
            return {}
        out: dict[str, str] = {}
        if stats.get("diag/kl_active_dims") == 0:
            out["motion_code_collapsed"] = (
                f"the motion code carries no information (KL {stats.get('diag/kl', math.nan):.3g} nats, no active "
                "dimension): the posterior has collapsed to the prior. Try a KL ramp or free_bits, a smaller KL weight."
            )
        gap = stats.get("diag/motion_gap")
        if gap is not None and math.isfinite(gap) and gap < cfg.min_motion_gap:
            out["motion_ignored"] = (
                f"the output hardly depends on the motion video (wrong-minus-right motion L1 {gap:.2g} < "
                f"{cfg.min_motion_gap:g}): motion transfer is not being learned."
            )
        rms, spread = stats.get("diag/content_rms"), stats.get("diag/content_spread")
        if (rms is not None and rms < 1e-2) or (spread is not None and spread < 1e-3):
            out["content_code_collapsed"] = (
                f"the content codes are (nearly) the same for every clip (rms {rms}, spread {spread}): "
                "the content path has collapsed."
            )
        leak = stats.get("val/leakage_ratio")
        if leak is not None and math.isfinite(leak) and leak > cfg.max_leakage_ratio:
            out["content_leaks_into_motion"] = (
                f"changing only the motion clip's content changes the output {leak:.2f}x as much as changing its "
                "motion: content leaks through the motion path."
            )
        return out

    def diagnostics(self, batch: dict[str, Any]) -> dict[str, float]:
        """Signals that reveal the known collapses while training (eval mode, posterior mean).

        - ``content_spread``: mean |z_c(clip i) - z_c(clip i-1)| at equal frames (falls → content collapse);
        - ``content_change``: mean |z_c^{t+1} - z_c^t| within clips;
        - ``content_change_ratio``: change / spread (0 = perfectly time-invariant content);
        - ``content_rms``: root-mean-square of the codes (shrinking codes game L_C);
        - ``kl``: KL to N(0, I), summed over dims, batch mean; ``kl_active_dims``: dims whose
          batch-mean KL exceeds ``active_dim_threshold``;
        - ``recon_l1``: L1 of the reconstruction with the clip's own motion;
        - ``motion_gap``: L1 with another clip's motion minus ``recon_l1`` (≈ 0: motion ignored).
        Spread, ratio and gap need two clips or more (NaN otherwise).
        """
        video = assert_video(batch["video"], "diagnostics: batch['video']", geometry=self.geometry)
        b = video.shape[0]
        with self._evaluating():
            raw = unfold_time(self.content_encoder(fold_time(video)), b)  # [B, T, *cs]
            codes = raw.flatten(2).float()
            change = (codes[:, 1:] - codes[:, :-1]).abs().mean()
            spread = (codes - codes.roll(1, dims=0)).abs().mean() if b > 1 else torch.tensor(float("nan"))
            post = MotionPosterior(*self.motion_encoder(video))
            mean, logvar = post.mean.float(), post.logvar.float()
            kl_dims = (0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)).mean(0)
            right = self.temporal_generator(post.mean, video.shape[1])
            content = raw if self.config.recon_content == "per_frame" else raw[:, 0]
            content = torch.cat([content, content])
            recon_right, recon_wrong = self._render(content, torch.cat([right, right.roll(1, dims=0)])).chunk(2)
            l1_right = (recon_right - video).abs().mean()
            l1_wrong = (recon_wrong - video).abs().mean()
        return {
            "content_spread": float(spread),
            "content_change": float(change),
            "content_change_ratio": float(change / spread),
            "content_rms": float(codes.square().mean().sqrt()),
            "kl": float(kl_dims.sum()),
            "kl_active_dims": float((kl_dims > self.config.active_dim_threshold).sum()),
            "recon_l1": float(l1_right),
            "motion_gap": float(l1_wrong - l1_right) if b > 1 else float("nan"),
        }


def _apply(matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def _affine(linear: torch.Tensor, shift: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The backward map ``a + A (p - a) + e`` as ``p -> L p + b``: (L, b) = (A, a + e - A a)."""
    return linear, anchors + shift - _apply(linear, anchors)


def _shift_about(linear: torch.Tensor, offset: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """The shift e that writes ``p -> L p + b`` about the anchors a, as the decoders take it."""
    return offset - anchors.unsqueeze(1) + _apply(linear, anchors.unsqueeze(1))


def _chain(
    held_lin: torch.Tensor, held_off: torch.Tensor, lin: torch.Tensor, off: torch.Tensor, anchors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One window's maps (``lin`` [N, T, K, 2, 2], ``off`` [N, T, K, 2]) continued from the map
    G of its first frame as the previous window drew it (``held_*``, [N, K, ...]): G ∘ R_t with
    R_t = M_0⁻¹ ∘ M_t turned about where the part sits at that frame, G⁻¹(a)."""
    first_inv = torch.linalg.inv(lin[:, :1])
    rel_lin = first_inv @ lin
    rel_off = _apply(first_inv, off - off[:, :1])
    moved = (_apply(torch.linalg.inv(held_lin), anchors - held_off) - anchors).unsqueeze(1)  # G⁻¹(a) - a
    rel_off = rel_off - _apply(rel_lin, moved) + moved
    held_lin, held_off = held_lin.unsqueeze(1), held_off.unsqueeze(1)
    return held_lin @ rel_lin, _apply(held_lin, rel_off) + held_off
