"""The keypoint path: keypoint_frame_decoder (G_I) and the keypoint_equivariance loss."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError, VidganError
from vidgan_kit.interfaces import LossContext
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.testing import ContractSettings, check_component
from vidgan_dual_mtgan.keypoint_decoder import inverse_2x2
from vidgan_dual_mtgan.keypoint_losses import RandomWarp

from tests.plugins.dual_mtgan.test_assembly_training import moving_squares
from tests.plugins.dual_mtgan.test_spatial_path import FEATURES, encoder

G = VideoGeometry(frames=4, height=32, width=32)
CODE_DIM = 6
RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "weizmann_keypoints.toml"


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def decoder(registry, geometry=G, seed=0, **params):
    torch.manual_seed(seed)
    return registry.build(
        "decoder",
        "keypoint_frame_decoder",
        {"keypoints": 3, "width": 8, "motion_width": 8, **params},
        geometry=geometry,
        content_shape=(geometry.channels + FEATURES, geometry.height, geometry.width),
        frame_code_dim=CODE_DIM,
    )


def blob(x: float, y: float, size: int = 32, sigma: float = 0.25) -> torch.Tensor:
    """A bright Gaussian blob centred at normalised (x, y) on a dark background, [1, 3, size, size]."""
    axis = (torch.arange(size) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    bump = torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return (bump * 1.8 - 0.9).expand(1, 3, size, size).clone()


@pytest.mark.parametrize("jacobians", [True, False])
def test_contracts(registry, jacobians):
    """The decoder's contract in both forms (the loss's runs with every loss in tests/testing)."""
    settings = ContractSettings(content_shape=(3 + FEATURES, 32, 32), frame_code_dim=CODE_DIM)
    params = {"keypoints": 3, "width": 8, "motion_width": 8, "jacobians": jacobians}
    check_component("decoder", "keypoint_frame_decoder", params, registry=registry, settings=settings)


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_a_fresh_decoder_holds_the_image_still(registry, size):
    """At initialisation every keypoint's map is the identity: the flow is exactly the identity
    grid, the occlusion map trusts the warp, and every frame is (nearly) the target image."""
    geometry = VideoGeometry(frames=4, height=size, width=size)
    enc, dec = encoder(registry, geometry), decoder(registry, geometry)
    image = torch.rand(2, 3, size, size) * 2 - 1
    motion = torch.randn(2, 5, CODE_DIM) * 3
    with torch.no_grad():
        content = enc(image)
        fields = dec.motion_fields(content, motion)
        clip = dec.render_held(content, motion)
        kp = dec.keypoints(content)
    assert clip.shape == (2, 5, 3, size, size)
    assert kp.points.shape == (2, 3, 2) and kp.jacobians.shape == (2, 3, 2, 2)
    assert fields.flow.shape == (2, 5, size, size, 2) and fields.masks.shape == (2, 5, 4, size // 2, size // 2)
    assert torch.allclose(fields.flow, dec.grid.expand_as(fields.flow), atol=1e-6)
    assert torch.allclose(fields.driving, kp.points.unsqueeze(1).expand_as(fields.driving))
    assert fields.visible.min() > 0.99
    assert (clip - image.unsqueeze(1)).abs().max() < 0.02
    assert clip.abs().max() <= 1


def test_a_displacement_moves_the_target_along_the_keypoint(registry):
    """Keypoint 0 sits on a blob (its heatmap reads the image's brightness); its displacement,
    read off the motion code, carries the blob by the same amount when its map rules every pixel."""
    dec = decoder(registry, jacobians=False, max_shift=1.0)
    image = blob(-0.4, 0.1, sigma=0.12)
    content = torch.cat([image, torch.zeros(1, FEATURES, 32, 32)], dim=1)
    with torch.no_grad():
        dec.keypoint_head.weight.zero_()
        dec.keypoint_head.bias.zero_()
        dec.keypoint_head.weight[0, 0, 1, 1] = 1.0  # heatmap 0 = the image's first plane
        dec.motion_head.weight.zero_()
        dec.motion_head.weight[0, 0] = math.atanh(0.5)  # code (1, 0, ...): keypoint 0 moves right by 0.5
        for p in [dec.motion_out.weight, dec.motion_out.bias]:
            p.zero_()
        dec.motion_out.bias[1] = 30.0  # every pixel follows keypoint 0's map
        dec.motion_out.bias[-1] = 30.0  # and the warped target is visible everywhere
        kp = dec.keypoints(content)
        code = torch.zeros(1, 2, CODE_DIM)
        code[0, 1, 0] = 1.0
        clip = dec.render_held(content, code)
    assert torch.allclose(kp.points[0, 0], torch.tensor([-0.4, 0.1]), atol=0.03)
    assert torch.allclose(clip[0, 0], image[0], atol=1e-4)  # a zero code: the target
    assert torch.allclose(clip[0, 1], blob(0.1, 0.1, sigma=0.12)[0], atol=0.05)  # moved right by 0.5


def test_the_jacobian_expresses_the_change_in_the_keypoints_frame(registry):
    """A keypoint's map is J C J⁻¹: the code's change C conjugated by its Jacobian (its determinant
    is C's), and the identity whatever J when C is."""
    m = torch.tensor([[[2.0, 1.0], [0.5, 1.5]], [[0.0, -1.0], [1.0, 0.0]]])
    assert torch.allclose(inverse_2x2(m) @ m, torch.eye(2).expand(2, 2, 2), atol=1e-6)
    dec = decoder(registry)
    content = encoder(registry)(torch.rand(1, 3, 32, 32) * 2 - 1)
    with torch.no_grad():
        dec.jacobian_head.bias.normal_()  # Jacobians far from I
        dec.motion_head.weight.normal_()
        kp = dec.keypoints(content)
        change = dec.keypoint_motion(torch.randn(1, 1, CODE_DIM))[1]
        fields = dec.motion_fields(content, torch.zeros(1, 1, CODE_DIM))
    assert not torch.allclose(kp.jacobians, torch.eye(2).expand_as(kp.jacobians), atol=0.1)
    linear = kp.jacobians @ change[:, 0] @ inverse_2x2(kp.jacobians)
    assert torch.allclose(torch.linalg.det(linear), torch.linalg.det(change[:, 0]), rtol=1e-4)
    assert torch.allclose(fields.flow, dec.grid.expand_as(fields.flow), atol=1e-6)


def test_gradients_reach_the_read_out_and_then_the_keypoint_head(registry):
    """At initialisation the displacement read-out gets a gradient (the motion path is alive);
    once it has moved the keypoints, the keypoint and Jacobian heads get theirs."""
    enc, dec = encoder(registry), decoder(registry)
    image, goal = blob(-0.3, 0.0), blob(0.2, 0.0)
    motion = torch.randn(1, 2, CODE_DIM)
    (dec.render_held(enc(image), motion)[:, 1] - goal).square().mean().backward()
    assert dec.motion_head.weight.grad.abs().sum() > 0
    dec.zero_grad()
    with torch.no_grad():
        dec.motion_head.weight.normal_(std=0.3)  # as after some steps
    (dec.render_held(enc(image), motion)[:, 1] - goal).square().mean().backward()
    assert dec.keypoint_head.weight.grad.abs().sum() > 0
    assert dec.jacobian_head.weight.grad.abs().sum() > 0
    assert dec.motion_head.weight.grad.abs().sum() > 0


def test_wrong_inputs_are_refused(registry):
    with pytest.raises(ShapeError, match="spatial_content_encoder"):
        registry.build("decoder", "keypoint_frame_decoder", {}, geometry=G, content_shape=(64,), frame_code_dim=6)
    with pytest.raises(ShapeError, match="multiples of 4"):
        decoder(registry, geometry=VideoGeometry(frames=4, height=30, width=32))
    dec = decoder(registry)
    with pytest.raises(ShapeError, match="expected motion"):
        dec(torch.zeros(1, 3 + FEATURES, 32, 32), torch.zeros(1, CODE_DIM + 1))
    with pytest.raises(ShapeError, match="expected motion"):
        dec.render_held(torch.zeros(2, 3 + FEATURES, 32, 32), torch.zeros(1, 4, CODE_DIM))
    with pytest.raises(ShapeError, match="expected content"):
        dec.keypoints(torch.zeros(1, 3 + FEATURES, 16, 16))


# -- the equivariance loss ------------------------------------------------------------------------


def test_the_random_warps_derivative_is_its_jacobian():
    torch.manual_seed(0)
    warp = RandomWarp.draw(2, 0.1, 0.1, 0.05, 5, torch.device("cpu"))
    points = torch.rand(2, 3, 2) * 1.6 - 0.8
    auto = torch.autograd.functional.jacobian(lambda p: warp.points(p).sum((0, 1)), points)  # [2 out, 2, 3, 2 in]
    assert torch.allclose(warp.derivative(points), auto.permute(1, 2, 0, 3), atol=1e-5)


def test_the_warped_frame_shows_what_the_frame_shows_at_the_warped_point():
    torch.manual_seed(1)
    warp = RandomWarp.draw(1, 0.05, 0.05, 0.005, 5, torch.device("cpu"))
    image = blob(0.1, -0.2)
    warped = warp.frames(image)
    # The blob's peak in the warped frame sits where W sends it back onto the original peak.
    flat = warped[0, 0].flatten().argmax()
    grid = (torch.arange(32) + 0.5) / 32 * 2 - 1
    peak = torch.stack([grid[flat % 32], grid[flat // 32]]).view(1, 1, 2)
    assert torch.allclose(warp.points(peak)[0, 0], torch.tensor([0.1, -0.2]), atol=0.07)


def _equivariance_model(registry, jacobians):
    model = registry.build("model", "dual_mtgan", {
        "content_encoder": {"type": "spatial_content_encoder", "features": FEATURES, "width": 8},
        "motion_encoder": {"type": "conv3d_motion_encoder", "base_channels": 8, "motion_dim": 4},
        "temporal_generator": {"type": "lstm_temporal_generator", "hidden": 16, "frame_code_dim": CODE_DIM},
        "decoder": {"type": "keypoint_frame_decoder", "keypoints": 1, "width": 8, "motion_width": 8,
                    "jacobians": jacobians},
        "image_discriminator": {"type": "conditional_image_discriminator", "base_channels": 8},
        "video_discriminator": {"type": "conv3d_video_discriminator", "base_channels": 8},
    }, geometry=G, registry=registry)
    return model


def _equivariance(registry, model, **params):
    torch.manual_seed(3)
    video = torch.cat([blob(x, y).unsqueeze(1).expand(1, G.frames, 3, 32, 32)
                       for x, y in [(-0.3, 0.2), (0.25, -0.1), (0.0, 0.35)]])
    batch = {"video": video}
    ctx = LossContext(model=model, batch=batch, outputs=model(batch), step=0)
    return registry.build("loss", "keypoint_equivariance", {"frames_per_clip": 2, **params})(ctx, "generator")


def _read_brightness(model):
    """The detector's heatmap = the image's brightness over a temperature: a pointwise function of
    the image, so its soft-argmax moves with any warp of the image (equivariant)."""
    with torch.no_grad():
        head = model.decoder.keypoint_head
        head.weight.zero_()
        head.bias.zero_()
        head.weight[0, 0, 1, 1] = 1.0


def test_an_equivariant_detector_scores_about_zero_and_others_do_not(registry):
    model = _equivariance_model(registry, jacobians=False)
    _read_brightness(model)
    exact = _equivariance(registry, model).item()
    with torch.no_grad():
        model.decoder.keypoint_head.weight[0, 0, 1, 1] = 0.0  # the head ignores the image: a fixed point
        model.decoder.keypoint_head.bias.fill_(1.0)
    fixed = _equivariance(registry, model).item()
    assert exact < 0.002
    assert fixed > 10 * exact and fixed > 0.02


def test_constant_jacobians_are_equivariant_under_shifts_only(registry):
    """A detector whose Jacobian is I everywhere follows a shift exactly but not a linear warp; the
    points' term stays about zero either way."""
    model = _equivariance_model(registry, jacobians=True)
    _read_brightness(model)
    shifted = _equivariance(registry, model, sigma_linear=0.0, sigma_tps=0.0, sigma_shift=0.1).item()
    linear = _equivariance(registry, model, sigma_linear=0.1, sigma_tps=0.0, sigma_shift=0.0).item()
    points_only = _equivariance(registry, model, sigma_linear=0.1, sigma_tps=0.0, sigma_shift=0.0,
                                jacobian_weight=0.0).item()
    assert shifted < 0.002 and points_only < 0.002
    assert linear > 0.03


def test_the_equivariance_loss_trains_the_detector_and_e_c(registry):
    model = _equivariance_model(registry, jacobians=True)
    _equivariance(registry, model).backward()
    assert model.decoder.keypoint_head.weight.grad.abs().sum() > 0
    assert model.decoder.jacobian_head.weight.grad.abs().sum() > 0
    assert model.content_encoder.net[0][0].weight.grad.abs().sum() > 0


def test_the_equivariance_loss_needs_a_keypoint_decoder(registry):
    model = registry.build("model", "dual_mtgan", {}, geometry=G, registry=registry)
    batch = {"video": torch.rand(2, *G.clip_shape) * 2 - 1}
    ctx = LossContext(model=model, batch=batch, outputs=model(batch), step=0)
    with pytest.raises(VidganError, match="keypoint_frame_decoder"):
        registry.build("loss", "keypoint_equivariance", {})(ctx, "generator")


# -- the recipe ------------------------------------------------------------------------------------


def test_a_tiny_variant_of_the_recipe_trains_and_its_loss_falls(registry):
    """recipes/weizmann_keypoints.toml at 16×16, 4 frames and toy widths: twenty steps of its
    generator terms active from the start (reconstruction, KL, equivariance) on moving squares."""
    overrides = ["video.frames=4", "video.height=16", "video.width=16",
                 "model.content_encoder.width=8", "model.content_encoder.features=4",
                 "model.motion_encoder.width=4", "model.motion_encoder.hidden=16",
                 "model.temporal_generator.hidden=16", "model.decoder.keypoints=4",
                 "model.decoder.width=8", "model.decoder.motion_width=8",
                 "model.image_discriminator.base_channels=4", "model.video_discriminator.base_channels=4"]
    recipe = validate_recipe(apply_overrides(read_recipe_table(RECIPE), overrides), registry, source=str(RECIPE))
    assert recipe.model.params["decoder"]["type"] == "keypoint_frame_decoder"
    assert {"motion_segmentation", "part_trajectory", "background_plate"}.isdisjoint(recipe.losses)
    torch.manual_seed(0)
    model = registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=registry)
    terms = {name: (registry.build("loss", t.spec), t.weight) for name, t in recipe.losses.items()
             if name in ("reconstruction", "kl_divergence", "keypoint_equivariance")}
    assert len(terms) == 3
    opt = torch.optim.Adam(model.parameter_groups()["generator"], lr=3e-3, betas=(0.5, 0.999))
    batch = {"video": moving_squares(8)}
    history = []
    for step in range(20):
        ctx = LossContext(model=model, batch=batch, outputs=model(batch), step=step)
        total = sum(weight * loss(ctx, "generator") for loss, weight in terms.values())
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        history.append(total.item())
    assert all(math.isfinite(v) for v in history)
    assert sum(history[-3:]) < 0.7 * sum(history[:3]), history
