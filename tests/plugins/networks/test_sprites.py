"""The layered content path: layered_content_encoder and sprite_frame_decoder."""

from __future__ import annotations

import math

import pytest
import torch

from vidgan_builtin.networks.sprites import _head_over

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import RecipeError, ShapeError
from vidgan_kit.testing import ContractSettings, check_component

G = VideoGeometry(frames=4, height=32, width=32)
CODE_DIM = 6


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def decoder(registry, parts: int = 1, **params):
    return registry.build(
        "decoder", "sprite_frame_decoder", params, geometry=G,
        content_shape=(2 * 3 + parts + 1, 32, 32), frame_code_dim=CODE_DIM,
    )


def square_scene(x0: int, y0: int, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A bright square on a dark background [1, 3, 32, 32] and a layered content map that
    puts exactly the square in part 1 (background plate: the dark colour)."""
    img = torch.full((1, 3, 32, 32), -0.8)
    img[..., y0 : y0 + size, x0 : x0 + size] = 0.9
    logits = torch.zeros(1, 2, 32, 32)
    logits[:, 0] = 20.0  # background everywhere ...
    logits[:, 0, y0 : y0 + size, x0 : x0 + size] = -20.0  # ... except on the square
    plate = torch.full((1, 3, 32, 32), -0.8)
    return img, torch.cat([img, plate, logits], dim=1)


def test_contracts(registry):
    check_component("encoder", "layered_content_encoder", {"parts": 2, "width": 8}, registry=registry)
    settings = ContractSettings(content_shape=(2 * 3 + 3, 32, 32), frame_code_dim=CODE_DIM)
    check_component("decoder", "sprite_frame_decoder", {}, registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"linear": "similarity"}, registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold"},
                    registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold",
                                                        "unfold_at": "turns", "unfold_between_frames": True},
                    registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold",
                                                        "unfold_at": "straight"},
                    registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold",
                                                        "unfold_turns_from": "tracks"},
                    registry=registry, settings=settings)
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold",
                                                        "unfold_turns_from": "parts", "source_path": "parts",
                                                        "source_turn": "parts", "source_scale": "parts"},
                    registry=registry, settings=settings)
    # As dual_mtgan.toml: the whole motion read off the source (no codes), bouncing at the part's centre.
    check_component("decoder", "sprite_frame_decoder", {"boundary": "reflect", "source_bounces": "unfold",
                                                        "bounce_point": "centre", "reach_measure": "radius",
                                                        "source_path": "parts", "unfold_turns_from": "parts",
                                                        "source_turn": "parts", "turn_reads": "shading",
                                                        "source_scale": "parts", "scale_rate": "target"},
                    registry=registry, settings=settings)


def test_the_content_map_keeps_the_frame_and_starts_with_the_part_prior(registry):
    torch.manual_seed(0)
    enc = registry.build("encoder", "layered_content_encoder", {"parts": 2, "width": 8, "part_prior": 0.3}, geometry=G)
    frames = torch.rand(4, 3, 32, 32) * 2 - 1
    code = enc(frames)
    assert code.shape == (4, 3 + 3 + 3, 32, 32) == (4, *enc.code_shape)
    assert torch.equal(code[:, :3], frames)
    assert code[:, 3:6].abs().max() <= 1  # the background plate is an image
    parts_share = code[:, 6:].softmax(1)[:, 1:].sum(1).mean().item()
    assert parts_share == pytest.approx(0.3, abs=0.05)


def test_a_source_reader_reads_a_transfers_source_and_leaves_the_encoder_as_it_was(registry):
    """A source reader is built from its own random numbers (E_C's weights and the global stream
    are those of an encoder without one), starts with the parts' prior share, and with
    read_source_with = "reader" gives the source frames' maps: the frames, no plate, its mask
    logits; the target's maps stay E_C's. Without it, E_C gives both, the source's without plates."""
    torch.manual_seed(0)
    plain = registry.build("encoder", "layered_content_encoder", {"parts": 2, "width": 8}, geometry=G)
    after_plain = torch.get_rng_state()
    torch.manual_seed(0)
    options = {"parts": 2, "width": 8, "source_reader_width": 4, "read_source_with": "reader"}
    reading = registry.build("encoder", "layered_content_encoder", options, geometry=G)
    assert torch.equal(torch.get_rng_state(), after_plain)
    reader_keys = [k for k in reading.state_dict() if k.startswith("source_reader.")]
    assert reader_keys and {k: v for k, v in reading.state_dict().items() if k not in reader_keys}.keys() == \
        plain.state_dict().keys()
    assert all(torch.equal(v, reading.state_dict()[k]) for k, v in plain.state_dict().items())
    images, source = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(6, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        content, maps = reading.encode_transfer(images, source)
        logits = reading.read_mask_logits(source)
        assert torch.equal(content, plain(images))
        assert torch.equal(maps, torch.cat([source, torch.zeros_like(source), logits], 1))
        # Near the prior (its random features move it more than E_C's at width 8); 2/3 without the bias.
        assert logits.softmax(1)[:, 1:].sum(1).mean().item() == pytest.approx(0.3, abs=0.1)
        # Without a reader: E_C's own maps, but for the source frames' plates, which no decoder reads.
        content, maps = plain.encode_transfer(images, source)
        both = plain(torch.cat([images, source]))
        torch.testing.assert_close(content, both[:2], rtol=0, atol=1e-6)
        torch.testing.assert_close(maps, torch.cat([source, torch.zeros_like(source), both[2:, 6:]], 1), rtol=0, atol=1e-6)
    with pytest.raises(RecipeError, match="read_source_with = 'reader' needs a source reader"):
        registry.build("encoder", "layered_content_encoder", {"read_source_with": "reader"}, geometry=G)


def test_a_source_readers_normalisation_is_its_own(registry):
    """source_reader_norm sets the reader's normalisation alone: without one its convolutions
    carry biases and nothing normalises; E_C keeps its GroupNorm and its weights either way."""
    torch.manual_seed(0)
    grouped = registry.build("encoder", "layered_content_encoder", {"parts": 2, "width": 8, "source_reader_width": 4},
                             geometry=G)
    torch.manual_seed(0)
    bare = registry.build("encoder", "layered_content_encoder",
                          {"parts": 2, "width": 8, "source_reader_width": 4, "source_reader_norm": "none"}, geometry=G)
    norms = [m for m in bare.source_reader.modules() if isinstance(m, torch.nn.GroupNorm)]
    convs = [m for m in bare.source_reader.modules() if isinstance(m, torch.nn.Conv2d)]
    assert not norms and convs and all(m.bias is not None for m in convs)
    assert any(isinstance(m, torch.nn.GroupNorm) for m in grouped.source_reader.modules())
    assert [type(m) for m in bare.down.modules()] == [type(m) for m in grouped.down.modules()]
    ec = {k: v for k, v in grouped.state_dict().items() if not k.startswith("source_reader.")}
    assert all(torch.equal(v, bare.state_dict()[k]) for k, v in ec.items())
    frames = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert bare.read_mask_logits(frames).shape == (3, 3, 32, 32)


def test_the_content_heads_split_convolution_is_the_stacked_one(registry):
    torch.manual_seed(0)
    enc = registry.build("encoder", "layered_content_encoder", {"parts": 2, "width": 8}, geometry=G)
    with torch.no_grad():
        enc.head.weight.normal_()
        enc.head.bias.normal_()
    frames = torch.rand(4, 3, 32, 32) * 2 - 1
    low = enc.up[:-1](enc.down(frames))
    assert isinstance(enc.up[-1], torch.nn.Upsample)
    want = enc.head(torch.cat([enc.up[-1](low), frames], dim=1))
    torch.testing.assert_close(_head_over(enc.head, low, frames), want, rtol=1e-5, atol=1e-5)


def test_a_zero_motion_code_holds_the_image_still(registry):
    """No bias in the read-out: zero code = identity, however the weights were trained."""
    dec = decoder(registry)
    with torch.no_grad():
        dec.motion_head.weight.normal_()
    image, content = square_scene(4, 6)
    out = dec(content, torch.zeros(1, CODE_DIM))
    assert torch.allclose(out, image, atol=1e-4)


def test_a_shift_moves_the_part_and_uncovers_the_background(registry):
    dec = decoder(registry, max_shift=1.0)
    image, content = square_scene(4, 6)
    with torch.no_grad():
        dec.motion_head.weight[4, 0] = -math.atanh(0.5)  # e_x = -0.5 for code (1, 0, ...): move right by 8 px
    out = dec(content, torch.eye(CODE_DIM)[:1])
    want, _ = square_scene(12, 6)
    assert torch.allclose(out, want, atol=1e-4)


def test_compose_moves_parts_by_given_maps_as_forward_does(registry):
    dec = decoder(registry, max_shift=1.0)
    image, content = square_scene(4, 6)
    eye = torch.eye(2).view(1, 1, 2, 2)
    assert torch.allclose(dec.compose(content, eye, torch.zeros(1, 1, 2)), image, atol=1e-4)
    moved = dec.compose(content, eye, torch.tensor([[[-0.5, 0.25]]]))  # 8 px right, 4 px up
    want, _ = square_scene(12, 2)
    assert torch.allclose(moved, want, atol=1e-4)
    with torch.no_grad():
        dec.motion_head.weight.normal_()
    code = torch.randn(1, CODE_DIM)
    assert torch.equal(dec(content, code), dec.compose(content, *dec.part_affine(code)))


def test_a_zoom_scales_the_part_about_its_own_centre(registry):
    dec = decoder(registry, max_linear=0.5)
    _, content = square_scene(10, 10, size=8)  # centre (14, 14) in pixels
    with torch.no_grad():
        # A = I - 0.5 tanh(atanh(1)) ... i.e. A = 0.5 I: the output samples half as far from the anchor: 2x larger
        dec.motion_head.weight[0, 0] = dec.motion_head.weight[3, 0] = -math.atanh(0.999999) / 1.0
    out = dec(content, torch.eye(CODE_DIM)[:1])
    bright = (out[0, 0] > 0).nonzero()
    assert bright[:, 0].min() == 6 and bright[:, 0].max() == 21  # 16 px tall, same centre
    assert bright[:, 1].min() == 6 and bright[:, 1].max() == 21


def rectangle_scene(x0: int, y0: int, w: int, h: int) -> torch.Tensor:
    """The content map of a bright ``w`` × ``h`` rectangle on a dark background, as part 1."""
    img = torch.full((1, 3, 32, 32), -0.8)
    img[..., y0 : y0 + h, x0 : x0 + w] = 0.9
    logits = torch.zeros(1, 2, 32, 32)
    logits[:, 0] = 20.0
    logits[:, 0, y0 : y0 + h, x0 : x0 + w] = -20.0
    return torch.cat([img, torch.full((1, 3, 32, 32), -0.8), logits], dim=1)


def test_similarity_maps_turn_a_part_by_any_angle_and_scale_it(registry):
    dec = decoder(registry, linear="similarity", max_log_scale=1.0)
    code = torch.eye(CODE_DIM)[:1]
    with torch.no_grad():
        dec.motion_head.weight[1, 0] = math.atanh(0.5)  # θ = π/2: beyond what a bounded map reaches
    linear, shift = dec.part_affine(code)
    assert torch.allclose(linear, torch.tensor([[[[0.0, 1.0], [-1.0, 0.0]]]]), atol=1e-6)  # R(-90°)
    assert torch.equal(shift, torch.zeros(1, 1, 2))
    # A 12 × 4 bar centred at (15.5, 15.5) stands upright after a quarter turn about its centre.
    out = dec(rectangle_scene(10, 14, 12, 4), code)
    bright = (out[0, 0] > 0).nonzero()
    assert (bright[:, 0].min(), bright[:, 0].max()) == (10, 21)  # rows: 12 tall
    assert (bright[:, 1].min(), bright[:, 1].max()) == (14, 17)  # columns: 4 wide
    with torch.no_grad():
        dec.motion_head.weight[1, 0] = 0.0
        dec.motion_head.weight[0, 0] = math.atanh(math.log(2.0))  # s = 2, no turn
    linear, _ = dec.part_affine(code)
    assert torch.allclose(linear, 0.5 * torch.eye(2).view(1, 1, 2, 2), atol=1e-6)
    assert torch.allclose(dec(rectangle_scene(10, 14, 12, 4), torch.zeros(1, CODE_DIM)),
                          rectangle_scene(10, 14, 12, 4)[:, :3], atol=1e-4)  # zero code: identity


def test_anchors_are_mask_centroids(registry):
    dec = decoder(registry)
    _, content = square_scene(0, 0, size=16)  # top-left quadrant: centroid (-0.5, -0.5)
    anchors = dec.anchors(dec.layers(content)[2])
    assert torch.allclose(anchors, torch.tensor([[[-0.5, -0.5]]]), atol=1e-4)


def test_wrong_content_is_a_clear_error(registry):
    with pytest.raises(ShapeError, match="layered content map"):
        registry.build("decoder", "sprite_frame_decoder", {}, geometry=G, content_shape=(16,), frame_code_dim=4)


@pytest.mark.parametrize("linear", ["bounded", "similarity"])
def test_a_random_motion_read_out_still_holds_a_zero_code_still(registry, linear):
    torch.manual_seed(0)
    dec = decoder(registry, linear=linear, motion_init_std=0.05)
    assert dec.motion_head.weight.std().item() == pytest.approx(0.05, rel=0.3)
    img, content = square_scene(10, 12)
    still = dec(content, torch.zeros(1, CODE_DIM))
    torch.testing.assert_close(still, img, rtol=0, atol=1e-5)
    moved = dec(content, torch.randn(1, CODE_DIM))
    assert (moved - img).abs().max() > 0.1  # a non-zero code moves the part from the first step
    assert decoder(registry, linear=linear).motion_head.weight.abs().max() == 0  # the default: zeros


def test_relative_codes_start_at_zero(registry):
    torch.manual_seed(0)
    gt = registry.build("temporal_generator", "lstm_temporal_generator", {"hidden": 8, "frame_code_dim": 4,
                        "relative_to_first": True}, geometry=G, motion_dim=3)
    codes = gt(torch.randn(2, 3), 5)
    assert codes.shape == (2, 5, 4)
    assert torch.equal(codes[:, 0], torch.zeros(2, 4))
    assert codes[:, 1:].abs().sum() > 0


def test_zero_motion_gives_the_image_exactly_with_soft_masks(registry):
    """Soft masks and a wrong background plate: still the image itself when nothing moves."""
    torch.manual_seed(0)
    dec = decoder(registry, parts=2)
    image = torch.rand(3, 3, 32, 32) * 2 - 1
    content = torch.cat([image, torch.rand(3, 3, 32, 32) * 2 - 1, torch.randn(3, 3, 32, 32)], dim=1)
    with torch.no_grad():
        dec.motion_head.weight.normal_()
    assert torch.allclose(dec(content, torch.zeros(3, CODE_DIM)), image, atol=1e-5)


def test_reflect_bounces_a_part_off_the_frame_edge(registry):
    """A code that would carry the part past the right wall brings it back by the overshoot."""
    dec = decoder(registry, boundary="reflect", max_shift=2.0)
    _, content = square_scene(20, 12, size=8)  # columns 20..27, centre x 24 px; 4 px from the right edge
    spread = dec.part_spread(dec.layers(content)[2])
    reach = 2.0 * spread[0, 0, 0].item() * 16  # the part's reach in pixels: 2 standard deviations
    with torch.no_grad():
        dec.motion_head.weight[4, 0] = -math.atanh(0.5)  # e_x = -1: the anchor would move 16 px right
    wall = 32 - reach  # the furthest the anchor may go
    want_centre = wall - (24 + 16 - wall)  # 16 px right, folded back at the wall
    out = dec(content, torch.eye(CODE_DIM)[:1])
    columns = (out[0, 0] > 0).float().sum(0)
    centre = ((torch.arange(32) + 0.5) * columns).sum() / columns.sum()
    assert centre.item() == pytest.approx(want_centre, abs=0.3)
    # Without the option the same code carries the part out of the frame.
    plain = decoder(registry, max_shift=2.0)
    plain.load_state_dict({"motion_head.weight": dec.motion_head.weight})
    assert (plain(content, torch.eye(CODE_DIM)[:1])[0, 0] > 0).sum() == 0


def test_a_centre_bounce_ignores_a_soft_masks_faint_tail(registry):
    """A faint tail of the part's mask over the left half pulls the soft-mask anchor towards the
    middle; bounce_point = centre bounces the square at the wall its confident pixels give."""
    _, content = square_scene(20, 12, size=8)  # centre x 24 px, as in the test above
    content[:, 6, :, :16] = 2.0  # background logit 2 against the part's 0: part share 0.12 on the left
    moved = {}
    for point in ("anchor", "centre"):
        dec = decoder(registry, boundary="reflect", max_shift=2.0, bounce_point=point)
        with torch.no_grad():
            dec.motion_head.weight[4, 0] = -math.atanh(0.5)  # 16 px right
        masks = dec.layers(content)[2]
        assert dec.part_centres(masks)[0, 0, 0].item() * 16 + 16 == pytest.approx(24, abs=0.05)
        assert dec.anchors(masks)[0, 0, 0].item() * 16 + 16 < 20  # the tail's pull
        out = dec(content, torch.eye(CODE_DIM)[:1])
        columns = (out[0, 0] > 0).float().sum(0)
        moved[point] = ((torch.arange(32) + 0.5) * columns).sum() / columns.sum()
    reach = 2.0 * dec.part_spread(masks)[0, 0, 0].item() * 16
    wall = 32 - reach
    assert moved["centre"].item() == pytest.approx(wall - (24 + 16 - wall), abs=0.3)
    assert abs(moved["anchor"].item() - moved["centre"].item()) > 2  # the anchor's walls are elsewhere


def test_a_radius_reach_bounces_a_square_when_its_corners_circle_touches_the_wall(registry):
    dec = decoder(registry, boundary="reflect", max_shift=2.0, bounce_point="centre", reach_measure="radius", reach=1.0)
    _, content = square_scene(20, 12, size=8)  # centre x 24 px; pixel centres 3.5 px from it on each axis
    with torch.no_grad():
        dec.motion_head.weight[4, 0] = -math.atanh(0.5)  # 16 px right
    wall = 32 - (3.5 * math.sqrt(2) + 0.5)  # the farthest pixel centre, plus half a pixel
    out = dec(content, torch.eye(CODE_DIM)[:1])
    columns = (out[0, 0] > 0).float().sum(0)
    centre = ((torch.arange(32) + 0.5) * columns).sum() / columns.sum()
    assert centre.item() == pytest.approx(wall - (24 + 16 - wall), abs=0.3)


def test_the_reach_factor_is_learnt_unless_held(registry):
    learnt = decoder(registry, boundary="reflect", reach=1.5)
    assert "log_reach" in dict(learnt.named_parameters())
    held = decoder(registry, boundary="reflect", reach=1.5, learn_reach=False)
    assert "log_reach" not in dict(held.named_parameters()) and "log_reach" not in held.state_dict()
    assert held.log_reach.exp().item() == pytest.approx(1.5)


def test_reflect_keeps_a_zero_code_the_identity_at_an_edge(registry):
    dec = decoder(registry, boundary="reflect")
    with torch.no_grad():
        dec.motion_head.weight.normal_()
    image, content = square_scene(24, 0, size=8)  # touching the top and right edges
    assert torch.allclose(dec(content, torch.zeros(1, CODE_DIM)), image, atol=1e-4)


def _codes_drawing(path_px: list[float]) -> torch.Tensor:
    """Motion codes [1, T, CODE_DIM] for which a decoder whose read-out has only W[4, 0] = 1
    (max_shift 2, bounded linear) moves a part right by ``path_px`` pixels (32-pixel frames)."""
    code = torch.zeros(1, len(path_px), CODE_DIM)
    code[0, :, 0] = torch.atanh(-torch.tensor(path_px) / 16 / 2)  # e_x = 2 tanh(c) = -displacement
    return code


def _column_centres(clip: torch.Tensor) -> list[float]:
    columns = (clip[0, :, 0] > 0).float().sum(1)  # [T, W]
    return (((torch.arange(32) + 0.5) * columns).sum(1) / columns.sum(1)).tolist()


def test_unfold_replays_the_sources_velocity_where_the_target_has_room(registry):
    """The source square (centre 24 px) runs right at 2 px per frame and bounces off its wall
    (26.55 px: the corner circle's radius from the right edge); its codes draw the bounced path
    24, 26, 25.1, 23.1. A target square at 8 px has room: copying moves it right, then back;
    unfolding at the source's walls keeps it running right, 2 px per frame."""
    params = dict(boundary="reflect", max_shift=2.0, bounce_point="centre", reach_measure="radius", reach=1.0,
                  learn_reach=False)
    copy, unfold = decoder(registry, **params), decoder(registry, **params, source_bounces="unfold")
    for dec in (copy, unfold):
        with torch.no_grad():
            dec.motion_head.weight[4, 0] = 1.0
    wall = 32 - (3.5 * math.sqrt(2) + 0.5)
    seen = [24.0, 26.0, 2 * wall - 28, 2 * wall - 30]  # 24, 26, 28, 30 folded at the wall
    codes = _codes_drawing([x - 24 for x in seen])
    source_image, source = square_scene(20, 12, size=8)
    _, target = square_scene(4, 12, size=8)
    assert _column_centres(copy.render_held(source, codes)) == pytest.approx(seen, abs=0.3)
    left = 32 - wall  # the target's left wall: the copied path runs into it and folds there
    copied = [8 + x - 24 for x in seen]
    assert _column_centres(copy.render_transfer(target, codes, source)) == pytest.approx(
        [x if x >= left else 2 * left - x for x in copied], abs=0.3)
    assert _column_centres(unfold.render_transfer(target, codes, source)) == pytest.approx([8, 10, 12, 14], abs=0.3)
    # Onto the source itself, unfolding and folding again at the same walls changes nothing.
    assert torch.allclose(unfold.render_transfer(source, codes, source), copy.render_held(source, codes), atol=1e-4)


def test_unfolding_at_the_turn_mirrors_where_the_source_bounced_not_where_its_masks_put_the_wall(registry):
    """The codes draw a source square (centre 22 px) running right at 2 px per frame that turned
    at 25.5 px, a pixel short of the wall its masks give (26.55 px): 22, 24, 25, 23, 21 (the
    bounce came between frames 1 and 2). Mirrored about the masks' wall the path comes out
    2.1 px too far; about the turn, placed between frames, it is the free line 22-30, and a
    target with room runs 2 px per frame. Onto the source itself the transfer is still the
    reconstruction: the target's walls moved with the source's."""
    params = dict(boundary="reflect", max_shift=2.0, bounce_point="centre", reach_measure="radius", reach=1.0,
                  learn_reach=False, source_bounces="unfold")
    at_walls = decoder(registry, **params)
    at_turns = decoder(registry, **params, unfold_at="turns", unfold_between_frames=True)
    for dec in (at_walls, at_turns):
        with torch.no_grad():
            dec.motion_head.weight[4, 0] = 1.0
    seen = [22.0, 24.0, 25.0, 23.0, 21.0]
    codes = _codes_drawing([x - 22 for x in seen])
    _, source = square_scene(18, 12, size=8)
    _, target = square_scene(4, 12, size=8)
    assert _column_centres(at_turns.render_held(source, codes)) == pytest.approx(seen, abs=0.3)
    assert _column_centres(at_turns.render_transfer(target, codes, source)) == pytest.approx([8, 10, 12, 14, 16],
                                                                                             abs=0.3)
    walls_path = _column_centres(at_walls.render_transfer(target, codes, source))
    assert walls_path[3] - 14 == pytest.approx(2.1, abs=0.4)  # 2 x (26.55 - 25.5) beyond the free line
    assert torch.allclose(at_turns.render_transfer(source, codes, source), at_turns.render_held(source, codes),
                          atol=1e-4)


def test_bounces_found_on_the_nearest_track_unfold_a_rounded_turn_the_codes_alone_miss(registry):
    """The codes draw a source square (centre 22 px) turning 3 px short of its wall (26.55 px),
    rounded: 22, 23, 23.5, 23, 22, 21, too far from the wall to count as a bounce by itself.
    E_M's track of the square shows the bounce frame by frame (22, 24, 26, 24, 22, 20); a
    second track, far from the part, jitters and is not read. From the tracks, the codes' path
    is mirrored about the wall from frame 3 on: the target (8 px) runs 8, 9, 9.5, 16.1, 17.1, 18.1."""
    params = dict(boundary="reflect", max_shift=2.0, bounce_point="centre", reach_measure="radius", reach=1.0,
                  learn_reach=False, source_bounces="unfold")
    from_codes = decoder(registry, **params)
    from_tracks = decoder(registry, **params, unfold_turns_from="tracks")
    assert from_tracks.uses_source_tracks and not from_codes.uses_source_tracks
    for dec in (from_codes, from_tracks):
        with torch.no_grad():
            dec.motion_head.weight[4, 0] = 1.0
    seen = [22.0, 23.0, 23.5, 23.0, 22.0, 21.0]
    codes = _codes_drawing([x - 22 for x in seen])
    _, source = square_scene(18, 12, size=8)
    _, target = square_scene(4, 12, size=8)
    square = torch.tensor([[x, 16.0] for x in (22.0, 24.0, 26.0, 24.0, 22.0, 20.0)])
    far = torch.tensor([[4.0 + 0.5 * (i % 2), 4.0] for i in range(6)])
    tracks = (torch.stack([far, square], 1) / 16 - 1).unsqueeze(0)  # [1, T, 2, 2], normalised
    wall = 32 - (3.5 * math.sqrt(2) + 0.5)
    copied = [8 + x - 22 for x in seen]
    assert _column_centres(from_codes.render_transfer(target, codes, source)) == pytest.approx(copied, abs=0.3)
    unfolded = copied[:3] + [8 + 2 * wall - x - 22 for x in seen[3:]]
    assert _column_centres(from_tracks.render_transfer(target, codes, source, tracks)) == pytest.approx(unfolded, abs=0.3)
    assert torch.allclose(from_tracks.render_transfer(source, codes, source, tracks),
                          from_tracks.render_held(source, codes), atol=1e-4)  # onto itself: the reconstruction
    with pytest.raises(ShapeError, match="tracks"):
        from_tracks.render_transfer(target, codes, source)
    with pytest.raises(ShapeError, match=r"expected tracks \[1, 6, K, 2\]"):
        from_tracks.render_transfer(target, codes, source, tracks[:, :4])


_MEASURED = dict(boundary="reflect", bounce_point="centre", reach_measure="radius", reach=1.0, learn_reach=False,
                 motion_init_std=0.5, source_bounces="unfold", source_path="parts", unfold_turns_from="parts",
                 source_turn="parts", turn_reads="shading", source_scale="parts", scale_rate="target")


@pytest.mark.parametrize("codes_for", [None, "source_path", "unfold_turns_from", "source_turn", "source_scale"])
def test_a_transfer_that_reads_the_whole_motion_off_the_source_reads_no_codes(registry, codes_for):
    """With the path, its bounces, the turn and the zoom all read off the source clip, a transfer
    of a turning, moving square gives the same frames, bit for bit, for any motion codes (the
    codes' maps would only cancel, up to rounding and the offset of the part's bouncing point
    from its anchor); with any one of them left to the codes, the codes show."""
    params = dict(_MEASURED)
    if codes_for is not None:
        params[codes_for] = "codes"
        needs_it = {"source_turn": "turn_reads", "source_scale": "scale_rate"}  # options only a measured one takes
        params.pop(needs_it.get(codes_for, ""), None)
    torch.manual_seed(0)
    dec = decoder(registry, **params)
    assert dec.uses_transfer_codes is (codes_for is not None)
    clip = torch.stack([polygon_scene(0.1 * t, 0.3, centre=(0.06 * t, 0.02)) for t in range(G.frames)], 1)
    target = polygon_scene(0.2, 0.4, centre=(-0.1, 0.05))
    with torch.no_grad():
        one, other = (dec.render_transfer(target, torch.randn(1, G.frames, CODE_DIM), clip) for _ in range(2))
    assert torch.equal(one, other) is (codes_for is None)


def test_the_parts_path_is_measured_in_every_source_frame_unfolded_and_replayed(registry):
    """The source square runs right at 2 px per frame and bounces off its wall (26.55 px); E_C's
    maps of its frames put it at 20, 22, 24, 26, 25, 23 (the last two: 28.1 and 30.1 folded,
    within a tenth of a pixel). The codes draw a rounded path that turns 3 px short of the wall
    (20, 21, 22, 23, 23.5, 23), too far to count as a bounce by itself. With source_path =
    "parts" the target (8 px) replays the measured path unfolded, 2 px per frame; with the turns
    alone found on the parts, the codes' path is mirrored where they say; from the codes alone
    nothing is unfolded."""
    params = dict(boundary="reflect", max_shift=2.0, bounce_point="centre", reach_measure="radius", reach=1.0,
                  learn_reach=False, source_bounces="unfold")
    from_codes = decoder(registry, **params)
    parts_turns = decoder(registry, **params, unfold_turns_from="parts")
    parts_path = decoder(registry, **params, unfold_turns_from="parts", source_path="parts")
    assert parts_path.uses_source_clip and parts_turns.uses_source_clip and not from_codes.uses_source_clip
    for dec in (from_codes, parts_turns, parts_path):
        with torch.no_grad():
            dec.motion_head.weight[4, 0] = 1.0
    drawn = [20.0, 21.0, 22.0, 23.0, 23.5, 23.0]
    codes = _codes_drawing([x - 20 for x in drawn])
    measured = [20, 22, 24, 26, 25, 23]
    clip = torch.stack([square_scene(x - 4, 12, size=8)[1] for x in measured], 1)  # [1, T, 8, 32, 32]
    _, target = square_scene(4, 12, size=8)
    wall = 32 - (3.5 * math.sqrt(2) + 0.5)
    assert _column_centres(from_codes.render_transfer(target, codes, clip[:, 0])) == pytest.approx(
        [8 + x - 20 for x in drawn], abs=0.3)
    replayed = [8 + x - 20 for x in measured[:4]] + [8 + 2 * wall - x - 20 for x in measured[4:]]
    assert _column_centres(parts_path.render_transfer(target, codes, clip)) == pytest.approx(replayed, abs=0.3)
    assert replayed[4:] == pytest.approx([16.1, 18.1], abs=0.01)
    mirrored = [8 + x - 20 for x in drawn[:4]] + [8 + 2 * wall - x - 20 for x in drawn[4:]]
    assert _column_centres(parts_turns.render_transfer(target, codes, clip)) == pytest.approx(mirrored, abs=0.3)
    seen, free = parts_path.source_free_path(clip, codes)  # what a probe reads: the measured path, unfolded
    assert ((seen[0, :, 0, 0] + 1) * 16).tolist() == pytest.approx(measured, abs=0.05)
    assert ((free[0, :, 0, 0] + 1) * 16).tolist() == pytest.approx([20, 22, 24, 26, 28.1, 30.1], abs=0.05)
    with pytest.raises(ShapeError, match=r"source clip's content maps \[1, 6, 8, 32, 32\]"):
        parts_path.render_transfer(target, codes, clip[:, 0])
    with pytest.raises(ShapeError, match=r"source clip's content maps"):
        parts_path.render_transfer(target, codes, clip[:, :4])


def polygon_scene(turn: float, radius: float, sides: int = 4, centre: tuple[float, float] = (0.03, 0.02)) -> torch.Tensor:
    """The content map of a bright regular polygon (circumradius ``radius``, normalised units)
    about ``centre`` (off the pixel grid's symmetry), turned by ``turn`` (forward, y down), as part 1."""
    from vidgan_builtin.networks._affine import pixel_grid

    grid = pixel_grid(32, 32) - torch.tensor(centre)
    angle = torch.atan2(grid[..., 1], grid[..., 0]) - turn
    wedge = torch.remainder(angle, 2 * math.pi / sides) - math.pi / sides
    inside = grid.norm(dim=-1) < radius * math.cos(math.pi / sides) / torch.cos(wedge)
    img = torch.where(inside, 0.9, -0.8).expand(1, 3, 32, 32)
    logits = torch.stack([torch.where(inside, -20.0, 20.0), torch.zeros(32, 32)])[None]
    return torch.cat([img, torch.full((1, 3, 32, 32), -0.8), logits], dim=1)


@pytest.mark.parametrize("walls", [("centre", "radius"), ("anchor", "spread")])
def test_the_turn_and_scale_read_off_the_source_clip_replace_the_codes(registry, walls):
    """Codes that say nothing moves, and a source square turning 0.15 rad a frame: with
    source_turn = parts a target square half its size turns faster by the ratio of their
    radii (the rim moves as fast), and stays where it is; a growing source disc with
    source_scale = parts grows the target by as much; from the codes alone nothing turns or grows.
    Whichever walls the part bounces at: with the centre and radius the radii are the walls'
    own measure, otherwise measured for the turn alone."""
    from vidgan_builtin.networks._affine import confident_radius, map_turn

    bounce_point, reach_measure = walls
    params = dict(boundary="reflect", bounce_point=bounce_point, reach_measure=reach_measure, reach=1.0,
                  learn_reach=False, source_bounces="unfold", source_path="parts", unfold_turns_from="parts")
    codes_only = decoder(registry, **params)
    turning = decoder(registry, **params, source_turn="parts")
    growing = decoder(registry, **params, source_scale="parts")
    assert turning.uses_source_clip and growing.uses_source_clip
    codes = torch.zeros(1, G.frames, CODE_DIM)
    turns = [0.0, 0.15, 0.3, 0.45]
    clip = torch.stack([polygon_scene(a, 0.5) for a in turns], 1)
    target = polygon_scene(0.0, 0.25)
    linear, shift = turning.part_maps(target, codes, clip)
    radius = [confident_radius(m, turning.part_centres(m), turning.identity_grid)[0, 0, 0]
              for m in (turning.layers(clip[:, 0])[2], turning.layers(target)[2])]
    ratio = float(radius[0] / radius[1])
    assert 1.7 < ratio < 2.1  # circumradii 8 and 4 px, each measured to its farthest pixel's outer edge
    assert map_turn(linear[0, :, 0]).tolist() == pytest.approx([ratio * a for a in turns], abs=0.06)
    centre = turning.part_centres(turning.layers(target)[2])[0, 0]
    moved = turning.part_centres(turning.move_masks(target, linear, shift, threshold=0.5)[0])  # [T, 1, 2]
    assert torch.allclose(moved[:, 0], centre.expand(G.frames, 2), atol=0.03)  # turned in place
    assert map_turn(codes_only.part_maps(target, codes, clip)[0][0, :, 0]).abs().max() < 1e-6
    scales = [1.0, 1.1, 1.2, 1.3]
    clip = torch.stack([polygon_scene(0.0, 0.5 * k, sides=64) for k in scales], 1)  # a growing disc
    linear, _ = growing.part_maps(target, codes, clip)
    grown = torch.linalg.det(linear[0, :, 0]).rsqrt()  # A = R(-θ) / s
    assert grown.tolist() == pytest.approx(scales, abs=0.02)
    assert torch.linalg.det(codes_only.part_maps(target, codes, clip)[0][0, :, 0]).tolist() == pytest.approx([1.0] * 4)


def test_a_source_frame_whose_part_is_a_line_leaves_the_transfer_finite(registry):
    """A part seen as one row of pixels in one source frame has a singular covariance: its
    zoom is read with the pixels' footprint instead of as -inf (which made every frame NaN);
    the other frames read theirs as before."""
    params = dict(boundary="reflect", bounce_point="centre", reach_measure="radius", reach=1.0, learn_reach=False,
                  source_bounces="unfold", source_path="parts", unfold_turns_from="parts", source_scale="parts")
    growing = decoder(registry, **params)
    codes = torch.zeros(1, G.frames, CODE_DIM)
    clip = torch.stack([rectangle_scene(10, 10, 8, 8), rectangle_scene(10, 13, 8, 1),
                        rectangle_scene(10, 10, 8, 8), rectangle_scene(10, 10, 8, 8)], 1)
    target = rectangle_scene(12, 12, 6, 6)
    assert torch.isfinite(growing.render_transfer(target, codes, clip)).all()
    linear, _ = growing.part_maps(target, codes, clip)
    scale = torch.linalg.det(linear[0, :, 0]).rsqrt()  # A = R(-θ) / s
    assert torch.isfinite(scale).all() and scale[1] < 0.5  # the line: far smaller than the square
    assert scale[[0, 2, 3]].tolist() == pytest.approx([1.0] * 3, abs=1e-5)


def shaded_disc_scene(turn: float, radius: float, centre: tuple[float, float] = (0.03, 0.02)) -> torch.Tensor:
    """The content map of a disc (radius ``radius``, normalised units) about ``centre``, shaded
    by a ramp across its own x axis turned by ``turn`` (as synthetic_shapes shades its objects),
    as part 1: its outline shows no turn, its shading does."""
    from vidgan_builtin.networks._affine import pixel_grid

    grid = pixel_grid(32, 32) - torch.tensor(centre)
    inside = grid.norm(dim=-1) < radius
    along = (grid[..., 0] * math.cos(turn) + grid[..., 1] * math.sin(turn)) / radius
    img = torch.where(inside, 0.5 + 0.4 * along, -0.8).expand(1, 3, 32, 32)
    logits = torch.stack([torch.where(inside, -20.0, 20.0), torch.zeros(32, 32)])[None]
    return torch.cat([img, torch.full((1, 3, 32, 32), -0.8), logits], dim=1)


def test_a_shaded_discs_turn_is_read_off_its_shading_and_a_zoom_runs_at_the_targets_size(registry):
    """A source disc shaded across its axis turns 0.15 rad a frame: registering the outline
    alone reads no turn; turn_reads = shading reads it (on a target disc half the size, twice
    as fast). A source disc growing 10 % a frame: with scale_rate = target a target half its
    size grows twice as fast in log scale (the same edge speed); as measured, at the same rate."""
    from vidgan_builtin.networks._affine import map_turn

    params = dict(boundary="reflect", bounce_point="centre", reach_measure="radius", reach=1.0, learn_reach=False,
                  source_bounces="unfold", source_path="parts", source_turn="parts", source_scale="parts")
    outline = decoder(registry, **params)
    shading = decoder(registry, **params, turn_reads="shading")
    target_rate = decoder(registry, **params, scale_rate="target")
    codes = torch.zeros(1, G.frames, CODE_DIM)
    turns = [0.0, 0.15, 0.3, 0.45]
    clip = torch.stack([shaded_disc_scene(a, 0.5) for a in turns], 1)
    target = shaded_disc_scene(0.0, 0.25)
    assert map_turn(outline.part_maps(target, codes, clip)[0][0, :, 0]).abs().max() < 1e-6
    read = map_turn(shading.part_maps(target, codes, clip)[0][0, :, 0])
    assert read.tolist() == pytest.approx([2 * a for a in turns], abs=0.12)  # radii 8 and 4 px, to the pixel
    scales = [1.0, 1.1, 1.21, 1.331]
    clip = torch.stack([shaded_disc_scene(0.0, 0.5 * k) for k in scales], 1)

    def grown(dec: torch.nn.Module) -> list[float]:
        return torch.linalg.det(dec.part_maps(target, codes, clip)[0][0, :, 0]).rsqrt().log().tolist()  # A = R / s

    assert grown(outline) == pytest.approx([math.log(k) for k in scales], abs=0.02)
    assert grown(target_rate) == pytest.approx([2 * math.log(k) for k in scales], abs=0.05)


def test_parts_need_unfolding(registry):
    for option in ({"source_path": "parts"}, {"unfold_turns_from": "parts"}, {"source_turn": "parts"},
                   {"source_scale": "parts"}):
        with pytest.raises(RecipeError, match="'parts' needs source_bounces = 'unfold'"):
            decoder(registry, boundary="reflect", **option)


def test_unfold_needs_reflect(registry):
    with pytest.raises(RecipeError, match="source_bounces"):
        decoder(registry, source_bounces="unfold")


def test_part_units_turn_a_small_part_faster_by_the_ratio_of_radii(registry):
    dec = decoder(registry, linear="similarity", motion_units="part")
    code = torch.zeros(1, 1, CODE_DIM)
    code[..., 0] = 1.0
    with torch.no_grad():
        dec.motion_head.weight[1, 0] = 0.1  # a turn
        dec.motion_head.weight[0, 0] = 0.1  # and a zoom
    small, large = square_scene(4, 4, size=6)[1], square_scene(4, 4, size=12)[1]
    turns = []
    for content in (small, large):
        linear, _ = dec.part_maps(content, code)
        a = linear[0, 0, 0]
        turns.append((torch.atan2(a[0, 1], a[0, 0]), -0.5 * torch.logdet(a)))  # (θ, log s)
    assert (turns[0][0] / turns[1][0]).item() == pytest.approx(2.0, rel=0.02)  # radius ratio 1 : 2
    assert (turns[0][1] / turns[1][1]).item() == pytest.approx(2.0, rel=0.02)
    frame_units = decoder(registry, linear="similarity")
    frame_units.load_state_dict(dec.state_dict())
    same = [frame_units.part_maps(c, code)[0] for c in (small, large)]
    assert torch.allclose(same[0], same[1])


def test_zoom_range_bounces_the_scale_between_learnt_bounds(registry):
    dec = decoder(registry, linear="similarity", zoom_range=(0.5, 1.5), max_log_scale=3.0)
    _, content = square_scene(10, 10)
    log_scales = torch.linspace(-2.5, 2.5, 11)
    with torch.no_grad():
        dec.motion_head.weight[0, 0] = 1.0
    code = torch.zeros(1, 11, CODE_DIM)
    code[0, :, 0] = torch.atanh(log_scales / 3.0)
    linear, _ = dec.part_maps(content, code)
    got = -0.5 * torch.logdet(linear[0, :, 0])
    lo, hi = math.log(0.5), math.log(1.5)
    assert got.min() >= lo - 1e-5 and got.max() <= hi + 1e-5
    inside = (log_scales > lo) & (log_scales < hi)
    assert torch.allclose(got[inside], log_scales[inside], atol=1e-5)  # unchanged between the bounds
    above = log_scales[-1]  # 2.5, folded back from hi: hi - (2.5 - hi), then from lo
    span = hi - lo
    phase = (above - lo) % (2 * span)
    assert got[-1].item() == pytest.approx((lo + span - abs(phase - span)).item(), abs=1e-5)
    assert dec.log_zoom_range.requires_grad  # the bounds are learnt


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"motion_units": "part"}, "motion_units = 'part' needs linear = 'similarity'"),
        ({"zoom_range": (0.5, 1.5)}, "zoom_range needs linear = 'similarity'"),
        ({"linear": "similarity", "zoom_range": (1.2, 1.5)}, "0 < min < 1 < max"),
    ],
)
def test_geometry_options_that_cannot_work_are_recipe_errors(registry, params, message):
    with pytest.raises(RecipeError, match=message):
        decoder(registry, **params)


def test_contracts_with_the_geometry_options(registry):
    settings = ContractSettings(content_shape=(2 * 3 + 3, 32, 32), frame_code_dim=CODE_DIM)
    check_component("decoder", "sprite_frame_decoder",
                    {"linear": "similarity", "boundary": "reflect", "motion_units": "part", "zoom_range": (0.5, 1.5)},
                    registry=registry, settings=settings)


@pytest.mark.parametrize("render", ["forward", "transfer", "transfer_measured_form"])
def test_a_clip_composites_the_layers_and_anchors_its_maps_measured(registry, render):
    """A clip rendered in one call (the decoder measures each content map's layers and anchors
    once, for its maps and for compositing) is, frame by frame, what ``compose`` makes of the
    maps ``part_maps`` gives: the same frames and the same gradients, for training's forward
    and for a transfer that reads its source clip (with the codes' turn and scale, and with
    those read off the clip)."""
    params = dict(boundary="reflect", bounce_point="centre", reach_measure="radius", reach=1.0, learn_reach=False,
                  max_shift=4.0, motion_init_std=0.2, source_bounces="unfold", source_path="parts",
                  unfold_turns_from="parts", unfold_at="straight")
    if render == "transfer_measured_form":
        params.update(source_turn="parts", turn_reads="shading", source_scale="parts", scale_rate="target")
    torch.manual_seed(0)
    dec = decoder(registry, **params)
    transfer = render != "forward"
    frames = G.frames if transfer else 1
    clip = torch.stack([polygon_scene(0.2 * t, 0.4, centre=(0.05 * t, 0.02)) for t in range(G.frames)], 1)
    content = (polygon_scene(0.1, 0.3) + 0.05 * torch.randn(1, 2 * 3 + 2, 32, 32)).requires_grad_()
    codes = torch.randn(1, frames, CODE_DIM)
    weights = torch.randn(1, frames, 3, 32, 32)

    # A transfer that reads turn and scale off the clip too reads no codes: no motion head gradient.
    inputs = [content] + ([dec.motion_head.weight] if render != "transfer_measured_form" else [])

    def gradients(out: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad((out * weights).sum(), inputs)

    if transfer:
        rendered = dec.render_transfer(content, codes, clip)
        linear, shift = dec.part_maps(content, codes, clip)
    else:
        rendered = dec(content, codes[:, 0]).unsqueeze(1)
        linear, shift = dec.part_maps(content, codes)
    composed = torch.stack([dec.compose(content, linear[:, t], shift[:, t]) for t in range(frames)], 1)
    # Float order only: the anchors' moments come from a batched product over more masks.
    assert torch.allclose(rendered, composed, atol=1e-5)
    for a, b in zip(gradients(rendered), gradients(composed)):
        assert torch.allclose(a, b, atol=1e-4)
