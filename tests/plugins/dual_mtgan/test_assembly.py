"""The dual_mtgan assembly: building, wiring, slot swapping, inference API, diagnostics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import vidgan_kit
from vidgan_kit import ComponentConfig, PluginHost, VideoGeometry, hookimpl
from vidgan_kit.errors import RecipeError, ShapeError
from vidgan_kit.interfaces import ImageDiscriminator, ModelAssembly, MotionPosterior
from vidgan_dual_mtgan import DualMTGAN

G = VideoGeometry(frames=8, height=32, width=32)
SLOT_TYPES = {
    "content_encoder": "conv_content_encoder",
    "motion_encoder": "conv3d_motion_encoder",
    "temporal_generator": "lstm_temporal_generator",
    "decoder": "conv_frame_decoder",
    "image_discriminator": "conditional_image_discriminator",
    "video_discriminator": "conv3d_video_discriminator",
}


def small_slots(**overrides: dict) -> dict:
    """Default slot types with base_channels 8 (the temporal generator: hidden 32)."""
    out = {}
    for slot, name in SLOT_TYPES.items():
        extra = {"hidden": 32} if slot == "temporal_generator" else {"base_channels": 8}
        out[slot] = {"type": name, **extra}
    out.update(overrides)
    return out


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def build(registry, params: dict | None = None, geometry: VideoGeometry = G, seed: int = 0) -> DualMTGAN:
    torch.manual_seed(seed)
    return registry.build("model", "dual_mtgan", {**small_slots(), **(params or {})}, geometry=geometry, registry=registry)


@pytest.fixture(scope="module")
def model(registry) -> DualMTGAN:
    return build(registry)


def clips(b: int = 3, seed: int = 0, geometry: VideoGeometry = G) -> torch.Tensor:
    return torch.rand((b, *geometry.clip_shape), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_builds_from_a_fresh_registry_with_default_slots(model):
    assert isinstance(model, ModelAssembly)
    assert model.component_spec.type == "dual_mtgan"
    for slot, name in SLOT_TYPES.items():
        assert model.slots()[slot].component_spec.type == name
    assert model.config.recon_content == "first_frame"


def test_defaults_need_no_options(registry):
    spec, config = registry.resolve("model", {"type": "dual_mtgan"}, "model")
    assert {k: v["type"] for k, v in spec.params.items() if isinstance(v, dict) and "type" in v} == SLOT_TYPES
    assert spec.params["source_jitter"] == {"color": 0.0, "channel_shuffle": 0.0, "translate": 0.0}
    assert spec.params["decoder"]["params"]["base_channels"] == 32


def test_forward_outputs(model):
    video = clips()
    out = model({"video": video})
    b, t = video.shape[:2]
    shapes = {
        "video": (b, t, 3, 32, 32),
        "video_y": (b, t, 3, 32, 32),
        "target": (b, 3, 32, 32),
        "content_codes": (b, t, 64),
        "content_target": (b, 64),
        "z_motion": (b, 16),
        "z_prior": (b, 16),
        "frame_codes": (b, t, 32),
        "frame_codes_prior": (b, t, 32),
        "reconstruction": (b, t, 3, 32, 32),
        "transfer": (b, t, 3, 32, 32),
        "sample": (b, t, 3, 32, 32),
    }
    assert set(out) == set(shapes) | {"posterior"}
    for key, shape in shapes.items():
        assert tuple(out[key].shape) == shape, key
    assert isinstance(out["posterior"], MotionPosterior) and out["posterior"].mean.shape == (b, 16)
    for key in ("reconstruction", "transfer", "sample"):
        assert out[key].abs().max() <= 1 and out[key].requires_grad
    # V_y is the batch rolled by one; y its first frame; z_c,y taken from the codes.
    assert torch.equal(out["video_y"][1], video[0]) and torch.equal(out["target"], video.roll(1, 0)[:, 0])
    assert torch.allclose(out["content_target"], out["content_codes"][:, 0].roll(1, 0))


def test_one_batched_decoder_call_per_forward(model):
    calls = []
    handle = model.decoder.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    try:
        model({"video": clips(b=2)})
    finally:
        handle.remove()
    assert calls == [3 * 2 * G.frames]


@pytest.mark.parametrize("mode", ["first_frame", "per_frame"])
def test_recon_content_option(registry, mode):
    m = build(registry, {"recon_content": mode})
    seen = []
    handle = m.decoder.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    try:
        out = m({"video": clips(b=2)})
    finally:
        handle.remove()
    content = seen[0].view(3, 2, G.frames, -1)[0]  # the reconstruction's content codes
    if mode == "first_frame":
        assert torch.equal(content, out["content_codes"][:, :1].expand_as(content))
    else:
        assert torch.equal(content, out["content_codes"])


def test_training_samples_z_and_eval_uses_the_mean(model):
    video = clips(b=2)
    model.train()
    out = model({"video": video})
    assert not torch.allclose(out["z_motion"], out["posterior"].mean)
    model.eval()
    try:
        out = model({"video": video})
        assert torch.equal(out["z_motion"], out["posterior"].mean)
    finally:
        model.train()


def test_parameter_groups_are_disjoint_and_complete(model):
    groups = model.parameter_groups()
    assert set(groups) == {"generator", "discriminator"}
    gen, disc = ({id(p) for p in groups[k]} for k in ("generator", "discriminator"))
    assert not gen & disc
    assert gen | disc == {id(p) for p in model.parameters()}
    assert len(gen) == len(groups["generator"]) and len(disc) == len(groups["discriminator"])
    d_ids = {id(p) for n in ("image_discriminator", "video_discriminator") for p in model.slots()[n].parameters()}
    assert disc == d_ids


def test_slots(model):
    slots = model.slots()
    assert list(slots) == list(SLOT_TYPES)
    assert all(isinstance(m, nn.Module) for m in slots.values())


# -- swapping slots through a plugin ---------------------------------------------------------------


class PatchMeanDConfig(ComponentConfig):
    pass


class PatchMeanDiscriminator(ImageDiscriminator):
    """A throwaway image-pair discriminator: one 1x1 conv on the pair, averaged."""

    def __init__(self, config: PatchMeanDConfig, *, geometry: VideoGeometry, **wiring) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * geometry.channels, 1, 1)

    def forward(self, condition: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([condition, frame], 1)).mean(dim=(1, 2, 3))


class ThrowawayPlugin:
    @hookimpl
    def vidgan_register_components(self, registry) -> None:
        registry.add("discriminator", "patch_mean_discriminator", PatchMeanDiscriminator, config=PatchMeanDConfig)


@pytest.fixture
def host():
    h = PluginHost.create()
    h.add_plugin(ThrowawayPlugin(), "tmp")
    h.register_components()
    try:
        yield h
    finally:
        h.remove_plugin("tmp")


def test_a_plugin_discriminator_fills_the_slot(host):
    reg = host.registry
    m = build(reg, {"image_discriminator": {"type": "patch_mean_discriminator"}})
    assert isinstance(m.image_discriminator, PatchMeanDiscriminator)
    assert {id(p) for p in m.image_discriminator.parameters()} <= {id(p) for p in m.parameter_groups()["discriminator"]}
    out = m({"video": clips(b=2)})
    ctx = vidgan_kit.interfaces.LossContext(model=m, batch={}, outputs=out)
    value = reg.build("loss", "image_adversarial", {})(ctx, "discriminator")
    value.backward()
    assert m.image_discriminator.conv.weight.grad is not None


@pytest.mark.parametrize(
    "slot,wrong,fits",
    [
        ("image_discriminator", "conv3d_video_discriminator", "conditional_image_discriminator"),
        ("video_discriminator", "conditional_image_discriminator", "conv3d_video_discriminator"),
        ("content_encoder", "conv3d_motion_encoder", "conv_content_encoder"),
    ],
)
def test_a_component_of_the_wrong_role_is_a_clear_error(host, slot, wrong, fits):
    with pytest.raises(RecipeError) as err:
        build(host.registry, {slot: {"type": wrong, "base_channels": 8}})
    message = str(err.value)
    assert f"model.{slot}" in message and wrong in message and fits in message
    if slot == "image_discriminator":
        assert "patch_mean_discriminator" in message  # the plugin's component is offered too


def test_slot_option_typos_are_reported_with_their_path(registry):
    table = {"type": "dual_mtgan", "video_discriminator": {"type": "conv3d_video_discriminator", "base_chanels": 8}}
    with pytest.raises(RecipeError, match=r"model\.video_discriminator\.base_chanels: unknown key; did you mean base_channels"):
        registry.resolve("model", table, "model")


# -- inference ----------------------------------------------------------------------------------------------


def test_transfer_is_deterministic_and_restores_train_mode(model):
    video = clips(b=2)
    image = clips(b=2, seed=1)[:, 0]
    model.train()
    a = model.transfer(image, video)
    b = model.transfer(image, video)
    assert a.shape == (2, *G.clip_shape) and not a.requires_grad
    assert torch.equal(a, b)
    assert model.training
    one_motion = model.transfer(image, video[:1])
    assert torch.allclose(one_motion[0], a[0], atol=1e-5)  # batch size changes float rounding only
    with pytest.raises(ShapeError):
        model.transfer(image, clips(b=3))


def test_sample_shapes_and_seeding(model):
    image = clips(b=2)[:, 0]
    s1 = model.sample(image, 3, torch.Generator().manual_seed(1))
    s2 = model.sample(image, 3, torch.Generator().manual_seed(1))
    s3 = model.sample(image, 3, torch.Generator().manual_seed(2))
    assert s1.shape == (2, 3, *G.clip_shape) and s1.abs().max() <= 1
    assert torch.equal(s1, s2)
    assert not torch.allclose(s1, s3)
    assert not torch.allclose(s1[:, 0], s1[:, 1]), "the n samples of one image should differ"


def test_sample_scale_draws_the_motion_codes_from_a_narrower_gaussian(registry, model):
    narrow = build(registry, {"sample_scale": 0.5})
    narrow.load_state_dict(model.state_dict())  # the option changes no weights
    image = clips(b=1)[:, 0]
    draws = torch.randn((4, model.motion_encoder.motion_dim), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        content = model.content_encoder(image).repeat_interleave(4, dim=0)
        expected = model._render(content, model.temporal_generator(0.5 * draws, G.frames))
    got = narrow.sample(image, 4, torch.Generator().manual_seed(3))[0]
    torch.testing.assert_close(got, expected)
    wide = model.sample(image, 4, torch.Generator().manual_seed(3))[0]
    assert (got - got.mean(0)).abs().mean() < (wide - wide.mean(0)).abs().mean()


def test_sample_from_posterior_tracks_the_aggregate_posterior_every_few_steps(registry):
    fitted = build(registry, {"sample_from": "posterior", "posterior_decay": 0.9, "posterior_every": 5})
    video = clips(b=4)
    with torch.no_grad():
        fitted.train()
        fitted({"video": video})  # the training forward tracks nothing: the trainer calls the tracker
        fitted.track_inference_statistics({"video": video}, step=4)  # not an observation step
        assert float(fitted.posterior_weight) == 0
        posterior = MotionPosterior(*fitted.motion_encoder(video))
        fitted.track_inference_statistics({"video": video}, step=5)
    assert fitted.motion_encoder.training  # the encoder's mode is given back
    torch.testing.assert_close(fitted.posterior_weight, torch.tensor(0.1))
    torch.testing.assert_close(fitted.posterior_mean_sum / 0.1, posterior.mean.mean(0))
    second_moment = (posterior.mean.square() + posterior.logvar.exp()).mean(0)
    torch.testing.assert_close(fitted.posterior_square_sum / 0.1, second_moment)
    assert set(fitted.state_dict()) - set(build(registry).state_dict()) == {
        "posterior_mean_sum", "posterior_square_sum", "posterior_weight"}  # saved with the model


def test_sample_from_posterior_draws_from_the_fitted_gaussian(registry):
    fitted = build(registry, {"sample_from": "posterior", "sample_scale": 0.5})
    image = clips(b=1)[:, 0]
    # Nothing tracked yet (a preview at step 0): N(0, s² I), as sample_from = "prior".
    prior = build(registry, {"sample_scale": 0.5})
    prior.load_state_dict({k: v for k, v in fitted.state_dict().items() if not k.startswith("posterior_")})
    torch.testing.assert_close(fitted.sample(image, 2, torch.Generator().manual_seed(0)),
                               prior.sample(image, 2, torch.Generator().manual_seed(0)))
    d = fitted.motion_encoder.motion_dim
    mean, std = torch.linspace(-1, 1, d), torch.linspace(0.1, 0.5, d)
    fitted.posterior_weight.fill_(0.5)
    fitted.posterior_mean_sum.copy_(0.5 * mean)
    fitted.posterior_square_sum.copy_(0.5 * (mean.square() + std.square()))
    draws = fitted.motion_draws(20000, torch.Generator().manual_seed(1), image)
    torch.testing.assert_close(draws.mean(0), mean, rtol=0, atol=0.02)
    torch.testing.assert_close(draws.std(0), 0.5 * std, rtol=0.05, atol=0)


def test_preview_rows(model):
    rows = model.preview({"video": clips(b=2)}, torch.Generator().manual_seed(0))
    assert list(rows) == ["target", "source", "transfer", "reconstruction", "sample_1", "sample_2"]
    for name, row in rows.items():
        assert row.shape == (2, *G.clip_shape), name
    assert torch.equal(rows["target"][:, 3], rows["target"][:, 0])


def test_diagnostics(model):
    stats = model.diagnostics({"video": clips(b=3)})
    assert set(stats) == {
        "content_spread", "content_change", "content_change_ratio", "content_rms",
        "kl", "kl_active_dims", "recon_l1", "motion_gap",
    }
    assert all(isinstance(v, float) and v == v for v in stats.values()), stats
    assert 0 <= stats["kl_active_dims"] <= 16
    assert stats["content_rms"] == pytest.approx(1.0, abs=1e-3)  # layer-normalised codes


def test_diagnostics_known_answers(registry):
    m = build(registry)
    static = clips(b=3)[:, :1].expand(-1, G.frames, -1, -1, -1).contiguous()
    assert abs(m.diagnostics({"video": static})["motion_gap"]) > 1e-5
    with torch.no_grad():
        m.decoder.net.stem.weight[:, -m.temporal_generator.frame_code_dim :].zero_()  # G_I ignores motion
    stats = m.diagnostics({"video": static})
    assert stats["motion_gap"] == pytest.approx(0.0, abs=1e-6) and stats["kl_active_dims"] > 0
    assert stats["content_change"] == 0.0 and stats["content_change_ratio"] == 0.0
    assert stats["content_spread"] > 0.1
    with torch.no_grad():
        m.motion_encoder.head.weight.zero_()  # posterior = N(0, I) for every clip
        m.motion_encoder.head.bias.zero_()
    stats = m.diagnostics({"video": static})
    assert stats["kl"] == pytest.approx(0.0, abs=1e-6) and stats["kl_active_dims"] == 0.0


def test_other_geometries(registry):
    g = VideoGeometry(frames=4, height=64, width=64)
    m = build(registry, geometry=g)
    out = m({"video": clips(b=2, geometry=g)})
    assert out["sample"].shape == (2, *g.clip_shape)
    with pytest.raises(ShapeError):
        m({"video": clips(b=2)})  # 32×32 clips into a 64×64 model


# -- toolkit integration ---------------------------------------------------------------------------------


def test_toolkit_model_contract(registry):
    from vidgan_kit.testing import check_component

    check_component("model", "dual_mtgan", small_slots(), registry=registry)


class StubDatasetConfig(ComponentConfig):
    pass


class StubDataset(torch.utils.data.Dataset):
    def __init__(self, config, *, geometry, split, seed) -> None:
        self.geometry = geometry

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i):
        return {"video": torch.zeros(self.geometry.clip_shape)}


class StubDataPlugin:
    @hookimpl
    def vidgan_register_components(self, registry) -> None:
        if "synthetic_shapes" not in registry.names("dataset"):
            registry.add("dataset", "synthetic_shapes", StubDataset, config=StubDatasetConfig)


def test_a_recipe_with_every_loss_validates_and_builds():
    from vidgan_kit.recipe import validate_recipe

    h = PluginHost.create()
    h.add_plugin(StubDataPlugin(), "stub_data")
    h.register_components()
    try:
        table = {
            "video": {"frames": 4, "height": 16, "width": 16},
            "data": {"type": "synthetic_shapes"},
            "model": {"type": "dual_mtgan", **small_slots()},
            "losses": {
                "rec": {"type": "reconstruction", "distance": "mse", "weight": 10.0},
                "lc": {"type": "content_consistency", "weight": 1.0},
                "kl": {"type": "kl_divergence", "weight": 0.01},
                "lm": {"type": "motion_consistency", "weight": 1.0, "start": 300, "ramp": 300},
                "adv_v": {"type": "video_adversarial", "gan": "hinge", "weight": 0.1},
                "adv_i": {"type": "image_adversarial", "frames_per_video": 2, "weight": 1e-4},
            },
        }
        recipe = validate_recipe(table, h.registry)
        model = h.registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=h.registry)
        assert isinstance(model, DualMTGAN) and recipe.losses["lm"].weight_at(450) == pytest.approx(0.5036, abs=1e-3)
    finally:
        h.remove_plugin("stub_data")


def test_health_warnings_name_each_known_collapse(registry):
    model = build(registry, {"health_after": 100, "min_motion_gap": 1e-3, "max_leakage_ratio": 1.0})
    healthy = {"diag/kl": 3.0, "diag/kl_active_dims": 12.0, "diag/motion_gap": 0.05, "diag/content_rms": 1.0,
               "diag/content_spread": 0.4, "val/leakage_ratio": 0.2}
    assert model.health_warnings(healthy, step=500) == {}
    sick = {"diag/kl": 0.02, "diag/kl_active_dims": 0.0, "diag/motion_gap": 1e-5, "diag/content_rms": 1e-3,
            "diag/content_spread": 0.4, "val/leakage_ratio": 2.5}
    warned = model.health_warnings(sick, step=500)
    assert set(warned) == {"motion_code_collapsed", "motion_ignored", "content_code_collapsed",
                           "content_leaks_into_motion"}
    assert "2.50x" in warned["content_leaks_into_motion"]
    assert model.health_warnings(sick, step=99) == {}  # the grace period
    # values that were not computed at this step (NaN, absent) say nothing
    assert model.health_warnings({"diag/motion_gap": float("nan")}, step=500) == {}


def test_transfer_animates_the_image_with_the_motion_encoders_posterior_mean(model):
    """transfer = animate(image, encode_motion(video)): encode_motion is E_M's posterior mean in
    eval mode, animate renders E_C(image) with G_T's codes of it; both leave train mode as it was
    and build no graph. One code animates every image; codes of the wrong shape are refused."""
    video, image = clips(b=2), clips(b=2, seed=1)[:, 0]
    model.train()
    z = model.encode_motion(video)
    assert model.training and z.shape == (2, model.motion_encoder.motion_dim) and not z.requires_grad
    model.eval()
    with torch.no_grad():
        assert torch.equal(z, MotionPosterior(*model.motion_encoder(video)).mean)
        content = model.content_encoder(image)
        expected = model.decoder.render_held(content, model.temporal_generator(z, G.frames))
    model.train()
    assert torch.equal(model.animate(image, z), expected)
    assert torch.equal(model.transfer(image, video), expected) and model.training
    one = model.animate(image, z[:1])
    assert torch.allclose(one, model.animate(image, z[:1].expand(2, -1)), atol=1e-6)
    for wrong in (z[:, :-1], z[0], torch.cat([z, z])):
        with pytest.raises(ShapeError, match="animate: expected motion codes"):
            model.animate(image, wrong)


def test_training_encodes_the_jittered_clip_and_inference_the_clip_itself(registry):
    model = build(registry, {"source_jitter": {"color": 0.5, "translate": 0.2}})
    seen = []
    handle = model.motion_encoder.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    try:
        video = clips(b=2)
        model.train()
        out = model({"video": video})
        model.eval()
        model({"video": video})
        model.transfer(video[:, 0], video)
    finally:
        handle.remove()
    assert not torch.allclose(seen[0], video, atol=1e-3)
    assert torch.equal(seen[1], video) and torch.equal(seen[2], video)
    assert torch.equal(out["video"], video)  # the reconstruction is scored against the clip as it is
