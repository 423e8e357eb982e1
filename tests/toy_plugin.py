"""Toy components for core tests: tiny, real, and registered through a plugin object."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, ComponentSpec, Registrar, Slot, VideoGeometry, hookimpl
from vidgan_kit.interfaces import FrameDecoder, Loss, LossContext, ModelAssembly, VideoDiscriminator


class ToyClipsConfig(ComponentConfig):
    clips: int = Field(16, ge=1, description="Number of clips.")


class ToyClips(torch.utils.data.Dataset):
    """Random clips, deterministic per index."""

    def __init__(self, config: ToyClipsConfig, *, geometry: VideoGeometry, split: str, seed: int) -> None:
        self.n, self.geometry, self.seed = config.clips, geometry, seed + (0 if split == "train" else 10_000)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(self.seed + i)
        return {"video": torch.rand(self.geometry.clip_shape, generator=g) * 2 - 1, "index": i}


class ToyDecoderConfig(ComponentConfig):
    hidden: int = Field(8, ge=1, description="Hidden channels.")


class ToyDecoder(FrameDecoder):
    """Per-frame 1x1 conv autoencoder standing in for a generator."""

    def __init__(self, config: ToyDecoderConfig, *, geometry: VideoGeometry, content_shape=(1,), frame_code_dim=1):
        super().__init__()
        c = geometry.channels
        self.net = nn.Sequential(nn.Conv2d(c, config.hidden, 1), nn.Tanh(), nn.Conv2d(config.hidden, c, 1), nn.Tanh())

    def forward(self, frames: torch.Tensor, _motion: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(frames)


class ToyDiscConfig(ComponentConfig):
    pass


class ToyVideoDisc(VideoDiscriminator):
    """Linear score of the mean frame."""

    def __init__(self, config: ToyDiscConfig, *, geometry: VideoGeometry) -> None:
        super().__init__()
        self.lin = nn.Linear(geometry.channels, 1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.lin(video.mean(dim=(1, 3, 4))).squeeze(1)


class ToyGanConfig(ComponentConfig):
    generator: Annotated[ComponentSpec, Slot("decoder")] = Field(
        ComponentSpec(type="toy_decoder"), description="The generator slot."
    )
    discriminator: Annotated[ComponentSpec, Slot("discriminator")] = Field(
        ComponentSpec(type="toy_video_disc"), description="The discriminator slot."
    )
    noise: float = Field(0.0, ge=0, description="Input noise level.")


class ToyGan(ModelAssembly):
    """Autoencoding 'GAN' with one generator slot and one discriminator slot."""

    def __init__(self, config: ToyGanConfig, *, geometry: VideoGeometry, registry) -> None:
        super().__init__()
        self.geometry = geometry
        self.generator = registry.build("decoder", config.generator, geometry=geometry, content_shape=(1,),
                                        frame_code_dim=1)
        self.discriminator = registry.build("discriminator", config.discriminator, geometry=geometry)

    def forward(self, batch: dict) -> dict:
        v = batch["video"]
        b = v.shape[0]
        fake = self.generator(v.flatten(0, 1)).view_as(v)
        return {"real": v, "fake": fake, "batch": b}

    def parameter_groups(self) -> dict:
        return {"generator": list(self.generator.parameters()),
                "discriminator": list(self.discriminator.parameters())}

    def slots(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator}


class NoConfig(ComponentConfig):
    pass


class ToyReconstruction(Loss):
    """Mean absolute error between fake and real."""

    phases = ("generator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        return (ctx.outputs["fake"] - ctx.outputs["real"]).abs().mean()


class ToyHinge(Loss):
    """Hinge GAN loss on the video discriminator."""

    phases = ("generator", "discriminator")
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        d = ctx.model.discriminator
        if phase == "discriminator":
            real, fake = d(ctx.outputs["real"]), d(ctx.outputs["fake"].detach())
            return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
        return -d(ctx.outputs["fake"]).mean()


class ToyPlugin:
    """Registers the toy components."""

    @hookimpl
    def vidgan_register_components(self, registry: Registrar) -> None:
        registry.add("dataset", "toy_clips", ToyClips, config=ToyClipsConfig)
        registry.add("decoder", "toy_decoder", ToyDecoder, config=ToyDecoderConfig)
        registry.add("discriminator", "toy_video_disc", ToyVideoDisc, config=ToyDiscConfig)
        registry.add("model", "toy_gan", ToyGan, config=ToyGanConfig)
        registry.add("loss", "toy_reconstruction", ToyReconstruction)
        registry.add("loss", "toy_hinge", ToyHinge)
