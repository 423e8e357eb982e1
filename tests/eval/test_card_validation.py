"""The metric card's schema and checkpoint hash; validate() during training."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from pydantic import ValidationError

from vidgan_kit import PluginHost
from vidgan_kit.checkpoint import latest_checkpoint, load_model
from vidgan_kit.eval import VALIDATION_METRICS, EvalSettings, MetricCard, checkpoint_sha256, evaluate, validate
from vidgan_kit.recipe import load_recipe

from .conftest import REPO


def test_checkpoint_hash_covers_model_files_only(tiny_run, tmp_path):
    ckpt = tmp_path / "ck"
    shutil.copytree(latest_checkpoint(tiny_run), ckpt)
    sha, files = checkpoint_sha256(ckpt)
    assert "index.json" in files and "decoder/model.safetensors" in files
    assert not any(f.startswith("training_state") for f in files)
    (ckpt / "training_state.json").write_text("{}")  # optimiser state does not change the model
    assert checkpoint_sha256(ckpt)[0] == sha
    weights = ckpt / "decoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert checkpoint_sha256(ckpt)[0] != sha


def test_card_schema_round_trips_and_rejects_unknown_keys(tiny_run, tmp_path):
    host = PluginHost.create()
    card = evaluate(tiny_run, registry=host.registry, out_dir=tmp_path / "ev",
                    settings=EvalSettings(clips=2, samples=2, fvd=False, ci_method="bootstrap"))
    text = (tmp_path / "ev" / "metric_card.json").read_text()
    again = MetricCard.model_validate_json(text)
    assert again == card
    assert again.settings.ci_method == "bootstrap" and again.stochastic.per_metric.scores.ssim.method == "bootstrap"
    raw = json.loads(text)
    raw["settings"]["sampels_k"] = 3
    with pytest.raises(ValidationError, match="sampels_k"):
        MetricCard.model_validate(raw)
    raw = json.loads(text)
    raw["schema"] = "something-else"
    with pytest.raises(ValidationError):
        MetricCard.model_validate(raw)


def test_validate_returns_finite_numbers_and_leaves_the_run_untouched(tiny_run):
    host = PluginHost.create()
    recipe = load_recipe(REPO / "recipes" / "tiny.toml", host.registry)
    model = load_model(tiny_run, host.registry)
    model.train()
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    values = validate(model, host.registry, recipe, step=2, clips=3, samples=2)
    assert torch.equal(torch.random.get_rng_state(), state)  # the training's random stream is untouched
    assert model.training
    assert set(values) <= set(VALIDATION_METRICS)
    assert {"val/recon_psnr", "val/best_of_k_ssim", "val/transfer_l1", "val/motion_gain_l1"} <= set(values)
    assert all(math.isfinite(v) for v in values.values())
    assert values == validate(model, host.registry, recipe, step=4, clips=3, samples=2)  # same clips, same seeds
