"""Per-frame SSIM / PSNR / L1 against answers known in closed form."""

from __future__ import annotations

import math

import kornia
import pytest
import torch

from vidgan_kit.errors import ShapeError
from vidgan_kit.eval.frames import l1_frames, psnr_frames, ssim_constant, ssim_frames, to_unit


def _video(seed: int = 0, shape=(2, 5, 3, 24, 24)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # smooth-ish content in [-0.8, 0.8] so noise does not saturate at the range limits
    base = torch.rand(shape, generator=g)
    base = torch.nn.functional.avg_pool2d(base.flatten(0, 1), 3, 1, 1).view(shape)
    return (base * 1.6 - 0.8).clamp(-0.8, 0.8)


def test_identical_videos_ssim_one_psnr_capped_and_flagged():
    v = _video()
    ssim = ssim_frames(v, v)
    assert ssim.shape == (2, 5) and ssim.dtype == torch.float64
    assert torch.allclose(ssim, torch.ones_like(ssim), atol=1e-6)
    psnr, capped = psnr_frames(v, v)
    assert torch.all(psnr == 100.0) and capped.all()
    psnr50, capped50 = psnr_frames(v, v, cap_db=50.0)
    assert torch.all(psnr50 == 50.0) and capped50.all()
    assert torch.all(l1_frames(v, v) == 0)


def test_noisy_copies_are_monotone_in_the_noise_and_in_known_ranges():
    v = _video()
    noise = torch.randn(v.shape, generator=torch.Generator().manual_seed(1))
    ssim_prev, psnr_prev = 1.0, math.inf
    for sigma in (0.01, 0.03, 0.1, 0.3):  # on [-1, 1]; σ/2 on [0, 1]
        noisy = v + sigma * noise
        ssim, (psnr, capped) = ssim_frames(noisy, v).mean().item(), psnr_frames(noisy, v)
        psnr = psnr.mean().item()
        assert not capped.any()
        assert ssim < ssim_prev and psnr < psnr_prev
        # Gaussian noise of std σ/2 on [0, 1] (no clipping here): PSNR = -20 log10(σ/2), within 0.3 dB
        assert psnr == pytest.approx(-20 * math.log10(sigma / 2), abs=0.3)
        ssim_prev, psnr_prev = ssim, psnr
    assert 0.0 < ssim_prev < 0.6  # heavy noise destroys structure


def test_shifted_copy_scores_between_identity_and_noise():
    v = _video(shape=(1, 3, 3, 32, 32))
    shifted = torch.roll(v, shifts=1, dims=-1)
    ssim = ssim_frames(shifted, v).mean().item()
    assert 0.2 < ssim < 0.999
    psnr, _ = psnr_frames(shifted, v)
    assert 10 < psnr.mean().item() < 60


def test_constant_videos_have_closed_form_scores():
    a, b = 0.25, 0.75  # on [0, 1]
    va = torch.full((1, 2, 3, 16, 16), a * 2 - 1)
    vb = torch.full((1, 2, 3, 16, 16), b * 2 - 1)
    assert torch.allclose(ssim_frames(va, vb), torch.full((1, 2), ssim_constant(a, b), dtype=torch.float64), atol=1e-9)
    assert ssim_constant(a, a) == 1.0
    psnr, capped = psnr_frames(va, vb)
    assert torch.allclose(psnr, torch.full((1, 2), 10 * math.log10(1 / (a - b) ** 2), dtype=torch.float64))
    assert not capped.any()
    assert torch.allclose(l1_frames(va, vb), torch.full((1, 2), 0.5, dtype=torch.float64))


def test_psnr_per_frame_equals_kornia_on_each_frame():
    v, w = _video(2), _video(3)
    psnr, _ = psnr_frames(v, w)
    for i in range(2):
        for t in range(5):
            ref = kornia.metrics.psnr(to_unit(v[i, t]), to_unit(w[i, t]), 1.0)
            assert psnr[i, t].item() == pytest.approx(ref.item(), rel=1e-5)


def test_values_outside_the_range_are_clamped():
    v = _video()
    assert torch.allclose(ssim_frames(v * 5, (v * 5).clamp(-1, 1)), torch.ones(2, 5, dtype=torch.float64), atol=1e-6)


def test_errors_name_the_problem():
    v = _video()
    with pytest.raises(ShapeError, match="differ in shape"):
        ssim_frames(v, v[:, :3])
    with pytest.raises(ShapeError, match=r"\[B, T, C, H, W\]"):
        psnr_frames(v[0], v[0])
    with pytest.raises(ShapeError, match="smaller than the 11x11 window"):
        ssim_frames(v[..., :8, :8], v[..., :8, :8])
    assert ssim_frames(v[..., :8, :8], v[..., :8, :8], padding="same").shape == (2, 5)
    with pytest.raises(ValueError, match="odd"):
        ssim_frames(v, v, window=10)
