"""Tiny, real components for the trainer, checkpoint and inference tests.

A per-frame conv autoencoder stands in for the generator and a linear layer for the video
discriminator, on 4-frame 8x8 clips. They are registered through a plugin object on a
real PluginHost, exactly as a third party would, with names of their own (``tr_*``) so
they never clash with other tests' toys. The model draws noise from the global RNG in
its forward and counts its calls in a buffer, so exact resume has something to get wrong.
"""

from __future__ import annotations

import copy
import importlib.metadata as metadata
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, ComponentSpec, PluginHost, Registrar, Slot, VideoGeometry, hookimpl
from vidgan_kit.interfaces import FrameDecoder, Loss, LossContext, ModelAssembly, VideoDiscriminator
from vidgan_kit.layout import fold_time, unfold_time
from vidgan_kit.recipe import Recipe, validate_recipe

PLUGIN = "testplugin"
DISTRIBUTION = "vidgan-test-toys"


class ClipsConfig(ComponentConfig):
    size: int = Field(12, ge=1, description="Number of clips.")


class Clips(torch.utils.data.Dataset):
    """Random smooth clips, a pure function of (seed, index)."""

    def __init__(self, config: ClipsConfig, *, geometry: VideoGeometry, split: str, seed: int) -> None:
        self.size, self.geometry, self.seed = config.size, geometry, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed * 1000 + i)
        t, c, h, w = self.geometry.clip_shape
        start = torch.rand(c, h, w, generator=g) * 2 - 1
        drift = (torch.rand(c, h, w, generator=g) * 2 - 1) * 0.2
        steps = torch.arange(t, dtype=torch.float32).view(t, 1, 1, 1)
        return {"video": (start + steps * drift).clamp(-1, 1), "index": i}


class ConvConfig(ComponentConfig):
    hidden: int = Field(8, ge=1, description="Hidden channels.")


class Conv(FrameDecoder):
    """Two convolutions per frame: the 'generator'."""

    def __init__(self, config: ConvConfig, *, geometry: VideoGeometry) -> None:
        super().__init__()
        c = geometry.channels
        self.conv1 = nn.Conv2d(c, config.hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(config.hidden, c, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv2(torch.relu(self.conv1(frames))))


class DiscConfig(ComponentConfig):
    pass


class Disc(VideoDiscriminator):
    """A linear score of the whole clip."""

    def __init__(self, config: DiscConfig, *, geometry: VideoGeometry) -> None:
        super().__init__()
        self.lin = nn.Linear(geometry.frames * geometry.channels * geometry.height * geometry.width, 1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.lin(video.flatten(1)).squeeze(1)


class GanConfig(ComponentConfig):
    generator: Annotated[ComponentSpec, Slot("decoder")] = Field(ComponentSpec(type="tr_conv"))
    discriminator: Annotated[ComponentSpec, Slot("discriminator")] = Field(ComponentSpec(type="tr_disc"))
    noise: float = Field(0.05, ge=0, description="Input noise (drawn from the global RNG).")
    warn_gain_below: float = Field(-1e9, description="health_warnings(): report a gain below this.")


class Gan(ModelAssembly):
    """Autoencoding 'GAN' with a parameter and a buffer of its own besides its two slots."""

    progress_keys = ("diag/gain",)

    def __init__(self, config: GanConfig, *, geometry: VideoGeometry, registry: Any) -> None:
        super().__init__()
        self.geometry, self.noise, self.warn_gain_below = geometry, config.noise, config.warn_gain_below
        self.generator = registry.build("decoder", config.generator, geometry=geometry)
        self.discriminator = registry.build("discriminator", config.discriminator, geometry=geometry)
        self.gain = nn.Parameter(torch.ones(1))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        # track_inference_statistics(): the sum of conv1's weights it saw, over its calls.
        self.register_buffer("seen_weight_sum", torch.zeros((), dtype=torch.float64))

    def generate(self, video: torch.Tensor) -> torch.Tensor:
        return unfold_time(self.generator(fold_time(video)), video.shape[0]) * self.gain

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        video = batch["video"]
        self.calls += 1
        noisy = video + self.noise * torch.randn_like(video)
        return {"real": video, "fake": self.generate(noisy)}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": [*self.generator.parameters(), self.gain],
                "discriminator": list(self.discriminator.parameters())}

    def slots(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def preview(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        video = batch["video"]
        return {"real": video, "reconstruction": self.generate(video)}

    def diagnostics(self, batch: dict[str, Any]) -> dict[str, float]:
        return {"gain": self.gain.item(), "noise_draw": float(torch.randn(()))}  # draws: must not disturb training

    def track_inference_statistics(self, batch: dict[str, Any], step: int) -> None:
        if torch.is_grad_enabled():
            raise AssertionError("track_inference_statistics() called with gradients on")
        torch.randn(())  # a draw: must not disturb training
        self.seen_weight_sum += self.generator.conv1.weight.double().sum()

    def health_warnings(self, stats: dict[str, float], step: int) -> dict[str, str]:
        gain = stats.get("diag/gain")
        return {"low_gain": f"gain {gain:.3f} is low"} if gain is not None and gain < self.warn_gain_below else {}

    def transfer(self, image: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        return self.generate(0.5 * video + 0.5 * image[:, None])

    def sample(self, image: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        b = image.shape[0]
        t = self.geometry.frames
        motion = 0.1 * torch.randn(b, n, t, *image.shape[1:], generator=generator, device=image.device)
        clips = (image[:, None, None] + motion).clamp(-1, 1)
        return self.generate(clips.flatten(0, 1)).view(b, n, t, *image.shape[1:])


class NoConfig(ComponentConfig):
    pass


class Recon(Loss):
    """Mean absolute reconstruction error."""

    phases = ("generator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        return (ctx.outputs["fake"] - ctx.outputs["real"]).abs().mean()


class HingeD(Loss):
    """Hinge loss of the discriminator; caches the real logits in ctx.cache."""

    phases = ("discriminator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        d = ctx.model.discriminator
        real = d(ctx.outputs["real"])
        ctx.cache["real_logits"] = real.detach()
        fake = d(ctx.outputs["fake"].detach())
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()


class HingeG(Loss):
    """The generator's side of the hinge loss."""

    phases = ("generator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        return -ctx.model.discriminator(ctx.outputs["fake"]).mean()


class Constant(Loss):
    """Always 1.0 (with a gradient path), so its logged value is its scheduled weight."""

    phases = ("generator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        return 1.0 + 0.0 * ctx.outputs["fake"].sum()


class Counting(Loss):
    """Keeps a running count in a buffer: losses with state must resume exactly too."""

    phases = ("generator",)
    Config = NoConfig

    def __init__(self, config: NoConfig) -> None:
        super().__init__()
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        self.seen += 1
        return 0.01 * self.seen * ctx.outputs["fake"].pow(2).mean()


class NanAtConfig(ComponentConfig):
    at: int = Field(2, ge=0, description="Iteration at which the loss turns NaN.")


class NanAt(Loss):
    """Reconstruction, except NaN at one iteration: a diverging run."""

    phases = ("generator",)
    Config = NanAtConfig

    def __init__(self, config: NanAtConfig) -> None:
        super().__init__()
        self.at = config.at

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        loss = (ctx.outputs["fake"] - ctx.outputs["real"]).abs().mean()
        return loss * float("nan") if ctx.step == self.at else loss


class ToyPlugin:
    """Registers the trainer-test components."""

    @hookimpl
    def vidgan_register_components(self, registry: Registrar) -> None:
        registry.add("dataset", "tr_clips", Clips, config=ClipsConfig)
        registry.add("decoder", "tr_conv", Conv, config=ConvConfig)
        registry.add("discriminator", "tr_disc", Disc, config=DiscConfig)
        registry.add("model", "tr_gan", Gan, config=GanConfig)
        registry.add("loss", "tr_recon", Recon)
        registry.add("loss", "tr_hinge_d", HingeD)
        registry.add("loss", "tr_hinge_g", HingeG)
        registry.add("loss", "tr_constant", Constant)
        registry.add("loss", "tr_counting", Counting)
        registry.add("loss", "tr_nan_at", NanAt)


class ExtraDiscConfig(ComponentConfig):
    pass


class ExtraPlugin:
    """A second plugin, from its own distribution, providing one discriminator."""

    @hookimpl
    def vidgan_register_components(self, registry: Registrar) -> None:
        registry.add("discriminator", "tr_extra_disc", Disc, config=DiscConfig, summary="Linear disc, elsewhere.")


def _own_entry_points() -> str:
    """The toolkit's built-in plugins, blocked so these tests depend on nothing else."""
    names = []
    for dist in metadata.distributions():
        if (dist.metadata["name"] or "").lower().replace("_", "-") == "vidgan-kit":
            names += [ep.name for ep in dist.entry_points if ep.group == "vidgan_kit"]
    return ",".join(sorted(set(names)))


def make_host(*, extra: bool = False, toys: bool = True, plugins: tuple[tuple[object, str], ...] = ()) -> PluginHost:
    """A hermetic host: no installed plugins, only the toys (and any extra plugin objects)."""
    host = PluginHost.create(env={"VIDGAN_DISABLE_PLUGIN_AUTOLOAD": "1", "VIDGAN_BLOCK_PLUGINS": _own_entry_points()})
    if toys:
        host.add_plugin(ToyPlugin(), PLUGIN, distribution=DISTRIBUTION)
    if extra:
        host.add_plugin(ExtraPlugin(), "extraplugin", distribution="vidgan-extra-disc")
    for obj, name in plugins:
        host.add_plugin(obj, name)
    host.register_components()
    return host


BASE_TABLE: dict[str, Any] = {
    "name": "toy",
    "seed": 3,
    "video": {"frames": 4, "height": 8, "width": 8, "channels": 3},
    "data": {"type": "tr_clips", "size": 12},
    "loader": {"batch_size": 4},
    "model": {"type": "tr_gan"},
    "losses": {
        "recon": {"type": "tr_recon", "weight": 1.0},
        "adv_d": {"type": "tr_hinge_d"},
        "adv_g": {"type": "tr_hinge_g", "weight": 0.1},
    },
    "phases": [{"name": "discriminator"}, {"name": "generator"}],
    "optimizers": {"generator": {"lr": 1e-2}, "discriminator": {"lr": 1e-3}},
    "train": {
        "steps": 12,
        "threads": 1,
        "log_every": 1,
        "sample_every": 0,
        "checkpoint_every": 5,
        "keep_checkpoints": 5,
        "tensorboard": False,
    },
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("losses",):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def make_recipe(host: PluginHost, **changes: Any) -> Recipe:
    """The base recipe with whole sections or nested keys changed (``losses`` is replaced)."""
    return validate_recipe(merge(BASE_TABLE, changes), host.registry)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


class Recorder:
    """A plugin object recording every lifecycle hook call."""

    def __init__(self, raise_at: int | None = None, exc: BaseException | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.raise_at, self.exc = raise_at, exc

    @hookimpl
    def vidgan_train_start(self, run: Any) -> None:
        self.calls.append(("train_start", {"run": run, "step": run.step}))

    @hookimpl
    def vidgan_step_end(self, run: Any, step: int, stats: dict[str, float]) -> None:
        self.calls.append(("step_end", {"run": run, "step": step, "stats": dict(stats),
                                        "params": {k: v.detach().clone() for k, v in run.model.state_dict().items()}}))
        if self.raise_at is not None and step == self.raise_at:
            raise self.exc  # type: ignore[misc]

    @hookimpl
    def vidgan_checkpoint_saved(self, run: Any, step: int, path: Path) -> None:
        self.calls.append(("checkpoint_saved", {"run": run, "step": step, "path": path,
                                                "complete": (path / "index.json").is_file()}))

    @hookimpl
    def vidgan_train_end(self, run: Any, step: int, status: str, error: BaseException | None) -> None:
        self.calls.append(("train_end", {"run": run, "step": step, "status": status, "error": error}))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [c[1] for c in self.calls if c[0] == name]
