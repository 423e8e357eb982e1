"""Every recipe the repository ships validates and builds its model and losses, and its model's
motion travels only through E_M: a transfer reads its source clip through E_M alone, a sample
through the generator's draws alone. A model that cannot transfer (MoCoGAN) offers no part of a
transfer and is refused plainly; its samples, too, depend on the generator's draws alone.

The data of the paper's data sets is not here (CI must not depend on it): building the
model and the losses needs only the registry, so that much is checked for all of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidgan_kit import load_registry
from vidgan_kit.errors import VidganError
from vidgan_kit.inference import Pipeline
from vidgan_kit.interfaces import MotionPosterior
from vidgan_kit.recipe import apply_overrides, load_recipe, read_recipe_table, validate_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))
REGISTRY = load_registry()

#: A recipe's model at a size a test builds and runs in well under a second: the clip geometry,
#: and per component type the options that set its width.
TINY_VIDEO = {"frames": 8, "height": 16, "width": 16}
TINY_WIDTHS = {
    "conv_content_encoder": {"base_channels": 4},
    "layered_content_encoder": {"width": 4},
    "spatial_content_encoder": {"features": 4},
    "conv3d_motion_encoder": {"base_channels": 4},
    "keypoint_motion_encoder": {"width": 4, "hidden": 16},
    "lstm_temporal_generator": {"hidden": 16},
    "conv_frame_decoder": {"base_channels": 4},
    "keypoint_frame_decoder": {"width": 4, "motion_width": 4},
    "conditional_image_discriminator": {"base_channels": 4},
    "conv3d_video_discriminator": {"base_channels": 4},
    "frame_discriminator": {"base_channels": 4},
}


def test_the_flagship_recipes_are_there():
    names = {p.name for p in RECIPES}
    assert {"dual_mtgan.toml", "dual_mtgan_paper_literal.toml", "tiny.toml", "weizmann.toml", "uva_nemo.toml",
            "bair.toml", "mocogan.toml", "mocogan_weizmann.toml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_a_shipped_recipe_builds_its_model_and_losses(path):
    recipe = load_recipe(path, REGISTRY)
    model = REGISTRY.build("model", recipe.model, geometry=recipe.video.geometry(), registry=REGISTRY)
    assert sum(p.numel() for p in model.parameters()) > 0
    for name, term in recipe.losses.items():
        loss = REGISTRY.build("loss", term.spec)
        assert set(loss.phases) <= {p.name for p in recipe.phases}, f"{path.name}: losses.{name}"


def tiny_model(path: Path) -> torch.nn.Module:
    """``path``'s model at :data:`TINY_VIDEO` with :data:`TINY_WIDTHS`, in eval mode, every weight
    moved off its initial value by random noise (a read-out that starts at zero, as a layered
    decoder's does, would otherwise ignore every motion code)."""
    table = read_recipe_table(path)
    overrides = [f"video.{key}={value}" for key, value in TINY_VIDEO.items()]
    for slot, spec in table["model"].items():
        if isinstance(spec, dict):
            overrides += [f"model.{slot}.{key}={value}" for key, value in TINY_WIDTHS.get(spec.get("type"), {}).items()]
    recipe = validate_recipe(apply_overrides(table, overrides), REGISTRY, source=str(path))
    torch.manual_seed(0)
    model = REGISTRY.build("model", recipe.model, geometry=recipe.video.geometry(), registry=REGISTRY)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _clips(seed: int, b: int = 2) -> torch.Tensor:
    g = TINY_VIDEO
    return torch.rand(b, g["frames"], 3, g["height"], g["width"], generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_a_transfer_reads_its_source_only_through_the_motion_encoder(path, monkeypatch):
    """With E_M free, two different source clips give different transfers; with E_M's forward held
    to one posterior, they give the same transfer bit for bit: nothing else reads the source."""
    model = tiny_model(path)
    image, first, second = _clips(1)[:, 0], _clips(2), _clips(3)
    if getattr(model, "transfer", None) is None:
        offered = [m for m in ("transfer", "encode_motion", "animate") if callable(getattr(model, m, None))]
        assert not offered, f"{path.name}: a model without transfer() offers part of one: {offered}"
        with pytest.raises(VidganError, match=rf"'{model.component_spec.type}' cannot transfer motion.*generate"):
            Pipeline(model, notes=lambda _m: None).transfer(image[0], first[0])
        return
    assert hasattr(model, "motion_encoder"), f"{path.name}: a model needs an E_M slot (motion_encoder) for transfer"
    free = torch.equal(model.transfer(image, first), model.transfer(image, second))
    assert not free, f"{path.name}: the transfer ignores its source clip"
    d = model.motion_encoder.motion_dim
    held = MotionPosterior(torch.randn(2, d, generator=torch.Generator().manual_seed(4)), torch.zeros(2, d))
    monkeypatch.setattr(model.motion_encoder, "forward", lambda video: held)
    through_e_m = torch.equal(model.transfer(image, first), model.transfer(image, second))
    assert through_e_m, f"{path.name}: the transfer reads its source clip other than through E_M"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_a_sample_depends_on_the_generators_seed_alone(path, monkeypatch):
    """The same seed gives the same clips whatever the global random stream does; another seed
    other clips; and no sample runs E_M (its forward raises here)."""
    model = tiny_model(path)
    image = _clips(1)[:, 0] if model.samples_from == "image" else None  # an unconditional model draws its content

    def no_motion_clip(video):
        raise AssertionError("sample() ran the motion encoder")

    if hasattr(model, "motion_encoder"):
        monkeypatch.setattr(model.motion_encoder, "forward", no_motion_clip)
    torch.manual_seed(5)
    a = model.sample(image, 2, torch.Generator().manual_seed(7))
    torch.manual_seed(6)
    b = model.sample(image, 2, torch.Generator().manual_seed(7))
    c = model.sample(image, 2, torch.Generator().manual_seed(8))
    assert torch.equal(a, b), f"{path.name}: a sample depends on more than its generator"
    assert not torch.equal(a, c), f"{path.name}: a sample ignores its generator's draws"


@pytest.mark.parametrize(("recipe", "data"), [("my_videos.toml", "video_folder"),
                                            ("weizmann_on_shapes.toml", "synthetic_shapes")])
def test_the_real_footage_model_trains_other_data_unchanged(recipe, data):
    """A user's videos and the synthetic set train recipes/weizmann.toml's model: the same
    model, losses, phases and training, only the data (and the name) differ."""
    mine = load_recipe(REPO / "recipes" / recipe, REGISTRY).model_dump()
    weizmann = load_recipe(REPO / "recipes" / "weizmann.toml", REGISTRY).model_dump()
    differing = {key for key in weizmann if mine[key] != weizmann[key]}
    assert differing == {"name", "data"}
    assert mine["data"]["type"] == data
