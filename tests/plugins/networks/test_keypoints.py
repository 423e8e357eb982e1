"""keypoint_motion_encoder: heatmaps per frame → trajectories → posterior over z_M."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.testing import check_component

G = VideoGeometry(frames=4, height=16, width=16)


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def encoder(registry, **params):
    return registry.build("encoder", "keypoint_motion_encoder", {"width": 8, "hidden": 32, **params}, geometry=G)


def moving_square(xs: list[int], y: int = 6, size: int = 4) -> torch.Tensor:
    """A bright square on a dark frame at column xs[t] in frame t: [1, T, 3, 16, 16]."""
    video = torch.full((1, len(xs), 3, 16, 16), -1.0)
    for t, x in enumerate(xs):
        video[0, t, :, y : y + size, x : x + size] = 1.0
    return video


class BrightnessDetector(nn.Module):
    """Logits = 50 × the first input channel, at half resolution: the heatmap sits on what is bright."""

    def __init__(self, keypoints: int) -> None:
        super().__init__()
        self.keypoints = keypoints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 50 * F.avg_pool2d(x[:, :1], 2).expand(-1, self.keypoints, -1, -1)


def test_contracts(registry):
    check_component("encoder", "keypoint_motion_encoder", {"width": 8, "hidden": 32, "keypoints": 2}, registry=registry)


def test_heatmaps_are_distributions_over_the_frame(registry):
    torch.manual_seed(0)
    enc = encoder(registry, keypoints=3)
    maps = enc.heatmaps(torch.rand(2, *G.clip_shape) * 2 - 1)
    assert maps.shape == (2, 4, 3, 8, 8)
    assert torch.allclose(maps.flatten(-2).sum(-1), torch.ones(2, 4, 3), atol=1e-5)


def test_trajectories_follow_the_object_in_normalised_units(registry):
    enc = encoder(registry, keypoints=2)
    enc.detector = BrightnessDetector(2)
    xs = [2, 4, 6, 10]
    feats = enc.trajectories(moving_square(xs))  # [1, T, K, 9]
    centre, moved = feats[0, :, :, :2], feats[0, :, :, 5:7]
    # A pixel is 2/16 normalised units; the square's centre is at x + 2 pixels.
    expected_x = torch.tensor([(x + 2) / 16 * 2 - 1 for x in xs])
    assert torch.allclose(centre[:, 0, 0], expected_x, atol=1e-3)
    assert torch.allclose(moved[:, 0, 0], expected_x - expected_x[0], atol=1e-3)
    assert torch.allclose(moved[..., 1], torch.zeros(4, 2), atol=1e-4)  # no vertical motion
    # Same size in every frame: the log-deviations do not change.
    assert torch.allclose(feats[0, :, :, 7:9], torch.zeros(4, 2, 2), atol=1e-4)


def test_a_still_clip_has_no_relative_motion_whatever_it_shows(registry):
    torch.manual_seed(0)
    enc = encoder(registry)
    frame = torch.rand(1, 1, *G.frame_shape) * 2 - 1
    feats = enc.trajectories(frame.expand(1, 4, *G.frame_shape).contiguous())
    assert torch.allclose(feats[..., 5:], torch.zeros_like(feats[..., 5:]), atol=1e-5)


def test_the_detector_learns_to_track_end_to_end(registry):
    """Regress the square's horizontal displacement at the last frame from the posterior mean:
    the detector gets no other signal, so the error falls only if the heatmaps learn to follow it."""
    torch.manual_seed(0)
    enc = encoder(registry, keypoints=1, motion_dim=1)
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        clips, targets = [], []
        for _ in range(n):
            x0, dx, y = int(torch.randint(0, 6, ())), int(torch.randint(0, 7, ())), int(torch.randint(0, 12, ()))
            clips.append(moving_square([x0 + dx * t // 3 for t in range(4)], y=y))
            targets.append(dx / 6)
        return torch.cat(clips), torch.tensor(targets).unsqueeze(1)

    test_clips, test_targets = batch(32)

    def error() -> float:
        with torch.no_grad():
            return float((enc(test_clips).mean - test_targets).square().mean())

    before = error()
    for _ in range(150):
        clips, targets = batch(16)
        loss = (enc(clips).mean - targets).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert error() < 0.2 * before


def test_wrong_geometry_is_refused(registry):
    with pytest.raises(ShapeError, match="multiples of 4"):
        registry.build("encoder", "keypoint_motion_encoder", {}, geometry=VideoGeometry(frames=4, height=18, width=16))
    enc = encoder(registry)
    with pytest.raises(ShapeError):
        enc(torch.zeros(1, 3, 4, 16, 16))  # [B, C, T, H, W]
