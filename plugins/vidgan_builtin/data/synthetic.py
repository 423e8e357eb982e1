"""``synthetic_shapes``: procedural clips whose content and motion are known exactly.

A disentangled video GAN claims that it separates *what* is in a clip (content) from *how*
it moves (motion). Real data cannot check that claim, because nobody knows what the clip
"person A doing person B's motion" should look like. Here we do: every clip is rendered
from two independent sets of factors,

- :class:`ContentFactors`: shape, size, orientation, start position, foreground colour and
  background (flat, gradient or stripes);
- :class:`MotionFactors`: trajectory family (linear with bounces, circular, zoom,
  rotation), speed, direction and sense,

and :func:`render` is a pure function of the two. So ``render(a.content, b.motion)`` *is*
the ground truth of transferring b's motion onto a's content, and
:meth:`SyntheticShapes.transfer_truth` serves it to evaluation code.

Frame 0 depends on the content alone: every trajectory is a displacement that is exactly
zero at t = 0 (scale 1, rotation 0), so a target image is simply the first frame of a
clip. Rendering uses signed distance functions with a one-pixel linear ramp, which is the
area coverage of a straight edge: anti-aliased edges without supersampling, in a handful
of vectorised tensor operations per clip (hundreds of clips per second on one core).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator
from torch.utils.data import Dataset

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import DataError

from .augment import ClipAugmenter, DatasetConfig, augment_seed

__all__ = [
    "SHAPES",
    "MOTIONS",
    "BACKGROUNDS",
    "ContentFactors",
    "MotionFactors",
    "SyntheticShapesConfig",
    "SyntheticShapes",
    "sample_content",
    "sample_motion",
    "sample_factors",
    "trajectory",
    "render",
    "render_path",
]

ShapeName = Literal["circle", "square", "triangle", "diamond", "cross"]
MotionName = Literal["linear", "circular", "zoom", "rotation"]
BackgroundName = Literal["flat", "gradient", "stripes"]

SHAPES: tuple[ShapeName, ...] = ("circle", "square", "triangle", "diamond", "cross")
MOTIONS: tuple[MotionName, ...] = ("linear", "circular", "zoom", "rotation")
BACKGROUNDS: tuple[BackgroundName, ...] = ("flat", "gradient", "stripes")
SPLITS: tuple[str, ...] = ("train", "test")
_CHANNELS_ERROR = "synthetic_shapes draws RGB (3) or grey (1) clips; the geometry asks for {} channels"

#: Zoom stays within these scales, bouncing between them (in log-scale).
ZOOM_RANGE: tuple[float, float] = (0.55, 1.45)
#: Circular trajectories use an orbit radius in this range (fraction of the shorter side).
ORBIT_RANGE: tuple[float, float] = (0.12, 0.22)

# Shape proportions relative to the half-size h, chosen so that every shape covers
# 2-3 h² (a circle 3.1 h²): sizes mean the same thing across shapes.
_SQUARE_HALF = 0.85
_TRIANGLE_HALF_SIDE = 1.2
_DIAMOND = (1.2, 0.8)
_CROSS = (1.05, 0.38)


# -- factors -----------------------------------------------------------------------

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class ContentFactors:
    """What a clip shows; everything that frame 0 depends on.

    ``size`` is the object's nominal diameter as a fraction of the frame's shorter side.
    ``position`` is relative, in [0, 1]², within the area where the whole object fits at
    scale 1 (0 = touching the left/top edge, 1 = the right/bottom one), so the same
    factors stay valid for any frame size. Colours are RGB in [0, 1].
    """

    shape: str
    size: float
    position: tuple[float, float]
    orientation: float
    color: RGB
    background: str
    background_colors: tuple[RGB, RGB]
    background_angle: float
    background_frequency: float


@dataclass(frozen=True)
class MotionFactors:
    """How a clip moves; a displacement from the content's frame 0.

    ``speed`` is how far the object's edge moves per frame, as a fraction of the frame's
    shorter side, whatever the family, so speeds compare across families. ``direction``
    is the heading of ``linear`` motion or the start phase on the orbit of ``circular``
    motion (radians). ``sign`` is the sense of ``circular`` and ``rotation`` and chooses
    zoom in (+1) or out (-1). ``radius`` is the orbit radius of ``circular`` motion.
    """

    kind: str
    speed: float
    direction: float
    sign: int
    radius: float


# -- config ------------------------------------------------------------------------------


class SyntheticShapesConfig(DatasetConfig):
    """Options of ``synthetic_shapes``."""

    clips: int = Field(8192, ge=1, description="Number of clips in the train split (each index is a distinct clip).")
    test_clips: int = Field(512, ge=1, description="Number of clips in the test split (disjoint random streams).")
    shapes: list[ShapeName] = Field(
        default_factory=lambda: list(SHAPES),
        min_length=1,
        description="Shapes to draw; `label` is the index in this list.",
    )
    motions: list[MotionName] = Field(
        default_factory=lambda: list(MOTIONS),
        min_length=1,
        description="Trajectory families; `motion_label` is the index in this list.",
    )
    backgrounds: list[BackgroundName] = Field(
        default_factory=lambda: list(BACKGROUNDS),
        min_length=1,
        description="Background styles: flat, gradient, stripes.",
    )
    size: tuple[float, float] = Field(
        (0.25, 0.45), description="Range of the object's diameter, as a fraction of the frame's shorter side."
    )
    speed: tuple[float, float] = Field(
        (0.02, 0.05), description="Range of the object's edge speed, in fractions of the frame side per frame."
    )
    directions: int = Field(
        8, ge=0, description="Linear motion moves in one of this many evenly spaced directions (0 = any angle)."
    )
    random_orientation: bool = Field(True, description="Draw each object at a random initial angle (else upright).")
    seed: int | None = Field(
        None, description="Seed of the clips; unset uses the recipe's seed. Fix it to compare runs on the same clips."
    )
    cache: bool = Field(
        False,
        description="Pre-render every clip of the split to uint8 in memory at start-up "
        "(clips*frames*3*H*W bytes; items are then quantised to 8 bits).",
    )

    @field_validator("size", "speed")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0 < lo <= hi:
            raise ValueError(f"expected 0 < min <= max, got {list(value)}")
        return value

    @field_validator("size")
    @classmethod
    def _size_fits(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[1] > 1:
            raise ValueError(f"the object must fit in the frame: max size <= 1, got {value[1]}")
        return value

    @field_validator("shapes", "motions", "backgrounds")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"entries must be unique, got {value}")
        return value


# -- sampling ------------------------------------------------------------------------


def _entropy(key: int | Sequence[int]) -> list[int]:
    """numpy's SeedSequence wants non-negative integers; map any ints onto them."""
    keys = [key] if isinstance(key, int) else list(key)
    return [int(k) % 2**64 for k in keys]


def _hsv(h: float, s: float, v: float) -> RGB:
    i = int(h * 6) % 6
    f = h * 6 - math.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (float(r), float(g), float(b))


def _distance(a: RGB, b: RGB) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def sample_content(rng: np.random.Generator, config: SyntheticShapesConfig) -> ContentFactors:
    """Draw content factors; the background is drawn first and the object kept visible on it."""
    shape = str(config.shapes[rng.integers(len(config.shapes))])
    size = float(rng.uniform(*config.size))
    position = (float(rng.uniform()), float(rng.uniform()))
    orientation = float(rng.uniform(0, 2 * math.pi)) if config.random_orientation else 0.0
    background = str(config.backgrounds[rng.integers(len(config.backgrounds))])
    bg0 = _hsv(rng.uniform(), rng.uniform(0.0, 0.5), rng.uniform(0.1, 0.9))
    if background == "flat":
        bg1 = bg0
    else:  # a second tone of similar hue, clearly lighter or darker
        h, s = rng.uniform(), rng.uniform(0.0, 0.5)
        v = float(np.clip(sum(bg0) / 3 + rng.choice([-1, 1]) * rng.uniform(0.12, 0.3), 0.05, 0.95))
        bg1 = _hsv(h, s, v)
    color = _hsv(rng.uniform(), rng.uniform(0.55, 1.0), rng.uniform(0.65, 1.0))
    for _ in range(32):  # keep the object distinguishable from both background tones
        if min(_distance(color, bg0), _distance(color, bg1)) >= 0.45:
            break
        color = _hsv(rng.uniform(), rng.uniform(0.55, 1.0), rng.uniform(0.65, 1.0))
    return ContentFactors(
        shape=shape,
        size=size,
        position=position,
        orientation=orientation,
        color=color,
        background=background,
        background_colors=(bg0, bg1),
        background_angle=float(rng.uniform(0, 2 * math.pi)),
        background_frequency=float(rng.uniform(1.5, 4.0)),
    )


def sample_motion(rng: np.random.Generator, config: SyntheticShapesConfig) -> MotionFactors:
    """Draw motion factors (independent of the content)."""
    kind = str(config.motions[rng.integers(len(config.motions))])
    speed = float(rng.uniform(*config.speed))
    if config.directions > 0:
        step = int(rng.integers(config.directions))
        direction = 2 * math.pi * step / config.directions
    else:
        direction = float(rng.uniform(0, 2 * math.pi))
    if kind == "circular":  # the start phase on the orbit is always free
        direction = float(rng.uniform(0, 2 * math.pi))
    sign = int(rng.choice([-1, 1]))
    radius = float(rng.uniform(*ORBIT_RANGE))
    return MotionFactors(kind=kind, speed=speed, direction=direction, sign=sign, radius=radius)


def sample_factors(
    key: int | Sequence[int], config: SyntheticShapesConfig | None = None
) -> tuple[ContentFactors, MotionFactors]:
    """Content and motion factors from a seed (an int or a tuple of ints).

    Content and motion come from two independent child streams of the seed, so changing
    the motion options (say, dropping ``zoom``) leaves every clip's content unchanged.
    """
    config = config or SyntheticShapesConfig()
    content_seq, motion_seq = np.random.SeedSequence(_entropy(key)).spawn(2)
    return (
        sample_content(np.random.default_rng(content_seq), config),
        sample_motion(np.random.default_rng(motion_seq), config),
    )


# -- geometry of shapes ------------------------------------------------------------------


def _bound_radius(shape: str, half: float) -> float:
    """Radius of the circle around the shape's centre that contains it at any angle."""
    if shape == "circle":
        return half
    if shape == "square":
        return half * _SQUARE_HALF * math.sqrt(2)
    if shape == "triangle":
        return half * _TRIANGLE_HALF_SIDE * 2 / math.sqrt(3)
    if shape == "diamond":
        return half * max(_DIAMOND)
    if shape == "cross":
        return half * math.hypot(*_CROSS)
    raise DataError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")


def _sdf(shape: str, u: torch.Tensor, v: torch.Tensor, half: float) -> torch.Tensor:
    """Signed distance (negative inside) to the shape centred at the origin, upright.

    Exact Euclidean distances (formulas after Inigo Quilez), so a one-pixel ramp over
    them gives the true edge coverage.
    """
    if shape == "circle":
        return torch.sqrt(u * u + v * v) - half
    if shape == "square":
        a = half * _SQUARE_HALF
        qx, qy = u.abs() - a, v.abs() - a
        outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
        return outside + torch.maximum(qx, qy).clamp(max=0)
    if shape == "triangle":
        r, k = half * _TRIANGLE_HALF_SIDE, math.sqrt(3.0)
        px, py = u.abs() - r, v + r / k
        fold = px + k * py > 0
        px, py = torch.where(fold, (px - k * py) / 2, px), torch.where(fold, (-k * px - py) / 2, py)
        px = px - px.clamp(-2 * r, 0)
        return -torch.sqrt(px * px + py * py) * torch.sign(py)
    if shape == "diamond":
        bx, by = half * _DIAMOND[0], half * _DIAMOND[1]
        px, py = u.abs(), v.abs()
        h = (((bx - 2 * px) * bx - (by - 2 * py) * by) / (bx * bx + by * by)).clamp(-1, 1)
        dx, dy = px - 0.5 * bx * (1 - h), py - 0.5 * by * (1 + h)
        return torch.sqrt(dx * dx + dy * dy) * torch.sign(px * by + py * bx - bx * by)
    if shape == "cross":
        a, b = half * _CROSS[0], half * _CROSS[1]
        pu, pv = u.abs(), v.abs()
        px, py = torch.maximum(pu, pv), torch.minimum(pu, pv)
        qx, qy = px - a, py - b
        corner = torch.maximum(qx, qy)
        wx, wy = torch.where(corner > 0, qx, b - px), torch.where(corner > 0, qy, -corner)
        return torch.sign(corner) * torch.sqrt(wx.clamp(min=0) ** 2 + wy.clamp(min=0) ** 2)
    raise DataError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")


# -- motion ----------------------------------------------------------------------------


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect ``x`` into [lo, hi]; values already inside are returned bit-for-bit."""
    if hi <= lo:
        return np.full_like(x, (lo + hi) / 2)
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    folded = lo + np.where(y > span, 2 * span - y, y)
    return np.where((x >= lo) & (x <= hi), x, folded)


def _fit(p: float, margin: float, extent: float) -> float:
    """Clamp a centre so that a disc of radius ``margin`` stays inside [0, extent]."""
    if 2 * margin >= extent:
        return extent / 2
    return min(max(p, margin), extent - margin)


def trajectory(
    content: ContentFactors, motion: MotionFactors, geometry: VideoGeometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centre x, centre y, scale and angle (float64 arrays of length T).

    Coordinates are in units of the frame's shorter side. At t = 0 every family gives
    exactly (content centre, 1, content orientation); the object never leaves the frame.
    """
    t = np.arange(geometry.frames, dtype=np.float64)
    side = min(geometry.height, geometry.width)
    ext_x, ext_y = geometry.width / side, geometry.height / side
    half = content.size / 2
    margin = _bound_radius(content.shape, half)
    x0 = _fit(margin + content.position[0] * (ext_x - 2 * margin), margin, ext_x)
    y0 = _fit(margin + content.position[1] * (ext_y - 2 * margin), margin, ext_y)
    cx, cy = np.full_like(t, x0), np.full_like(t, y0)
    scale, angle = np.ones_like(t), np.full_like(t, content.orientation)
    kind, speed = motion.kind, motion.speed
    if kind == "linear":
        cx = _bounce(x0 + math.cos(motion.direction) * speed * t, margin, ext_x - margin)
        cy = _bounce(y0 + math.sin(motion.direction) * speed * t, margin, ext_y - margin)
    elif kind == "circular":
        phase = motion.direction + motion.sign * (speed / motion.radius) * t
        dx = motion.radius * (np.cos(phase) - math.cos(motion.direction))
        dy = motion.radius * (np.sin(phase) - math.sin(motion.direction))
        cx = _bounce(x0 + dx, margin, ext_x - margin)
        cy = _bounce(y0 + dy, margin, ext_y - margin)
    elif kind == "zoom":
        log_scale = _bounce(motion.sign * (speed / content.size) * t, *np.log(ZOOM_RANGE))
        scale = np.exp(log_scale)
        cx = np.array([_fit(x0, margin * s, ext_x) for s in scale])
        cy = np.array([_fit(y0, margin * s, ext_y) for s in scale])
    elif kind == "rotation":
        angle = content.orientation + motion.sign * (speed / margin) * t
    else:
        raise DataError(f"unknown motion {kind!r}; expected one of {', '.join(MOTIONS)}")
    return cx, cy, scale, angle


# -- rendering --------------------------------------------------------------------------


def _background(content: ContentFactors, geometry: VideoGeometry) -> torch.Tensor:
    """``[3, H, W]`` in [0, 1]; static, so part of the content."""
    side = min(geometry.height, geometry.width)
    xs = (torch.arange(geometry.width, dtype=torch.float32) + 0.5) / side - geometry.width / side / 2
    ys = (torch.arange(geometry.height, dtype=torch.float32) + 0.5) / side - geometry.height / side / 2
    ca, sa = math.cos(content.background_angle), math.sin(content.background_angle)
    s = xs.view(1, -1) * ca + ys.view(-1, 1) * sa  # [H, W], signed distance along the angle
    if content.background == "gradient":
        w = (0.5 + s / math.hypot(geometry.width / side, geometry.height / side)).clamp(0, 1)
    elif content.background == "stripes":
        w = 0.5 + 0.5 * torch.sin(2 * math.pi * content.background_frequency * s)
    elif content.background == "flat":
        w = torch.zeros_like(s)
    else:
        raise DataError(f"unknown background {content.background!r}; expected one of {', '.join(BACKGROUNDS)}")
    c0 = torch.tensor(content.background_colors[0], dtype=torch.float32).view(3, 1, 1)
    c1 = torch.tensor(content.background_colors[1], dtype=torch.float32).view(3, 1, 1)
    return c0 + (c1 - c0) * w


def render(content: ContentFactors, motion: MotionFactors, geometry: VideoGeometry) -> torch.Tensor:
    """The clip ``[T, C, H, W]`` in [-1, 1] that the factors describe, exactly.

    Pure and deterministic: the same factors give bit-identical clips, and frame 0 is the
    same for every motion. Per-frame trigonometry is done in float64 on T numbers; the
    per-pixel work uses only correctly rounded operations, so it does not depend on how
    torch vectorises it.
    """
    return render_path(content, *trajectory(content, motion, geometry), geometry)


def render_path(
    content: ContentFactors,
    cx: np.ndarray,
    cy: np.ndarray,
    scale: np.ndarray,
    angle: np.ndarray,
    geometry: VideoGeometry,
) -> torch.Tensor:
    """The clip ``[T, C, H, W]`` in [-1, 1] of ``content`` moved along an explicit path.

    The path is what :func:`trajectory` returns (per-frame centre x, y in units of the
    frame's shorter side, scale, angle; length ``geometry.frames``); :func:`render` is
    this function on the trajectory of its motion factors. Benchmarks use it to render
    motions that no factors describe (for example, another clip's path copied onto this
    content).
    """
    if geometry.channels not in (1, 3):
        raise DataError(_CHANNELS_ERROR.format(geometry.channels))
    frames, height, width = geometry.frames, geometry.height, geometry.width
    if not all(len(a) == frames for a in (cx, cy, scale, angle)):
        raise DataError(f"render_path: the path must have {frames} entries per array (one per frame)")
    side = min(height, width)
    half = content.size / 2

    def col(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32)).view(frames, 1, 1)

    xs = ((torch.arange(width, dtype=torch.float32) + 0.5) / side).view(1, 1, width)
    ys = ((torch.arange(height, dtype=torch.float32) + 0.5) / side).view(1, height, 1)
    cos, sin, inv = col(np.cos(angle)), col(np.sin(angle)), col(1.0 / scale)
    dx, dy = xs - col(cx), ys - col(cy)  # [T, 1, W], [T, H, 1]
    u = (dx * cos + dy * sin) * inv  # object-local coordinates, [T, H, W]
    v = (dy * cos - dx * sin) * inv
    distance = _sdf(content.shape, u, v, half) * col(scale)
    alpha = (0.5 - distance * side).clamp_(0, 1).unsqueeze(1)  # edge coverage of a one-pixel box filter
    # Shading across the object's own x axis: it makes rotation visible on a circle.
    shade = (u / half).clamp_(-1, 1).mul_(0.3).add_(0.7).unsqueeze(1)  # [T, 1, H, W]
    color = torch.tensor(content.color, dtype=torch.float32).view(1, 3, 1, 1)
    background = _background(content, geometry).unsqueeze(0)  # [1, 3, H, W]
    out = (color * shade).sub_(background).mul_(alpha).add_(background)  # [T, 3, H, W]
    if geometry.channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        out = (out * weights).sum(1, keepdim=True)
    return out.mul_(2).sub_(1)


# -- dataset -----------------------------------------------------------------------------


class SyntheticShapes(Dataset[dict[str, Any]]):
    """Moving shapes with independent content and motion; needs nothing on disk.

    Item ``i`` is ``{"video": [T, C, H, W], "index": i, "label": shape index,
    "motion_label": motion-family index}``, a pure function of (seed, split, i): the
    train and test splits draw from disjoint random streams. With ``augment`` on, train
    items are augmented by a transform drawn from (seed, i, epoch) (see :meth:`set_epoch`);
    the ground-truth methods (:meth:`clip`, :meth:`transfer_truth`, :meth:`transfer_batch`)
    never are.
    """

    Config = SyntheticShapesConfig

    def __init__(
        self,
        config: SyntheticShapesConfig | None = None,
        *,
        geometry: VideoGeometry | None = None,
        split: str = "train",
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; synthetic_shapes has splits {', '.join(SPLITS)}")
        self.config = config or SyntheticShapesConfig()
        self.geometry = geometry or VideoGeometry()
        if self.geometry.channels not in (1, 3):
            raise DataError(_CHANNELS_ERROR.format(self.geometry.channels))
        self.split = split
        self.seed = self.config.seed if self.config.seed is not None else seed
        self.epoch = 0
        self.augmenter = ClipAugmenter(self.config.augment)
        self._split_id = SPLITS.index(split)
        self._cache: torch.Tensor | None = None
        if self.config.cache:
            clips = [self.clip(i) for i in range(len(self))]
            self._cache = torch.stack([((c + 1) * 127.5).round_().to(torch.uint8) for c in clips])

    def __len__(self) -> int:
        return self.config.clips if self.split == "train" else self.config.test_clips

    def set_epoch(self, epoch: int) -> None:
        """Draw new augmentations (clips themselves do not depend on the epoch)."""
        self.epoch = int(epoch)

    def _check(self, index: int) -> int:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for the {self.split} split of {len(self)} clips")
        return int(index)

    def factors(self, index: int) -> tuple[ContentFactors, MotionFactors]:
        """The content and motion factors of clip ``index``."""
        return sample_factors((self.seed, self._split_id, self._check(index)), self.config)

    def clip(self, index: int) -> torch.Tensor:
        """Clip ``index`` rendered exactly (float, never from the uint8 cache)."""
        content, motion = self.factors(index)
        return render(content, motion, self.geometry)

    def __getitem__(self, index: int) -> dict[str, Any]:
        content, motion = self.factors(index)
        if self._cache is not None:
            video = self._cache[index].to(torch.float32).div_(127.5).sub_(1.0)
        else:
            video = render(content, motion, self.geometry)
        if self.split == "train" and self.augmenter.active:
            video = self.augmenter(video, augment_seed(self.seed, index, self.epoch))
        return {
            "video": video,
            "index": int(index),
            "label": self.config.shapes.index(content.shape),  # type: ignore[arg-type]
            "motion_label": self.config.motions.index(motion.kind),  # type: ignore[arg-type]
        }

    def transfer_truth(self, content_index: int, motion_index: int) -> torch.Tensor:
        """The exact clip with the content of ``content_index`` and the motion of ``motion_index``."""
        content, _ = self.factors(content_index)
        _, motion = self.factors(motion_index)
        return render(content, motion, self.geometry)

    def transfer_pairs(self, count: int, *, seed: int = 0) -> list[tuple[int, int]]:
        """``count`` (content index, motion index) pairs with different clips, fixed by ``seed``."""
        if len(self) < 2:
            raise DataError(f"transfer pairs need at least 2 clips; the {self.split} split has {len(self)}")
        rng = np.random.default_rng(_entropy((seed, self._split_id, len(self))))
        pairs = []
        for _ in range(count):
            a, b = rng.choice(len(self), size=2, replace=False)
            pairs.append((int(a), int(b)))
        return pairs

    def transfer_batch(self, pairs: Sequence[tuple[int, int]]) -> dict[str, torch.Tensor]:
        """Evaluation triples for motion transfer.

        Returns ``image`` ``[B, C, H, W]`` (frame 0 of each content clip: the target),
        ``source`` ``[B, T, C, H, W]`` (the motion clip to imitate), ``truth``
        ``[B, T, C, H, W]`` (the exact answer), plus ``content_index`` and ``motion_index``.
        """
        if not pairs:
            raise DataError("transfer_batch needs at least one (content, motion) pair")
        images, sources, truths = [], [], []
        for content_index, motion_index in pairs:
            content, _ = self.factors(content_index)
            source_content, motion = self.factors(motion_index)
            truth = render(content, motion, self.geometry)
            images.append(truth[0])
            sources.append(render(source_content, motion, self.geometry))
            truths.append(truth)
        return {
            "image": torch.stack(images),
            "source": torch.stack(sources),
            "truth": torch.stack(truths),
            "content_index": torch.tensor([p[0] for p in pairs]),
            "motion_index": torch.tensor([p[1] for p in pairs]),
        }
