"""Laying resampled parts over the background (``vidgan_dual_mtgan/compositing.py``): the one-part function
with its hand-written backward gives autograd's values and gradients of the general formula."""

from __future__ import annotations

import pytest
import torch

from vidgan_dual_mtgan.compositing import _any_parts, composite


def _layers(parts: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Resampled colours and alpha [2, parts, 4, 3, 5, 6] (alpha over [0, 1.1]: bilinear sums can pass 1
    by a rounding), background and residual [2, 3, 5, 6], in float64; colours past [-1, 1] so that some
    frames clamp."""
    moved = torch.rand(2, parts, 4, 3, 5, 6, generator=generator, dtype=torch.float64) * 3 - 1.5
    moved[:, :, 3:] = torch.rand(2, parts, 1, 3, 5, 6, generator=generator, dtype=torch.float64) * 1.1
    background = torch.rand(2, 3, 5, 6, generator=generator, dtype=torch.float64) * 2 - 1
    residual = 0.2 * torch.randn(2, 3, 5, 6, generator=generator, dtype=torch.float64)
    return moved, background, residual


def test_one_part_gives_the_general_formulas_frames_and_gradients():
    generator = torch.Generator().manual_seed(0)
    inputs = _layers(1, generator)
    weights = torch.randn(2, 3, 3, 5, 6, generator=generator, dtype=torch.float64)
    results = []
    for function in (composite, _any_parts):
        leaves = [x.clone().requires_grad_() for x in inputs]
        frames = function(*leaves)
        (frames * weights).sum().backward()
        results.append((frames, *(leaf.grad for leaf in leaves)))
    assert results[0][0].shape == (2, 3, 3, 5, 6) and results[0][0].is_contiguous()
    assert (results[0][0].abs() == 1).any() and (results[0][0].abs() < 1).any()  # both sides of the clamp
    for got, expected in zip(results[0], results[1]):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_one_part_without_gradients_gives_the_same_frames():
    """Nothing to differentiate (no_grad, inference mode, or no input asking for it): the formula
    alone, the same frames as the function with its backward."""
    inputs = _layers(1, torch.Generator().manual_seed(3))
    expected = composite(*[x.clone().requires_grad_() for x in inputs]).detach()
    assert (expected.abs() == 1).any() and (expected.abs() < 1).any()  # both sides of the clamp
    with torch.no_grad():
        plain = composite(*inputs)
    with torch.inference_mode():
        inferred = composite(*inputs)
    for frames in (plain, inferred, composite(*inputs)):
        assert frames.shape == expected.shape and frames.is_contiguous()
        assert torch.equal(frames, expected)


def test_one_part_passes_gradcheck_away_from_the_kinks():
    generator = torch.Generator().manual_seed(1)
    moved, background, residual = _layers(1, generator)
    moved[:, :, :3] *= 0.2  # every frame inside (-1, 1), alpha away from 1
    moved[:, :, 3:] *= 0.8
    leaves = [x.requires_grad_() for x in (moved, background * 0.5, residual)]
    assert torch.autograd.gradcheck(composite, leaves)


@pytest.mark.parametrize("needs", [(False, True, False), (False, False, True), (True, False, False)])
def test_one_part_gives_the_gradients_asked_for(needs):
    inputs = [x.requires_grad_(need) for x, need in zip(_layers(1, torch.Generator().manual_seed(2)), needs)]
    composite(*inputs).sum().backward()
    assert [x.grad is not None for x in inputs] == list(needs)


def test_two_parts_share_the_pixel_they_both_cover():
    moved = torch.zeros(1, 2, 4, 1, 1, 1)
    moved[0, 0, :3], moved[0, 1, :3] = 0.8, -0.4  # the parts' colours
    moved[0, :, 3] = 1.0  # both cover the pixel fully
    frames = composite(moved, torch.full((1, 3, 1, 1), 0.5), torch.zeros(1, 3, 1, 1))
    torch.testing.assert_close(frames, torch.full((1, 1, 3, 1, 1), 0.2))  # their mean, no background


def test_a_frame_exactly_at_the_bound_passes_its_gradient_as_torch_clamp_does():
    moved = torch.ones(1, 1, 4, 1, 1, 1)  # colour 1, fully covered: 0.5 + 1 * (1 - 0.5) = 1 exactly
    residual = torch.zeros(1, 3, 1, 1, requires_grad=True)
    composite(moved, torch.full((1, 3, 1, 1), 0.5), residual).sum().backward()
    assert torch.equal(residual.grad, torch.ones(1, 3, 1, 1))
