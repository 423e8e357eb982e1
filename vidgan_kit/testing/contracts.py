"""Contracts every component of a kind must honour, runnable from any plugin's tests.

A plugin author checks a discriminator in three lines::

    from vidgan_kit.testing import check_component

    def test_my_discriminator_contract():
        check_component("discriminator", "my_disc")

Each check raises ``AssertionError`` with a message that names the component and what
broke. The checks per kind: output shapes (videos ``[B, T, C, H, W]`` in [-1, 1] where a
video or frame comes out), finiteness, gradients reaching every parameter, determinism
under a seed, a safetensors round trip of the state, and a JSON round trip of the config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load, save
from torch import nn

from ..config import ComponentSpec
from ..interfaces import (
    ContentEncoder,
    FrameDecoder,
    ImageDiscriminator,
    Loss,
    LossContext,
    ModelAssembly,
    MotionEncoder,
    MotionPosterior,
    TemporalGenerator,
    VideoDiscriminator,
)
from ..layout import VideoGeometry
from ..registry import ComponentRegistry

__all__ = ["ContractSettings", "check_component", "build_component", "run_contract_forward", "CONTRACT_GEOMETRY"]

#: Small enough to be quick on a CPU, large enough for four stride-2 layers.
CONTRACT_GEOMETRY = VideoGeometry(frames=8, channels=3, height=32, width=32)


@dataclass(frozen=True)
class ContractSettings:
    """Knobs of a contract run."""

    geometry: VideoGeometry = CONTRACT_GEOMETRY
    batch: int = 2
    seed: int = 1234
    #: Wiring for kinds whose inputs come from neighbouring components.
    motion_dim: int = 8
    content_shape: tuple[int, ...] = (16,)
    frame_code_dim: int = 8


def _default_registry() -> ComponentRegistry:
    from .. import load_registry

    return load_registry()


def _wiring(kind: str, s: ContractSettings, registry: ComponentRegistry) -> dict[str, Any]:
    g = s.geometry
    if kind == "temporal_generator":
        return {"geometry": g, "motion_dim": s.motion_dim}
    if kind == "decoder":
        return {"geometry": g, "content_shape": s.content_shape, "frame_code_dim": s.frame_code_dim}
    if kind == "model":
        return {"geometry": g, "registry": registry}
    if kind == "dataset":
        return {"geometry": g, "split": "train", "seed": s.seed}
    if kind == "loss":
        return {}
    return {"geometry": g}


def build_component(
    kind: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    registry: ComponentRegistry | None = None,
    settings: ContractSettings = ContractSettings(),
    seed: int | None = None,
) -> Any:
    """Build a component with the contract's wiring, seeding the initialisation."""
    registry = registry or _default_registry()
    torch.manual_seed(settings.seed if seed is None else seed)
    return registry.build(kind, name, params or {}, **_wiring(kind, settings, registry))


def _video(s: ContractSettings, gen: torch.Generator, batch: int | None = None) -> torch.Tensor:
    g = s.geometry
    return torch.rand((batch or s.batch, *g.clip_shape), generator=gen) * 2 - 1


def _frames(s: ContractSettings, gen: torch.Generator, n: int | None = None) -> torch.Tensor:
    return torch.rand((n or s.batch, *s.geometry.frame_shape), generator=gen) * 2 - 1


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, tuple | list):
        return [t for v in obj for t in _tensors(v)]
    return []


def _assert_finite(label: str, out: Any) -> None:
    for t in _tensors(out):
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise AssertionError(f"{label}: output has NaN or Inf values")


def _assert_video_range(label: str, video: torch.Tensor) -> None:
    lo, hi = float(video.detach().min()), float(video.detach().max())
    if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
        raise AssertionError(f"{label}: frames must lie in [-1, 1], got [{lo:.3f}, {hi:.3f}]")


# -- per-kind runners: (component, settings, generator) -> output, after shape checks ----------


def _run_encoder(label: str, m: nn.Module, s: ContractSettings, gen: torch.Generator) -> Any:
    if isinstance(m, ContentEncoder):
        x = _frames(s, gen, s.batch * 2)
        code = m(x)
        want = (x.shape[0], *m.code_shape)
        if tuple(code.shape) != want:
            raise AssertionError(f"{label}: content code shape {tuple(code.shape)}, expected {want} (code_shape)")
        return code
    if isinstance(m, MotionEncoder):
        post = m(_video(s, gen))
        if not isinstance(post, MotionPosterior):
            raise AssertionError(f"{label}: a motion encoder must return MotionPosterior(mean, logvar)")
        want = (s.batch, m.motion_dim)
        for part, t in zip(("mean", "logvar"), post, strict=True):
            if tuple(t.shape) != want:
                raise AssertionError(f"{label}: posterior {part} shape {tuple(t.shape)}, expected {want}")
        return post
    raise AssertionError(f"{label}: an encoder must derive from ContentEncoder or MotionEncoder")


def _run_temporal(label: str, m: nn.Module, s: ContractSettings, gen: torch.Generator) -> Any:
    if not isinstance(m, TemporalGenerator):
        raise AssertionError(f"{label}: must derive from vidgan_kit.interfaces.TemporalGenerator")
    z = torch.randn((s.batch, s.motion_dim), generator=gen)
    codes = m(z, s.geometry.frames)
    want = (s.batch, s.geometry.frames, m.frame_code_dim)
    if tuple(codes.shape) != want:
        raise AssertionError(f"{label}: per-frame codes shape {tuple(codes.shape)}, expected {want}")
    return codes


def _run_decoder(label: str, m: nn.Module, s: ContractSettings, gen: torch.Generator) -> Any:
    if not isinstance(m, FrameDecoder):
        raise AssertionError(f"{label}: must derive from vidgan_kit.interfaces.FrameDecoder")
    n = s.batch * 2
    frames = m(torch.randn((n, *s.content_shape), generator=gen), torch.randn((n, s.frame_code_dim), generator=gen))
    want = (n, *s.geometry.frame_shape)
    if tuple(frames.shape) != want:
        raise AssertionError(f"{label}: frames shape {tuple(frames.shape)}, expected {want} = [N, C, H, W]")
    _assert_video_range(label, frames)
    _check_render_held(label, m, s, gen)
    return frames


def _check_render_held(label: str, m: FrameDecoder, s: ContractSettings, gen: torch.Generator) -> None:
    """``render_held`` (one content code over T motion codes) gives the frames of ``forward``."""
    t = 3
    content = torch.randn((s.batch, *s.content_shape), generator=gen)
    motion = torch.randn((s.batch, t, s.frame_code_dim), generator=gen)
    was = m.training
    m.eval()  # batch statistics would differ between the two calls' batches
    try:
        with torch.no_grad():
            clip = m.render_held(content, motion)
            per_frame = torch.stack([m(content, motion[:, i]) for i in range(t)], dim=1)
    finally:
        m.train(was)
    if tuple(clip.shape) != tuple(per_frame.shape):
        raise AssertionError(f"{label}: render_held gave {tuple(clip.shape)}, expected {tuple(per_frame.shape)}")
    if not torch.allclose(clip, per_frame, atol=1e-5):
        worst = float((clip - per_frame).abs().max())
        raise AssertionError(f"{label}: render_held differs from forward frame by frame (max |diff| {worst:.3g})")


def _run_discriminator(label: str, m: nn.Module, s: ContractSettings, gen: torch.Generator) -> Any:
    if isinstance(m, ImageDiscriminator):
        logits = m(_frames(s, gen), _frames(s, gen))
    elif isinstance(m, VideoDiscriminator):
        logits = m(_video(s, gen))
    else:
        raise AssertionError(f"{label}: must derive from ImageDiscriminator or VideoDiscriminator")
    if tuple(logits.shape) != (s.batch,):
        raise AssertionError(f"{label}: logits shape {tuple(logits.shape)}, expected ({s.batch},): one per sample")
    return logits


def _run_model(label: str, m: nn.Module, s: ContractSettings, gen: torch.Generator) -> Any:
    if not isinstance(m, ModelAssembly):
        raise AssertionError(f"{label}: must derive from vidgan_kit.interfaces.ModelAssembly")
    groups = m.parameter_groups()
    seen: dict[int, str] = {}
    for group, params in groups.items():
        for p in params:
            if id(p) in seen:
                raise AssertionError(f"{label}: a parameter is in groups {seen[id(p)]!r} and {group!r}")
            seen[id(p)] = group
    missing = [n for n, p in m.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise AssertionError(f"{label}: parameters in no group: {missing[:5]}")
    if not m.slots():
        raise AssertionError(f"{label}: slots() is empty; checkpoints store components slot by slot")
    outputs = m({"video": _video(s, gen)})
    if not isinstance(outputs, dict):
        raise AssertionError(f"{label}: forward(batch) must return a dict of outputs")
    for key, value in outputs.items():
        if isinstance(value, torch.Tensor) and value.dim() == 5:
            _assert_video_range(f"{label} output {key!r}", value)
    return outputs


_RUNNERS: dict[str, Callable[[str, nn.Module, ContractSettings, torch.Generator], Any]] = {
    "encoder": _run_encoder,
    "temporal_generator": _run_temporal,
    "decoder": _run_decoder,
    "discriminator": _run_discriminator,
    "model": _run_model,
}


def run_contract_forward(kind: str, label: str, m: nn.Module, s: ContractSettings) -> Any:
    """Run component ``m`` of ``kind`` once on the contract's seeded inputs (as
    :func:`check_component` does) and return its output; ``label`` names it in errors. The
    component catalogue's shapes come from this call."""
    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)  # components may draw noise internally
    return _RUNNERS[kind](label, m, s, gen)


def _backward_outputs(label: str, m: nn.Module, out: Any) -> None:
    tensors = [t for t in _tensors(out) if t.is_floating_point() and t.requires_grad]
    if not tensors:
        raise AssertionError(f"{label}: no output depends on the parameters (nothing requires grad)")
    m.zero_grad(set_to_none=True)
    sum(t.float().square().mean() for t in tensors).backward()


def _has_grad(p: torch.Tensor) -> bool:
    return p.grad is not None and bool(torch.isfinite(p.grad).all())


def _check_gradients(label: str, m: nn.Module, out: Any) -> None:
    _backward_outputs(label, m, out)
    dead = [n for n, p in m.named_parameters() if p.requires_grad and not _has_grad(p)]
    if dead:
        raise AssertionError(f"{label}: no finite gradient reaches {len(dead)} parameter(s), e.g. {dead[:4]}")


def _check_group_gradients(label: str, m: ModelAssembly, out: Any) -> None:
    """A model's forward drives some parameter groups (the generator) and not others (the
    discriminators, which only the losses call). Each group must be all-or-nothing: a group
    that is half reached has parameters no gradient will ever train."""
    _backward_outputs(label, m, out)
    names = {id(p): n for n, p in m.named_parameters()}
    reached_any = False
    for group, params in m.parameter_groups().items():
        live = [p for p in params if p.requires_grad]
        hit = [p for p in live if _has_grad(p)]
        if hit and len(hit) != len(live):
            dead = [names.get(id(p), "?") for p in live if not _has_grad(p)]
            raise AssertionError(
                f"{label}: group {group!r} is only partly reached by forward(): no gradient for {dead[:4]}"
            )
        reached_any = reached_any or bool(hit)
    if not reached_any:
        raise AssertionError(f"{label}: forward() outputs reach no parameter group")


def _check_same(label: str, a: Any, b: Any, what: str) -> None:
    ta, tb = _tensors(a), _tensors(b)
    if len(ta) != len(tb) or any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(ta, tb, strict=False)):
        raise AssertionError(f"{label}: {what}")


def _check_state_round_trip(kind: str, label: str, m: nn.Module, name: str, params: dict[str, Any],
                            registry: ComponentRegistry, s: ContractSettings) -> None:
    state = {k: v.detach().contiguous().clone() for k, v in m.state_dict().items()}
    blob = save(state)
    other = build_component(kind, name, params, registry=registry, settings=s, seed=s.seed + 1)
    other.load_state_dict(load(blob), strict=True)
    m.eval()
    other.eval()
    with torch.no_grad():
        _check_same(label, run_contract_forward(kind, label, m, s), run_contract_forward(kind, label, other, s),
                    "outputs differ after a safetensors round trip of the state dict")


def _check_config_round_trip(kind: str, label: str, m: Any, registry: ComponentRegistry) -> None:
    spec = getattr(m, "component_spec", None)
    if not isinstance(spec, ComponentSpec):
        raise AssertionError(f"{label}: built component carries no component_spec")
    text = json.dumps(spec.model_dump(mode="json"))
    again = ComponentSpec.model_validate(json.loads(text))
    spec2, config2 = registry.resolve(kind, again)
    if spec2 != spec:
        raise AssertionError(f"{label}: config does not survive a JSON round trip: {spec.params} != {spec2.params}")
    entry = registry.get(kind, spec.type)
    if entry.config_model.model_validate(spec.params) != config2:
        raise AssertionError(f"{label}: config model does not reproduce itself from its JSON form")


def _check_loss(label: str, loss: Any, model: ModelAssembly | None, s: ContractSettings) -> None:
    if not isinstance(loss, Loss):
        raise AssertionError(f"{label}: must derive from vidgan_kit.interfaces.Loss")
    if not loss.phases or not all(isinstance(p, str) for p in loss.phases):
        raise AssertionError(f"{label}: `phases` must name the phases the loss contributes to")
    if model is None:
        return
    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)
    batch = {"video": _video(s, gen)}
    ctx = LossContext(model=model, batch=batch, outputs=model(batch), step=0)
    for phase in loss.phases:
        value = loss(ctx, phase)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            raise AssertionError(f"{label}: phase {phase!r} must return a scalar tensor, got {value!r}")
        if not torch.isfinite(value):
            raise AssertionError(f"{label}: phase {phase!r} returned {float(value)}")
        if not value.requires_grad:
            raise AssertionError(f"{label}: phase {phase!r} loss does not depend on any parameter")


def _check_dataset(label: str, ds: Any, s: ContractSettings, rebuild: Callable[[], Any]) -> None:
    n = len(ds)
    if n < 1:
        raise AssertionError(f"{label}: dataset is empty")
    item = ds[0]
    if not isinstance(item, dict) or "video" not in item:
        raise AssertionError(f"{label}: items must be dicts with a 'video' tensor")
    video = item["video"]
    want = s.geometry.clip_shape
    if tuple(video.shape) != want or video.dtype != torch.float32:
        raise AssertionError(f"{label}: item video {tuple(video.shape)} {video.dtype}, expected float32 {want} = [T, C, H, W]")
    _assert_video_range(label, video)
    _assert_finite(label, video)
    _check_same(label, video, rebuild()[0]["video"], "the same seed gave a different first clip")


def check_component(
    kind: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    registry: ComponentRegistry | None = None,
    settings: ContractSettings = ContractSettings(),
    model: ModelAssembly | None = None,
) -> None:
    """Run every check of ``kind``'s contract on the registered component ``name``.

    ``params`` are recipe options (required ones must be given, e.g. a dataset's root).
    For losses, pass a ``model`` built with the same settings to exercise each phase.
    """
    registry = registry or _default_registry()
    params = params or {}
    label = f"{kind} component {name!r}"
    registry.get(kind, name)  # unknown names fail here, with suggestions
    build = lambda seed=None: build_component(kind, name, params, registry=registry, settings=settings, seed=seed)  # noqa: E731
    component = build()
    _check_config_round_trip(kind, label, component, registry)

    if kind == "dataset":
        _check_dataset(label, component, settings, build)
        return
    if kind == "loss":
        _check_loss(label, component, model, settings)
        return
    if kind not in _RUNNERS:
        return  # kinds without a tensor contract yet (metrics) only get the config checks

    # Determinism: two builds under one seed have equal weights and give equal outputs.
    twin = build()
    _check_same(label, list(component.state_dict().values()), list(twin.state_dict().values()),
                "two builds under one seed have different initial weights")
    component.train()
    twin.train()
    out = run_contract_forward(kind, label, component, settings)
    _assert_finite(label, out)
    _check_same(label, out, run_contract_forward(kind, label, twin, settings), "the same seed and input gave different outputs")
    if kind == "model":
        _check_group_gradients(label, component, out)
    else:
        _check_gradients(label, component, out)
    _check_state_round_trip(kind, label, component, name, params, registry, settings)


