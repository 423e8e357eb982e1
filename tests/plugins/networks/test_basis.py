"""basis_temporal_generator: per-frame codes as smooth curves on a fixed temporal basis."""

from __future__ import annotations

import math

import pytest
import torch

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import RecipeError, ShapeError
from vidgan_builtin.networks.basis import temporal_basis

G = VideoGeometry(frames=16, height=32, width=32)


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def generator(registry, motion_dim: int = 4, **params):
    torch.manual_seed(0)
    return registry.build("temporal_generator", "basis_temporal_generator", {"frame_code_dim": 3, **params},
                          geometry=G, motion_dim=motion_dim)


def test_the_bases_are_known_functions_of_relative_time():
    dct = temporal_basis("dct", 4, 2)
    t = torch.arange(4, dtype=torch.float64)
    want = torch.stack([torch.cos(math.pi * k * (t + 0.5) / 4) for k in (1, 2)], dim=1).float()
    assert torch.allclose(dct, want)
    legendre = temporal_basis("polynomial", 5, 3)
    x = torch.linspace(-1, 1, 5)
    assert torch.allclose(legendre, torch.stack([x, (3 * x**2 - 1) / 2, (5 * x**3 - 3 * x) / 2], dim=1), atol=1e-6)
    # The DCT's functions are orthogonal over the frames (so coefficients do not fight each other).
    full = temporal_basis("dct", 16, 15)
    gram = full.T @ full
    assert torch.allclose(gram, torch.diag(torch.diagonal(gram)), atol=1e-5)


def test_one_polynomial_component_draws_a_constant_velocity_path(registry):
    gt = generator(registry, basis="polynomial", components=1)
    codes = gt(torch.randn(5, 4))
    assert codes.shape == (5, 16, 3)
    assert torch.equal(codes[:, 0], torch.zeros(5, 3))  # relative to the first frame
    steps = codes.diff(dim=1)
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-5)  # equal steps: a straight line
    assert not torch.allclose(steps[0], steps[1])  # each z its own velocity


def test_a_linear_generator_is_linear_in_z(registry):
    gt = generator(registry)
    z1, z2 = torch.randn(2, 4), torch.randn(2, 4)
    assert torch.allclose(gt(z1 + z2), gt(z1) + gt(z2) - gt(torch.zeros(2, 4)), atol=1e-5)
    mlp = generator(registry, hidden=16)
    assert not torch.allclose(mlp(z1 + z2), mlp(z1) + mlp(z2) - mlp(torch.zeros(2, 4)), atol=1e-3)


def test_any_length_resamples_the_same_curves(registry):
    gt = generator(registry, relative_to_first=False)
    z = torch.randn(2, 4)
    assert gt(z, 32).shape == (2, 32, 3)
    # The same relative times give the same codes: frame t of 16 sits at frame 2t + ½ of 32, and
    # the DCT's cosines are smooth, so the 32-frame curve passes between its neighbours.
    long, short = gt(z, 32), gt(z)
    assert torch.allclose((long[:, 0::2] + long[:, 1::2]) / 2, short, atol=0.1 * short.abs().max().item())
    with pytest.raises(ShapeError, match="expected z"):
        gt(torch.randn(2, 5))


def test_polynomials_of_high_degree_are_refused(registry):
    with pytest.raises(RecipeError, match="badly conditioned"):
        generator(registry, basis="polynomial", components=13)
