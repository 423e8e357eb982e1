"""train.keep_best: the best validation value's weights, compared in the metric's direction."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vidgan_kit.recipe import validate_recipe
from vidgan_kit.training.best import KeepBest


@pytest.fixture
def model_and_recipe(host, toy_table):
    recipe = validate_recipe(toy_table, host.registry)
    torch.manual_seed(0)
    model = host.registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=host.registry)
    return model, recipe, host.registry


def test_lower_is_better_keeps_the_lowest_and_a_resume_compares_with_it(tmp_path, model_and_recipe):
    model, recipe, registry = model_and_recipe
    offer = lambda best, value, step: best.offer({"val/recon_l1": value}, step, model=model,  # noqa: E731
                                                registry=registry, recipe=recipe, ema=None)
    best = KeepBest(tmp_path, "val/recon_l1", enabled=True)
    assert [offer(best, v, s) for s, v in [(1, 0.5), (2, 0.7), (3, math.nan), (4, 0.4)]] == [True, False, False, True]
    record = json.loads((tmp_path / "best" / "best.json").read_text())
    assert record == {"step": 4, "metric": "val/recon_l1", "value": 0.4}
    assert [p.name for p in (tmp_path / "best").glob("step-*")] == ["step-00000004"]  # one kept

    again = KeepBest(tmp_path, "val/recon_l1", enabled=True)  # a resumed run
    assert again.value == 0.4 and not offer(again, 0.45, 5) and offer(again, 0.3, 6)


def test_higher_is_better_and_disabled(tmp_path, model_and_recipe):
    model, recipe, registry = model_and_recipe
    best = KeepBest(tmp_path, "val/recon_psnr", enabled=True)
    kw = {"model": model, "registry": registry, "recipe": recipe, "ema": None}
    assert best.offer({"val/recon_psnr": 20.0}, 1, **kw) and not best.offer({"val/recon_psnr": 19.0}, 2, **kw)
    assert not best.offer({"val/recon_l1": 0.1}, 3, **kw)  # the metric is missing: nothing to compare
    off = KeepBest(tmp_path / "off", "val/recon_psnr", enabled=False)
    assert not off.offer({"val/recon_psnr": 30.0}, 1, **kw) and not (tmp_path / "off").exists()
