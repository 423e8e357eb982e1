"""ONNX round trips of every Dual-MTGAN family the shipped recipes use, at a tiny size:
transfer = animate(image, encode_motion(video)) and sampling = animate(image, z) in
onnxruntime give the model's own frames."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import vidgan_kit
from vidgan_kit.export import MANIFEST, TOLERANCE, check_onnx, export_onnx
from vidgan_kit.recipe import load_recipe

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "onnxscript")),
    reason="the export extra (onnx, onnxruntime, onnxscript) is not installed",
)

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
SMALL = ["video.frames=4", "video.height=16", "video.width=16"]
#: Each family at a tiny size: the conv path (tiny, bair, uva_nemo, the paper's), the layered
#: path (dual_mtgan, weizmann) and the warp path, each decoder's motion read-out random (it
#: starts as the identity), so that the frames move.
FAMILIES = {
    "conv": ("tiny.toml", []),
    "layered": ("dual_mtgan.toml", [
        *SMALL, "model.content_encoder.width=8", "model.motion_encoder.width=8", "model.motion_encoder.hidden=16",
        "model.temporal_generator.components=3", "model.decoder.motion_init_std=0.5"]),
    "warp": ("dual_mtgan_warp.toml", [
        *SMALL, "model.content_encoder.features=8", "model.motion_encoder.base_channels=8",
        "model.temporal_generator.hidden=16"]),
}


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def exported(request, registry, tmp_path_factory):
    recipe_file, overrides = FAMILIES[request.param]
    recipe = load_recipe(RECIPES / recipe_file, registry, overrides)
    torch.manual_seed(0)
    model = registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=registry).eval()
    head = getattr(model.decoder, "motion_head", None)
    if head is not None and not head.weight.any():  # identity maps at initialisation: give the motion a say
        torch.nn.init.normal_(head.weight, std=0.5)
    if model.config.sample_from == "posterior":  # as if training had fitted the aggregate posterior
        d = model.motion_encoder.motion_dim
        model.posterior_weight.fill_(0.5)
        model.posterior_mean_sum.copy_(0.5 * torch.linspace(-1, 1, d))
        model.posterior_square_sum.copy_(0.5 * (torch.linspace(-1, 1, d) ** 2 + torch.linspace(0.1, 2, d) ** 2))
    folder = tmp_path_factory.mktemp(request.param)
    manifest = export_onnx(model, folder)
    return model, folder, manifest


def sessions(folder: Path) -> dict:
    import onnxruntime as ort

    return {name: ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])
            for name in ("encode_motion", "animate")}


def inputs(model, b: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = model.geometry
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, *g.frame_shape, generator=gen) * 2 - 1, torch.rand(b, *g.clip_shape, generator=gen) * 2 - 1


def test_each_graph_matches_torch_at_batch_sizes_1_and_3(exported):
    model, folder, _ = exported
    diffs = check_onnx(model, folder)
    assert set(diffs) == {"encode_motion", "animate"}
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_transfer_through_the_graphs_is_the_models(exported):
    model, folder, _ = exported
    run = sessions(folder)
    image, video = inputs(model, 3, seed=1)
    z = run["encode_motion"].run(None, {"video": video.numpy()})[0]
    clip = run["animate"].run(None, {"image": image.numpy(), "z": z})[0]
    want = model.transfer(image, video)
    torch.testing.assert_close(torch.from_numpy(clip), want, rtol=0, atol=TOLERANCE)
    # The motion reaches the frames: another source clip gives another transfer.
    other = run["encode_motion"].run(None, {"video": video.flip(0).numpy()})[0]
    moved = run["animate"].run(None, {"image": image.numpy(), "z": other})[0]
    assert np.abs(moved - clip).max() > 1e-3


def test_sampling_draws_z_as_model_json_says(exported):
    model, folder, manifest = exported
    draws = json.loads((folder / MANIFEST).read_text())["motion_draws"]
    assert draws == manifest["motion_draws"]
    fitted = model.fitted_posterior()
    scale = model.config.sample_scale
    d = model.motion_encoder.motion_dim
    want_mean = torch.zeros(d) if fitted is None else fitted[0]
    want_std = scale * (torch.ones(d) if fitted is None else fitted[1])
    torch.testing.assert_close(torch.tensor(draws["mean"]), want_mean)
    torch.testing.assert_close(torch.tensor(draws["std"]), want_std)
    image, _ = inputs(model, 2, seed=2)
    eps = np.random.default_rng(0).standard_normal((2, d)).astype(np.float32)
    z = np.asarray(draws["mean"], np.float32) + np.asarray(draws["std"], np.float32) * eps
    clip = sessions(folder)["animate"].run(None, {"image": image.numpy(), "z": z})[0]
    torch.testing.assert_close(torch.from_numpy(clip), model.animate(image, torch.from_numpy(z)), rtol=0, atol=TOLERANCE)


def test_model_json_describes_the_graphs(exported):
    model, folder, _ = exported
    manifest = json.loads((folder / MANIFEST).read_text())
    g = model.geometry
    assert manifest["model"] == "dual_mtgan" and manifest["opset"] >= 16  # GridSample
    assert manifest["geometry"] == {"frames": g.frames, "channels": g.channels, "height": g.height, "width": g.width}
    assert manifest["tasks"]["transfer"] == "animate(image, encode_motion(video))"
    encode, animate = manifest["graphs"]["encode_motion"], manifest["graphs"]["animate"]
    assert [t["name"] for t in encode["inputs"]] == ["video"] and encode["inputs"][0]["shape"] == ["batch", *g.clip_shape]
    assert [t["name"] for t in animate["inputs"]] == ["image", "z"]
    assert animate["inputs"][1]["shape"] == encode["outputs"][0]["shape"] == ["batch", model.motion_encoder.motion_dim]
    assert animate["outputs"][0]["shape"] == ["batch", *g.clip_shape] and animate["outputs"][0]["values"] == "[-1, 1]"
