"""The MoCoGAN model assembly (Tulyakov et al., CVPR 2018).

A clip of T frames is G_I(z_C, z_M^t), t = 1..T: one content code z_C for the whole clip and
a motion code per frame from R_M, a GRU started from a random z and driven by a fresh noise
ε_t at every frame. With ``content = "noise"`` (the paper's model) z_C ~ N(0, I) and
sampling is unconditional; with ``content = "image"`` (the paper's image-to-video variant)
z_C = E_C(image), trained on each clip's first frame, and the generated clip's first frame
is held to that image by the ``reconstruction`` loss with ``frames = "first"``. Both are
trained adversarially only through D_I (single frames, ``frame_adversarial``) and D_V
(whole clips, the builtin ``video_adversarial`` with ``fakes = ["sample"]``).

=======================  ===================  ===================  ==========================
slot                     kind                 base class           default
=======================  ===================  ===================  ==========================
content_encoder (E_C)    encoder              ContentEncoder       conv_content_encoder
temporal_generator (R_M) temporal_generator   GRUMotionGenerator   gru_motion_generator
decoder (G_I)            decoder              FrameDecoder         conv_frame_decoder
image_discriminator      discriminator        ImageDiscriminator   frame_discriminator
video_discriminator      discriminator        VideoDiscriminator   conv3d_video_discriminator
=======================  ===================  ===================  ==========================

E_C is built and trained only with ``content = "image"``. The model cannot transfer motion (it
reads no motion from a clip) and does not reconstruct its input; ``samples_from`` tells
inference and evaluation whether ``sample()`` takes an image.

Outputs of ``forward(batch)``:

=============== ======================= =============================================
key             shape                   meaning
=============== ======================= =============================================
video           [B, T, C, H, W]         V, the real clips (D_V's and D_I's reals)
content         [B, content_dim|*cs]    z_C: drawn, or E_C of each clip's first frame
frame_codes     [B, T, frame_code_dim]  z_M^1..T from R_M
sample          [B, T, C, H, W]         Ṽ = G_I(z_C, z_M^t), one generated clip per real one
reconstruction  [B, T, C, H, W]         ``content = "image"`` only: Ṽ again, whose first
                                        frame the reconstruction term holds to V's
=============== ======================= =============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, ComponentSpec, Slot, VideoGeometry, assert_frames, assert_video
from vidgan_kit.errors import VidganError
from vidgan_kit.interfaces import ContentEncoder, FrameDecoder, ImageDiscriminator, ModelAssembly, VideoDiscriminator

from .networks import GRUMotionGenerator

__all__ = ["MoCoGAN", "MoCoGANConfig"]


class MoCoGANConfig(ComponentConfig):
    """Options of the ``mocogan`` assembly: where z_C comes from, the codes' lengths and five slots."""

    content: Literal["noise", "image"] = Field(
        "noise",
        description="Where z_C comes from: noise, N(0, I) (unconditional: `vidgan generate RUN` without --image); image,"
        " E_C of an image (the image-to-video variant: `vidgan generate RUN --image y.png`, `vidgan eval`'s paper"
        " protocol).",
    )
    content_dim: int = Field(50, ge=1, description="Length of z_C with content = noise (50 in the paper).")
    motion_dim: int = Field(10, ge=1, description="Length of z, the random start of R_M's trajectory.")
    content_encoder: Annotated[ComponentSpec, Slot(
        "encoder", "E_C, the image encoder of the image-to-video variant (frame -> z_C); content = image only",
        ContentEncoder,
    )] = ComponentSpec(type="conv_content_encoder")
    temporal_generator: Annotated[ComponentSpec, Slot(
        "temporal_generator", "R_M, the recurrent motion generator ((z, ε_1..T) -> z_M^1..T)", GRUMotionGenerator,
    )] = ComponentSpec(type="gru_motion_generator")
    decoder: Annotated[ComponentSpec, Slot(
        "decoder", "G_I, the image generator ((z_C, z_M^t) -> frame)", FrameDecoder,
    )] = ComponentSpec(type="conv_frame_decoder")
    image_discriminator: Annotated[ComponentSpec, Slot(
        "discriminator", "D_I, the image discriminator (single frames -> logit)", ImageDiscriminator,
    )] = ComponentSpec(type="frame_discriminator")
    video_discriminator: Annotated[ComponentSpec, Slot(
        "discriminator", "D_V, the video discriminator (clip -> logit)", VideoDiscriminator,
    )] = ComponentSpec(type="conv3d_video_discriminator")
    preview_samples: int = Field(2, ge=1, le=16, description="Rows of generated clips (sample_1, ...) in preview().")


class MoCoGAN(ModelAssembly):
    """MoCoGAN: content held, motion from a GRU on per-frame noise; D_I on frames and D_V on clips."""

    Config = MoCoGANConfig
    reconstructs = False

    def __init__(self, config: MoCoGANConfig, *, geometry: VideoGeometry, registry: Any, **wiring: Any) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        self.samples_from = "image" if config.content == "image" else "noise"
        if config.content == "image":
            self.content_encoder = registry.build("encoder", config.content_encoder, geometry=geometry)
            content_shape = tuple(self.content_encoder.code_shape)
        else:
            content_shape = (config.content_dim,)
        self.temporal_generator = registry.build("temporal_generator", config.temporal_generator, geometry=geometry,
                                                 motion_dim=config.motion_dim)
        self.decoder = registry.build("decoder", config.decoder, geometry=geometry, content_shape=content_shape,
                                      frame_code_dim=self.temporal_generator.frame_code_dim)
        self.image_discriminator = registry.build("discriminator", config.image_discriminator, geometry=geometry)
        self.video_discriminator = registry.build("discriminator", config.video_discriminator, geometry=geometry)

    # -- the trainer's API -----------------------------------------------------------------
    def slots(self) -> dict[str, nn.Module]:
        names = ("content_encoder",) * (self.config.content == "image") + (
            "temporal_generator", "decoder", "image_discriminator", "video_discriminator")
        return {name: getattr(self, name) for name in names}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``generator``: E_C (image variant), R_M, G_I. ``discriminator``: D_I, D_V."""
        slots = self.slots()
        disc = ("image_discriminator", "video_discriminator")
        return {
            "generator": [p for name, m in slots.items() if name not in disc for p in m.parameters()],
            "discriminator": [p for name in disc for p in slots[name].parameters()],
        }

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        video = assert_video(batch["video"], "batch['video']", geometry=self.geometry)
        b, t = video.shape[:2]
        if self.config.content == "image":
            content = self.content_encoder(video[:, 0])
        else:
            content = torch.randn(b, self.config.content_dim, device=video.device, dtype=video.dtype)
        codes = self._trajectories(b, t, None, content)
        sample = self.decoder.render_held(content, codes)
        out = {"video": video, "content": content, "frame_codes": codes, "sample": sample}
        if self.config.content == "image":
            out["reconstruction"] = sample
        return out

    def _trajectories(self, n: int, t: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        """R_M's motion codes [n, t, frame_code_dim] from a random start and per-frame noise."""
        g = self.temporal_generator
        z = torch.randn((n, self.config.motion_dim), generator=generator, device=like.device, dtype=like.dtype)
        noise = torch.randn((n, t, g.noise_dim), generator=generator, device=like.device, dtype=like.dtype)
        return g(z, t, noise)

    # -- inference -------------------------------------------------------------------------
    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was)

    def sample(self, image: torch.Tensor | None, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` clips per image [B, C, H, W] → [B, n, T, C, H, W] (``content = "image"``), or ``n``
        clips of drawn content for ``image=None`` → [1, n, T, C, H, W] (``content = "noise"``).
        ``generator`` seeds every draw: the clips depend on it (and the image) alone."""
        if n < 1:
            raise ValueError(f"sample: n must be at least 1, got {n}")
        if (image is None) != (self.samples_from == "noise"):
            need = "no image (it draws z_C from noise)" if image is not None else "an image (content = image)"
            raise VidganError(f"mocogan with content = {self.config.content}: sample() takes {need}")
        t = self.geometry.frames
        with self._evaluating():
            if image is None:
                b = 1
                device = next(self.decoder.parameters()).device
                content = torch.randn((n, self.config.content_dim), generator=generator, device=device)
            else:
                assert_frames(image, "sample: image", geometry=self.geometry)
                b = image.shape[0]
                content = self.content_encoder(image).repeat_interleave(n, dim=0)
            clips = self.decoder.render_held(content, self._trajectories(b * n, t, generator, content))
        return clips.view(b, n, *clips.shape[1:])

    def preview(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Rows of a sample grid, each [B, T, C, H, W]: the real clips, then ``preview_samples``
        rows of generated ones (of each real clip's first frame in the image variant)."""
        video = assert_video(batch["video"], "preview: batch['video']", geometry=self.geometry)
        b, t = video.shape[:2]
        k = self.config.preview_samples
        if self.samples_from == "image":
            samples = self.sample(video[:, 0], k, generator)  # [B, k, ...]
        else:
            samples = self.sample(None, b * k, generator)[0].view(k, b, *video.shape[1:]).transpose(0, 1)
        rows = {"real": video}
        for i in range(k):
            rows[f"sample_{i + 1}"] = samples[:, i]
        return rows
