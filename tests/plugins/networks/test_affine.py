"""The geometry shared by the spatial decoders and the layered losses (``networks/_affine.py``):
angular moments of masks, the turn they show, the turn of a map."""

from __future__ import annotations

import math

import pytest
import torch

from vidgan_builtin.networks._affine import (
    ANGULAR_ORDERS,
    angular_moments,
    backward_grids,
    bounded_affine,
    clearest_turn,
    confident_radius,
    fold,
    landing,
    line_misfit,
    map_turn,
    mask_moments,
    part_shading,
    pixel_grid,
    reflect_shift,
    registered_turns,
    rescaled_zoom,
    shading_strength,
    similarity_linear,
    stacked_grids,
    turn_since_first,
    turn_arounds,
    turning_walls,
    unfold_bounces,
    unfold_path,
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


@pytest.mark.parametrize("sides", [3, 4])
def test_registered_turns_follow_a_moving_polygon_past_its_symmetry(sides):
    turns = torch.linspace(0, 2.0, 16)  # 0.13 rad a frame, 115° in all: past a square's 90°
    centres = torch.stack([torch.linspace(-0.2, 0.2, 16), torch.linspace(0.1, -0.1, 16)], -1)
    masks = torch.stack([polygon(float(t), sides, centre=tuple(c.tolist())) for t, c in zip(turns, centres)])[None]
    read = registered_turns(masks, centres[None], GRID)
    assert read.shape == (1, 16) and read[0, 0] == 0
    assert (read[0] - turns).abs().max() < 0.08  # radians (4.6°), at 32x32 pixels
    backwards = registered_turns(masks.flip(1), centres.flip(0)[None], GRID)[0]
    assert (backwards - (turns.flip(0) - 2.0)).abs().max() < 0.08  # the other way round reads negative


def test_registered_turns_read_a_larger_frame_pooled_to_32_pixels():
    grid = pixel_grid(64, 64)
    turns = torch.linspace(0, 1.2, 8)
    centre = torch.tensor([0.05, -0.03])
    masks = []
    for t in turns:
        rel = grid - centre
        wedge = torch.remainder(torch.atan2(rel[..., 1], rel[..., 0]) - t, math.pi / 2) - math.pi / 4
        masks.append((rel.norm(dim=-1) < 0.5 * math.cos(math.pi / 4) / torch.cos(wedge)).float())
    read = registered_turns(torch.stack(masks)[None], centre.expand(1, 8, 2), grid)
    assert (read[0] - turns).abs().max() < 0.08


def test_registered_turns_read_no_turn_on_a_disc():
    centres = torch.stack([torch.linspace(-0.2, 0.2, 8), torch.zeros(8)], -1)
    masks = torch.stack([polygon(0.0, 64, centre=tuple(c.tolist())) for c in centres])[None]
    assert torch.equal(registered_turns(masks, centres[None], GRID), torch.zeros(1, 8))


def shaded_disc(turn: float, centre: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A disc's silhouette and a luminance ramp across its own x axis (as synthetic_shapes shades
    its objects), turned by ``turn``: ``[32, 32]`` each."""
    rel = GRID - torch.tensor(centre)
    along = rel[..., 0] * math.cos(turn) + rel[..., 1] * math.sin(turn)
    return polygon(0.0, 64, centre=centre), 0.4 + 0.6 * along


def test_registered_turns_read_a_shaded_discs_turn_from_its_shading():
    turns = torch.linspace(0, 1.5, 12)
    centres = torch.stack([torch.linspace(-0.2, 0.2, 12), torch.linspace(0.1, 0.0, 12)], -1)
    masks, luminance = (torch.stack(x)[None] for x in zip(*(shaded_disc(float(t), tuple(c.tolist()))
                                                            for t, c in zip(turns, centres))))
    shading = part_shading(masks, luminance)
    read = registered_turns(masks, centres[None], GRID, shading=shading)
    assert (read[0] - turns).abs().max() < 0.08
    assert torch.equal(registered_turns(masks, centres[None], GRID), torch.zeros(1, 12))  # the outline alone: none


def test_shading_strength_tells_a_shaded_part_from_a_flat_one():
    mask, luminance = shaded_disc(0.3, (0.0, 0.0))
    shaded = part_shading(mask[None, None], luminance[None, None])[0, 0]
    flat = part_shading(mask[None, None], torch.full_like(luminance, 0.7)[None, None])[0, 0]
    assert shading_strength(shaded, GRID) > 0.6  # a ramp across a disc: about pi / 4
    assert shading_strength(flat, GRID) < 0.05  # under registered_turns' gate (0.15)


@pytest.mark.parametrize("rate, ratio", [(0.15, 1.5), (-0.1, 0.7), (0.2, 0.6), (0.05, 1.3)])
def test_a_rescaled_zoom_bounces_off_the_walls_the_source_turned_at(rate, ratio):
    lo, hi = torch.tensor(math.log(0.55)), torch.tensor(math.log(1.45))
    t = torch.arange(16.0)
    measured = fold(rate * t, lo, hi)  # the synthetic set's zoom: a steady log-scale rate, folded
    replayed = rescaled_zoom(measured.view(1, 16, 1), torch.tensor([[ratio]]), 0.1, 0.1)[0, :, 0]
    assert torch.allclose(replayed, fold(rate * ratio * t, lo, hi), atol=1e-4)


def test_a_rescaled_zoom_runs_on_past_a_side_the_source_never_turned_at():
    measured = fold(0.08 * torch.arange(16.0), torch.tensor(-0.6), torch.tensor(0.37))  # turns at 0.37 only
    replayed = rescaled_zoom(measured.view(1, 16, 1), torch.tensor([[1.6]]), 0.1, 0.1)[0, :, 0]
    free = 0.08 * 1.6 * torch.arange(16.0)
    assert torch.allclose(replayed, torch.where(free <= 0.37, free, 0.74 - free), atol=1e-4)  # bounced at 0.37 only
    assert replayed[-1] < -0.6  # past the wall the source never reached: none is known there
    still = rescaled_zoom(0.01 * torch.randn(1, 16, 1), torch.tensor([[2.0]]), 0.1, 0.1)
    assert still.abs().max() < 0.1  # noise on a still part: only scaled


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


@pytest.mark.parametrize("with_centres", [False, True])
def test_reflect_shift_folds_the_bouncing_point_and_keeps_the_map_where_nothing_folds(with_centres):
    torch.manual_seed(0)
    n, k = 64, 2
    anchors = torch.rand(n, k, 2) * 1.2 - 0.6
    centres = anchors + 0.1 * torch.randn(n, k, 2) if with_centres else None
    point = anchors if centres is None else centres
    radius = torch.full((n, k, 2), 0.3)
    linear = torch.eye(2) + 0.1 * torch.randn(n, k, 2, 2)
    shift = torch.randn(n, k, 2)  # large: many points land past a wall
    bounced = reflect_shift(anchors, radius, linear, shift, centres)
    landed = _landing(anchors, linear, shift, point)
    lo, hi = torch.minimum(-1 + radius, point), torch.maximum(1 - radius, point)
    torch.testing.assert_close(_landing(anchors, linear, bounced, point), fold(landed, lo, hi), rtol=0, atol=1e-5)
    inside = ((landed >= lo) & (landed <= hi)).all(-1)
    assert 0 < inside.sum() < n * k  # both cases drawn
    torch.testing.assert_close(bounced[inside], shift[inside], rtol=0, atol=1e-5)
    # The identity map (a zero code) stays the identity even for a point outside its walls.
    identity = torch.eye(2).expand(n, k, 2, 2)
    torch.testing.assert_close(reflect_shift(anchors, torch.full_like(radius, 0.9), identity, torch.zeros_like(shift),
                                             centres), torch.zeros_like(shift), rtol=0, atol=1e-5)


@pytest.mark.parametrize("turn", [0.0, 0.3, math.pi / 4])
def test_confident_radius_is_a_polygons_circumradius_whichever_way_it_is_turned(turn):
    centre = (0.1, -0.1)
    square = polygon(turn, 4, radius=0.5, centre=centre)  # circumradius 8 px
    reach = confident_radius(square, torch.tensor(centre), GRID)
    assert reach.shape == (2,)
    assert reach[0].item() == reach[1].item()  # a square frame: the same in both axes
    assert reach[0].item() * 16 == pytest.approx(8.0, abs=0.75)  # pixel centres inside, plus half a pixel


def test_confident_radius_falls_back_to_two_soft_deviations_without_confident_pixels():
    faint = 0.3 * polygon(0.0, 4, radius=0.5)
    reach = confident_radius(faint, torch.tensor([0.1, -0.1]), GRID)
    spread = mask_moments(faint, GRID)[1].diagonal().sqrt()
    torch.testing.assert_close(reach, 2 * spread)


def _bounced(free: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return fold(free, torch.tensor(lo), torch.tensor(hi))


def test_unfold_bounces_straightens_a_bounced_line_and_fold_undoes_it():
    """A line at 0.25 per frame, folded into [-0.5, 0.5], turns at the right wall (frame 4) and at
    the left one (frame 8); unfolded, it is the straight line again, and folding it gives the input."""
    free = torch.stack([0.25 * torch.arange(10.0) - 0.25, torch.zeros(10)], -1)  # x runs right, y stays
    seen = _bounced(free, -0.5, 0.5).unsqueeze(0)  # [1, T, 2]
    assert seen[0, 3, 0] == 0.5 and seen[0, 7, 0] == -0.5
    lo, hi = torch.full((1, 2), -0.5), torch.full((1, 2), 0.5)
    out = unfold_bounces(seen, lo, hi, tolerance=0.05, min_travel=0.1)
    assert torch.allclose(out[0, :, 0], free[:, 0], atol=1e-6)
    assert torch.equal(out[0, :, 1], seen[0, :, 1])  # y never moved: nothing to unfold
    assert torch.allclose(_bounced(out, -0.5, 0.5), seen, atol=1e-6)


def test_unfold_bounces_leaves_turns_away_from_the_walls_and_still_parts_alone():
    """An orbit that turns in mid-frame, and a part that jitters against a wall without
    travelling, are not bounces."""
    t = torch.arange(12.0)
    orbit = torch.stack([0.3 * torch.sin(t / 2), 0.3 * torch.cos(t / 2)], -1)
    jitter = torch.stack([0.49 + 0.005 * (-1) ** t, torch.zeros(12)], -1)
    paths = torch.stack([orbit, jitter])  # [2, T, 2]
    lo, hi = torch.full((2, 2), -0.5), torch.full((2, 2), 0.5)
    assert torch.equal(unfold_bounces(paths, lo, hi, tolerance=0.1, min_travel=0.1), paths)


def test_unfold_bounces_takes_per_part_walls():
    """Walls [N, K, 2] broadcast over the frames of a path [N, T, K, 2]."""
    line = torch.tensor([0.0, 0.2, 0.4, 0.3, 0.1])  # turns at 0.4
    path = torch.zeros(1, 5, 2, 2)
    path[0, :, 0, 0] = line
    path[0, :, 1, 0] = line
    lo = torch.full((1, 2, 2), -1.0)
    hi = torch.tensor([[[0.45, 1.0], [0.9, 1.0]]])  # part 0's wall is by the turn, part 1's far away
    out = unfold_bounces(path, lo, hi, tolerance=0.1, min_travel=0.1)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8]))
    assert torch.equal(out[0, :, 1, 0], line)


@pytest.mark.parametrize("phase", [0.0, 0.05, 0.1, 0.15, 0.2])
def test_unfold_between_frames_mirrors_a_peak_frame_that_came_after_the_bounce(phase):
    """A line at 0.23 per frame folded into [-0.5, 0.5] bounces between two frames; the frame at
    its peak is on the way back where the bounce came in the first of the two intervals. Placed
    between frames, the unfolded path is the line exactly, whatever the phase; mirrored from
    the frame after the peak on, that peak frame can stay folded (up to one frame's travel off)."""
    free = torch.stack([0.23 * torch.arange(12.0) - 0.3 + phase, torch.zeros(12)], -1)
    seen = _bounced(free, -0.5, 0.5).unsqueeze(0)
    lo, hi = torch.full((1, 2), -0.5), torch.full((1, 2), 0.5)
    placed = unfold_bounces(seen, lo, hi, tolerance=0.15, min_travel=0.125, between_frames=True)
    torch.testing.assert_close(placed[0], free, rtol=0, atol=1e-5)
    late = unfold_bounces(seen, lo, hi, tolerance=0.15, min_travel=0.125)
    assert (late[0] - free).abs().max() < 0.23 + 1e-5
    torch.testing.assert_close(_bounced(placed, -0.5, 0.5), seen, rtol=0, atol=1e-5)  # fold still undoes it


@pytest.mark.parametrize("phase", [0.0, 0.07, 0.14, 0.2])
def test_turning_walls_find_where_a_path_bounced_from_walls_placed_wrong(phase):
    """Walls given 0.05 off (the right one too close, the left one too far): the lines before
    and after each turn meet where the path really bounced, and unfolding there (between
    frames) gives the free line back; the y axis, which never turns, keeps its given walls."""
    free = torch.stack([0.23 * torch.arange(12.0) - 0.3 + phase, 0.01 * torch.arange(12.0)], -1)
    seen = _bounced(free, -0.5, 0.5)
    seen[:, 1] = free[:, 1]
    seen = seen.unsqueeze(0)
    lo, hi = torch.tensor([[-0.55, -0.9]]), torch.tensor([[0.45, 0.9]])
    turns = turn_arounds(seen, lo, hi, tolerance=0.15, min_travel=0.05, near="lines")
    assert int(turns[0].sum()) == 1 and int(turns[1].sum()) == 1  # one bounce off each x wall, none in y
    found_lo, found_hi = turning_walls(seen, lo, hi, *turns, tolerance=0.15)
    torch.testing.assert_close(found_lo, torch.tensor([[-0.5, -0.9]]), rtol=0, atol=1e-5)
    torch.testing.assert_close(found_hi, torch.tensor([[0.5, 0.9]]), rtol=0, atol=1e-5)
    out = unfold_bounces(seen, found_lo, found_hi, tolerance=0.15, min_travel=0.05, between_frames=True, turns=turns)
    torch.testing.assert_close(out[0], free, rtol=0, atol=1e-5)


def test_a_turn_half_a_frame_from_its_nearest_frame_is_near_the_wall_by_its_lines():
    """A fast line (0.23 per frame) that bounces off -0.5 midway between two frames comes no
    closer than 0.11 to it; with the wall given 0.05 too far out, the frames are 0.16 away
    (beyond a 0.15 tolerance) while the lines meet on the true wall, 0.05 away."""
    free = 0.23 * torch.arange(12.0) - 0.23
    seen = _bounced(free, -0.5, 0.5).view(1, 12, 1).expand(1, 12, 2)
    lo, hi = torch.full((1, 2), -0.55), torch.full((1, 2), 0.45)
    by_frames = turn_arounds(seen, lo, hi, tolerance=0.15, min_travel=0.05)
    by_lines = turn_arounds(seen, lo, hi, tolerance=0.15, min_travel=0.05, near="lines")
    assert int(by_frames[1].sum()) == 0 and int(by_lines[1].sum()) == 2  # the left wall, on both axes
    assert torch.equal(by_frames[0], by_lines[0])  # the right wall's turn is near by both measures


def test_turning_walls_stay_within_tolerance_and_hold_the_path():
    """A turn estimate further than ``tolerance`` from the given wall is pulled back to it, and a
    wall is never inside the path (folding at it must leave the path as it is)."""
    path = torch.tensor([[0.0, 0.2, 0.4, 0.3, 0.1]]).unsqueeze(-1).expand(1, 5, 2).clone()  # [1, T, 2]
    turns = turn_arounds(path, torch.full((1, 2), -1.0), torch.full((1, 2), 0.42), tolerance=0.1, min_travel=0.1)
    # The lines through 0.2 (frame 1) and 0.1 (frame 4) at the median speed 0.2 meet at 0.45.
    _, near = turning_walls(path, torch.full((1, 2), -1.0), torch.full((1, 2), 0.42), *turns, tolerance=0.1)
    torch.testing.assert_close(near, torch.full((1, 2), 0.45))
    _, pulled = turning_walls(path, torch.full((1, 2), -1.0), torch.full((1, 2), 0.3), *turns, tolerance=0.02)
    torch.testing.assert_close(pulled, torch.full((1, 2), 0.4))  # 0.32 at most, widened to the path's peak


def test_an_early_bounce_the_codes_rounded_off_is_found_by_the_line_it_leaves_on():
    """A part starting at 0.35 runs right at 0.2 per frame into the wall at 0.5 and bounces
    before frame 1; the codes round the turn off (0.35, 0.33, 0.25, ...: no sign change to
    see). Traced back to frame 0, the line it leaves on (through frame 3) meets the line in at
    the wall, beyond the start: an early bounce at frame 1, and unfolding gives the free line
    from frame 2 on. Sought by the frames alone, nothing turns and nothing is unfolded."""
    rounded = torch.tensor([0.35, 0.33, 0.25, 0.05, -0.15, -0.35])
    path = torch.stack([rounded, torch.zeros(6)], -1).unsqueeze(0)  # [1, T, 2]
    lo, hi = torch.full((1, 2), -0.9), torch.full((1, 2), 0.5)
    by_lines = turn_arounds(path, lo, hi, tolerance=0.15, min_travel=0.1, near="lines")
    assert by_lines[0][0, :, 0].tolist() == [False, True, False, False, False, False]
    assert not by_lines[1].any()
    out = unfold_bounces(path, lo, hi, tolerance=0.15, min_travel=0.1, turns=by_lines)
    torch.testing.assert_close(out[0, 2:, 0], torch.tensor([0.75, 0.95, 1.15, 1.35]), rtol=0, atol=1e-6)
    by_frames = turn_arounds(path, lo, hi, tolerance=0.15, min_travel=0.1)
    assert not by_frames[0].any() and not by_frames[1].any()
    assert torch.equal(unfold_bounces(path, lo, hi, tolerance=0.15, min_travel=0.1), path)


def test_an_early_bounce_is_not_counted_again_where_its_rounded_turn_shows():
    """The same start with the turn half drawn (0.35, 0.45, 0.25, ...): the step changes sign
    at frame 2 near the wall, but that is the early bounce of frame 1 showing, not a second one."""
    path = torch.stack([torch.tensor([0.35, 0.45, 0.25, 0.05, -0.15, -0.35]), torch.zeros(6)], -1).unsqueeze(0)
    lo, hi = torch.full((1, 2), -0.9), torch.full((1, 2), 0.5)
    off_hi, off_lo = turn_arounds(path, lo, hi, tolerance=0.15, min_travel=0.1, near="lines")
    assert off_hi[0, :, 0].tolist() == [False, True, False, False, False, False]
    assert not off_lo.any()
    by_frames, _ = turn_arounds(path, lo, hi, tolerance=0.15, min_travel=0.1)
    assert by_frames[0, :, 0].tolist() == [False, False, True, False, False, False]  # the sign change is there


def test_line_misfit_is_zero_on_a_line_and_near_the_radius_on_a_circle():
    line = torch.stack([0.1 * torch.arange(10.0) - 0.3, 0.02 * torch.arange(10.0)], -1)[None]
    assert float(line_misfit(line)) < 1e-6
    angle = torch.linspace(0, 2 * math.pi, 17)[:-1]
    circle = 0.2 * torch.stack([torch.cos(angle), torch.sin(angle)], -1)[None]
    assert 0.1 < float(line_misfit(circle)) < 0.2  # a full turn of radius 0.2: no line fits it


def test_straight_unfolds_lines_at_their_turns_and_orbits_at_the_walls():
    """A bounced line with its walls given 0.05 off comes out straight with "straight" (as with
    "turns"); an orbit that turns near a wall is left as "walls" leaves it, not straightened."""
    free = torch.stack([0.23 * torch.arange(12.0) - 0.3, 0.01 * torch.arange(12.0)], -1)
    seen = _bounced(free, -0.5, 0.5)
    seen[:, 1] = free[:, 1]
    angle = torch.linspace(0, 1.8 * math.pi, 12)
    orbit = torch.stack([0.3 * torch.cos(angle) + 0.12, 0.3 * torch.sin(angle)], -1)  # turns 0.08 short of 0.5
    paths = torch.stack([seen, orbit]).unsqueeze(2)  # [2, T, 1 part, 2]
    lo, hi = torch.tensor([[[-0.55, -0.9]], [[-0.9, -0.9]]]), torch.tensor([[[0.45, 0.9]], [[0.5, 0.9]]])
    args = (0.15, 0.05, True)
    straight, *_ = unfold_path(paths, lo, hi, "straight", *args)
    by_turns, *_ = unfold_path(paths, lo, hi, "turns", *args)
    by_walls, *_ = unfold_path(paths, lo, hi, "walls", *args)
    torch.testing.assert_close(straight[0, :, 0], free, rtol=0, atol=1e-5)
    torch.testing.assert_close(straight[0], by_turns[0], rtol=0, atol=0)
    torch.testing.assert_close(straight[1], by_walls[1], rtol=0, atol=0)
    assert float(line_misfit(by_turns[1:])) > 0.05  # the orbit is no line however it is unfolded
