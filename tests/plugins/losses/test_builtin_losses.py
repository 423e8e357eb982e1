"""The generic losses (KL, reconstruction, adversarial): known answers, gradient routing, phases, contracts."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import vidgan_kit
from vidgan_kit.interfaces import ImageDiscriminator, LossContext, MotionPosterior, VideoDiscriminator
from vidgan_kit.testing import ContractSettings, check_component
from vidgan_builtin.losses import GanObjective, frozen_call

from tests.plugins.losses.loss_context import (
    G,
    StubModel,
    assert_no_schedule_options,
    assert_registered,
    const_video,
    ctx_of,
    loss,
    tiny_model,
)

LOSSES = {
    "kl_divergence": ("generator",),
    "reconstruction": ("generator",),
    "image_adversarial": ("generator", "discriminator"),
    "video_adversarial": ("generator", "discriminator"),
}


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


# -- registration ---------------------------------------------------------------------------------


def test_registered_with_phases_and_documented_options(registry):
    assert_registered(registry, LOSSES, "builtin_losses")


def test_weight_and_schedule_are_not_loss_options(registry):
    assert_no_schedule_options(registry, LOSSES)


# -- the adversarial objectives ---------------------------------------------------------------------

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([0.0, -1.0])


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


@pytest.mark.parametrize(
    "gan,d_real,d_fake,g",
    [
        ("non_saturating", (sp(0) + sp(-2)) / 2, (sp(0) + sp(-1)) / 2, (sp(0) + sp(1)) / 2),
        ("hinge", (1 + 0) / 2, (1 + 0) / 2, (0 + 1) / 2),
        ("least_squares", 0.5 * (1 + 1) / 2, 0.5 * (0 + 1) / 2, 0.5 * (1 + 4) / 2),
    ],
)
def test_gan_objectives_on_fixed_logits(gan, d_real, d_fake, g):
    obj = GanObjective(gan)
    assert obj.real_term(REAL).item() == pytest.approx(d_real, abs=1e-6)
    assert obj.fake_term(FAKE).item() == pytest.approx(d_fake, abs=1e-6)
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d_real + d_fake, abs=1e-6)
    assert obj.g_loss(FAKE).item() == pytest.approx(g, abs=1e-6)


def test_unknown_gan_objective_is_rejected(registry):
    with pytest.raises(vidgan_kit.errors.RecipeError, match="gan"):
        loss(registry, "video_adversarial", gan="wasserstein")


# -- L_KL, L_rec ---------------------------------------------------------------------------------


def test_kl_known_answers(registry):
    kl = loss(registry, "kl_divergence")
    prior = MotionPosterior(torch.zeros(5, 4), torch.zeros(5, 4))
    assert kl(ctx_of({"posterior": prior}), "generator").item() == pytest.approx(0.0, abs=1e-7)
    shifted = MotionPosterior(torch.ones(5, 4), torch.zeros(5, 4))  # 0.5 per dim, summed over 4 dims
    assert kl(ctx_of({"posterior": shifted}), "generator").item() == pytest.approx(2.0)
    wide = MotionPosterior(torch.zeros(2, 1), torch.full((2, 1), math.log(2.0)))
    assert kl(ctx_of({"posterior": wide}), "generator").item() == pytest.approx(0.5 * (2 - 1 - math.log(2)))
    floored = loss(registry, "kl_divergence", free_bits=0.1)
    assert floored(ctx_of({"posterior": prior}), "generator").item() == pytest.approx(0.4)
    assert floored(ctx_of({"posterior": shifted}), "generator").item() == pytest.approx(2.0)


def test_reconstruction_known_answers(registry):
    video = torch.rand(2, *G.clip_shape) * 2 - 1
    l1, mse = loss(registry, "reconstruction"), loss(registry, "reconstruction", distance="mse")
    assert l1(ctx_of({"video": video, "reconstruction": video.clone()}), "generator").item() == 0.0
    out = {"video": const_video(0.0), "reconstruction": const_video(0.5)}
    assert l1(ctx_of(out), "generator").item() == pytest.approx(0.5)
    assert mse(ctx_of(out), "generator").item() == pytest.approx(0.25)


def test_reconstruction_of_the_first_frame_only(registry):
    """frames = "first" scores frame 1 alone: later frames, however wrong, add nothing."""
    video = const_video(0.0)
    recon = video.clone()
    recon[:, 1:] = 1.0
    out = {"video": video, "reconstruction": recon}
    assert loss(registry, "reconstruction", frames="first")(ctx_of(out), "generator").item() == 0.0
    assert loss(registry, "reconstruction")(ctx_of(out), "generator").item() > 0.5
    recon[:, 0] = 0.5
    assert loss(registry, "reconstruction", frames="first")(ctx_of(out), "generator").item() == pytest.approx(0.5)


def test_reconstruction_pyramid_known_answers(registry):
    """A ±1 checkerboard against zeros: distance 1 at full resolution, 0 once 2×2-averaged."""
    board = (torch.arange(G.height)[:, None] + torch.arange(G.width)[None, :]) % 2 * 2.0 - 1.0
    video = board.expand(2, *G.clip_shape).clone()
    out = {"video": torch.zeros_like(video), "reconstruction": video}
    assert loss(registry, "reconstruction")(ctx_of(out), "generator").item() == pytest.approx(1.0)
    assert loss(registry, "reconstruction", scales=2)(ctx_of(out), "generator").item() == pytest.approx(0.5)
    assert loss(registry, "reconstruction", scales=3)(ctx_of(out), "generator").item() == pytest.approx(1 / 3)
    # an offset survives every level: the mean over levels is the offset itself
    shifted = {"video": const_video(0.0), "reconstruction": const_video(0.25)}
    assert loss(registry, "reconstruction", scales=3)(ctx_of(shifted), "generator").item() == pytest.approx(0.25)


def test_reconstruction_pyramid_too_deep_for_the_frames(registry):
    small = torch.zeros(1, 2, 3, 4, 4)
    with pytest.raises(vidgan_kit.VidganError, match="4 pyramid levels need frames of at least 8 pixels"):
        loss(registry, "reconstruction", scales=4)(ctx_of({"video": small, "reconstruction": small}), "generator")

def test_missing_output_is_a_clear_error(registry):
    with pytest.raises(vidgan_kit.VidganError, match="needs the model output 'reconstruction'"):
        loss(registry, "reconstruction")(ctx_of({"video": const_video(0.0)}), "generator")


# -- adversarial losses with known-answer discriminators -------------------------------------------------


class MeanImageD(ImageDiscriminator):
    """Logit = mean pixel of the frame (ignores the condition); records how many pairs it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))
        self.seen: list[int] = []

    def forward(self, condition: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        self.seen.append(frame.shape[0])
        return frame.mean(dim=(1, 2, 3)) + self.bias


class MeanVideoD(VideoDiscriminator):
    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return video.mean(dim=(1, 2, 3, 4)) + self.bias


def adversarial_outputs(b: int = 2) -> dict[str, Any]:
    """Real clips read +0.5 to the mean discriminators, generated ones -0.5."""
    video = const_video(0.5, b)
    return {
        "video": video,
        "video_y": video.roll(1, dims=0),
        "target": video[:, 0],
        "reconstruction": const_video(-0.5, b, requires_grad=True),
        "transfer": const_video(-0.5, b, requires_grad=True),
        "sample": const_video(-0.5, b, requires_grad=True),
    }


@pytest.mark.parametrize(
    "params,d_value,g_value",
    [
        # per part: real 0.5 + ½ (fake 0.5 + mismatch 1.5) = 1.5; G: ½ · 0.5 per part
        ({}, 3.0, 0.5),
        # per part: real 0.5 + fake 0.5; G: 0.5 per part
        ({"mismatch": False}, 2.0, 1.0),
        # x part only has its mismatch term; y part unchanged
        ({"fakes": ["transfer", "sample"]}, (0.5 + 1.5) + 1.5, 0.25),
    ],
)
def test_image_adversarial_known_answers(registry, params, d_value, g_value):
    d = MeanImageD()
    ctx = ctx_of(adversarial_outputs(), StubModel(image_discriminator=d))
    li = loss(registry, "image_adversarial", gan="hinge", frames_per_video=3, **params)
    assert li(ctx, "discriminator").item() == pytest.approx(d_value)
    assert li(ctx, "generator").item() == pytest.approx(g_value)
    assert len(d.seen) == 2, "one batched discriminator call per phase"


def test_image_adversarial_pair_count(registry):
    d = MeanImageD()
    b, k = 2, 3
    ctx = ctx_of(adversarial_outputs(b), StubModel(image_discriminator=d))
    loss(registry, "image_adversarial", frames_per_video=k)(ctx, "discriminator")
    # real_x, fake_x, mismatch_x, mismatch_y: b·k each; fake_y: 2·b·k; real_y (y, y): b
    assert d.seen == [b * k * 6 + b]


def test_image_adversarial_gradient_routing(registry):
    d = MeanImageD()
    out = adversarial_outputs()
    li = loss(registry, "image_adversarial")
    li(ctx_of(out, StubModel(image_discriminator=d)), "discriminator").backward()
    assert d.bias.grad is not None
    assert all(out[k].grad is None for k in ("reconstruction", "transfer", "sample")), "D phase must detach fakes"
    d.bias.grad = None
    li(ctx_of(out, StubModel(image_discriminator=d)), "generator").backward()
    assert d.bias.grad is None, "the generator phase must not leave gradients in D"
    assert all(out[k].grad is not None for k in ("reconstruction", "transfer", "sample"))


@pytest.mark.parametrize(
    "params,d_value,g_value",
    [({}, 2.0, 1.0), ({"fakes": ["transfer"]}, 1.0, 0.5), ({"gan": "least_squares"}, 2 * (0.125 + 0.125), 2 * 1.125)],
)
def test_video_adversarial_known_answers(registry, params, d_value, g_value):
    d = MeanVideoD()
    ctx = ctx_of(adversarial_outputs(), StubModel(video_discriminator=d))
    lv = loss(registry, "video_adversarial", **{"gan": "hinge", **params})
    assert lv(ctx, "discriminator").item() == pytest.approx(d_value)
    assert lv(ctx, "generator").item() == pytest.approx(g_value)


def test_video_adversarial_gradient_routing(registry):
    d = MeanVideoD()
    out = adversarial_outputs()
    lv = loss(registry, "video_adversarial")
    lv(ctx_of(out, StubModel(video_discriminator=d)), "discriminator").backward()
    assert d.bias.grad is not None and out["sample"].grad is None
    d.bias.grad = None
    lv(ctx_of(out, StubModel(video_discriminator=d)), "generator").backward()
    assert d.bias.grad is None and out["sample"].grad is not None


def test_frozen_call_passes_gradients_to_inputs_only():
    lin = nn.utils.parametrizations.spectral_norm(nn.Linear(3, 1))
    x = torch.randn(4, 3, requires_grad=True)
    frozen_call(lin, x).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in lin.parameters())


# -- with the real networks --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_toolkit_contract(registry, name):
    s = ContractSettings()
    check_component("loss", name, registry=registry, settings=s, model=tiny_model(registry, s.geometry))


@pytest.mark.parametrize("name", ["image_adversarial", "video_adversarial"])
def test_discriminator_phase_loss_decreases_when_d_trains(registry, name):
    model = tiny_model(registry, G)
    video = torch.rand(4, *G.clip_shape) * 2 - 1
    with torch.no_grad():
        outputs = model({"video": video})  # a fixed batch of fakes
    ctx = LossContext(model=model, batch={"video": video}, outputs=outputs)
    term = loss(registry, name)
    opt = torch.optim.Adam(model.parameter_groups()["discriminator"], lr=2e-3, betas=(0.5, 0.999))
    values = []
    for _ in range(12):
        torch.manual_seed(7)  # the same S_I frame draws every step
        value = term(ctx, "discriminator")
        values.append(value.item())
        opt.zero_grad()
        value.backward()
        opt.step()
    assert values[-1] < values[0] - 0.05, values


