"""The geometry shared by the spatial decoders and the layered losses (``networks/geometry.py``):
angular moments of masks, the turn they show, the turn of a map, moments and resampling grids."""

from __future__ import annotations

import math

import pytest
import torch

from vidgan_builtin.networks.geometry import (
    ANGULAR_ORDERS,
    angular_moments,
    backward_grids,
    bounded_affine,
    clearest_turn,
    landing,
    map_turn,
    mask_moments,
    pixel_grid,
    similarity_linear,
    stacked_grids,
    turn_since_first,
)

GRID = pixel_grid(32, 32)


def polygon(turn: float, sides: int, radius: float = 0.5, centre: tuple[float, float] = (0.1, -0.1)) -> torch.Tensor:
    """A regular polygon's silhouette [32, 32] on GRID, turned by ``turn`` (forward, y down)."""
    rel = GRID - torch.tensor(centre)
    angle = torch.atan2(rel[..., 1], rel[..., 0]) - turn
    wedge = torch.remainder(angle, 2 * math.pi / sides) - math.pi / sides
    return (rel.norm(dim=-1) < radius * math.cos(math.pi / sides) / torch.cos(wedge)).float()


@pytest.mark.parametrize("sides", [3, 4])
def test_a_turning_polygon_shows_its_turn_in_its_order(sides):
    turns = torch.linspace(0, 2.0, 16)  # 115°: past a square's 90° of symmetry, followed frame to frame
    masks = torch.stack([polygon(float(t), sides) for t in turns])[None]
    phasors, strength = angular_moments(masks, GRID)
    order = ANGULAR_ORDERS.index(sides)
    assert strength[0, :, order].min() > 0.3  # the polygon's own order is strong ...
    assert strength[0, :, order].min() > 3 * strength[0, :, [o for o in range(3) if o != order]].max()  # ... the others not
    read = turn_since_first(phasors)[0, :, order]
    assert (read - turns).abs().max() < 0.05  # radians, at 32x32 pixels


def test_clearest_turn_reads_each_clip_on_its_own_shapes_order():
    turns = torch.linspace(0, 2.0, 16)
    clips = torch.stack([torch.stack([polygon(float(t), sides) for t in turns]) for sides in (3, 4)])  # [2, T, H, W]
    phasors, strength = angular_moments(clips, GRID)
    turn, order, clarity = clearest_turn(phasors, strength)
    assert turn.shape == (2, 16) and order.tolist() == [ANGULAR_ORDERS.index(3), ANGULAR_ORDERS.index(4)]
    assert (turn - turns).abs().max() < 0.05
    assert torch.equal(clarity, strength.mean(1).gather(-1, order[:, None])[:, 0])


def test_a_disc_shows_no_orientation():
    phasors, strength = angular_moments(polygon(0.0, 64)[None], GRID)
    assert strength.max() < 0.1
    assert torch.allclose(phasors.norm(dim=-1), torch.ones(1, 3))  # unit phasors even when weak


def test_map_turn_reads_the_turn_of_a_map():
    angles = torch.tensor([0.3, -1.0, 2.5, -3.0])
    assert torch.allclose(map_turn(similarity_linear(torch.tensor([0.0, 0.5, -0.3, 0.2]), angles)), angles, atol=1e-6)
    # A bounded map with a small turn and a little shear: its nearest rotation's angle.
    raw = torch.zeros(1, 1, 6)
    raw[..., 1], raw[..., 2] = math.atanh(0.4), -math.atanh(0.4)  # 0.5 tanh: A - I = [[0, .2], [-.2, 0]]: R(-θ) ≈ A
    linear, _ = bounded_affine(raw, 0.5, 1.0)
    assert map_turn(linear).item() == pytest.approx(math.atan2(0.2, 1.0), abs=1e-6)


def _landing(anchors, linear, shift, point):
    """Where the forward map of ``src(p) = a + A (p - a) + e`` sends ``point``."""
    return anchors + torch.linalg.solve(linear, (point - anchors - shift).unsqueeze(-1)).squeeze(-1)


def test_landing_solves_in_float32_for_half_precision_maps():
    # Under bf16 autocast the maps arrive in bf16, for which neither the CPU's nor CUDA's
    # solver exists ("lu_cpu" / "lu_factor_cublas" not implemented for 'BFloat16').
    torch.manual_seed(0)
    anchors, shift, point = torch.rand(8, 2, 2), 0.1 * torch.randn(8, 2, 2), torch.rand(8, 2, 2)
    linear = torch.eye(2) + 0.1 * torch.randn(8, 2, 2, 2)
    half = landing(anchors.bfloat16(), linear.bfloat16(), shift.bfloat16(), point.bfloat16())
    assert half.dtype == torch.bfloat16
    exact = _landing(anchors.bfloat16().double(), linear.bfloat16().double(), shift.bfloat16().double(),
                     point.bfloat16().double())
    torch.testing.assert_close(half.double(), exact, rtol=0, atol=2e-2)  # bf16's rounding of the result only


def test_backward_grids_are_stacked_grids_of_one_map_per_part():
    generator = torch.Generator().manual_seed(3)
    anchors, shift = 0.3 * torch.randn(2, 3, 2, generator=generator), 0.2 * torch.randn(2, 3, 2, generator=generator)
    linear = torch.eye(2) + 0.2 * torch.randn(2, 3, 2, 2, generator=generator)
    grid = pixel_grid(5, 4)
    grids = backward_grids(grid, anchors, linear, shift)
    assert grids.shape == (2, 3, 5, 4, 2)
    rel = grid - anchors.view(2, 3, 1, 1, 2)
    expected = torch.einsum("nkij,nkhwj->nkhwi", linear, rel) + (anchors + shift).view(2, 3, 1, 1, 2)
    torch.testing.assert_close(grids, expected, rtol=0, atol=1e-6)


def _centred_moments(masks: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook centroid and covariance in float64: E[(p - E[p]) (p - E[p])ᵀ] pixel by pixel."""
    weights = masks.flatten(-2).double()
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-6)
    points = grid.reshape(-1, 2).double()
    centre = weights @ points
    rel = points - centre.unsqueeze(-2)
    return centre, torch.einsum("...p,...pi,...pj->...ij", weights, rel, rel)


def _soft_blobs(n: int, side: int) -> torch.Tensor:
    """``n`` soft discs [n, side, side] of radius 0.5-12 pixels anywhere, edges and beyond included."""
    generator = torch.Generator().manual_seed(0)
    grid = pixel_grid(side, side)
    centres = torch.rand(n, 2, generator=generator) * 2.2 - 1.1
    radius = (torch.rand(n, 1, 1, generator=generator) * 12 + 0.5) * 2 / side
    sharpness = side * (0.3 + 3 * torch.rand(n, 1, 1, generator=generator))
    return torch.sigmoid((radius - (grid - centres.view(n, 1, 1, 2)).norm(dim=-1)) * sharpness)


def test_mask_moments_match_the_centred_float64_moments_whatever_autocast_does():
    # Raw moments cancel: in float32 they were 4e-6 off on blobs at the edge; the product runs in float64.
    masks = _soft_blobs(500, 64)
    grid = pixel_grid(64, 64)
    centre, cov = _centred_moments(masks, grid)
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            got_centre, got_cov = mask_moments(masks, grid)
        assert got_centre.dtype == got_cov.dtype == torch.float32
        torch.testing.assert_close(got_centre.double(), centre, rtol=0, atol=1e-7)
        torch.testing.assert_close(got_cov.double(), cov, rtol=0, atol=1e-8)


def test_mask_moments_gradients_are_the_centred_moments_gradients():
    masks = _soft_blobs(6, 16).double().requires_grad_()
    grid = pixel_grid(16, 16)
    weights = torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grads = []
    for moments in (mask_moments, _centred_moments):
        centre, cov = moments(masks, grid)
        grads.append(torch.autograd.grad((torch.cat([centre, cov.flatten(1)], 1) * weights).sum(), masks)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_stacked_grids_are_each_frames_backward_map_in_float32_under_autocast():
    n, t, k, h, w = 2, 3, 2, 8, 6
    generator = torch.Generator().manual_seed(0)
    anchors = 0.3 * torch.randn(n, k, 2, generator=generator)
    linear = torch.eye(2) + 0.2 * torch.randn(n, t, k, 2, 2, generator=generator)
    shift = 0.2 * torch.randn(n, t, k, 2, generator=generator)
    grid = pixel_grid(h, w)
    # src(p) = a + A (p - a) + e pixel by pixel, in float64, each part's frames one under another.
    a = anchors.double().view(n, 1, k, 1, 1, 2)
    rel = grid.double().view(1, 1, 1, h, w, 2) - a
    per_frame = torch.einsum("ntkij,ntkhwj->ntkhwi", linear.double(), rel) + a + shift.double().view(n, t, k, 1, 1, 2)
    expected = per_frame.transpose(1, 2).reshape(n * k, t * h, w, 2)
    torch.testing.assert_close(stacked_grids(grid.double(), anchors.double(), linear.double(), shift.double()),
                               expected, rtol=0, atol=1e-12)
    # Under bf16 autocast the einsum this replaced ran in bfloat16: 0.01 off, a third of a pixel at 64x64.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stacked = stacked_grids(grid, anchors, linear, shift)
    assert stacked.dtype == torch.float32
    torch.testing.assert_close(stacked.double(), expected, rtol=0, atol=1e-6)
