"""Periodic validation during training and keeping the best checkpoint."""

import json
from pathlib import Path

import pytest

from vidgan_kit import PluginHost
from vidgan_kit.errors import RecipeError
from vidgan_kit.recipe import load_recipe
from vidgan_kit.training import train

TINY = Path(__file__).resolve().parents[2] / "recipes" / "tiny.toml"


def test_validation_metrics_logged_and_best_kept(tmp_path):
    host = PluginHost.create()
    recipe = load_recipe(TINY, host.registry, ["train.validate_every=2", "train.keep_best=true",
                                               "train.validate_metric=val/recon_psnr", "train.sample_every=0"])
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    validated = [m for m in lines if "val/recon_psnr" in m]
    assert [m["step"] for m in validated] == [2, 4]
    best = json.loads((tmp_path / "run" / "best" / "best.json").read_text())
    assert best["metric"] == "val/recon_psnr"
    assert best["value"] == max(m["val/recon_psnr"] for m in validated)
    assert (tmp_path / "run" / "best" / f"step-{best['step']:08d}" / "index.json").is_file()


def test_unknown_validation_metric_is_a_recipe_error():
    host = PluginHost.create()
    with pytest.raises(RecipeError, match="unknown validation metric 'val/nope'"):
        load_recipe(TINY, host.registry, ["train.validate_metric=val/nope"])
