"""A checkpoint of recipes/tiny.toml trained for 2 steps, shared by the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgan_kit import PluginHost
from vidgan_kit.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run directory whose latest checkpoint is step 2 of the tiny recipe (16x16, 4 frames)."""
    from vidgan_kit.training import train

    host = PluginHost.create()
    recipe = load_recipe(REPO / "recipes" / "tiny.toml", host.registry,
                         ["train.steps=2", "train.sample_every=0", "train.checkpoint_every=2"])
    run_dir = tmp_path_factory.mktemp("eval") / "tiny"
    train(recipe, host=host, run_dir=run_dir, quiet=True)
    return run_dir
