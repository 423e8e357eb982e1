"""keypoint_motion_encoder: heatmaps per frame → trajectories → posterior over z_M."""

from __future__ import annotations

import math

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


class ObjectDetector(nn.Module):
    """Keypoint logits as BrightnessDetector's, and an object map that is sure where the frame is bright."""

    def __init__(self, keypoints: int) -> None:
        super().__init__()
        self.keypoints = keypoints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = F.avg_pool2d(x[:, :1], 2)
        return torch.cat([50 * bright.expand(-1, self.keypoints, -1, -1), 40 * bright], dim=1)


def turning_bar(turns: list[float]) -> torch.Tensor:
    """A bright bar (long along x at turn 0) on a dark frame, turned by turns[t] in frame t: [1, T, 3, 16, 16]."""
    ys, xs = torch.meshgrid(torch.arange(16) + 0.5 - 8, torch.arange(16) + 0.5 - 8, indexing="ij")
    frames = []
    for turn in turns:
        along = xs * math.cos(turn) + ys * math.sin(turn)
        across = -xs * math.sin(turn) + ys * math.cos(turn)
        frames.append(torch.where((along.abs() < 6) & (across.abs() < 1.5), 1.0, -1.0).expand(3, 16, 16))
    return torch.stack(frames)[None]


def test_orientation_adds_the_object_maps_turn_to_what_the_mlp_reads(registry):
    from vidgan_builtin.networks.keypoints import FEATURES_PER_KEYPOINT, ORIENTATION_FEATURES

    plain = encoder(registry, keypoints=2)
    oriented = encoder(registry, keypoints=2, orientation=True, object_resolution="half")
    assert oriented.head[0].in_features == plain.head[0].in_features + ORIENTATION_FEATURES * G.frames
    oriented.detector = ObjectDetector(2)
    turns = [0.0, 0.2, 0.4, 0.6]
    feats = oriented.features(turning_bar(turns))  # [1, T, 2 * 9 + 6]
    assert feats.shape == (1, 4, 2 * FEATURES_PER_KEYPOINT + ORIENTATION_FEATURES)
    strength, turn = feats[0, :, -6:-3], feats[0, :, -3:]
    assert strength[:, 0].min() > 0.4  # a bar is elongated: order 2
    assert torch.allclose(turn[:, 0], torch.tensor(turns), atol=0.12)  # radians, read off an 8x8 map
    # The keypoint part is what `trajectories` gives, unchanged by the option.
    assert torch.equal(feats[..., : 2 * FEATURES_PER_KEYPOINT], oriented.trajectories(turning_bar(turns)).flatten(2))
    assert oriented.object_maps(turning_bar(turns)).shape == (1, 4, 8, 8)


def test_a_full_resolution_object_map_refines_the_detectors(registry):
    enc = encoder(registry, keypoints=2, orientation=True)  # object_resolution = "full" by default
    enc.detector = ObjectDetector(2)
    bar = turning_bar([0.0, 0.2, 0.4, 0.6])
    with torch.no_grad():
        coarse = enc.object_maps(bar)
        assert coarse.shape == (1, 4, 16, 16)
        for p in enc.object_refine.parameters():
            p.zero_()
        # With the refinement at zero, the map is the detector's logits upsampled.
        upsampled = F.interpolate(40 * F.avg_pool2d(bar.flatten(0, 1)[:, :1], 2), scale_factor=2.0, mode="bilinear")
        assert torch.allclose(enc.object_maps(bar), torch.sigmoid(upsampled).view(1, 4, 16, 16), atol=1e-5)


def test_object_maps_need_orientation(registry):
    with pytest.raises(vidgan_kit.VidganError, match="set orientation = true"):
        encoder(registry).object_maps(torch.zeros(1, *G.clip_shape))


def test_contracts_with_orientation(registry):
    check_component("encoder", "keypoint_motion_encoder", {"width": 8, "hidden": 32, "orientation": True},
                    registry=registry)


def test_without_absolute_features_the_code_does_not_depend_on_where_the_motion_happens(registry):
    """The same motion drawn at two heights: with ``absolute = false`` E_M reads only changes
    since frame 1, so both clips get one posterior; with the default they differ."""
    xs = [2, 4, 6, 10]
    low, high = moving_square(xs, y=2), moving_square(xs, y=9)
    for absolute in (False, True):
        torch.manual_seed(0)
        enc = encoder(registry, keypoints=2, absolute=absolute)
        enc.detector = BrightnessDetector(2)
        a, b = enc(low), enc(high)
        assert torch.allclose(a.mean, b.mean, atol=1e-4) is not absolute
        assert torch.allclose(a.logvar, b.logvar, atol=1e-4) is not absolute
    from vidgan_builtin.networks.keypoints import RELATIVE_FEATURES

    assert enc.features(low).shape[-1] == 2 * 9
    torch.manual_seed(0)
    relative = encoder(registry, keypoints=2, absolute=False)
    assert relative.features(low).shape[-1] == 2 * RELATIVE_FEATURES
    check_component("encoder", "keypoint_motion_encoder", {"width": 8, "hidden": 32, "absolute": False},
                    registry=registry)
