"""Dual-MTGAN past its clip length: windows of T frames, the motion chained from one to the next."""

from __future__ import annotations

import math

import pytest
import torch

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import VidganError
from vidgan_kit.inference import Pipeline
from vidgan_dual_mtgan.assembly import _affine, _chain, _shift_about

T = 6
G = VideoGeometry(frames=T, height=16, width=16)
LAYERED = {
    "content_encoder": {"type": "layered_content_encoder", "width": 4},
    "motion_encoder": {"type": "conv3d_motion_encoder", "base_channels": 4, "motion_dim": 4},
    "temporal_generator": {"type": "basis_temporal_generator", "components": 3, "frame_code_dim": 8},
    "decoder": {"type": "sprite_frame_decoder", "motion_init_std": 0.5},  # random maps: visible motion
    "image_discriminator": {"type": "conditional_image_discriminator", "base_channels": 4},
    "video_discriminator": {"type": "conv3d_video_discriminator", "base_channels": 4},
}


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def build(registry, **slots: dict):  # noqa: ANN201
    torch.manual_seed(0)
    return registry.build("model", "dual_mtgan", {**LAYERED, **slots}, geometry=G, registry=registry).eval()


@pytest.fixture(scope="module")
def shapes(registry) -> tuple[torch.Tensor, torch.Tensor]:
    """A target image and a source three clips long: held-out synthetic_shapes clips (a moving shape)."""
    long = VideoGeometry(frames=3 * T, height=16, width=16)
    data = registry.build("dataset", "synthetic_shapes", {}, geometry=long, split="test", seed=3)
    return data.clip(0)[0], data.clip(1)


def changes(frames: torch.Tensor) -> torch.Tensor:
    """Mean absolute change from each frame to the next: [N - 1]."""
    return (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))


def boundaries(chunks: list[torch.Tensor]) -> list[int]:
    """Indices j whose change j -> j+1 crosses from one window's frames to the next's."""
    ends = torch.tensor([len(c) for c in chunks]).cumsum(0)
    return [int(e) - 1 for e in ends[:-1]]


def gliding(model):  # noqa: ANN001, ANN201
    """``model`` with a motion that adds up over windows: G_T's read-out gets a bias, so every
    window's codes follow one path (plus a little of the source's), and a part glides on
    rather than wobbling about its anchor; a window that restarted from the target would jump."""
    with torch.no_grad():
        read_out = model.temporal_generator.coefficients
        read_out.weight.mul_(0.2)
        read_out.bias.copy_(torch.randn(read_out.bias.shape, generator=torch.Generator().manual_seed(1)) * 0.5)
    return model


@pytest.mark.parametrize("decoder", [
    {"type": "sprite_frame_decoder", "motion_init_std": 0.05},
    {"type": "warp_frame_decoder", "width": 4},
])
def test_a_source_three_clips_long_gives_every_frame_without_a_jump_at_the_windows(registry, shapes, decoder):
    content = {"type": "spatial_content_encoder"} if decoder["type"] == "warp_frame_decoder" else LAYERED["content_encoder"]
    model = gliding(build(registry, decoder=decoder, content_encoder=content))
    if decoder["type"] == "warp_frame_decoder":  # its read-out starts at zero: give it a motion to continue
        with torch.no_grad():
            torch.nn.init.normal_(model.decoder.motion_head.weight, std=0.05)
    target, source = shapes
    pipe = Pipeline(model, notes=[].append)
    chunks = list(pipe.transfer_frames(target, source))
    out = torch.cat(chunks)
    assert out.shape == (3 * T, 3, 16, 16)  # every frame of the source
    torch.testing.assert_close(out[:T], model.transfer(target[None], source[None, :T])[0].clamp(-1, 1))

    change = changes(out)
    at = boundaries(chunks)
    inside = [j for j in range(len(change)) if j not in at]
    assert len(at) == 3 and max(change[inside]) > 0.01  # windows at 0, 5, 10, 12; the motion is not still
    assert max(change[at]) <= max(change[inside]), (change, at)

    if decoder["type"] == "warp_frame_decoder":
        return  # an untrained mask network flickers from frame to frame: no restart to tell apart
    # The same measure sees the jump of windows that each restart from the target image.
    starts = [0, T - 1, 2 * (T - 1), 2 * T]
    restarted = [model.transfer(target[None], source[None, s : s + T])[0] for s in starts]
    naive = torch.cat([restarted[0]] + [clip[k:] for clip, k in zip(restarted[1:], (1, 1, 4), strict=True)])
    naive_change = changes(naive)
    assert max(naive_change[at]) > max(naive_change[inside])


def test_the_source_reaches_a_long_transfer_only_through_e_m(registry, shapes, monkeypatch):
    model = build(registry)
    target, source = shapes
    pipe = Pipeline(model, notes=[].append)
    other = source.flip(0)
    assert not torch.equal(pipe.transfer(target, source), pipe.transfer(target, other))
    fixed = model.encode_motion(source[None, :T])
    monkeypatch.setattr(model, "encode_motion", lambda clip: fixed)
    torch.testing.assert_close(pipe.transfer(target, source), pipe.transfer(target, other), rtol=0, atol=0)


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]])


def _where(lin: torch.Tensor, off: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Where the part drawn by backward maps p -> L p + b sits: the point the map sends to its anchor."""
    return torch.linalg.solve(lin, (anchors - off).unsqueeze(-1)).squeeze(-1)


def test_chained_maps_continue_a_translation_and_a_turn_about_the_moved_part():
    anchors = torch.tensor([[[0.2, -0.1]]])  # one part
    steps = torch.arange(T, dtype=torch.float32)
    turn = torch.stack([_rotation(0.2 * float(k)) for k in steps]).view(1, T, 1, 2, 2)  # 0.2 rad per frame
    glide = (steps[:, None] * torch.tensor([0.1, 0.05])).view(1, T, 1, 2)  # a shift per frame
    at = 3  # the next window starts at the previous window's frame 3

    # A glide alone adds up: frame at + k is shifted by (at + k) steps.
    lin, off = _affine(torch.eye(2).expand(1, T, 1, 2, 2), glide, anchors.unsqueeze(1))
    chained_lin, chained_off = _chain(lin[:, at], off[:, at], lin, off, anchors)
    torch.testing.assert_close(_shift_about(chained_lin, chained_off, anchors)[0, :, 0], (at + steps)[:, None]
                               * torch.tensor([0.1, 0.05]))
    # A turn alone adds up about the anchor.
    lin, off = _affine(turn, torch.zeros_like(glide), anchors.unsqueeze(1))
    chained_lin, chained_off = _chain(lin[:, at], off[:, at], lin, off, anchors)
    for k in range(T):
        torch.testing.assert_close(chained_lin[0, k, 0], _rotation(0.2 * (at + k)))
    torch.testing.assert_close(_shift_about(chained_lin, chained_off, anchors)[0, :, 0], torch.zeros(T, 2))
    # Both: from where the part sits when the next window starts, it moves as the window alone moves it
    # from the anchor, and it starts exactly where the previous window left it.
    lin, off = _affine(turn, glide, anchors.unsqueeze(1))
    chained_lin, chained_off = _chain(lin[:, at], off[:, at], lin, off, anchors)
    alone = _where(lin[0, :, 0], off[0, :, 0], anchors[0, 0]) - anchors[0, 0]
    here = _where(lin[0, at, 0], off[0, at, 0], anchors[0, 0])
    continued = _where(chained_lin[0, :, 0], chained_off[0, :, 0], anchors[0, 0]) - here
    torch.testing.assert_close(continued, alone)
    torch.testing.assert_close(continued[0], torch.zeros(2))


def test_a_decoder_that_draws_from_codes_cannot_continue_and_says_so(registry, shapes):
    model = build(registry, content_encoder={"type": "conv_content_encoder", "base_channels": 4, "content_dim": 8},
                  decoder={"type": "conv_frame_decoder", "base_channels": 4})
    assert "conv_frame_decoder" in model.window_support()
    target, source = shapes
    pipe = Pipeline(model, notes=[].append)
    assert pipe.transfer(target, source[:T]).shape == (T, 3, 16, 16)  # a clip still works
    with pytest.raises(VidganError, match=rf"has {3 * T} frames, but model 'dual_mtgan' animates at most {T}.*"
                       rf"conv_frame_decoder.*--frames {T}"):
        pipe.transfer(target, source)
    with pytest.raises(VidganError, match="conv_frame_decoder"):
        pipe.sample(target, n=1, frames=2 * T)


def test_absolute_motion_is_refused_with_the_modes_it_has(registry, shapes):
    model = build(registry)
    assert model.motion_modes == ("relative",)
    target, source = shapes
    with pytest.raises(VidganError, match="motion 'absolute': model 'dual_mtgan' offers relative"):
        Pipeline(model, notes=[].append).transfer(target, source, motion="absolute")
    with pytest.raises(VidganError, match="relative to a clip's first frame"):
        next(model.transfer_windows(target[None], iter([(0, source[None, :T])]), motion="absolute"))


def test_long_samples_continue_the_first_window_without_a_jump(registry, shapes):
    model = build(registry)
    target = shapes[0]
    pipe = Pipeline(model, notes=[].append)
    long = pipe.sample(target, n=2, seed=4, frames=3 * T)
    assert long.shape == (2, 3 * T, 3, 16, 16)
    torch.testing.assert_close(long[:, :T], pipe.sample(target, n=2, seed=4))  # the first window is sample()'s
    assert not torch.equal(long[0], long[1])
    for clip in long:
        change = changes(clip)
        at = [T - 1, 2 * T - 2, 3 * T - 3]  # windows start at 0, 5, 10, 15
        inside = [j for j in range(len(change)) if j not in at]
        assert max(change[at]) <= max(change[inside])
    assert pipe.sample(target, n=1, seed=4, frames=2).shape == (1, 2, 3, 16, 16)
