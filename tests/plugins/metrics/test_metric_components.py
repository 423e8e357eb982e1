"""The built-in metric components, built through the registry like any component."""

from __future__ import annotations

import pytest
import torch

from vidgan_kit import load_registry
from vidgan_kit.errors import RecipeError
from vidgan_kit.eval import DistributionMetric, FrameMetric, WeightsMissingError
from vidgan_kit.testing import check_component

REGISTRY = load_registry()


@pytest.mark.parametrize("name", ["ssim", "psnr", "l1", "fvd"])
def test_metric_config_contract(name):
    check_component("metric", name, registry=REGISTRY)  # config round trip for kinds without a tensor contract


def test_frame_metrics_accumulate():
    v = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    psnr = REGISTRY.build("metric", "psnr", {"cap_db": 60})
    assert isinstance(psnr, FrameMetric) and psnr.higher_is_better and psnr.unit == "dB"
    psnr.update(v, v)
    psnr.update(v, -v)
    out = psnr.compute()
    assert out["frames"] == 12 and out["capped_fraction"] == 0.5 and out["value"] < 60
    psnr.reset()
    assert psnr.compute()["frames"] == 0
    ssim = REGISTRY.build("metric", "ssim", {"window": 7, "padding": "same"})
    assert ssim.describe()["window"] == 7 and ssim.describe()["window_type"] == "gaussian"
    l1 = REGISTRY.build("metric", "l1")
    l1.update(v, v)
    assert l1.compute() == {"value": 0.0, "frames": 6.0} and l1.higher_is_better is False


def test_metric_options_are_validated():
    with pytest.raises(RecipeError, match="windw"):
        REGISTRY.build("metric", "ssim", {"windw": 7})
    with pytest.raises(RecipeError, match="width_divisor must be 1"):
        REGISTRY.build("metric", "fvd", {"width_divisor": 4})


def test_fvd_with_a_random_narrow_extractor():
    fvd = REGISTRY.build("metric", "fvd", {"weights": "random", "width_divisor": 16, "resize": 32})
    assert isinstance(fvd, DistributionMetric)
    g = torch.Generator().manual_seed(0)
    real = torch.rand((6, 4, 3, 16, 16), generator=g) * 2 - 1
    fvd.update(real, real)
    assert fvd.compute()["value"] == pytest.approx(0.0, abs=1e-6)
    fvd.reset()
    fvd.update(torch.zeros_like(real) + 0.5 * torch.rand(real.shape, generator=g), real)
    far = fvd.compute()
    assert far["value"] > 0 and far["n_fake"] == 6 and far["n_real"] == 6
    grey = fvd.features(real[:, :, :1])  # grey clips are repeated to RGB
    assert grey.shape == (6, 400)


def test_fvd_without_weights_says_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGAN_CACHE", str(tmp_path))
    fvd = REGISTRY.build("metric", "fvd")  # building is cheap and needs no weights
    with pytest.raises(WeightsMissingError, match="vidgan weights fetch i3d"):
        fvd.check_ready()
    with pytest.raises(WeightsMissingError):
        fvd.features(torch.zeros(1, 16, 3, 32, 32))
