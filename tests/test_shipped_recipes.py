"""Every recipe the repository ships validates and builds its model and losses.

The data of the paper's data sets is not here (CI must not depend on it): building the
model and the losses needs only the registry, so that much is checked for all of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgan_kit import load_registry
from vidgan_kit.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))
REGISTRY = load_registry()


def test_the_flagship_recipes_are_there():
    names = {p.name for p in RECIPES}
    assert {"dual_mtgan.toml", "dual_mtgan_paper_literal.toml", "tiny.toml", "weizmann.toml", "uva_nemo.toml",
            "bair.toml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_a_shipped_recipe_builds_its_model_and_losses(path):
    recipe = load_recipe(path, REGISTRY)
    model = REGISTRY.build("model", recipe.model, geometry=recipe.video.geometry(), registry=REGISTRY)
    assert sum(p.numel() for p in model.parameters()) > 0
    for name, term in recipe.losses.items():
        loss = REGISTRY.build("loss", term.spec)
        assert set(loss.phases) <= {p.name for p in recipe.phases}, f"{path.name}: losses.{name}"
