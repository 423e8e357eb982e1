"""Per-part affine maps shared by the spatial decoders (``warp_frame_decoder``, ``sprite_frame_decoder``).

Coordinates are ``grid_sample``'s normalised (x, y): the frame spans [-1, 1] on both axes.
A part's *backward* map sends an output pixel p to where it is read in the content:
``src(p) = a + A (p - a) + e``, with the part's anchor ``a``, a bounded linear part ``A``
and a bounded shift ``e``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._sampling import grid_sample_bilinear

__all__ = [
    "pixel_grid",
    "bounded_affine",
    "similarity_affine",
    "similarity_params",
    "similarity_linear",
    "backward_grids",
    "stacked_grids",
    "mask_moments",
    "confident_moments",
    "fold",
    "turn_arounds",
    "turn_meetings",
    "turning_walls",
    "unfold_bounces",
    "unfold_path",
    "line_misfit",
    "reflect_shift",
    "part_walls",
    "ANGULAR_ORDERS",
    "angular_moments",
    "turn_since_first",
    "clearest_turn",
    "phasor_change",
    "map_turn",
    "registered_turns",
]


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """Pixel centres in normalised (x, y) coordinates: ``[H, W, 2]``."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def bounded_affine(raw: torch.Tensor, max_linear: float, max_shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Six raw numbers per part ``[N, K, 6]`` → ``A = I + max_linear·tanh(.)`` [N, K, 2, 2] and
    ``e = max_shift·tanh(.)`` [N, K, 2]; zeros give the identity."""
    n, k = raw.shape[:2]
    eye = torch.eye(2, device=raw.device, dtype=raw.dtype)
    linear = eye + max_linear * torch.tanh(raw[..., :4]).view(n, k, 2, 2)
    return linear, max_shift * torch.tanh(raw[..., 4:])


def similarity_affine(raw: torch.Tensor, max_log_scale: float, max_shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Six raw numbers per part ``[N, K, 6]`` → a scaled rotation and a shift: the backward
    map of a part grown by ``s = exp(max_log_scale·tanh(raw_0))`` and turned by
    ``θ = π·tanh(raw_1)``, ``A = R(-θ) / s`` [N, K, 2, 2], and ``e = max_shift·tanh(raw_4:6)``
    [N, K, 2]; ``raw_2:4`` are unused (no shear). Zeros give the identity.

    Unlike :func:`bounded_affine`, whose entries of ``A - I`` are bounded (by 0.5: turns of at
    most 30°), this reaches any angle in (-180°, 180°) and any scale within the bound.
    """
    log_scale, angle, shift = similarity_params(raw, max_log_scale, max_shift)
    return similarity_linear(log_scale, angle), shift


def similarity_params(
    raw: torch.Tensor, max_log_scale: float, max_shift: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Six raw numbers per part ``[..., 6]`` → the log scale ``max_log_scale·tanh(raw_0)``, the
    turn ``π·tanh(raw_1)`` (both ``[...]``) and the shift ``max_shift·tanh(raw_4:6)`` ``[..., 2]``
    of :func:`similarity_affine`, before they become a matrix (decoders that rescale or bound
    the scale and angle further start here)."""
    return max_log_scale * torch.tanh(raw[..., 0]), torch.pi * torch.tanh(raw[..., 1]), max_shift * torch.tanh(raw[..., 4:])


def similarity_linear(log_scale: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """The backward map's linear part ``A = R(-θ) / s`` ``[..., 2, 2]`` of a part grown by
    ``s = exp(log_scale)`` and turned by ``θ = angle`` (forward, radians), both ``[...]``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    shrink = torch.exp(-log_scale)
    return torch.stack([cos, sin, -sin, cos], dim=-1).view(*angle.shape, 2, 2) * shrink[..., None, None]


def backward_grids(grid: torch.Tensor, anchors: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``src(p)`` for every pixel of ``grid`` [H, W, 2] and part (``anchors``, ``shift`` [N, K, 2],
    ``linear`` [N, K, 2, 2]): ``[N, K, H, W, 2]``, :func:`stacked_grids` of one map per part."""
    n, k = anchors.shape[:2]
    h, w = grid.shape[:2]
    return stacked_grids(grid, anchors, linear.unsqueeze(1), shift.unsqueeze(1)).view(n, k, h, w, 2)


def stacked_grids(grid: torch.Tensor, anchors: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``src(p)`` for every pixel of ``grid`` [H, W, 2] under each part's T maps, the T grids
    stacked along the rows, so that one ``grid_sample`` call reads a part's layer T times:
    anchors ``[N, K, 2]``, ``linear`` ``[N, T, K, 2, 2]``, ``shift`` ``[N, T, K, 2]`` →
    ``[N*K, T*H, W, 2]`` (a view of a coordinate-major tensor), in float32 or wider.

    The map is written as ``[A | a + e - A a] (p, 1)``: one matrix product over all pixels,
    where an einsum of ``A (p - a)`` ran N·T products of 2×2 matrices and its layout then
    needed a transposed copy (the grids' forward 38 → 15 ms at a 64×64 training batch; scratch,
    twenty-first session). Autocast is off inside: under bf16 autocast the product ran in
    bfloat16, 0.01 off in normalised units (a third of a pixel at 64×64)."""
    n, t, k = linear.shape[:3]
    h, w = grid.shape[:2]
    dtype = torch.promote_types(linear.dtype, torch.float32)
    with torch.autocast(linear.device.type, enabled=False):
        a, lin = anchors.to(dtype).unsqueeze(1), linear.to(dtype)
        offset = a + shift.to(dtype) - (lin @ a.unsqueeze(-1)).squeeze(-1)  # [N, T, K, 2]
        theta = torch.cat([lin, offset.unsqueeze(-1)], dim=-1)  # [N, T, K, 2, 3]
        rows = theta.permute(0, 2, 3, 1, 4).reshape(n * k * 2 * t, 3)  # (part, axis, frame)
        points = torch.cat([grid.reshape(h * w, 2).to(dtype), grid.new_ones(h * w, 1, dtype=dtype)], dim=1)
        return (rows @ points.T).view(n * k, 2, t * h, w).permute(0, 2, 3, 1)


def fold(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``x`` reflected into ``[lo, hi]`` as often as needed (a triangle wave: the path of a
    point that bounces off both walls); piecewise linear, so gradients pass with slope ±1."""
    span = (hi - lo).clamp_min(1e-4)
    phase = torch.remainder(x - lo, 2 * span)
    return lo + span - (phase - span).abs()


def turn_arounds(
    path: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, tolerance: float, min_travel: float,
    near: str = "frames",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a path ``[N, T, ..., 2]`` turns around near a wall of ``[lo, hi]`` (``[N, ..., 2]``,
    per axis): boolean ``(off_hi, off_lo)`` of the path's shape, true at frame ``t`` when the
    per-frame step along an axis changes sign between ``t - 1`` and ``t`` (the path peaks at
    ``t - 1``) near that wall, on an axis along which the path travels more than
    ``min_travel`` in all (a part that stays put near a wall does not bounce when it jitters).
    Near: within ``tolerance`` of it, measured from the frames either side of the turn
    (``near = "frames"``; frames 0 and 1 are then never turn-arounds) or from where the
    straight lines into and out of the turn meet (``"lines"``, :func:`turn_meetings`: a fast
    part can bounce half a frame's travel away from its nearest frame). With ``"lines"``,
    frame 1 is a turn-around too where a part that starts by a wall bounced off it before
    frame 2 (a part starting against a wall, moving into it): motion codes round such an
    early turn off, so there is no sign change to see, but the line the path leaves on,
    traced back to frame 0, lies beyond the start, on the wall's side, by more than half a
    frame's travel."""
    lo, hi = _per_frame_walls(path, lo, hi)
    moving = ((path.amax(1) - path.amin(1)) > min_travel).unsqueeze(1)
    before, after = path[:, 1:-1] - path[:, :-2], path[:, 2:] - path[:, 1:-1]
    start_lo = start_hi = torch.zeros_like(path[:, :1], dtype=torch.bool)
    if near == "lines":
        met_lo, met_hi = turn_meetings(path)
        near_hi, near_lo = met_hi[:, 2:] >= hi - tolerance, met_lo[:, 2:] <= lo + tolerance
        if path.shape[1] > _EARLY_OUT:
            start, out, half_step = path[:, :1], path[:, _EARLY_OUT:_EARLY_OUT + 1], _median_speed(path) / 2
            start_lo = (met_lo[:, 1:2] <= lo + tolerance) & (met_lo[:, 1:2] < start - half_step) & (out > start) & moving
            start_hi = (met_hi[:, 1:2] >= hi - tolerance) & (met_hi[:, 1:2] > start + half_step) & (out < start) & moving
    elif near == "frames":
        near_hi = torch.maximum(path[:, 1:-1], path[:, 2:]) >= hi - tolerance
        near_lo = torch.minimum(path[:, 1:-1], path[:, 2:]) <= lo + tolerance
    else:
        raise ValueError(f"near must be 'frames' or 'lines', got {near!r}")
    none = torch.zeros_like(path[:, :1], dtype=torch.bool)
    early = start_lo | start_hi
    off_hi = torch.cat([none, start_hi, (before > 0) & (after <= 0) & near_hi & moving], 1)
    off_lo = torch.cat([none, start_lo, (before < 0) & (after >= 0) & near_lo & moving & ~off_hi[:, 2:]], 1)
    # An early bounce is the turn a rounded start shows by frame _EARLY_OUT, if any: not a second
    # one. A mask over frames, not an in-place update of a slice: inductor's vectorised C++
    # for a boolean slice updated in place does not compile (torch 2.13, VecMask types).
    frame = torch.arange(path.shape[1], device=path.device).view(1, -1, *([1] * (path.dim() - 2)))
    repeat = early & (frame >= 2) & (frame <= _EARLY_OUT)
    return off_hi & ~repeat, off_lo & ~repeat


#: The frame an early bounce's outgoing line is drawn through (frames 1 and 2 are rounded off).
_EARLY_OUT = 3


def _median_speed(path: torch.Tensor) -> torch.Tensor:
    """The median per-frame travel of a path ``[N, T, ..., 2]`` along each axis: ``[N, 1, ..., 2]``."""
    return (path[:, 1:] - path[:, :-1]).abs().median(1, keepdim=True).values


def _per_frame_walls(path: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Walls ``[N, ..., 2]`` shaped to broadcast over a path's frames ``[N, 1, ..., 2]``."""
    extra = path.dim() - lo.dim() - 1
    return tuple(w.to(path.dtype).reshape(w.shape[0], 1, *([1] * extra), *w.shape[1:]) for w in (lo, hi))


def turn_meetings(path: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a path ``[N, T, ..., 2]`` would have turned, for a turn seen at each frame ``t``
    (peak at ``t - 1``): the straight line into the turn through frame ``t - 2`` and the line
    out of it through frame ``t + 1`` (the last frame at the end), both at the clip's median
    speed along the axis, meet at the wall the path bounced off, wherever between two frames
    that was. Frames next to the peak are skipped because motion codes round the corner off.
    For frame 1 (an early bounce, see :func:`turn_arounds`) the lines run through frames 0 and
    3. Returns the meeting points ``(low, high)``, each of the path's shape, for a turn at a
    low wall (lines going down, then up) and at a high one."""
    t = path.shape[1]
    frames = torch.arange(t, device=path.device)
    came, left = (frames - 2).clamp(0, t - 1), (frames + 1).clamp(max=t - 1)
    left[1:2] = min(_EARLY_OUT, t - 1)
    gap = (left - came).to(path.dtype).view((1, t) + (1,) * (path.dim() - 2))
    speed = _median_speed(path)
    middle = (path[:, came] + path[:, left]) / 2
    return middle - speed * gap / 2, middle + speed * gap / 2


def turning_walls(
    path: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, off_hi: torch.Tensor, off_lo: torch.Tensor,
    tolerance: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a bouncing path's own turns put its walls: ``(lo', hi')``, ``[N, ..., 2]`` as a frame
    of the path. Per side, the mean over its turn-arounds (``off_hi``, ``off_lo`` from
    :func:`turn_arounds`) of where the lines into and out of the turn meet
    (:func:`turn_meetings`), kept within ``tolerance`` of the given wall and widened to hold
    the path (so that folding at it leaves the path unchanged); a side with no turn-around
    keeps the given wall."""
    lo, hi = _per_frame_walls(path, lo, hi)
    walls = []
    for side, wall, met in zip((off_lo, off_hi), (lo, hi), turn_meetings(path)):
        count = side.sum(1)
        mean = torch.where(side, met, torch.zeros_like(met)).sum(1) / count.clamp_min(1)
        w = wall[:, 0].expand_as(mean)
        walls.append(torch.where(count > 0, torch.minimum(torch.maximum(mean, w - tolerance), w + tolerance), w))
    return torch.minimum(walls[0], path.amin(1)), torch.maximum(walls[1], path.amax(1))


def unfold_bounces(
    path: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, tolerance: float, min_travel: float,
    between_frames: bool = False, turns: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """A path ``[N, T, ..., 2]`` that bounces inside ``[lo, hi]`` (``[N, ..., 2]``, per axis)
    with its bounces undone: after every turn-around (:func:`turn_arounds`), the rest of the
    path is mirrored about that wall, so a bounced straight line comes out straight.

    The inverse of :func:`fold` for paths drawn by motion codes, which turn *near* a wall
    (a smooth temporal basis rounds the corner off, a fraction of a pixel to a few pixels
    short of it) rather than exactly at it. ``fold(unfold_bounces(y), lo, hi) == y`` for
    a path inside the walls: mirroring about a wall is undone by the fold at the same wall.

    A turn-around is seen at the frame after the path's peak; the bounce itself happened
    between the frames either side of the peak. Mirroring starts after the peak, unless
    ``between_frames``: then the peak frame is mirrored too where the path after the peak is
    closer to the wall than the path before it (the bounce came in the first of the two
    intervals, so the peak frame was already on its way back). ``turns``: the turn-arounds
    ``(off_hi, off_lo)`` to undo, where they were found otherwise (default:
    :func:`turn_arounds` with these walls).
    """
    if path.shape[1] < 3:
        return path
    off_hi, off_lo = turn_arounds(path, lo, hi, tolerance, min_travel) if turns is None else turns
    lo, hi = _per_frame_walls(path, lo, hi)
    bounced = off_hi | off_lo
    wall = torch.where(off_hi, hi, lo)
    # u_t = offset_t + sign_t y_t: every bounce flips the sign, and mirroring y about the wall
    # w at t adds 2 sign_(t-1) w to the offset (u = (offset + 2 sign w) - sign y). Done with
    # cumulative products and sums rather than a loop over frames: a transfer runs it once.
    sign = torch.cumprod(1 - 2 * bounced.to(path.dtype), 1)
    before = torch.cat([torch.ones_like(sign[:, :1]), sign[:, :-1]], 1)
    offset = torch.cumsum(2 * before * wall * bounced, 1)
    free = offset + sign * path
    if between_frames:
        # Closer to the wall after the peak than before it: the peak frame came after the bounce.
        late = torch.zeros_like(bounced)
        late[:, 2:] = bounced[:, 2:] & torch.where(off_hi[:, 2:], path[:, :-2] > path[:, 2:], path[:, :-2] < path[:, 2:])
        peak = offset[:, 1:] + sign[:, 1:] * path[:, :-1]  # frame t - 1 with the sign and offset of t
        free[:, :-1] = torch.where(late[:, 1:], peak, free[:, :-1])
    return free


def unfold_path(
    path: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, at: str, tolerance: float, min_travel: float,
    between_frames: bool, turns: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A bounced path ``[N, T, ..., 2]`` inside the walls ``lo``, ``hi`` (``[N, ..., 2]``) unfolded
    as ``sprite_frame_decoder``'s ``unfold_at`` says: ``"walls"``, turn-arounds near the given
    walls (by their frames) mirrored about them; ``"turns"``, turn-arounds near them by their
    lines, early bounces included (:func:`turn_arounds`), mirrored about where the turns put
    the walls (:func:`turning_walls`); ``"straight"``, per part (the path's last axis but one),
    ``"turns"`` where that unfolds the part's path to a straight line (:func:`line_misfit`
    under ``STRAIGHT_MISFIT``, and closer to one than ``"walls"`` gets it), else ``"walls"``:
    the lines into and out of a bounce meet at its wall for straight motion, not for an orbit.
    ``turns``: the turn-arounds ``(off_hi, off_lo)`` where they were found elsewhere (on a
    sharper track of the same motion) or already, instead of on ``path`` (``"walls"`` and
    ``"turns"``; ``"straight"`` passes them to its ``"walls"`` unfolding only). Returns the
    free path and the walls it was unfolded at (``[N, ..., 2]`` each; folding the free path at
    them gives ``path`` back)."""
    if at == "walls":
        if turns is None:
            turns = turn_arounds(path, lo, hi, tolerance, min_travel, near="frames")
        lo, hi = (w[:, 0].expand_as(path[:, 0]) for w in _per_frame_walls(path, lo, hi))
    elif at == "turns":
        if turns is None:
            turns = turn_arounds(path, lo, hi, tolerance, min_travel, near="lines")
        lo, hi = turning_walls(path, lo, hi, *turns, tolerance)
    elif at == "straight":
        by_walls = unfold_path(path, lo, hi, "walls", tolerance, min_travel, between_frames, turns)
        by_turns = unfold_path(path, lo, hi, "turns", tolerance, min_travel, between_frames)
        misfit = line_misfit(by_turns[0])
        straight = (misfit < STRAIGHT_MISFIT) & (misfit < line_misfit(by_walls[0]))  # [N, ...]
        return (torch.where(straight.unsqueeze(1).unsqueeze(-1), by_turns[0], by_walls[0]),
                *(torch.where(straight.unsqueeze(-1), t, w) for t, w in zip(by_turns[1:], by_walls[1:])))
    else:
        raise ValueError(f"at must be 'walls', 'turns' or 'straight', got {at!r}")
    return unfold_bounces(path, lo, hi, tolerance, min_travel, between_frames, turns), lo, hi


#: ``unfold_path(at="straight")``: the largest :func:`line_misfit` (normalised units: 0.8 px at
#: 32×32) of a path still taken for a straight one.
STRAIGHT_MISFIT = 0.05


def line_misfit(path: torch.Tensor) -> torch.Tensor:
    """How far a path ``[N, T, ..., 2]`` is from a straight line at constant speed: the root of
    the mean squared distance of its points from the least-squares line through them, both axes
    together → ``[N, ...]``."""
    t = path.shape[1]
    time = torch.arange(t, dtype=path.dtype, device=path.device).view(1, t, *([1] * (path.dim() - 2)))
    time = time - time.mean()
    centred = path - path.mean(1, keepdim=True)
    slope = (centred * time).sum(1, keepdim=True) / time.square().sum().clamp_min(1e-12)
    return (centred - slope * time).square().mean(1).sum(-1).sqrt()


def landing(
    anchors: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor, point: torch.Tensor | None = None
) -> torch.Tensor:
    """Where the forward map of the backward map ``src(p) = a + A (p - a) + e`` sends ``point``
    (default: the anchor ``a``): ``a + A⁻¹ (point - a - e)``; anchors and points ``[..., 2]``,
    ``linear`` A ``[..., 2, 2]``, ``shift`` e ``[..., 2]``."""
    # In float32 whatever autocast made of the inputs: CUDA has no half-precision solver
    # (lu_factor_cublas is not implemented for bf16), and a 2x2 inverse loses its digits in bf16.
    a = anchors.float()
    offset = -shift.float() if point is None else point.float() - a - shift.float()
    return (a + torch.linalg.solve(linear.float(), offset.unsqueeze(-1)).squeeze(-1)).to(linear.dtype)


def reflect_shift(
    anchors: torch.Tensor,
    radius: torch.Tensor,
    linear: torch.Tensor,
    shift: torch.Tensor,
    centres: torch.Tensor | None = None,
    walls_moved: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The shift that moves each part as ``(A, e)`` would, but with a point of it bounced off
    the frame's edges: anchors ``[N, K, 2]``, per-axis radius ``[N, K, 2]`` (how far the part
    reaches from the bouncing point), ``linear`` A ``[N, K, 2, 2]``, ``shift`` e ``[N, K, 2]``,
    and the bouncing point ``centres`` ``[N, K, 2]`` (default: the anchors) → e'.

    The backward map ``src(p) = a + A (p - a) + e`` sends the point ``c`` to
    ``c* = a + A⁻¹ (c - a - e)``; ``c*`` is folded into ``[-1 + r, 1 - r]`` per axis (widened
    to contain ``c``, so a zero shift stays the identity even for a part that already touches
    an edge) and e' solves ``src(c') = c``: ``e' = c - a - A (c' - a)``. With ``c = a`` this
    is ``e' = -A (c' - a)``; where nothing folds, ``e' = e``. ``walls_moved``: amounts
    ``(lo, hi)`` ``[N, K, 2]`` added to the walls before that widening.
    """
    a = anchors.to(linear.dtype)
    c = a if centres is None else centres.to(linear.dtype)
    landed = landing(a, linear, shift, c)
    bounced = fold(landed, *part_walls(radius, c, walls_moved))
    return c - a - (linear @ (bounced - a).unsqueeze(-1)).squeeze(-1)


def part_walls(
    radius: torch.Tensor, point: torch.Tensor, moved: tuple[torch.Tensor, torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The walls ``(lo, hi)`` a part's bouncing ``point`` meets, per axis: the frame's edges
    ``±1`` less its reach ``radius`` (plus ``moved``, amounts added to each), widened to contain
    the point, so that a part already touching an edge is not moved by folding at them."""
    lo, hi = -1 + radius, 1 - radius
    if moved is not None:
        lo, hi = lo + moved[0], hi + moved[1]
    return torch.minimum(lo, point), torch.maximum(hi, point)


def mask_moments(masks: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid ``[..., 2]`` and covariance ``[..., 2, 2]`` of soft masks ``[..., H, W]`` on ``grid``
    [H, W, 2], in float32 (or the masks' wider dtype) whatever autocast is on.

    Mass, first and second moments come from one matrix product of the masks with (1, x, y,
    x², xy, y²) per pixel, in float64, and the covariance is E[p pᵀ] - E[p] E[p]ᵀ. The centred
    form wrote p - E[p] for every pixel of every mask and ran a batched product per mask, in
    bfloat16 under autocast: forward and backward at a training step's four mask shapes
    54-68 → 8.4-8.6 ms, and 4000 soft blobs' covariances within 2e-9 of a float64 centred
    reference where float32 raw moments were 4e-6 off (cancellation) and the old float32
    code 2e-7 (scratch, twenty-first session)."""
    dtype = torch.promote_types(masks.dtype, torch.float32)
    with torch.autocast(masks.device.type, enabled=False):
        x, y = grid.reshape(-1, 2).to(dtype=torch.float64, device=masks.device).unbind(-1)
        basis = torch.stack([torch.ones_like(x), x, y, x * x, x * y, y * y], dim=-1)  # [HW, 6]
        sums = masks.flatten(-2).double() @ basis  # [..., 6]
        moments = sums / sums[..., :1].clamp_min(1e-6)
        centre = moments[..., 1:3]
        # Σ w (p - c)(p - c)ᵀ = E[p pᵀ] - (2 - Σ w) c cᵀ: Σ w is 1 but for a mask of almost no mass.
        cx, cy, twice = *centre.unbind(-1), 2 - moments[..., 0]
        xx = moments[..., 3] - twice * cx * cx
        xy = moments[..., 4] - twice * cx * cy
        yy = moments[..., 5] - twice * cy * cy
        cov = torch.stack([xx, xy, xy, yy], dim=-1).view(*centre.shape[:-1], 2, 2)
    return centre.to(dtype), cov.to(dtype)


#: Pixels above a threshold a mask needs before its thresholded moments are trusted
#: (:func:`confident_moments`; ``part_trajectory``'s covariance target).
MIN_CONFIDENT_PIXELS = 4.0


def confident_moments(
    masks: torch.Tensor, grid: torch.Tensor, threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mask_moments` of the pixels where a soft mask exceeds ``threshold`` (weighted by
    the mask), falling back to the whole soft mask where fewer than ``MIN_CONFIDENT_PIXELS``
    pixels do. Why: a soft mask's faint tail over the frame dominates its covariance, which
    then hardly grows with the part (measured: 8 % of a zoom's scale change against 73 %
    thresholded; ``benchmarks/motion_precision.py``), so it says little about the part's size."""
    above = masks > threshold
    enough = (above.flatten(-2).sum(-1) >= MIN_CONFIDENT_PIXELS)[..., None, None]
    return mask_moments(torch.where(enough & ~above, torch.zeros_like(masks), masks), grid)


def gyration_radius(spread: torch.Tensor) -> torch.Tensor:
    """The root of a covariance's trace from its per-axis standard deviations ``[..., 2]`` → ``[...]``:
    a part's size whatever its shape's aspect (the radius of gyration of its pixels)."""
    return spread.square().sum(-1).sqrt()


def confident_radius(masks: torch.Tensor, centres: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Per-axis reach ``[..., 2]`` (normalised units) of the circle about ``centres`` ``[..., 2]``
    that holds every pixel where a mask ``[..., H, W]`` exceeds 0.5, out to the pixels' outer
    edges: the farthest such pixel centre plus half a pixel, measured in pixels (so a turn does
    not change it) and given per axis in normalised units. Where fewer than
    ``MIN_CONFIDENT_PIXELS`` pixels exceed 0.5, two standard deviations of the soft mask."""
    height, width = masks.shape[-2:]
    to_px = torch.tensor([width / 2, height / 2], dtype=masks.dtype, device=masks.device)
    offsets = (grid.to(masks.dtype) - centres[..., None, None, :]) * to_px  # [..., H, W, 2] px
    above = masks > 0.5
    farthest = torch.where(above, offsets.norm(dim=-1), torch.zeros_like(masks)).flatten(-2).amax(-1)
    radius = (farthest + 0.5).unsqueeze(-1) / to_px  # [..., 2]
    soft = 2 * mask_moments(masks, grid)[1].diagonal(dim1=-2, dim2=-1).clamp_min(1e-8).sqrt()
    enough = (above.flatten(-2).sum(-1) >= MIN_CONFIDENT_PIXELS).unsqueeze(-1)
    return torch.where(enough, radius, soft)


#: Angular orders read off a mask's shape: 2 (elongation), 3 (triangles), 4 (squares, crosses).
ANGULAR_ORDERS = (2, 3, 4)


def angular_moments(
    masks: torch.Tensor, grid: torch.Tensor, orders: tuple[int, ...] = ANGULAR_ORDERS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each mask's n-fold angular moments about its centroid, for masks ``[..., H, W]`` on ``grid``
    [H, W, 2]: unit phasors ``[..., len(orders), 2]`` (cos, sin of the moment's angle) and
    strengths ``[..., len(orders)]`` in [0, 1].

    The order-n moment is ``sum m(p) r^n e^{i n φ}`` over the pixels (r, φ: polar coordinates
    about the centroid, y down); its strength is its magnitude over ``sum m(p) r^n``: 0 for a
    disc (or a shape with another symmetry), 1 for a shape all along one direction of n-fold
    symmetry. When the mask turns by θ (forward, as ``similarity_linear``'s angle), the
    phasor turns by n·θ: a turn is readable modulo 2π/n, which is all a shape of n-fold
    symmetry shows.
    """
    centre = mask_moments(masks, grid)[0]
    weights = masks.flatten(-2).unsqueeze(-2)  # [..., 1, HW]
    rel = grid.reshape(-1, 2).to(masks.dtype) - centre.unsqueeze(-2)  # [..., HW, 2]
    radius = rel.square().sum(-1).clamp_min(1e-12).sqrt().unsqueeze(-2)  # [..., 1, HW]
    angle = torch.atan2(rel[..., 1], rel[..., 0]).unsqueeze(-2)
    n = torch.tensor(orders, dtype=masks.dtype, device=masks.device).unsqueeze(-1)  # [O, 1]
    power = weights * radius**n  # [..., O, HW]
    moment = torch.stack([(power * torch.cos(n * angle)).sum(-1), (power * torch.sin(n * angle)).sum(-1)], -1)
    magnitude = (moment.square().sum(-1) + 1e-12).sqrt()  # finite gradient at a zero moment
    strength = magnitude / power.sum(-1).clamp_min(1e-12)
    return moment / magnitude.clamp_min(1e-12).unsqueeze(-1), strength.clamp(0, 1)


def turn_since_first(phasors: torch.Tensor, orders: tuple[int, ...] = ANGULAR_ORDERS) -> torch.Tensor:
    """The turn since frame 1 per order, from per-frame phasors ``[B, T, ..., len(orders), 2]``
    (:func:`angular_moments`): ``[B, T, ..., len(orders)]`` in radians. Frame-to-frame steps
    are taken within (-π/n, π/n] (a larger step is hidden by the symmetry) and summed, so a
    steady rotation is followed past 2π/n."""
    n = torch.tensor(orders, dtype=phasors.dtype, device=phasors.device)
    change = phasor_change(phasors[:, 1:], phasors[:, :-1])  # the phase step between two frames
    turn = (torch.atan2(change[..., 1], change[..., 0]) / n).cumsum(1)
    return torch.cat([torch.zeros_like(turn[:, :1]), turn], dim=1)


def clearest_turn(
    phasors: torch.Tensor, strength: torch.Tensor, orders: tuple[int, ...] = ANGULAR_ORDERS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The turn since frame 1 read on the angular order a shape shows most clearly over its
    clip, from per-frame phasors ``[B, T, ..., len(orders), 2]`` and strengths ``[B, T, ...,
    len(orders)]`` (:func:`angular_moments`): the turn ``[B, T, ...]`` in radians
    (:func:`turn_since_first`), that order's index into ``orders`` ``[B, ...]`` and its mean
    strength over the frames ``[B, ...]``."""
    clarity = strength.mean(dim=1)
    best = clarity.argmax(dim=-1, keepdim=True)
    turns = turn_since_first(phasors, orders)
    turn = turns.gather(-1, best.unsqueeze(1).expand(*turns.shape[:-1], 1))[..., 0]
    return turn, best[..., 0], clarity.gather(-1, best)[..., 0]


def phasor_change(later: torch.Tensor, earlier: torch.Tensor) -> torch.Tensor:
    """``later · conj(earlier)`` of phasors ``[..., 2]`` (cos, sin): the phase change between them."""
    return torch.stack([later[..., 0] * earlier[..., 0] + later[..., 1] * earlier[..., 1],
                        later[..., 1] * earlier[..., 0] - later[..., 0] * earlier[..., 1]], -1)


def map_turn(linear: torch.Tensor) -> torch.Tensor:
    """The forward turn θ [...] of backward maps' linear parts ``A`` [..., 2, 2]: the angle of
    their rotation-like part (exact for ``similarity_linear``'s ``R(-θ)/s``, the nearest
    rotation's angle for a bounded A with shear)."""
    return torch.atan2(linear[..., 0, 1] - linear[..., 1, 0], linear[..., 0, 0] + linear[..., 1, 1])


#: The side (pixels) :func:`registered_turns` registers masks at: larger masks are average-pooled to it.
REGISTRATION_SIDE = 32


def registered_turns(
    masks: torch.Tensor, centres: torch.Tensor, grid: torch.Tensor, max_step: float = 0.6, steps: int = 49,
    prior: float = 0.5, min_strength: float = 0.15, shading: torch.Tensor | None = None,
) -> torch.Tensor:
    """The turn since frame 1 (forward, radians, as :func:`similarity_linear`'s angle) of a part in
    every frame, read by registering its mask: soft masks ``[N, T, H, W]`` on ``grid`` [H, W, 2],
    their centres ``[N, T, 2]`` → ``[N, T]``.

    Frame t's turn is the angle θ, within ``max_step`` of frame t-1's (on a lattice of the spacing
    of ``steps`` candidates over that range, refined between lattice angles), at which frame 1's
    mask turned by θ about its centre and moved to frame t's centre matches frame t's mask
    (squared difference, relative to its mean over the candidates within ``max_step`` of frame
    t-1's turn), plus ``prior`` times the squared change from frame t-1's; the turns of all
    frames are chosen together, as the path of least total cost (:func:`_polar_turn_path`). A
    mask that looks alike at every angle reads no turn rather than the noise of its pixels, and
    a part whose silhouette in frame 1 shows no orientation (its strongest angular moment,
    :func:`angular_moments`, under ``min_strength``: a disc) reads none at all. Step by step, a
    steady turn is read past a shape's symmetry (a square's 90°) as long as each step stays
    under half of it.
    Unlike a silhouette's angular moments (:func:`clearest_turn`), it reads soft masks as they
    are and needs no order.

    ``shading`` ``[N, T, H, W]`` (:func:`part_shading`): the part's appearance inside its mask,
    registered with the mask as a second channel, so that a part whose silhouette shows no
    orientation but whose shading does (a shaded disc) reads its turn too; the gate then passes
    where either shows one (the shading's strongest moment of order 1, 2, 3 or 4).
    """
    n, t, h, w = masks.shape
    maps = masks.unsqueeze(2) if shading is None else torch.stack([masks, shading.to(masks.dtype)], 2)
    channels = maps.shape[2]
    flat = maps.reshape(n * t, channels, h, w)
    shrink = max(1, min(h, w) // REGISTRATION_SIDE)
    if shrink > 1:  # registered at about 32 pixels a side: the resampling costs 4x less at 64x64
        flat = F.avg_pool2d(flat, shrink)
        h, w = flat.shape[-2:]
        grid = pixel_grid(h, w).to(masks.device)
    # Blurred by a pixel: a rasterised edge resampled at turned positions aliases, and its
    # mismatch then jumps between neighbouring angles more than a small turn changes it.
    maps = F.avg_pool2d(flat, 3, stride=1, padding=1, count_include_pad=False).view(n, t, channels, h, w)
    first = maps[:, 0].unsqueeze(1)  # [N, 1, C, H, W]
    turn = _polar_turn_path(maps, centres, grid, max_step, 2 * max_step / max(steps - 1, 1), prior)
    strength = angular_moments((first[:, 0, 0] > 0.5).to(masks.dtype), grid)[1].amax(-1)  # [N]
    if shading is not None:
        strength = torch.maximum(strength, shading_strength(first[:, 0, 1], grid))
    return torch.where((strength >= min_strength).unsqueeze(1), turn, torch.zeros_like(turn))


def _polar_turn_path(
    maps: torch.Tensor, centres: torch.Tensor, grid: torch.Tensor, max_step: float, spacing: float, prior: float
) -> torch.Tensor:
    """:func:`registered_turns`' search: maps ``[N, T, C, H, W]`` on ``grid``, centres ``[N, T, 2]``
    → the turn since frame 1 ``[N, T]``.

    Every frame is resampled once in polar coordinates about its own centre (radii out to the
    farthest pixel any frame's maps reach, each ring weighted by its radius: the area it
    stands for), where frame 1 turned by θ and moved to frame t's centre is a circular shift
    by θ; so the mismatch of every candidate turn on a lattice of ``spacing`` over the whole
    circle is one circular cross-correlation (an FFT along the angles). The path through the
    frames is then the one that minimises, summed over frames, each mismatch relative to its
    mean within ``max_step`` of the previous frame's turn plus ``prior`` times the squared step,
    steps within ``max_step`` (dynamic programming), refined between lattice angles by a
    parabola. Why: the frame-by-frame search it replaced ran about 55 operators per frame (16
    frames of a polygon at 32x32: 7.7 ms, this 2.3 ms; one 64x64 transfer 4-5 ms shorter, the
    same transfer scores: ``benchmarks/RESULTS.md``, nineteenth session).
    """
    n, t, c, h, w = maps.shape
    if t == 1:
        return maps.new_zeros(n, 1)
    angles = max(8, math.ceil(2 * math.pi / spacing))
    step = 2 * math.pi / angles
    radii = max(h, w) // 2
    pixel = 2 / max(h, w)
    offsets = (grid.to(maps.dtype).view(1, 1, h, w, 2) - centres.view(n, t, 1, 1, 2)).norm(dim=-1)  # [N, T, H, W]
    seen = maps.abs().amax(2) > 1e-3
    reach = torch.where(seen, offsets, torch.zeros_like(offsets)).flatten(1).amax(1) + 1.5 * pixel  # [N]
    r = (torch.arange(radii, dtype=maps.dtype, device=maps.device) + 0.5) / radii  # [R], scaled by reach below
    phi = torch.arange(angles, dtype=maps.dtype, device=maps.device) * step
    ring = torch.stack([r[:, None] * torch.cos(phi), r[:, None] * torch.sin(phi)], -1)  # [R, A, 2]
    points = ring.view(1, 1, radii, angles, 2) * reach.view(n, 1, 1, 1, 1) + centres.view(n, t, 1, 1, 2)
    polar = grid_sample_bilinear(maps.reshape(n * t, c, h, w), points.reshape(n * t, radii, angles, 2)).view(
        n, t, c, radii, angles)
    polar = polar * r.sqrt().view(1, 1, 1, radii, 1)  # products weighted by r: the area element
    spectrum = torch.fft.rfft(polar, dim=-1)
    # sum over channels and radii of sum_a P_1(a - s) P_t(a): frame 1 turned by s against frame t.
    cross = torch.fft.irfft(spectrum[:, :1].conj() * spectrum[:, 1:], n=angles, dim=-1).sum((2, 3))  # [N, T-1, A]
    energy = polar.square().sum((2, 3, 4))  # [N, T]
    mismatch = (energy[:, :1, None] + energy[:, 1:, None] - 2 * cross).clamp_min(0)
    reach_steps = int(max_step / step + 1e-6)
    moves = torch.arange(-reach_steps, reach_steps + 1, device=maps.device)
    states = torch.arange(angles, device=maps.device)
    window = (states[:, None] + moves) % angles  # [A, K]: the candidates about a previous turn
    scale = mismatch[..., window].mean(-1).clamp_min(1e-12)  # [N, T-1, A]: by the previous turn's state
    penalty = prior * (moves.to(maps.dtype) * step).square()
    came_from = (states[:, None] - moves) % angles  # [A, K]: the previous state of each move into a state
    # Each frame's relative mismatches, gathered for every (state, move) pair at once: the loop
    # over frames then runs three operators a frame (the costs are summed in the same order).
    relative = mismatch.unsqueeze(-1) / scale[:, :, came_from]  # [N, T-1, A, K]
    cost = torch.full((n, angles), math.inf, dtype=maps.dtype, device=maps.device)
    cost[:, 0] = 0  # frame 1 is not turned
    choices = []
    for frame in range(t - 1):
        cost, choice = (cost[:, came_from] + relative[:, frame] + penalty).min(-1)  # [N, A]
        choices.append(choice)
    chosen = moves[torch.stack(choices, 1)]  # [N, T-1, A]: the move into each state
    before = (states - chosen) % angles  # [N, T-1, A]: the state it came from
    state = cost.argmin(-1, keepdim=True)  # [N, 1]
    taken = []
    for frame in range(t - 2, -1, -1):
        taken.append(chosen[:, frame].gather(1, state))
        state = before[:, frame].gather(1, state)
    path = torch.cat(taken[::-1], 1).to(maps.dtype).cumsum(1) * step  # [N, T-1], unwrapped
    lattice = torch.round(path / step).long() % angles
    left, mid, right = (mismatch.gather(2, ((lattice + d) % angles).unsqueeze(-1))[..., 0] for d in (-1, 0, 1))
    curvature = left - 2 * mid + right
    offset = torch.where(curvature > 1e-12, 0.5 * (left - right) / curvature.clamp_min(1e-12), torch.zeros_like(mid))
    return torch.cat([torch.zeros_like(path[:, :1]), path + offset.clamp(-1, 1) * step], 1)


def part_shading(masks: torch.Tensor, luminance: torch.Tensor) -> torch.Tensor:
    """Each part's shading: its mask times how far the luminance under it is from the part's
    mask-weighted mean, scaled so that the part's first frame has the mean square of its mask,
    for masks ``[N, T, H, W]`` and luminance ``[N, T, H, W]`` → ``[N, T, H, W]``. Zero-mean
    inside the part, so a flat colour adds nothing and a part registered by mask and shading
    (:func:`registered_turns`) weighs both alike, whatever its colour's contrast (up to a gain
    of 10)."""
    weights = masks.flatten(-2)
    mean = (weights * luminance.flatten(-2)).sum(-1) / weights.sum(-1).clamp_min(1e-6)  # [N, T]
    shading = masks * (luminance - mean[..., None, None])
    first_power = shading[:, :1].square().mean((-2, -1), keepdim=True)
    mask_power = masks[:, :1].square().mean((-2, -1), keepdim=True)
    # At most 10x: a flat part's shading is its soft edges' noise, which must not be blown up.
    return shading * (mask_power / first_power.clamp_min(1e-12)).sqrt().clamp(max=10.0)


def shading_strength(shading: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """How clearly signed shading maps ``[..., H, W]`` show an orientation, in [0, 1]: the
    strongest of their angular moments of order 1 to 4 about the centroid of their magnitude,
    over the moment of the magnitude (a linear ramp across a disc reads π/4, a flat part about 0)."""
    weight = shading.abs()
    centre = mask_moments(weight, grid)[0]
    rel = grid.reshape(-1, 2).to(shading.dtype) - centre.unsqueeze(-2)  # [..., HW, 2]
    radius = rel.norm(dim=-1)
    angle = torch.atan2(rel[..., 1], rel[..., 0])
    signed = shading.flatten(-2)
    strengths = []
    for order in (1, 2, 3, 4):
        power = radius**order
        moment = torch.complex(signed * power * torch.cos(order * angle), signed * power * torch.sin(order * angle)).sum(-1)
        strengths.append(moment.abs() / (weight.flatten(-2) * power).sum(-1).clamp_min(1e-12))
    return torch.stack(strengths, -1).amax(-1).clamp(0, 1)


def rescaled_zoom(log_scale: torch.Tensor, ratio: torch.Tensor, tolerance: float, min_travel: float) -> torch.Tensor:
    """A measured zoom ``log_scale`` ``[N, T, ...]`` (0 at frame 1) replayed at ``ratio`` ``[N, ...]``
    times its rate, its bounces kept where they were: the path is unfolded at its own
    turn-arounds (:func:`unfold_path` with ``at = "turns"``: a wall is where the lines into and
    out of a turn meet, within ``tolerance`` of the path's extreme on that side; a path that
    travels less than ``min_travel`` is no zoom and only scaled), scaled and folded back at
    those walls. A side the path never turned at shows no wall, and nothing bounds the scaled
    path there. Why: a zoom whose rate is an edge speed over the part's size (the synthetic
    set's) runs ``source size / target size`` times as fast on the target, between the same
    bounds."""
    path = log_scale.unsqueeze(-1)  # one axis, as unfold_path reads paths
    low, high = path.amin(1), path.amax(1)
    off_hi, off_lo = turn_arounds(path, low, high, tolerance, min_travel, near="lines")
    free, lo, hi = unfold_path(path, low, high, "turns", tolerance, min_travel, True, (off_hi, off_lo))
    scaled = free * ratio.unsqueeze(1).unsqueeze(-1).to(free.dtype)
    # A wall beyond anywhere the scaled path or its mirror images can go: folding there is no fold.
    far = 3 * (scaled.abs().amax(1) + low.abs() + high.abs()) + 1
    lo = torch.where(off_lo.any(1), lo, -far)
    hi = torch.where(off_hi.any(1), hi, far)
    return fold(scaled, lo.unsqueeze(1), hi.unsqueeze(1))[..., 0]
