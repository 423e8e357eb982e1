"""The layered content path: layered_content_encoder and sprite_frame_decoder."""

from __future__ import annotations

import math

import pytest
import torch

from vidgan_dual_mtgan.layered_encoder import _head_over

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError
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
    assert torch.equal(dec(content, code), dec.compose(content, *dec.part_maps(code)))


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
    linear, shift = dec.part_maps(code)
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
    linear, _ = dec.part_maps(code)
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


def polygon_scene(turn: float, radius: float, sides: int = 4, centre: tuple[float, float] = (0.03, 0.02)) -> torch.Tensor:
    """The content map of a bright regular polygon (circumradius ``radius``, normalised units)
    about ``centre`` (off the pixel grid's symmetry), turned by ``turn`` (forward, y down), as part 1."""
    from vidgan_builtin.networks.geometry import pixel_grid

    grid = pixel_grid(32, 32) - torch.tensor(centre)
    angle = torch.atan2(grid[..., 1], grid[..., 0]) - turn
    wedge = torch.remainder(angle, 2 * math.pi / sides) - math.pi / sides
    inside = grid.norm(dim=-1) < radius * math.cos(math.pi / sides) / torch.cos(wedge)
    img = torch.where(inside, 0.9, -0.8).expand(1, 3, 32, 32)
    logits = torch.stack([torch.where(inside, -20.0, 20.0), torch.zeros(32, 32)])[None]
    return torch.cat([img, torch.full((1, 3, 32, 32), -0.8), logits], dim=1)


@pytest.mark.parametrize("render", ["forward", "render_held"])
def test_a_clip_composites_the_layers_and_anchors_its_maps_give(registry, render):
    """A clip rendered in one call (the decoder measures each content map's layers and anchors
    once) is, frame by frame, what ``compose`` makes of the maps ``part_maps`` gives: the same
    frames and the same gradients, for one frame (forward) and for a held clip (render_held)."""
    torch.manual_seed(0)
    dec = decoder(registry, max_shift=4.0, motion_init_std=0.2)
    frames = G.frames if render == "render_held" else 1
    content = (polygon_scene(0.1, 0.3) + 0.05 * torch.randn(1, 2 * 3 + 2, 32, 32)).requires_grad_()
    codes = torch.randn(1, frames, CODE_DIM)
    weights = torch.randn(1, frames, 3, 32, 32)
    inputs = [content, dec.motion_head.weight]

    def gradients(out: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad((out * weights).sum(), inputs)

    if render == "render_held":
        rendered = dec.render_held(content, codes)
    else:
        rendered = dec(content, codes[:, 0]).unsqueeze(1)
    linear, shift = dec.part_maps(codes)
    composed = torch.stack([dec.compose(content, linear[:, t], shift[:, t]) for t in range(frames)], 1)
    assert torch.allclose(rendered, composed, atol=1e-5)
    for a, b in zip(gradients(rendered), gradients(composed)):
        assert torch.allclose(a, b, atol=1e-4)


def test_render_held_refuses_motion_of_the_wrong_shape(registry):
    dec = decoder(registry)
    _, content = square_scene(4, 6)
    with pytest.raises(ShapeError, match=r"expected motion \[1, T, 6\]"):
        dec.render_held(content, torch.zeros(1, CODE_DIM))
    with pytest.raises(ShapeError, match=r"expected motion \[1, T, 6\]"):
        dec.render_held(content, torch.zeros(2, 3, CODE_DIM))
