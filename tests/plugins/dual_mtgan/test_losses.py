"""Dual-MTGAN's consistency losses, L_C and L_M: known answers, gradient routing, contracts
(their registration: ``test_plugin.py``)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import vidgan_kit
from vidgan_kit.interfaces import MotionEncoder, MotionPosterior
from vidgan_kit.testing import ContractSettings, check_component

from tests.plugins.losses.loss_context import StubModel, const_video, ctx_of, loss, tiny_model

LOSSES = ["content_consistency", "motion_consistency"]


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


@pytest.mark.parametrize("name", LOSSES)
def test_toolkit_contract(registry, name):
    s = ContractSettings()
    check_component("loss", name, registry=registry, settings=s, model=tiny_model(registry, s.geometry))


# -- L_C ------------------------------------------------------------------------------------------------


def test_content_consistency_known_answers(registry):
    lc = loss(registry, "content_consistency")
    constant = torch.randn(3, 1, 8).expand(3, 5, 8)
    assert lc(ctx_of({"content_codes": constant}), "generator").item() == 0.0
    codes = torch.tensor([0.0, 1.0, 3.0]).view(1, 3, 1).expand(1, 3, 4)  # steps of 1 and 2
    assert lc(ctx_of({"content_codes": codes}), "generator").item() == pytest.approx(1.5)
    mse = loss(registry, "content_consistency", distance="mse")
    assert mse(ctx_of({"content_codes": codes}), "generator").item() == pytest.approx(2.5)


# -- L_M ------------------------------------------------------------------------------------------------


class MeanMotionEncoder(MotionEncoder):
    """Posterior mean = scale × mean pixel value, in every dimension (a known answer)."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.motion_dim = dim
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, video: torch.Tensor) -> MotionPosterior:
        m = (self.scale * video.mean(dim=(1, 2, 3, 4))).unsqueeze(1).expand(-1, self.motion_dim)
        return MotionPosterior(m, torch.zeros_like(m))


def motion_outputs(value: float, z: float, b: int = 2) -> dict[str, Any]:
    z_motion = torch.full((b, 3), z, requires_grad=True)
    return {
        "reconstruction": const_video(value, b, requires_grad=True),
        "transfer": const_video(value, b, requires_grad=True),
        "z_motion": z_motion,
        "posterior": MotionPosterior(torch.full((b, 3), 2 * z), torch.zeros(b, 3)),
    }


def test_motion_consistency_known_answers(registry):
    model = StubModel(motion_encoder=MeanMotionEncoder())
    lm = loss(registry, "motion_consistency")
    assert lm(ctx_of(motion_outputs(0.25, 0.25), model), "generator").item() == pytest.approx(0.0)
    assert lm(ctx_of(motion_outputs(0.25, 0.0), model), "generator").item() == pytest.approx(0.5)
    by_mean = loss(registry, "motion_consistency", target="mean")  # posterior mean is 2z
    assert by_mean(ctx_of(motion_outputs(0.5, 0.25), model), "generator").item() == pytest.approx(0.0)


def test_motion_consistency_weighted_by_precision_asks_least_of_the_noisiest_dimension(registry):
    """E_M reads 0 from the fakes and z_M is (0, 0, 1): the miss is all in the third dimension,
    counted in full where the source posterior is sure of it and a quarter where it is four times wider."""
    model = StubModel(motion_encoder=MeanMotionEncoder())
    out = motion_outputs(0.0, 0.0)
    out["z_motion"] = torch.tensor([[0.0, 0.0, 1.0]]).expand(2, 3)
    uniform = loss(registry, "motion_consistency")
    assert uniform(ctx_of(out, model), "generator").item() == pytest.approx(2 / 3)
    precision = loss(registry, "motion_consistency", weighting="precision")
    for variance, expected in ((0.5, 1.0), (1.0, 2 / 3), (4.0, 2 / 9)):  # weights 1/σ² over their mean
        out["posterior"] = MotionPosterior(torch.zeros(2, 3), torch.tensor([0.0, 0.0, math.log(variance)]).expand(2, 3))
        assert precision(ctx_of(out, model), "generator").item() == pytest.approx(expected)


@pytest.mark.parametrize("train_encoder", [False, True])
@pytest.mark.parametrize("detach_target", [True, False])
def test_motion_consistency_gradient_routing(registry, train_encoder, detach_target):
    encoder = MeanMotionEncoder()
    out = motion_outputs(0.5, 0.0)
    lm = loss(registry, "motion_consistency", train_encoder=train_encoder, detach_target=detach_target)
    lm(ctx_of(out, StubModel(motion_encoder=encoder)), "generator").backward()
    assert out["reconstruction"].grad is not None and out["transfer"].grad is not None
    assert (encoder.scale.grad is not None) == train_encoder
    assert (out["z_motion"].grad is not None) == (not detach_target)
