"""The built-in Dual-MTGAN networks: shapes, ranges, gradients, determinism, options.

Tiny widths (base_channels 8) keep every test a few milliseconds on a CPU.
"""

from __future__ import annotations

import pytest
import torch

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import (
    ContentEncoder,
    FrameDecoder,
    ImageDiscriminator,
    MotionEncoder,
    MotionPosterior,
    TemporalGenerator,
    VideoDiscriminator,
)
from vidgan_kit.testing import check_component

SMALL = {"base_channels": 8}
NETWORKS = [
    ("encoder", "conv_content_encoder", ContentEncoder),
    ("encoder", "conv3d_motion_encoder", MotionEncoder),
    ("temporal_generator", "lstm_temporal_generator", TemporalGenerator),
    ("temporal_generator", "basis_temporal_generator", TemporalGenerator),
    ("decoder", "conv_frame_decoder", FrameDecoder),
    ("discriminator", "conditional_image_discriminator", ImageDiscriminator),
    ("discriminator", "conv3d_video_discriminator", VideoDiscriminator),
]
# 32×32 with 8 frames, 64×64 with an odd 5 frames, 16×16 with the minimum 4 frames.
GEOMETRIES = [
    VideoGeometry(frames=8, height=32, width=32),
    VideoGeometry(frames=5, height=64, width=64),
    VideoGeometry(frames=4, height=16, width=16),
]
CONTENT_SHAPE = (16,)
MOTION_DIM = 6
FRAME_CODE_DIM = 5


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def build(registry, kind: str, name: str, geometry: VideoGeometry, params: dict | None = None, seed: int = 0):
    torch.manual_seed(seed)
    wiring: dict = {"geometry": geometry}
    if kind == "temporal_generator":
        wiring["motion_dim"] = MOTION_DIM
        params = {"hidden": 16, "frame_code_dim": FRAME_CODE_DIM, **(params or {})}
    elif kind == "decoder":
        wiring.update(content_shape=CONTENT_SHAPE, frame_code_dim=FRAME_CODE_DIM)
    if kind != "temporal_generator":
        params = {**SMALL, **(params or {})}
    return registry.build(kind, name, params, **wiring)


def run(module, geometry: VideoGeometry, batch: int = 2, seed: int = 1):
    """Feed a module the input its role expects; return its output."""
    gen = torch.Generator().manual_seed(seed)
    video = torch.rand((batch, *geometry.clip_shape), generator=gen) * 2 - 1
    frames = video[:, 0]
    if isinstance(module, ContentEncoder):
        return module(frames)
    if isinstance(module, MotionEncoder):
        return module(video)
    if isinstance(module, TemporalGenerator):
        return module(torch.randn((batch, MOTION_DIM), generator=gen), geometry.frames)
    if isinstance(module, FrameDecoder):
        content = torch.randn((batch, *CONTENT_SHAPE), generator=gen)
        return module(content, torch.randn((batch, FRAME_CODE_DIM), generator=gen))
    if isinstance(module, ImageDiscriminator):
        return module(frames, video[:, 1])
    if isinstance(module, VideoDiscriminator):
        return module(video)
    raise AssertionError(type(module))


def expected_shape(module, geometry: VideoGeometry, batch: int = 2) -> tuple:
    if isinstance(module, ContentEncoder):
        return (batch, *module.code_shape)
    if isinstance(module, MotionEncoder):
        return (batch, module.motion_dim)
    if isinstance(module, TemporalGenerator):
        return (batch, geometry.frames, FRAME_CODE_DIM)
    if isinstance(module, FrameDecoder):
        return (batch, *geometry.frame_shape)
    return (batch,)


def tensors(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, MotionPosterior) else [out]


@pytest.mark.parametrize("kind,name,base", NETWORKS, ids=[n for _, n, _ in NETWORKS])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g.height}px{g.frames}f")
def test_shape_range_gradient(registry, kind, name, base, geometry):
    module = build(registry, kind, name, geometry)
    assert isinstance(module, base)
    out = run(module, geometry)
    for t in tensors(out):
        assert tuple(t.shape) == expected_shape(module, geometry)
        assert torch.isfinite(t).all()
    if isinstance(module, FrameDecoder):
        assert out.min() >= -1 and out.max() <= 1
    sum(t.square().mean() for t in tensors(out)).backward()
    dead = [n for n, p in module.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not dead, f"{name}: no gradient reaches {dead}"


@pytest.mark.parametrize("kind,name,base", NETWORKS, ids=[n for _, n, _ in NETWORKS])
def test_determinism(registry, kind, name, base):
    g = GEOMETRIES[0]
    a, b = build(registry, kind, name, g, seed=3), build(registry, kind, name, g, seed=3)
    a.eval(), b.eval()
    with torch.no_grad():
        for x, y in zip(tensors(run(a, g)), tensors(run(b, g)), strict=True):
            assert torch.equal(x, y)
        for x, y in zip(tensors(run(a, g)), tensors(run(a, g)), strict=True):
            assert torch.equal(x, y)
    c = build(registry, kind, name, g, seed=4)
    differs = any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    assert differs, "a different seed should give different initial weights"


@pytest.mark.parametrize("kind,name,base", NETWORKS, ids=[n for _, n, _ in NETWORKS])
def test_toolkit_contract(registry, kind, name, base):
    params = {"hidden": 16} if kind == "temporal_generator" else SMALL
    check_component(kind, name, params, registry=registry)


def test_non_square_frames(registry):
    g = VideoGeometry(frames=4, height=32, width=64)
    for kind, name, _ in NETWORKS:
        module = build(registry, kind, name, g)
        for t in tensors(run(module, g)):
            assert tuple(t.shape) == expected_shape(module, g)


@pytest.mark.parametrize("size", [(24, 24), (32, 48), (4, 4)])
def test_unsupported_frame_size_is_a_clear_error(registry, size):
    g = VideoGeometry(frames=8, height=size[0], width=size[1])
    with pytest.raises(ShapeError, match="power-of-two"):
        build(registry, "encoder", "conv_content_encoder", g)


def test_layout_is_asserted_at_the_boundary(registry):
    g = GEOMETRIES[0]
    em = build(registry, "encoder", "conv3d_motion_encoder", g)
    wrong = torch.zeros(2, 3, 8, 32, 32)  # [B, C, T, H, W]: the classic mistake
    with pytest.raises(ShapeError, match=r"\[B, T, C, H, W\]"):
        em(wrong)


@pytest.mark.parametrize("norm", ["group", "instance", "batch", "none"])
def test_every_norm_builds_and_runs(registry, norm):
    g = GEOMETRIES[2]
    for kind, name, _ in NETWORKS:
        if kind == "temporal_generator":
            continue
        module = build(registry, kind, name, g, {"norm": norm})
        norms = {type(m).__name__ for m in module.modules()}
        want = {"group": "GroupNorm", "instance": "InstanceNorm", "batch": "BatchNorm", "none": None}[norm]
        if want is None:
            assert not any("Norm" in n and "Spectral" not in n for n in norms), norms
        else:
            assert any(n.startswith(want) for n in norms), (name, norms)
        out = run(module, g)
        assert all(torch.isfinite(t).all() for t in tensors(out))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_group_norm_gives_the_same_result_in_either_layout(dtype):
    from vidgan_builtin.networks.blocks import GroupNorm

    norm = GroupNorm(4, 16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    reference = torch.nn.GroupNorm(4, 16)
    reference.load_state_dict(norm.state_dict())  # same parameters, same names
    x = torch.randn(3, 16, 8, 8).to(dtype)
    want = reference(x)
    got = norm(x.contiguous(memory_format=torch.channels_last))
    assert got.dtype == dtype and got.is_contiguous(memory_format=torch.channels_last)
    if dtype == torch.bfloat16:  # normalised in the contiguous layout: the reference's very kernel
        assert torch.equal(got, want)
    else:  # torch's channels-last kernel: the same up to the order of its sums
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert torch.equal(norm(x), want) and norm(x).is_contiguous()


def _short_clip_convs():
    """D_V's last level at 16 frames (2 frames in, temporal kernel 3, padding 1) as nn.Conv3d and as ShortClipConv3d."""
    from vidgan_builtin.networks.blocks import ShortClipConv3d

    torch.manual_seed(0)
    reference = torch.nn.Conv3d(64, 128, (3, 4, 4), (1, 2, 2), (1, 1, 1), bias=False)  # as D_V (normalised after)
    conv = ShortClipConv3d(64, 128, (3, 4, 4), (1, 2, 2), (1, 1, 1), bias=False)
    conv.load_state_dict(reference.state_dict())  # same parameters, same names
    return reference, conv


def test_short_clip_conv3d_is_conv3d_bit_for_bit_in_float32():
    reference, conv = _short_clip_convs()
    x = torch.randn(4, 64, 2, 8, 8, requires_grad=True)
    want, got = reference(x), conv(x)
    assert torch.equal(got, want)
    assert torch.equal(torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(want.sum(), x)[0])


def test_short_clip_conv3d_weight_gradient_stays_finite_in_cpu_bf16():
    # torch 2.13's oneDNN kernel for nn.Conv3d's weight gradient here read memory it never
    # wrote: with NaN left on the heap, NaN in 21 trials of 30 on an AVX512-BF16 EPYC (nineteenth session).
    from vidgan_kit.training.memory import reuse_freed_memory

    reference, conv = _short_clip_convs()
    x = torch.randn(48, 64, 2, 8, 8)
    with reuse_freed_memory():
        for _ in range(20):
            junk = torch.full((4 << 20,), float("nan"))  # freed right away: NaN where the next blocks come from
            del junk
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = conv(x)
            (grad,) = torch.autograd.grad(out.float().square().mean(), conv.weight)
            assert torch.isfinite(grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the same convolution, as bf16 computes it
        torch.testing.assert_close(conv(x[:4]).float(), reference(x[:4]).float(), rtol=0.02, atol=0.02)


@pytest.mark.parametrize("bias", [True, False])
def test_conv3x3_of_upsampled_is_the_convolution_of_the_upsampled_map(bias):
    from vidgan_builtin.networks.blocks import conv3x3_of_upsampled

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 5, 7, generator=generator)  # odd, unequal sides: every border case
    weight = torch.randn(3, 4, 3, 3, generator=generator, requires_grad=True)
    b = torch.randn(3, generator=generator) if bias else None
    upsampled = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    want = torch.nn.functional.conv2d(upsampled, weight, b, padding=1)
    got = conv3x3_of_upsampled(x, weight, b)
    assert got.shape == (2, 3, 10, 14)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    (grad_want,) = torch.autograd.grad(want.square().sum(), weight)
    (grad_got,) = torch.autograd.grad(got.square().sum(), weight)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-4, atol=1e-4)


def test_no_batchnorm_by_default(registry):
    for kind, name, _ in NETWORKS:
        module = build(registry, kind, name, GEOMETRIES[2])
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules()), name


def test_spectral_norm_is_optional(registry):
    g = GEOMETRIES[2]
    for name in ("conditional_image_discriminator", "conv3d_video_discriminator"):
        on = build(registry, "discriminator", name, g)
        off = build(registry, "discriminator", name, g, {"spectral_norm": False})
        assert any("parametrizations" in n for n, _ in on.named_parameters())
        assert not any("parametrizations" in n for n, _ in off.named_parameters())
        assert torch.isfinite(run(off, g)).all()


def test_content_code_scale_is_fixed(registry):
    """layer/l2 normalisation: a code cannot shrink, so L_C cannot be gamed by scale."""
    g = GEOMETRIES[2]
    layer = build(registry, "encoder", "conv_content_encoder", g, {"content_dim": 12})
    z = run(layer, g, batch=3)
    assert z.shape == (3, 12)
    assert torch.allclose(z.mean(dim=1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.var(dim=1, unbiased=False), torch.ones(3), atol=1e-3)
    # No learnable gain after the normalisation (it would reopen the shrinking shortcut).
    assert [n for n, p in layer.named_parameters() if p.shape == (12,)] == ["head.bias"]
    l2 = build(registry, "encoder", "conv_content_encoder", g, {"content_dim": 12, "normalize": "l2"})
    assert torch.allclose(run(l2, g).norm(dim=1), torch.full((2,), 12**0.5), atol=1e-4)
    raw = build(registry, "encoder", "conv_content_encoder", g, {"content_dim": 12, "normalize": "none"})
    with torch.no_grad():
        raw.head.weight.mul_(1e-3), raw.head.bias.zero_()
    assert run(raw, g).abs().max() < 1e-2  # the raw code can shrink; the normalised ones cannot


def test_motion_encoder_frame_differences_ignore_static_content(registry):
    g = GEOMETRIES[2]
    em = build(registry, "encoder", "conv3d_motion_encoder", g, {"input": "frame_differences"})
    em.eval()
    a = torch.full((1, *g.clip_shape), 0.3)
    b = torch.rand(1, *g.frame_shape).unsqueeze(1).expand(1, *g.clip_shape).contiguous()
    with torch.no_grad():
        pa, pb = em(a), em(b)
    assert torch.allclose(pa.mean, pb.mean) and torch.allclose(pa.logvar, pb.logvar)
    both = build(registry, "encoder", "conv3d_motion_encoder", g, {"input": "both"})
    assert both(a).mean.shape == (1, 16)


def test_motion_encoder_logvar_is_clamped(registry):
    g = GEOMETRIES[2]
    em = build(registry, "encoder", "conv3d_motion_encoder", g, {"logvar_limit": 0.5})
    with torch.no_grad():
        em.head.bias.fill_(100.0)
    post = em(torch.zeros(1, *g.clip_shape))
    assert post.logvar.max() <= 0.5 and post.logvar.min() >= -0.5


@pytest.mark.parametrize("init_state", ["from_z", "zeros"])
def test_temporal_generator_uses_z_and_any_length(registry, init_state):
    g = GEOMETRIES[0]
    gt = build(registry, "temporal_generator", "lstm_temporal_generator", g, {"init_state": init_state})
    z = torch.randn(3, MOTION_DIM)
    codes = gt(z, 6)
    assert codes.shape == (3, 6, FRAME_CODE_DIM)
    assert gt(z).shape == (3, g.frames, FRAME_CODE_DIM)  # defaults to the geometry's T
    assert not torch.allclose(codes[0], codes[1]), "different z_M must give different trajectories"
    assert not torch.allclose(codes[:, 0], codes[:, -1]), "codes should evolve over time"
    with pytest.raises(ShapeError):
        gt(torch.randn(3, MOTION_DIM + 1), 6)


def test_an_integrating_temporal_generator_sums_the_read_outs(registry):
    """With ``integrate`` the read-out of step t is the code's change from frame t-1 to t."""
    g = GEOMETRIES[0]
    plain = build(registry, "temporal_generator", "lstm_temporal_generator", g, {})
    summed = build(registry, "temporal_generator", "lstm_temporal_generator", g,
                   {"integrate": True, "relative_to_first": True})
    z = torch.randn(3, MOTION_DIM)
    with torch.no_grad():
        steps, codes = plain(z), summed(z)
    assert torch.equal(codes[:, 0], torch.zeros_like(codes[:, 0]))
    assert torch.allclose(codes.diff(dim=1), steps[:, 1:], atol=1e-6)


def test_decoder_checks_its_inputs_and_supports_nearest_upsampling(registry):
    g = GEOMETRIES[0]
    gi = build(registry, "decoder", "conv_frame_decoder", g, {"upsample": "nearest"})
    out = gi(torch.randn(2, *CONTENT_SHAPE), torch.randn(2, FRAME_CODE_DIM))
    assert out.shape == (2, *g.frame_shape) and out.abs().max() <= 1
    with pytest.raises(ShapeError, match="content"):
        gi(torch.randn(2, 7), torch.randn(2, FRAME_CODE_DIM))
    with pytest.raises(ShapeError, match="motion"):
        gi(torch.randn(2, *CONTENT_SHAPE), torch.randn(3, FRAME_CODE_DIM))


def test_decoder_accepts_a_spatial_content_code(registry):
    g = GEOMETRIES[2]
    torch.manual_seed(0)
    gi = registry.build(
        "decoder", "conv_frame_decoder", SMALL, geometry=g, content_shape=(4, 2, 2), frame_code_dim=FRAME_CODE_DIM
    )
    assert gi(torch.randn(2, 4, 2, 2), torch.randn(2, FRAME_CODE_DIM)).shape == (2, *g.frame_shape)


def test_image_discriminator_sees_the_condition(registry):
    g = GEOMETRIES[2]
    di = build(registry, "discriminator", "conditional_image_discriminator", g)
    di.eval()
    frame = torch.rand(2, *g.frame_shape) * 2 - 1
    with torch.no_grad():
        a = di(torch.zeros_like(frame), frame)
        b = di(torch.ones_like(frame), frame)
    assert not torch.allclose(a, b)
    with pytest.raises(ShapeError):
        di(frame[:1], frame)


def test_every_option_is_documented(registry):
    for kind, name, _ in NETWORKS:
        entry = registry.get(kind, name)
        assert entry.plugin == "builtin_networks" and entry.summary
        for field_name, field in entry.config_model.model_fields.items():
            assert field.description, f"{name}.{field_name} has no description"
