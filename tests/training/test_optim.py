"""Optimisers per parameter group, with learning-rate factors for parts of a group."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidgan_kit.errors import RecipeError, VidganError
from vidgan_kit.training.optim import build_optimizers

from .toys import make_host, make_recipe


def _model() -> nn.Module:
    model = nn.Module()
    model.encoder = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model.encoder_head = nn.Linear(2, 1)  # shares the text "encoder" but not the name component
    model.critic = nn.Linear(2, 1)
    return model


def _build(multipliers: dict[str, float]):
    host = make_host()
    recipe = make_recipe(host, optimizers={"generator": {"lr": 1e-3, "lr_multipliers": multipliers}})
    model = _model()
    groups = {"generator": [*model.encoder.parameters(), *model.encoder_head.parameters()],
              "discriminator": list(model.critic.parameters())}
    names = {id(p): n for n, p in model.named_parameters()}
    return model, build_optimizers(recipe, groups, lr_scale=2.0, names=names)


def _lr_of(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> float:
    return next(g["lr"] for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_longest_prefix_sets_the_learning_rate_of_whole_name_components():
    model, opts = _build({"encoder": 3.0, "encoder.1": 5.0})
    opt = opts["generator"]
    assert _lr_of(opt, model.encoder[0].weight) == pytest.approx(1e-3 * 3 * 2)  # times lr_scale 2
    assert _lr_of(opt, model.encoder[1].bias) == pytest.approx(1e-3 * 5 * 2)  # the longer key wins
    assert _lr_of(opt, model.encoder_head.weight) == pytest.approx(1e-3 * 2)  # "encoder" is not "encoder_head"
    assert len(opt.param_groups) == 3
    assert sum(len(g["params"]) for g in opt.param_groups) == 6  # every parameter once


def test_without_multipliers_one_param_group():
    _, opts = _build({})
    assert len(opts["generator"].param_groups) == 1


def test_a_key_that_matches_nothing_names_its_recipe_path():
    with pytest.raises(VidganError) as err:
        _build({"encodr": 3.0})
    assert "optimizers.generator.lr_multipliers.encodr" in str(err.value)
    assert "encoder, encoder_head" in str(err.value)  # where the group's parameters live


def test_multipliers_must_be_positive():
    with pytest.raises(RecipeError, match=r"optimizers\.generator\.lr_multipliers\.encoder"):
        make_recipe(make_host(), optimizers={"generator": {"lr_multipliers": {"encoder": 0.0}}})
