"""What the loss tests share: a stand-in model with named slots, a loss context of given
outputs, constant clips, a tiny real ``dual_mtgan`` and the registration checks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vidgan_kit import VideoGeometry
from vidgan_kit.interfaces import LossContext

G = VideoGeometry(frames=4, height=16, width=16)
SMALL = {"base_channels": 8}


def loss(registry, name: str, **params: Any):
    return registry.build("loss", name, params)


class StubModel(nn.Module):
    """Just enough of a model assembly for a loss: named slots."""

    def __init__(self, **slots: nn.Module) -> None:
        super().__init__()
        self._slots = nn.ModuleDict(slots)

    def slots(self) -> dict[str, nn.Module]:
        return dict(self._slots)


def ctx_of(outputs: dict[str, Any], model: nn.Module | None = None) -> LossContext:
    return LossContext(model=model or StubModel(), batch={"video": outputs.get("video")}, outputs=outputs)


def const_video(value: float, b: int = 2, requires_grad: bool = False) -> torch.Tensor:
    return torch.full((b, *G.clip_shape), value, requires_grad=requires_grad)


def tiny_model(registry, geometry: VideoGeometry):
    torch.manual_seed(0)
    slots = {
        "content_encoder": {"type": "conv_content_encoder", **SMALL, "content_dim": 16},
        "motion_encoder": {"type": "conv3d_motion_encoder", **SMALL, "motion_dim": 4},
        "temporal_generator": {"type": "lstm_temporal_generator", "hidden": 16, "frame_code_dim": 8},
        "decoder": {"type": "conv_frame_decoder", **SMALL},
        "image_discriminator": {"type": "conditional_image_discriminator", **SMALL},
        "video_discriminator": {"type": "conv3d_video_discriminator", **SMALL},
    }
    return registry.build("model", "dual_mtgan", slots, geometry=geometry, registry=registry)


def assert_registered(registry, losses: dict[str, tuple[str, ...]], plugin: str) -> None:
    """Each of ``losses`` is registered by ``plugin`` with a summary, its phases and a
    description for every option."""
    for name, phases in losses.items():
        entry = registry.get("loss", name)
        assert entry.plugin == plugin and entry.summary
        assert tuple(entry.factory.phases) == phases
        for field_name, field in entry.config_model.model_fields.items():
            assert field.description, f"{name}.{field_name} has no description"


def assert_no_schedule_options(registry, losses: dict[str, tuple[str, ...]]) -> None:
    """Weights and schedules belong to the recipe, never to a loss's options."""
    for name in losses:
        fields = registry.get("loss", name).config_model.model_fields
        assert not {"weight", "start", "ramp", "enabled"} & set(fields), name
