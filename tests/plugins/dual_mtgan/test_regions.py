"""Whole moving objects for L_seg's target (``vidgan_dual_mtgan.regions``): known answers."""

from __future__ import annotations

import pytest
import torch

import vidgan_kit
from vidgan_kit.interfaces import LossContext
from vidgan_dual_mtgan.layered_losses import moving_pixels
from vidgan_dual_mtgan.regions import _dilate, fill_moving_objects, flood


def _disk(radius: float, size: int = 24, centre: tuple[float, float] = (11.5, 11.5)) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return (ys - centre[0]).square() + (xs - centre[1]).square() <= radius**2


def _clip(disks: list[torch.Tensor], colour=(0.9, -0.5, 0.2), background=(-0.6, -0.6, -0.4)) -> torch.Tensor:
    """A clip [1, T, 3, H, W] of uniform objects (``disks``, one bool mask per frame) on a flat background."""
    fg = torch.tensor(colour).view(3, 1, 1)
    bg = torch.tensor(background).view(3, 1, 1)
    return torch.stack([torch.where(d, fg, bg) for d in disks])[None]


def test_flood_walks_only_the_allowed_steps():
    seeds = torch.zeros(1, 3, 5, dtype=torch.bool)
    seeds[0, 1, 0] = True
    wall = torch.ones(1, 3, 5, dtype=torch.bool)
    wall[0, :, 3] = False  # column 3 cannot be entered from anywhere
    passable = {step: wall for step in ((1, 0), (-1, 0), (0, 1), (0, -1))}
    got = flood(seeds, passable)
    want = torch.zeros(1, 3, 5, dtype=torch.bool)
    want[0, :, :3] = True
    assert torch.equal(got, want)


def _reachable(seeds: torch.Tensor, passable: dict[tuple[int, int], torch.Tensor]) -> torch.Tensor:
    """Breadth-first search, pixel by pixel: the reference the vectorised flood must match."""
    reached = seeds.clone()
    n, h, w = seeds.shape
    queue = [tuple(p) for p in seeds.nonzero().tolist()]
    while queue:
        i, y, x = queue.pop()
        for (dy, dx), allowed in passable.items():
            ty, tx = y + dy, x + dx
            if 0 <= ty < h and 0 <= tx < w and allowed[i, ty, tx] and not reached[i, ty, tx]:
                reached[i, ty, tx] = True
                queue.append((i, ty, tx))
    return reached


def test_flood_matches_a_breadth_first_search_on_random_mazes():
    generator = torch.Generator().manual_seed(0)
    for density in (0.3, 0.55, 0.7, 0.9):  # around the percolation threshold, paths wind
        seeds = torch.rand(4, 17, 23, generator=generator) < 0.01
        passable = {step: torch.rand(4, 17, 23, generator=generator) < density
                    for step in ((1, 0), (-1, 0), (0, 1), (0, -1))}
        assert torch.equal(flood(seeds, passable), _reachable(seeds, passable)), density



def test_flood_follows_a_serpentine_corridor_to_its_end():
    # A corridor that turns at every row: each sweep round carries the flood one turn further,
    # so the rounds must go on until the flood stops growing, not stop after a fixed few.
    h, w = 15, 9
    open_ = torch.zeros(1, h, w, dtype=torch.bool)
    open_[0, ::2] = True  # every even row is open ...
    for row in range(1, h, 2):  # ... joined to the next by one cell, alternately at the right and left end
        open_[0, row, w - 1 if row % 4 == 1 else 0] = True
    seeds = torch.zeros(1, h, w, dtype=torch.bool)
    seeds[0, 0, 0] = True
    passable = {step: open_ for step in ((1, 0), (-1, 0), (0, 1), (0, -1))}
    got = flood(seeds, passable)
    assert torch.equal(got, open_)
    assert torch.equal(got, _reachable(seeds, passable))


def test_moving_regions_grow_by_one_pixel_in_all_eight_directions():
    generator = torch.Generator().manual_seed(1)
    mask = torch.rand(3, 11, 14, generator=generator) > 0.9
    want = torch.nn.functional.max_pool2d(mask.float().unsqueeze(1), 3, stride=1, padding=1).squeeze(1) > 0
    assert torch.equal(_dilate(mask), want)

def test_a_zooming_disk_is_filled_where_the_change_target_is_a_ring():
    radii = [4, 5, 6, 7, 8, 7, 6, 5]
    truth = torch.stack([_disk(r) for r in radii])
    video = _clip(list(truth))
    moving = moving_pixels(video, 0.1)
    filled = fill_moving_objects(video, moving, 0.1)[0]
    assert moving[0, :, 11, 11].max() == 0  # the centre never changes: the change target misses it
    assert torch.equal(filled > 0.5, truth)  # the whole disk, in every frame, and nothing else
    assert filled.unique().tolist() == [0.0, 1.0]


def test_background_that_a_shrinking_object_uncovers_is_not_the_object():
    truth = torch.stack([_disk(r) for r in (8, 6, 4, 6)])
    video = _clip(list(truth))
    moving = moving_pixels(video, 0.1)
    frame = 2  # the smallest disk: the ring between radius 4 and 6 changed, and is background now
    ring = _disk(6) & ~_disk(4)
    assert moving[0, frame][ring].min() > 0.5
    assert fill_moving_objects(video, moving, 0.1)[0, frame][ring].max() == 0


def test_frames_without_a_still_border_keep_the_change_target():
    disks = [_disk(r) for r in (4, 6, 8, 6)]
    video = _clip(disks)
    video[:, 1:, :, 0, :] += 0.5  # the top row flickers ...
    video[:, 1:, :, -1, :] += 0.5  # ... and so do the others: no border pixel is still
    video[:, 1:, :, :, 0] += 0.5
    video[:, 1:, :, :, -1] += 0.5
    moving = moving_pixels(video, 0.1)
    assert torch.equal(fill_moving_objects(video, moving, 0.1), moving)


def test_an_object_as_dark_as_its_background_keeps_the_change_target():
    disks = [_disk(r) for r in (4, 6, 8, 6)]
    video = _clip(disks, colour=(-0.55, -0.55, -0.35))  # within the threshold of the background: the flood enters it
    moving = moving_pixels(video, 0.02)
    assert torch.equal(fill_moving_objects(video, moving, 0.1), moving)


@pytest.mark.parametrize("fill", [False, True])
def test_motion_segmentation_fills_objects_when_asked(fill):
    registry = vidgan_kit.load_registry()
    geometry = vidgan_kit.VideoGeometry(frames=4, height=24, width=24)
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=geometry)
    truth = torch.stack([_disk(r) for r in (4, 6, 8, 6)])
    video = _clip(list(truth))
    codes = torch.zeros(1, 4, *encoder.code_shape)
    codes[:, :, :3] = video
    codes[:, :, 6] = torch.where(truth, -10.0, 10.0)  # background logit: masks exactly the disks
    codes[:, :, 7] = -codes[:, :, 6]
    seg = registry.build("loss", "motion_segmentation", {"fill_objects": fill})
    ctx = LossContext(model=_Slots(content_encoder=encoder), batch={"video": video},
                      outputs={"video": video, "content_codes": codes})
    value = seg(ctx, "generator").item()
    if fill:
        assert value < 1e-3  # the whole disk is the target
    else:
        assert value > 0.5  # the change target calls the disks' insides still


class _Slots(torch.nn.Module):
    def __init__(self, **slots: torch.nn.Module) -> None:
        super().__init__()
        self._slots = torch.nn.ModuleDict(slots)

    def slots(self) -> dict[str, torch.nn.Module]:
        return dict(self._slots)
