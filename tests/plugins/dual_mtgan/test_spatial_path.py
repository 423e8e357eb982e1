"""The spatial content path: spatial_content_encoder and warp_frame_decoder."""

from __future__ import annotations

import math

import pytest
import torch

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.testing import ContractSettings, check_component

G = VideoGeometry(frames=4, height=32, width=32)
FEATURES = 4
CODE_DIM = 6


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def encoder(registry, geometry=G, seed=0):
    torch.manual_seed(seed)
    return registry.build("encoder", "spatial_content_encoder", {"features": FEATURES, "width": 8}, geometry=geometry)


def decoder(registry, geometry=G, seed=0, **params):
    torch.manual_seed(seed)
    return registry.build(
        "decoder",
        "warp_frame_decoder",
        {"width": 8, **params},
        geometry=geometry,
        content_shape=(geometry.channels + FEATURES, geometry.height, geometry.width),
        frame_code_dim=CODE_DIM,
    )


def square(x0: int, y0: int, size: int = 8) -> torch.Tensor:
    """A bright square on a dark background, [1, 3, 32, 32] in [-1, 1]."""
    img = torch.full((1, 3, 32, 32), -0.8)
    img[..., y0 : y0 + size, x0 : x0 + size] = 0.9
    return img


def test_contracts(registry):
    check_component("encoder", "spatial_content_encoder", {"features": FEATURES, "width": 8}, registry=registry)
    settings = ContractSettings(content_shape=(3 + FEATURES, 32, 32), frame_code_dim=CODE_DIM)
    check_component("decoder", "warp_frame_decoder", {"width": 8, "parts": 2}, registry=registry, settings=settings)


def test_contracts_with_the_fill_seeing_the_flow(registry):
    settings = ContractSettings(content_shape=(3 + FEATURES, 32, 32), frame_code_dim=CODE_DIM)
    check_component("decoder", "warp_frame_decoder", {"width": 8, "parts": 2, "fill_sees_flow": True},
                    registry=registry, settings=settings)


def test_the_fill_sees_no_displacement_where_nothing_moves_and_the_shift_where_a_part_moves(registry):
    dec = decoder(registry, parts=2, fill_sees_flow=True)
    seen = []
    dec.fill_net[0].register_forward_pre_hook(lambda _, args: seen.append(args[0][:, -2:].detach()))
    content = encoder(registry)(square(8, 8))
    with torch.no_grad():
        dec(content, torch.zeros(1, CODE_DIM))  # identity maps at initialisation
        dec.motion_head.bias.view(2, 6)[:, 4] = 0.5  # both parts shift along x
        dec(content, torch.zeros(1, CODE_DIM))
    still, moved = seen
    assert still.abs().max() < 1e-5  # rounding of p = a + (p - a)
    displacement = moved[:, 0] * 2 / 16  # back to normalised units
    assert (displacement.abs() > 0.01).float().mean() > 0.5  # the parts cover most of the frame
    assert moved[:, 1].abs().max() < displacement.abs().max() / 10  # and moved along x only


def test_the_content_map_keeps_the_frame(registry):
    enc = encoder(registry)
    frames = torch.rand(2, 3, 32, 32) * 2 - 1
    code = enc(frames)
    assert code.shape == (2, 3 + FEATURES, 32, 32) == (2, *enc.code_shape)
    assert torch.equal(code[:, :3], frames)


def test_a_fresh_decoder_holds_the_image_still(registry):
    """Identity transforms at initialisation: the output is (nearly) the target image, whatever the motion."""
    enc, dec = encoder(registry), decoder(registry)
    image = square(4, 6)
    with torch.no_grad():
        out = dec(enc(image).expand(3, -1, -1, -1), torch.randn(3, CODE_DIM) * 3)
    assert (out - image).abs().max() < 0.15  # the fill branch starts 99 % transparent
    assert torch.allclose(out[0], out[1]) and torch.allclose(out[1], out[2])


def test_a_shift_moves_the_object_about_the_anchor(registry):
    """Drive one part's shift by hand: the bright square lands where the backward map says."""
    enc, dec = encoder(registry), decoder(registry, max_shift=1.0)
    with torch.no_grad():
        dec.motion_head.bias[4] = -math.atanh(0.5)  # e_x = -0.5: sample from the left, i.e. move right by 8 px
        for p in dec.mask_net.parameters():  # every pixel follows the part (not the background)
            p.zero_()
        dec.mask_net[-1].bias[1] = 30.0
        dec.fill_net[-1].bias[3] = 20.0  # trust the warped image everywhere
        out = dec(enc(square(4, 12)), torch.zeros(1, CODE_DIM))
    assert torch.allclose(out, square(12, 12), atol=1e-3)


def test_without_a_motion_bias_the_zero_code_draws_every_part_where_it_is(registry):
    """motion_bias = false: whatever the read-out learned, the zero code gives identity maps
    (the first frame's code under relative_to_first draws the target image); with a bias it need not."""
    grids = {}
    for bias in (True, False):
        dec = decoder(registry, parts=3, motion_bias=bias)
        with torch.no_grad():
            for p in dec.motion_head.parameters():
                p.normal_()
            grids[bias] = dec.part_grids(torch.zeros(1, 3, 2), torch.zeros(1, CODE_DIM))
            moved = dec.part_grids(torch.zeros(1, 3, 2), torch.ones(1, CODE_DIM))
        assert not torch.allclose(moved, grids[bias], atol=1e-3)  # a non-zero code still moves the parts
    assert dec.motion_head.bias is None
    identity = dec.identity_grid.expand_as(grids[False])
    assert torch.allclose(grids[False], identity, atol=1e-5)
    assert not torch.allclose(grids[True], identity, atol=1e-3)


def test_anchors_follow_the_content(registry):
    """An anchor is a soft-argmax over the content: a shifted image moves it by the same amount."""
    dec = decoder(registry)
    feats = torch.zeros(2, FEATURES, 32, 32)
    feats[0, :, 6:10, 6:10] = 1.0
    feats[1, :, 6:10, 22:26] = 1.0
    with torch.no_grad():
        dec.anchor_head.weight.zero_()
        dec.anchor_head.weight[:, :, 1, 1] = 1.0
        dec.anchor_head.bias.zero_()
        a = dec.anchors(feats)
    assert a.shape == (2, 1, 2)
    assert torch.allclose(a[1, 0, 0] - a[0, 0, 0], torch.tensor(1.0), atol=0.02)  # 16 px of 32 = 1 normalised unit
    assert torch.allclose(a[1, 0, 1], a[0, 0, 1])


def test_motion_reaches_the_output_after_a_step(registry):
    """Zero-initialised transforms must still receive a gradient (else the motion path is dead)."""
    enc, dec = encoder(registry), decoder(registry)
    out = dec(enc(square(4, 6)), torch.randn(1, CODE_DIM))
    (out - square(10, 6)).square().mean().backward()
    assert dec.motion_head.weight.grad.abs().sum() > 0
    assert dec.anchor_head.weight.grad is not None


def test_wrong_content_maps_are_refused(registry):
    with pytest.raises(ShapeError, match="spatial_content_encoder"):
        registry.build("decoder", "warp_frame_decoder", {}, geometry=G, content_shape=(64,), frame_code_dim=CODE_DIM)
    with pytest.raises(ShapeError, match="multiples of 4"):
        encoder(registry, geometry=VideoGeometry(frames=4, height=30, width=32))
    dec = decoder(registry)
    with pytest.raises(ShapeError, match="expected motion"):
        dec(torch.zeros(1, 3 + FEATURES, 32, 32), torch.zeros(1, CODE_DIM + 1))
