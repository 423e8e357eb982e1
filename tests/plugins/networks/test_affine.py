"""The geometry shared by the spatial decoders and the layered losses (``networks/_affine.py``):
angular moments of masks, the turn they show, the turn of a map."""

from __future__ import annotations

import math

import pytest
import torch

from vidgan_builtin.networks._affine import (
    ANGULAR_ORDERS,
    angular_moments,
    bounded_affine,
    clearest_turn,
    map_turn,
    pixel_grid,
    similarity_linear,
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
