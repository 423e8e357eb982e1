"""The contracts of the toolkit's own kinds, and what any kind's contract receives.

A kind's contract (:attr:`vidgan_kit.kinds.Kind.contract`) is a function of one
:class:`ContractCase`: it runs the built component once on inputs drawn from the case's
seeded generator, checks the form of what comes out and returns it. The harness in
:mod:`vidgan_kit.testing` then checks finiteness, determinism under a seed, gradients and a
safetensors round trip on that output. A contract returns ``None`` for components with no
tensor output to check further (data sets, losses). Checks raise ``AssertionError`` with a
message that starts with the case's ``label``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from .interfaces import (
    ContentEncoder,
    FrameDecoder,
    ImageDiscriminator,
    LossContext,
    ModelAssembly,
    MotionEncoder,
    MotionPosterior,
    VideoDiscriminator,
)
from .layout import VideoGeometry

__all__ = [
    "CONTRACT_GEOMETRY",
    "ContractSettings",
    "ContractCase",
    "random_video",
    "random_frames",
    "tensors_in",
    "assert_finite",
    "assert_same",
    "assert_video_range",
    "encoder_contract",
    "temporal_generator_contract",
    "decoder_contract",
    "discriminator_contract",
    "model_contract",
    "loss_contract",
    "dataset_contract",
]

#: Small enough to be quick on a CPU, large enough for four stride-2 layers.
CONTRACT_GEOMETRY = VideoGeometry(frames=8, channels=3, height=32, width=32)


@dataclass(frozen=True)
class ContractSettings:
    """Knobs of a contract run."""

    geometry: VideoGeometry = CONTRACT_GEOMETRY
    batch: int = 2
    seed: int = 1234
    #: Values of the wiring keywords the built-in kinds take from their neighbours.
    motion_dim: int = 8
    content_shape: tuple[int, ...] = (16,)
    frame_code_dim: int = 8
    #: Values of any other wiring keyword (those of kinds that plugins add), by keyword.
    wiring: Mapping[str, Any] = field(default_factory=dict)

    def with_wiring(self, **values: Any) -> ContractSettings:
        """These settings with the given wiring values (the built-in keywords' fields or ``wiring``)."""
        named = {k: v for k, v in values.items() if k in ("motion_dim", "content_shape", "frame_code_dim")}
        other = {k: v for k, v in values.items() if k not in named}
        return replace(self, **named, wiring={**self.wiring, **other})

    def wired(self, keyword: str) -> Any:
        """The value a component is built with for wiring ``keyword``."""
        if keyword in self.wiring:
            return self.wiring[keyword]
        if keyword in ("motion_dim", "content_shape", "frame_code_dim"):
            return getattr(self, keyword)
        raise AssertionError(
            f"the contract has no value for the wiring keyword {keyword!r}: pass"
            f" ContractSettings(wiring={{{keyword!r}: ...}})"
        )


@dataclass(frozen=True)
class ContractCase:
    """What a kind's contract receives: one built component and the means to exercise it."""

    #: Names the component in every message (``"decoder component 'conv_frame_decoder'"``).
    label: str
    component: Any
    settings: ContractSettings
    #: Seeded: draw every random input from it, so that two runs see the same inputs.
    generator: torch.Generator
    #: Builds the component again under the contract's seed (for checks that compare two builds).
    rebuild: Callable[[], Any] | None = None
    #: A model assembly built with the same settings, for kinds that run inside one (losses).
    model: ModelAssembly | None = None


def random_video(s: ContractSettings, gen: torch.Generator, batch: int | None = None) -> torch.Tensor:
    """Clips ``[B, T, C, H, W]`` uniform in [-1, 1] at the contract's geometry."""
    g = s.geometry
    return torch.rand((batch or s.batch, *g.clip_shape), generator=gen) * 2 - 1


def random_frames(s: ContractSettings, gen: torch.Generator, n: int | None = None) -> torch.Tensor:
    """Frames ``[N, C, H, W]`` uniform in [-1, 1] at the contract's geometry."""
    return torch.rand((n or s.batch, *s.geometry.frame_shape), generator=gen) * 2 - 1


def tensors_in(obj: Any) -> list[torch.Tensor]:
    """Every tensor in ``obj`` (a tensor, or dicts, tuples and lists of them), in order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in tensors_in(v)]
    if isinstance(obj, tuple | list):
        return [t for v in obj for t in tensors_in(v)]
    return []


def assert_finite(label: str, out: Any) -> None:
    for t in tensors_in(out):
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise AssertionError(f"{label}: output has NaN or Inf values")


def assert_same(label: str, a: Any, b: Any, what: str) -> None:
    """``a`` and ``b`` hold equal tensors; else fail with ``what``."""
    ta, tb = tensors_in(a), tensors_in(b)
    if len(ta) != len(tb) or any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(ta, tb, strict=False)):
        raise AssertionError(f"{label}: {what}")


def assert_video_range(label: str, video: torch.Tensor) -> None:
    lo, hi = float(video.detach().min()), float(video.detach().max())
    if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
        raise AssertionError(f"{label}: frames must lie in [-1, 1], got [{lo:.3f}, {hi:.3f}]")


# -- the built-in kinds' contracts ----------------------------------------------------------------


def encoder_contract(case: ContractCase) -> Any:
    label, m, s, gen = case.label, case.component, case.settings, case.generator
    if isinstance(m, ContentEncoder):
        x = random_frames(s, gen, s.batch * 2)
        code = m(x)
        want = (x.shape[0], *m.code_shape)
        if tuple(code.shape) != want:
            raise AssertionError(f"{label}: content code shape {tuple(code.shape)}, expected {want} (code_shape)")
        return code
    if isinstance(m, MotionEncoder):
        post = m(random_video(s, gen))
        if not isinstance(post, MotionPosterior):
            raise AssertionError(f"{label}: a motion encoder must return MotionPosterior(mean, logvar)")
        want = (s.batch, m.motion_dim)
        for part, t in zip(("mean", "logvar"), post, strict=True):
            if tuple(t.shape) != want:
                raise AssertionError(f"{label}: posterior {part} shape {tuple(t.shape)}, expected {want}")
        return post
    raise AssertionError(f"{label}: an encoder must derive from ContentEncoder or MotionEncoder")


def temporal_generator_contract(case: ContractCase) -> Any:
    label, m, s, gen = case.label, case.component, case.settings, case.generator
    z = torch.randn((s.batch, s.motion_dim), generator=gen)
    codes = m(z, s.geometry.frames)
    want = (s.batch, s.geometry.frames, m.frame_code_dim)
    if tuple(codes.shape) != want:
        raise AssertionError(f"{label}: per-frame codes shape {tuple(codes.shape)}, expected {want}")
    return codes


def decoder_contract(case: ContractCase) -> Any:
    label, m, s, gen = case.label, case.component, case.settings, case.generator
    n = s.batch * 2
    frames = m(torch.randn((n, *s.content_shape), generator=gen), torch.randn((n, s.frame_code_dim), generator=gen))
    want = (n, *s.geometry.frame_shape)
    if tuple(frames.shape) != want:
        raise AssertionError(f"{label}: frames shape {tuple(frames.shape)}, expected {want} = [N, C, H, W]")
    assert_video_range(label, frames)
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


def discriminator_contract(case: ContractCase) -> Any:
    label, m, s, gen = case.label, case.component, case.settings, case.generator
    if isinstance(m, ImageDiscriminator):
        logits = m(random_frames(s, gen), random_frames(s, gen))
    elif isinstance(m, VideoDiscriminator):
        logits = m(random_video(s, gen))
    else:
        raise AssertionError(f"{label}: must derive from ImageDiscriminator or VideoDiscriminator")
    if tuple(logits.shape) != (s.batch,):
        raise AssertionError(f"{label}: logits shape {tuple(logits.shape)}, expected ({s.batch},): one per sample")
    return logits


def model_contract(case: ContractCase) -> Any:
    label, m, s, gen = case.label, case.component, case.settings, case.generator
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
    outputs = m({"video": random_video(s, gen)})
    if not isinstance(outputs, dict):
        raise AssertionError(f"{label}: forward(batch) must return a dict of outputs")
    for key, value in outputs.items():
        if isinstance(value, torch.Tensor) and value.dim() == 5:
            assert_video_range(f"{label} output {key!r}", value)
    return outputs


def loss_contract(case: ContractCase) -> None:
    """Each declared phase gives a finite scalar that depends on the parameters (given a model)."""
    label, loss, s, model = case.label, case.component, case.settings, case.model
    if not loss.phases or not all(isinstance(p, str) for p in loss.phases):
        raise AssertionError(f"{label}: `phases` must name the phases the loss contributes to")
    if model is None:
        return
    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)
    batch = {"video": random_video(s, gen)}
    ctx = LossContext(model=model, batch=batch, outputs=model(batch), step=0)
    for phase in loss.phases:
        value = loss(ctx, phase)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            raise AssertionError(f"{label}: phase {phase!r} must return a scalar tensor, got {value!r}")
        if not torch.isfinite(value):
            raise AssertionError(f"{label}: phase {phase!r} returned {float(value)}")
        if not value.requires_grad:
            raise AssertionError(f"{label}: phase {phase!r} loss does not depend on any parameter")


def dataset_contract(case: ContractCase) -> None:
    """Items are ``{"video": [T, C, H, W]}`` float32 in [-1, 1]; the same seed gives the same first clip."""
    label, ds, s = case.label, case.component, case.settings
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
    assert_video_range(label, video)
    assert_finite(label, video)
    if case.rebuild is not None:
        assert_same(label, video, case.rebuild()[0]["video"], "the same seed gave a different first clip")
