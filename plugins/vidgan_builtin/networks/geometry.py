"""Geometry shared by the spatial decoders, the keypoint encoder and the layered losses: per-part
affine maps, pixel grids, a mask's centre, spread and turn.

Coordinates are ``grid_sample``'s normalised (x, y): the frame spans [-1, 1] on both axes.
A part's *backward* map sends an output pixel p to where it is read in the content:
``src(p) = a + A (p - a) + e``, with the part's anchor ``a``, a bounded linear part ``A``
and a bounded shift ``e``.
"""

from __future__ import annotations

import torch

__all__ = [
    "pixel_grid",
    "bounded_affine",
    "similarity_affine",
    "similarity_linear",
    "backward_grids",
    "stacked_grids",
    "landing",
    "mask_moments",
    "MIN_CONFIDENT_PIXELS",
    "ANGULAR_ORDERS",
    "angular_moments",
    "turn_since_first",
    "clearest_turn",
    "phasor_change",
    "map_turn",
]


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """Pixel centres in normalised (x, y) coordinates: ``[H, W, 2]``."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def bounded_affine(raw: torch.Tensor, max_linear: float, max_shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Six raw numbers per part ``[..., K, 6]`` → ``A = I + max_linear·tanh(.)`` [..., K, 2, 2] and
    ``e = max_shift·tanh(.)`` [..., K, 2]; zeros give the identity."""
    eye = torch.eye(2, device=raw.device, dtype=raw.dtype)
    linear = eye + max_linear * torch.tanh(raw[..., :4]).view(*raw.shape[:-1], 2, 2)
    return linear, max_shift * torch.tanh(raw[..., 4:])


def similarity_affine(raw: torch.Tensor, max_log_scale: float, max_shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Six raw numbers per part ``[..., K, 6]`` → a scaled rotation and a shift: the backward
    map of a part grown by ``s = exp(max_log_scale·tanh(raw_0))`` and turned by
    ``θ = π·tanh(raw_1)``, ``A = R(-θ) / s`` [..., K, 2, 2], and ``e = max_shift·tanh(raw_4:6)``
    [..., K, 2]; ``raw_2:4`` are unused (no shear). Zeros give the identity.

    Unlike :func:`bounded_affine`, whose entries of ``A - I`` are bounded (by 0.5: turns of at
    most 30°), this reaches any angle in (-180°, 180°) and any scale within the bound.
    """
    log_scale, angle = max_log_scale * torch.tanh(raw[..., 0]), torch.pi * torch.tanh(raw[..., 1])
    return similarity_linear(log_scale, angle), max_shift * torch.tanh(raw[..., 4:])


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
    where an einsum of ``A (p - a)`` runs N·T products of 2×2 matrices and its layout then
    needs a transposed copy. Autocast is off inside: in bfloat16 the product is a third of a
    pixel off at 64×64."""
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


def mask_moments(masks: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid ``[..., 2]`` and covariance ``[..., 2, 2]`` of soft masks ``[..., H, W]`` on ``grid``
    [H, W, 2], in float32 (or the masks' wider dtype) whatever autocast is on.

    Mass, first and second moments come from one matrix product of the masks with (1, x, y,
    x², xy, y²) per pixel, in float64 (raw moments in float32 lose digits to cancellation),
    and the covariance is E[p pᵀ] - E[p] E[p]ᵀ: no centred copy of every pixel per mask."""
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
#: (``part_trajectory``'s covariance target).
MIN_CONFIDENT_PIXELS = 4.0


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












