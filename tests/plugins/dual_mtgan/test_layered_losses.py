"""The layered path's losses (L_seg, L_traj, L_bg, L_kp, L_obj) and their moving-pixel targets:
known answers, gradient routing, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.interfaces import LossContext
from vidgan_kit.layout import fold_time, unfold_time
from vidgan_dual_mtgan.layered_losses import moving_pixels

from tests.plugins.losses.loss_context import G, StubModel, const_video, loss


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def test_moving_pixels_known_answers():
    video = torch.zeros(1, 5, 3, 4, 4)
    video[:, 1:, 0, 0, 0] = 1.0  # (0, 0): 0 then 1 1 1 1
    video[:, 2, 1, 2, 3] = -0.5  # (2, 3): a blip at frame 2
    video[:, 3, 2, 1, 1] = 0.05  # (1, 1): below the threshold
    video[:, :2, 0, 3, 3] = 1.0  # (3, 3): inside an object that leaves after frame 1
    got = moving_pixels(video, threshold=0.1)
    want = torch.zeros(1, 5, 4, 4)
    want[0, :, 0, 0] = torch.tensor([1.0, 0.25, 0.25, 0.25, 0.25])  # frame 0 differs from all others
    want[0, :, 2, 3] = torch.tensor([0.25, 0.25, 1.0, 0.25, 0.25])
    # frames 0-1 differ from only 2 of 4 others, but from the pixel's median (the background)
    want[0, :, 3, 3] = torch.tensor([1.0, 1.0, 0.5, 0.5, 0.5])
    assert torch.equal(got, want)


def test_moving_pixels_matches_its_definition_on_random_clips():
    video = torch.randint(-2, 3, (2, 6, 3, 5, 7), generator=torch.Generator().manual_seed(1)).float() / 10
    threshold = 0.1
    differs = (video[:, :, None] - video[:, None]).abs().amax(dim=3) > threshold  # [B, T, T, H, W]
    share = differs.float().sum(dim=2) / (video.shape[1] - 1)
    median = video.median(dim=1, keepdim=True).values
    away = ((video - median).abs().amax(dim=2) > threshold).float()
    want = torch.maximum(share, away)
    assert torch.equal(moving_pixels(video, threshold), want)
    assert torch.equal(moving_pixels(video, threshold, median), want)


def test_motion_segmentation_scores_every_frames_part_masks(registry):
    geometry = VideoGeometry(frames=2, height=8, width=8)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    video = torch.zeros(2, 2, 3, 8, 8)
    video[:, 1, :, :, :4] = 1.0  # the left half changes (in both frames' eyes); the right half is still
    codes = torch.zeros(2, 2, *encoder.code_shape)
    codes[:, :, :3] = video
    codes[:, :, 6, :, 4:] = 10.0  # background logit high on the right half ...
    codes[:, :, 7, :, :4] = 10.0  # ... part logit high on the left half: masks match the motion
    seg = loss(registry, "motion_segmentation")
    ctx = LossContext(model=StubModel(content_encoder=encoder), batch={"video": video},
                      outputs={"video": video, "content_codes": codes})
    good = seg(ctx, "generator").item()
    codes[:, 1, 6:8] = codes[:, 1, 6:8].flip(1)  # frame 2's masks on the still half
    half_bad = seg(ctx, "generator").item()
    codes[:, 0, 6:8] = codes[:, 0, 6:8].flip(1)
    bad = seg(ctx, "generator").item()
    assert good < 1e-3
    assert half_bad == pytest.approx(bad / 2, rel=1e-3) and bad > 5


def test_motion_segmentation_needs_part_masks(registry):
    video = const_video(0.0)
    ctx = LossContext(model=StubModel(content_encoder=nn.Linear(2, 2)), batch={"video": video},
                      outputs={"video": video, "content_codes": torch.zeros(2, G.frames, 8)})
    with pytest.raises(vidgan_kit.VidganError, match="needs a content encoder with part_share"):
        loss(registry, "motion_segmentation")(ctx, "generator")


def _square_codes(xs: list[int], size: int = 8) -> torch.Tensor:
    """Layered content codes [1, T, 8, 32, 32] of a square at column xs[t], row 6 (one part)."""
    frames = []
    for x0 in xs:
        logits = torch.zeros(2, 32, 32)
        logits[0] = 20.0
        logits[0, 6 : 6 + size, x0 : x0 + size] = -20.0
        frames.append(torch.cat([torch.zeros(6, 32, 32), logits]))
    return torch.stack(frames)[None]


@pytest.mark.parametrize("moved_by", [0, 8])
def test_part_trajectory_is_zero_when_the_parts_land_where_they_are(registry, moved_by):
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = registry.build("decoder", "sprite_frame_decoder", {"max_shift": 1.0}, geometry=geometry,
                             content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():  # code (0, 0): identity; code (0, 1): e_x = -0.5, i.e. 8 px to the right
        decoder.motion_head.weight[4, 1] = -math.atanh(0.5)
    model = StubModel(content_encoder=encoder, decoder=decoder)
    traj = loss(registry, "part_trajectory")
    codes = _square_codes([4, 4 + moved_by])
    scores = {}
    for name, second in (("still", [0.0, 0.0]), ("right", [0.0, 1.0])):
        frame_codes = torch.tensor([[[0.0, 0.0], second]])
        scores[name] = traj(LossContext(model=model, batch={}, outputs={"content_codes": codes, "frame_codes": frame_codes}),
                            "generator")
    right_answer, wrong_answer = ("still", "right") if moved_by == 0 else ("right", "still")
    assert scores[right_answer].item() < 1e-6
    assert scores[wrong_answer].item() == pytest.approx(0.25, rel=1e-3)  # (8 px = 0.5 normalised)²
    assert scores["right"].requires_grad  # the motion path learns from it


def test_part_trajectory_reads_the_spread_off_thresholded_masks_when_asked(registry):
    """A square doubles its side between two frames. In frame 1 its soft mask also has a faint
    tail (0.2) over the box the square will fill: the soft covariance then grows far less
    than the square does, the thresholded one exactly 4x, which a 2x zoom matches."""
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = registry.build("decoder", "sprite_frame_decoder", {"max_linear": 0.5}, geometry=geometry,
                             content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():  # code (0, 1): A = I / 2, the backward map of a 2x zoom about the anchor
        decoder.motion_head.weight[0, 1] = decoder.motion_head.weight[3, 1] = -math.atanh(0.999999)
    codes = torch.zeros(1, 2, *encoder.code_shape)
    codes[:, :, 6] = 20.0  # background everywhere ...
    codes[:, 0, 6, 2:18, 0:16] = math.log(4.0)  # ... a faint tail (part mask 0.2) in frame 1 ...
    codes[:, 0, 6, 6:14, 4:12] = -20.0  # ... around an 8-pixel square, centre (8, 10) in pixels
    codes[:, 1, 6, 2:18, 0:16] = -20.0  # frame 2: a 16-pixel square, same centre
    model = StubModel(content_encoder=encoder, decoder=decoder)
    zoom = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    scores = {}
    for threshold in (0.0, 0.5):
        traj = loss(registry, "part_trajectory", spread_threshold=threshold)
        ctx = LossContext(model=model, batch={}, outputs={"content_codes": codes, "frame_codes": zoom})
        scores[threshold] = traj(ctx, "generator").item()
    assert scores[0.5] < 1e-4  # the zoom is what the thresholded masks show
    assert scores[0.0] > 0.05  # the soft masks' spread grows less than 4x: it scores the right zoom as wrong


def test_part_trajectory_can_compare_moved_masks_with_the_found_ones(registry):
    """A square doubles its side: with shape = masks the 2x zoom scores far better than no
    zoom or a shrink, and the score's gradient reaches the decoder's motion read-out."""
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = registry.build("decoder", "sprite_frame_decoder", {"max_linear": 0.5}, geometry=geometry,
                             content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():  # code (0, s): A = I - 0.5 tanh(atanh(0.999999) s) I; s = 1 is a 2x zoom
        decoder.motion_head.weight[0, 1] = decoder.motion_head.weight[3, 1] = -math.atanh(0.999999)
    codes = torch.zeros(1, 2, *encoder.code_shape)
    codes[:, :, 6] = 20.0
    codes[:, 0, 6, 12:20, 12:20] = -20.0  # an 8-pixel square, centre (16, 16) in pixels
    codes[:, 1, 6, 8:24, 8:24] = -20.0  # frame 2: a 16-pixel square, same centre
    model = StubModel(content_encoder=encoder, decoder=decoder)
    traj = loss(registry, "part_trajectory", shape="masks")
    scores = {}
    for name, s in (("zoom", 1.0), ("still", 0.0), ("shrink", -0.5)):
        ctx = LossContext(model=model, batch={}, outputs={"content_codes": codes,
                                                          "frame_codes": torch.tensor([[[0.0, 0.0], [0.0, s]]])})
        scores[name] = traj(ctx, "generator")
    # Bilinear resampling softens the moved square's edges: the right zoom is not exactly 0.
    assert scores["zoom"].item() < 0.15 < 0.6 < scores["still"].item()  # 3/4 of the found square uncovered
    assert scores["shrink"].item() > scores["still"].item()
    scores["shrink"].backward()
    assert decoder.motion_head.weight.grad[[0, 3], 1].abs().min() > 0


def test_part_trajectory_compares_silhouettes_with_a_threshold(registry):
    """Frame 1's mask has a faint tail (0.2) around its 8-pixel square; frame 2 shows a
    16-pixel square. Soft masks cannot tell the 2x zoom from no zoom (the moved tail costs
    what the missing growth costs); their silhouettes above 0.5 can."""
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = registry.build("decoder", "sprite_frame_decoder", {"max_linear": 0.5}, geometry=geometry,
                             content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():  # code (0, 1): A = I / 2, a 2x zoom about the anchor
        decoder.motion_head.weight[0, 1] = decoder.motion_head.weight[3, 1] = -math.atanh(0.999999)
    codes = torch.zeros(1, 2, *encoder.code_shape)
    codes[:, :, 6] = 20.0
    codes[:, 0, 6, 8:24, 8:24] = math.log(4.0)  # part mask 0.2 over a 16-pixel box ...
    codes[:, 0, 6, 12:20, 12:20] = -20.0  # ... around an 8-pixel square
    codes[:, 1, 6, 8:24, 8:24] = -20.0  # frame 2: the 16-pixel square
    model = StubModel(content_encoder=encoder, decoder=decoder)
    scores = {}
    for threshold in (0.0, 0.5):
        traj = loss(registry, "part_trajectory", shape="masks", spread_threshold=threshold)
        for name, s in (("zoom", 1.0), ("still", 0.0)):
            ctx = LossContext(model=model, batch={}, outputs={"content_codes": codes,
                                                              "frame_codes": torch.tensor([[[0.0, 0.0], [0.0, s]]])})
            scores[threshold, name] = traj(ctx, "generator").item()
    assert scores[0.0, "zoom"] > 0.8 * scores[0.0, "still"]  # soft: hardly better than no zoom
    assert scores[0.5, "zoom"] < 0.25 * scores[0.5, "still"]  # silhouettes: clearly better


def test_part_trajectory_needs_the_layered_pair(registry):
    video = const_video(0.0)
    ctx = LossContext(model=StubModel(content_encoder=nn.Linear(2, 2), decoder=nn.Linear(2, 2)), batch={},
                      outputs={"content_codes": torch.zeros(2, G.frames, 8), "frame_codes": torch.zeros(2, G.frames, 4)})
    with pytest.raises(vidgan_kit.VidganError, match="needs a content encoder with part_masks"):
        loss(registry, "part_trajectory")(ctx, "generator")


def test_background_plate_scores_the_plate_against_the_median_where_things_move(registry):
    geometry = VideoGeometry(frames=3, height=8, width=8)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    video = torch.full((1, 3, 3, 8, 8), -0.5)  # a grey background ...
    video[:, 0, :, 0:2, 0:2] = 0.9  # ... with a bright block that moves right, one frame each
    video[:, 1, :, 0:2, 2:4] = 0.9
    video[:, 2, :, 0:2, 4:6] = 0.9
    codes = torch.zeros(1, 3, *encoder.code_shape)
    codes[:, :, :3] = video
    codes[:, :, 3:6] = -0.5  # the plate: the background everywhere
    plate = loss(registry, "background_plate")
    ctx = LossContext(model=StubModel(content_encoder=encoder), batch={"video": video},
                      outputs={"video": video, "content_codes": codes})
    assert plate(ctx, "generator").item() == pytest.approx(0.0, abs=1e-6)
    codes[:, :, 3:6, 4:] = 0.3  # a wrong plate where nothing moves costs nothing ...
    assert plate(ctx, "generator").item() == pytest.approx(0.0, abs=1e-6)
    codes[:, :, 3:6] = codes[:, :, :3]  # ... but a plate that keeps the block is off by 1.4 under it:
    # per frame, 4 block pixels of weight 1 (off by 1.4) and 8 path pixels of weight 1/2 (right)
    assert plate(ctx, "generator").item() == pytest.approx(4 * 1.4 / (4 + 8 * 0.5))


def _keypoint_encoder(registry, geometry: VideoGeometry, columns: list[int] | None):
    """keypoint_motion_encoder (2 keypoints); with ``columns``, keypoint 0's heatmap at frame t is
    the half-resolution image of ``_square_codes``'s square at full-resolution column columns[t]."""
    encoder = registry.build("encoder", "keypoint_motion_encoder", {"keypoints": 2, "width": 4, "hidden": 8},
                             geometry=geometry)
    if columns is not None:
        learned = encoder.heatmaps

        def heatmaps(video: torch.Tensor) -> torch.Tensor:
            maps = learned(video).clone()
            for t, x0 in enumerate(columns):
                square = torch.zeros(16, 16)
                square[3:7, x0 // 2 : x0 // 2 + 4] = 1 / 16
                maps[:, t, 0] = square
            return maps

        encoder.heatmaps = heatmaps
    return encoder


@pytest.mark.parametrize("offset", [0, 8])
def test_keypoint_tracking_scores_the_first_keypoint_against_the_part(registry, offset):
    geometry = VideoGeometry(frames=2, height=32, width=32)
    content = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    codes = _square_codes([4, 12])  # the part: an 8-px square at columns 4 and 12, rows 6-13
    motion = _keypoint_encoder(registry, geometry, [4 + offset, 12 + offset])
    video = torch.zeros(1, 2, 3, 32, 32)
    ctx = LossContext(model=StubModel(content_encoder=content, motion_encoder=motion), batch={"video": video},
                      outputs={"video": video, "content_codes": codes})
    score = loss(registry, "keypoint_tracking", spread_weight=0.0)(ctx, "generator").item()
    assert score == pytest.approx((offset / 16) ** 2, abs=1e-6)  # 8 px = 0.5 normalised; keypoint 1 is free
    # The spread term: a 4x4 half-res square against an 8x8 full-res one differ by discretisation only.
    spread = loss(registry, "keypoint_tracking", spread_weight=1.0)(ctx, "generator").item() - score
    assert 0 < spread < 0.01


def test_keypoint_tracking_trains_the_detector_only(registry):
    geometry = VideoGeometry(frames=2, height=32, width=32)
    content = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    motion = _keypoint_encoder(registry, geometry, None)
    video = torch.rand(2, 2, 3, 32, 32) * 2 - 1
    codes = unfold_time(content(fold_time(video)), 2)
    ctx = LossContext(model=StubModel(content_encoder=content, motion_encoder=motion), batch={"video": video},
                      outputs={"video": video, "content_codes": codes})
    loss(registry, "keypoint_tracking")(ctx, "generator").backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in motion.detector.parameters())
    assert all(p.grad is None for p in content.parameters())  # mask moments are targets
    assert all(p.grad is None for p in motion.head.parameters())  # the MLP is not on this path


def test_keypoint_tracking_needs_a_keypoint_encoder(registry):
    geometry = VideoGeometry(frames=2, height=32, width=32)
    content = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    video = torch.zeros(1, 2, 3, 32, 32)
    ctx = LossContext(model=StubModel(content_encoder=content, motion_encoder=nn.Linear(2, 2)), batch={"video": video},
                      outputs={"video": video, "content_codes": _square_codes([4, 12])})
    with pytest.raises(vidgan_kit.VidganError, match="needs a motion encoder with moments"):
        loss(registry, "keypoint_tracking")(ctx, "generator")


def _triangle_codes(turns: list[float]) -> torch.Tensor:
    """Layered content codes [1, T, 8, 32, 32] (one part) of a triangle about the frame's centre,
    turned by turns[t] (forward, y down) in frame t."""
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5 - 16, torch.arange(32) + 0.5 - 16, indexing="ij")
    frames = []
    for turn in turns:
        wedge = torch.remainder(torch.atan2(ys, xs) - turn, 2 * math.pi / 3) - math.pi / 3
        inside = torch.hypot(xs, ys) < 9 * math.cos(math.pi / 3) / torch.cos(wedge)
        logits = torch.zeros(2, 32, 32)
        logits[0] = torch.where(inside, -20.0, 20.0)
        frames.append(torch.cat([torch.zeros(6, 32, 32), logits]))
    return torch.stack(frames)[None]


def _turning_decoder(registry, encoder):
    """sprite_frame_decoder (similarity maps) whose code (0, s) turns the part by s radians."""
    decoder = registry.build("decoder", "sprite_frame_decoder", {"linear": "similarity"},
                             geometry=VideoGeometry(frames=2, height=32, width=32),
                             content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():  # the angle is π tanh(raw_1): near 0, raw_1 = s / π turns by about s
        decoder.motion_head.weight[1, 1] = 1 / math.pi
    return decoder


def _turn_scores(registry, turn_in_clip: float, codes_s: list[float], **params) -> list[torch.Tensor]:
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = _turning_decoder(registry, encoder)
    model = StubModel(content_encoder=encoder, decoder=decoder)
    codes = _triangle_codes([0.0, turn_in_clip])
    traj = loss(registry, "part_trajectory", shape="masks", spread_threshold=0.5, **params)
    return [traj(LossContext(model=model, batch={}, outputs={"content_codes": codes,
                                                              "frame_codes": torch.tensor([[[0.0, 0.0], [0.0, s]]])}),
                 "generator") for s in codes_s]


def test_part_trajectory_turn_residual_leads_the_map_to_the_silhouettes_turn(registry):
    """A triangle turns by 0.5 rad (29°) in place. The mask residual alone does not rise
    steadily with the map's turn error, and its gradient at the identity is no guide; the
    turn residual is ≈ 0 at the right turn, grows with the error, and its gradient at the
    identity points towards the turn."""
    s_right, s_still, s_far = math.atanh(0.5 / math.pi) * math.pi, 0.0, -math.atanh(0.5 / math.pi) * math.pi
    with_turn = _turn_scores(registry, 0.5, [s_right, s_still, s_far], turn_weight=1.0)
    without = _turn_scores(registry, 0.5, [s_right, s_still, s_far])
    turn_only = [a.item() - b.item() for a, b in zip(with_turn, without)]
    assert turn_only[0] < 0.002  # the right turn (at 32x32 pixels)
    assert 0.02 < turn_only[1] < turn_only[2]  # no turn is wrong, the opposite turn more so
    # The gradient at the identity turns the map the right way (the code's weight grows).
    geometry = VideoGeometry(frames=2, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = _turning_decoder(registry, encoder)
    ctx = LossContext(model=StubModel(content_encoder=encoder, decoder=decoder), batch={},
                      outputs={"content_codes": _triangle_codes([0.0, 0.5]),
                               "frame_codes": torch.tensor([[[0.0, 0.0], [0.0, 0.1]]])})
    loss(registry, "part_trajectory", shape="masks", spread_threshold=0.5, spread_weight=0.0,
         turn_weight=1.0)(ctx, "generator").backward()
    assert decoder.motion_head.weight.grad[1, 1] < 0


def test_part_trajectory_turn_residual_is_blind_to_what_the_symmetry_hides(registry):
    """A triangle turned by 120° looks unturned: no turn and a 120° turn both score ≈ 0."""
    s_third = math.atanh(2 / 3) * math.pi  # π tanh(raw) = 2π/3
    still, third = _turn_scores(registry, 0.0, [0.0, s_third], turn_weight=1.0, spread_weight=0.0)
    assert still.item() < 1e-4 and third.item() < 0.002


def _turn_gradient(registry, turns: list[float], codes_s: list[float], **params) -> float:
    """d(part_trajectory)/d(the code's turn weight) for a triangle turned by turns[t] in frame t
    and frame codes (0, codes_s[t]): negative when the loss turns the map forward."""
    geometry = VideoGeometry(frames=len(turns), height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    decoder = _turning_decoder(registry, encoder)
    frame_codes = torch.tensor([[[0.0, s] for s in codes_s]])
    ctx = LossContext(model=StubModel(content_encoder=encoder, decoder=decoder), batch={},
                      outputs={"content_codes": _triangle_codes(turns), "frame_codes": frame_codes})
    loss(registry, "part_trajectory", shape="masks", spread_threshold=0.5, spread_weight=0.0, turn_weight=1.0,
         **params)(ctx, "generator").backward()
    return decoder.motion_head.weight.grad[1, 1].item()


def test_unwrapped_turn_target_follows_a_turn_past_the_symmetry(registry):
    """A triangle turns 0.4 rad a frame: 1.6 rad (92°) by frame 5, past half its 120° period.
    From the identity, the periodic residual pulls frame 5's map the wrong way (1.6 rad looks
    like -0.49); the turn followed frame to frame pulls it forward, and scores the right
    turns ≈ 0."""
    turns = [0.0, 0.4, 0.8, 1.2, 1.6]
    last_only = [0.0, 0.0, 0.0, 0.0, 0.1]
    assert _turn_gradient(registry, turns, last_only, turn_target="periodic") > 0
    assert _turn_gradient(registry, turns, last_only, turn_target="unwrapped") < 0
    geometry = VideoGeometry(frames=5, height=32, width=32)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    model = StubModel(content_encoder=encoder, decoder=_turning_decoder(registry, encoder))
    traj = loss(registry, "part_trajectory", shape="masks", spread_threshold=0.5, spread_weight=0.0,
                turn_weight=1.0, turn_target="unwrapped")

    def score(map_turns: list[float]) -> float:
        codes_s = [math.atanh(t / math.pi) * math.pi for t in map_turns]  # π tanh(s / π) = t
        frame_codes = torch.tensor([[[0.0, s] for s in codes_s]])
        ctx = LossContext(model=model, batch={}, outputs={"content_codes": _triangle_codes(turns),
                                                           "frame_codes": frame_codes})
        return traj(ctx, "generator").item()

    right, still = score(turns), score([0.0] * 5)
    assert right < 0.01 * still and still > 0.1


def test_object_tracking_trains_the_object_map_towards_the_moving_objects(registry):
    geometry = VideoGeometry(frames=3, height=16, width=16)
    motion = registry.build("encoder", "keypoint_motion_encoder",
                            {"width": 4, "hidden": 8, "orientation": True}, geometry=geometry)
    video = torch.full((1, 3, 3, 16, 16), -1.0)
    for t in range(3):
        video[0, t, :, 4:8, 2 + 3 * t : 6 + 3 * t] = 1.0  # a square moving right on a still background
    ctx = LossContext(model=StubModel(motion_encoder=motion), batch={"video": video}, outputs={"video": video})
    term = loss(registry, "object_tracking", fill_objects=False)
    opt = torch.optim.Adam(motion.parameters(), lr=1e-2)
    values = []
    for _ in range(30):
        value = term(ctx, "generator")
        values.append(value.item())
        opt.zero_grad()
        value.backward()
        opt.step()
    assert values[-1] < 0.5 * values[0]
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in motion.head.parameters())  # the map's path only
    maps = motion.object_maps(video)[0]  # [3, 16, 16]: the square is at rows 4-7
    assert maps[:, 4:8].mean() > maps[:, 10:].mean() + 0.3


def test_object_tracking_needs_an_object_map(registry):
    geometry = VideoGeometry(frames=2, height=16, width=16)
    motion = registry.build("encoder", "keypoint_motion_encoder", {"width": 4, "hidden": 8}, geometry=geometry)
    video = torch.zeros(1, 2, 3, 16, 16)
    ctx = LossContext(model=StubModel(motion_encoder=motion), batch={"video": video}, outputs={"video": video})
    with pytest.raises(vidgan_kit.VidganError, match="set orientation = true"):
        loss(registry, "object_tracking")(ctx, "generator")
