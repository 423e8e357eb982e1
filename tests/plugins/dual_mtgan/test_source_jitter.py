"""Source jitter: E_M reads a changed copy of its clip in training, the clip itself otherwise."""

from __future__ import annotations

import pytest
import torch

import vidgan_kit
from vidgan_kit.errors import RecipeError
from vidgan_dual_mtgan.source_jitter import SourceJitterConfig, jitter_source

@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def still_clips(b: int = 4) -> torch.Tensor:
    """``b`` copies of one clip whose frames are all alike: any change between frames would be added motion."""
    frame = torch.rand(1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return frame.expand(b, 8, 3, 32, 32).contiguous()


def test_off_returns_the_clip_itself():
    video = still_clips()
    assert jitter_source(video, SourceJitterConfig()) is video


@pytest.mark.parametrize(
    "options", [{"color": 0.4}, {"channel_shuffle": 1.0}, {"translate": 0.2}, {"color": 0.3, "translate": 0.1}]
)
def test_each_clip_changes_the_same_way_in_every_frame(options):
    video = still_clips()
    torch.manual_seed(0)
    out = jitter_source(video, SourceJitterConfig(**options))
    assert out.shape == video.shape and out.abs().max() <= 1
    assert not torch.allclose(out, video, atol=1e-3)
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-6)  # no motion added
    assert any(not torch.allclose(out[0], clip, atol=1e-3) for clip in out[1:])  # each clip its own draw


def test_channel_shuffle_permutes_the_channels():
    video = torch.rand(6, 8, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    torch.manual_seed(0)
    out = jitter_source(video, SourceJitterConfig(channel_shuffle=1.0))
    for clip, changed in zip(video, out):
        assert sorted(changed.sum(dim=(0, 2, 3)).tolist()) == pytest.approx(sorted(clip.sum(dim=(0, 2, 3)).tolist()))


def test_translation_moves_the_picture():
    video = torch.full((1, 8, 1, 32, 32), -1.0)
    video[..., 12:20, 12:20] = 1.0
    torch.manual_seed(3)
    out = jitter_source(video, SourceJitterConfig(translate=0.25))
    grid = torch.arange(32.0)
    mass = (out[0, 0, 0] + 1).clamp_min(0)
    centre = torch.stack([(mass.sum(0) * grid).sum(), (mass.sum(1) * grid).sum()]) / mass.sum()
    assert (centre - 15.5).abs().max() > 1.0  # the square left the centre
    assert (centre - 15.5).abs().max() <= 0.25 * 32 + 0.5


def test_the_options_are_checked_with_their_path(registry):
    with pytest.raises(RecipeError, match="source_jitter"):
        registry.resolve("model", {"type": "dual_mtgan", "source_jitter": {"colour": 0.1}}, "model")
