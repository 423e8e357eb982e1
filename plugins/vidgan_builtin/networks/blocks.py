"""Building blocks of the DCGAN-style networks, public for every model family's networks.

Every network here is a stack of 4×4 stride-2 convolutions (DCGAN) whose depth follows the
frame size: a side of ``S`` pixels is halved ``log2(min(H, W)) - 2`` times, down to a
4-pixel short side, and the remaining map is read by one dense layer (a convolution
whose kernel covers the whole map, as in DCGAN). Widths start at ``base_channels`` and
double per level up to ``max_channels``. Frame sides must be powers of two, at least 8.

Normalisation is selectable per network (``norm``): GroupNorm, InstanceNorm, BatchNorm or
none. BatchNorm is available for paper-faithful runs but is not a default anywhere: its
running statistics turned eval-mode outputs into noise in the prototype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from vidgan_kit import ComponentConfig, VideoGeometry
from vidgan_kit.errors import ShapeError

__all__ = [
    "NormName",
    "ConvNetConfig",
    "DiscriminatorConfig",
    "Plan",
    "spatial_plan",
    "temporal_plan",
    "make_norm",
    "num_groups",
    "DownTrunk2d",
    "DownTrunk3d",
    "ShortClipConv3d",
    "UpTrunk2d",
    "final_frames",
    "widths",
    "maybe_sn",
    "conv3x3_block",
    "conv3x3_of_upsampled",
    "check_sides_multiple_of_4",
]

NormName = Literal["group", "instance", "batch", "none"]

#: Largest number of groups GroupNorm uses (fewer when the width is not divisible).
MAX_GROUPS = 8


class ConvNetConfig(ComponentConfig):
    """Options shared by every built-in convolutional network."""

    base_channels: int = Field(32, ge=1, description="Width of the first (for decoders: last) convolution level; doubles per level.")
    max_channels: int = Field(512, ge=1, description="Upper bound on the width of any level.")
    norm: NormName = Field(
        "group",
        description="Normalisation after each hidden convolution: group, instance, batch (running statistics; "
        "paper-style, but unreliable in eval mode) or none.",
    )


class DiscriminatorConfig(ConvNetConfig):
    """Options shared by the built-in discriminators."""

    norm: NormName = Field("none", description="Normalisation after each hidden convolution: group, instance, batch or none.")
    spectral_norm: bool = Field(True, description="Wrap every convolution and linear layer in spectral normalisation.")


# -- geometry -------------------------------------------------------------------------


class Plan:
    """How a frame size is walked down: number of stride-2 levels and the final map size."""

    def __init__(self, levels: int, final: tuple[int, int]) -> None:
        self.levels = levels
        self.final = final

    def __repr__(self) -> str:
        return f"Plan(levels={self.levels}, final={self.final})"


def _is_pow2(n: int) -> bool:
    return n > 0 and (n & (n - 1)) == 0


def spatial_plan(geometry: VideoGeometry, who: str) -> Plan:
    """Levels of 2× down-sampling from ``H×W`` to a short side of 4 pixels."""
    h, w = geometry.height, geometry.width
    if not (_is_pow2(h) and _is_pow2(w)) or min(h, w) < 8:
        raise ShapeError(
            f"{who}: frame size {h}×{w} is not supported; the built-in DCGAN-style networks need "
            "power-of-two sides of at least 8 pixels (e.g. 32×32 or 64×64). Set [video] height and width."
        )
    if max(h, w) // min(h, w) > 4:
        raise ShapeError(f"{who}: frame size {h}×{w} is too elongated (aspect ratio above 4:1).")
    levels = int(math.log2(min(h, w))) - 2
    return Plan(levels, (h >> levels, w >> levels))


def temporal_plan(frames: int, levels: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) along time for each 3D level, and implicitly the final length.

    Time is halved (kernel 4, stride 2) while at least 4 steps remain, then kept (kernel 3,
    stride 1), so any clip of 2+ frames works at any depth.
    """
    out = []
    t = frames
    for _ in range(levels):
        if t >= 4:
            out.append((4, 2, 1))
            t = t // 2
        else:
            out.append((3, 1, 1))
    return out


def final_frames(frames: int, levels: int) -> int:
    t = frames
    for k, s, _ in temporal_plan(frames, levels):
        if s == 2:
            t //= 2
    return t


def widths(base: int, cap: int, levels: int) -> list[int]:
    """Channel width per level, doubling from ``base`` and capped at ``cap``."""
    return [min(base * 2**i, cap) for i in range(levels)]


# -- layers ---------------------------------------------------------------------------


def num_groups(channels: int) -> int:
    """The largest divisor of ``channels`` not above :data:`MAX_GROUPS`."""
    return max(g for g in range(1, min(MAX_GROUPS, channels) + 1) if channels % g == 0)


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that normalises half-precision channels-last maps in the contiguous layout.

    torch's CPU kernels for channels-last GroupNorm are several times slower than for the
    contiguous layout in bf16; the two copies cost less than the difference. In float32 it
    is the other way round (forward and backward of [256, 32, 32, 32]: 20-34 ms in
    channels-last, 58-84 ms through the contiguous layout), so float32 maps are normalised
    as they are. The output keeps the input's layout, so the layers after it (up-sampling, the next
    convolution) do not convert it again. Parameters and state dict are ``nn.GroupNorm``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() == 4 and x.dtype in _CONTIGUOUS_NORM_DTYPES and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)
        return super().forward(x)


#: The dtypes normalised through the contiguous layout: bf16, where it was measured faster,
#: and float16 (a GPU precision, not measured here), which keeps the detour it always had.
_CONTIGUOUS_NORM_DTYPES = (torch.bfloat16, torch.float16)


def make_norm(norm: NormName, channels: int, dims: int) -> nn.Module:
    """A normalisation layer for ``dims``-D feature maps (dims = 1 for vectors, 2, 3)."""
    if norm == "none":
        return nn.Identity()
    if norm == "group":
        return GroupNorm(num_groups(channels), channels)
    if norm == "instance":
        cls = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[dims]
        return cls(channels, affine=True)
    if norm == "batch":
        cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
        return cls(channels)
    raise ValueError(f"unknown norm {norm!r}; choose group, instance, batch or none")


def maybe_sn(enabled: bool) -> Callable[[nn.Module], nn.Module]:
    return _spectral_norm if enabled else (lambda m: m)


class DownTrunk2d(nn.Sequential):
    """``levels`` × (4×4 stride-2 conv → norm → LeakyReLU(0.2)); no norm on the first level (DCGAN)."""

    def __init__(self, in_channels: int, chans: list[int], norm: NormName, sn: bool = False) -> None:
        wrap = maybe_sn(sn)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c in enumerate(chans):
            use_norm = i > 0 and norm != "none"
            layers.append(wrap(nn.Conv2d(c_in, c, 4, 2, 1, bias=not use_norm)))
            if use_norm:
                layers.append(make_norm(norm, c, 2))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c
        super().__init__(*layers)


class ShortClipConv3d(nn.Conv3d):
    """``nn.Conv3d`` that pads time with explicit zeros for a clip shorter than its temporal
    kernel under bf16 autocast on a CPU; otherwise ``nn.Conv3d`` itself.

    Why: torch 2.13's oneDNN bf16 kernel for the weight gradient of such a convolution reads
    memory it never wrote. D_V's last level at 16 frames (2 frames in, temporal kernel 3,
    padding 1, a batch of 48 clips) gave a non-finite weight gradient in 17 of 30 trials when
    the heap held NaN; with the padding as zeros in the input, 0 of 60; in training the
    weights went NaN within 10 steps in 2 of 12 runs (3 of 11 with freed memory reused;
    ``benchmarks/bf16_stability.py`` counts them). Parameters and state dict are
    ``nn.Conv3d``'s; float32 and GPU runs take the usual path, bit for bit.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_t = self.padding[0] if isinstance(self.padding, tuple) else 0
        if pad_t and x.shape[-3] < self.kernel_size[0] and _cpu_bf16_autocast(x):
            x = F.pad(x, (0, 0, 0, 0, pad_t, pad_t))
            return F.conv3d(x, self.weight, self.bias, self.stride, (0, *self.padding[1:]), self.dilation, self.groups)
        return super().forward(x)


def _cpu_bf16_autocast(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


class DownTrunk3d(nn.Sequential):
    """3D version of :class:`DownTrunk2d` over ``[B, C, T, H, W]``; time follows :func:`temporal_plan`."""

    def __init__(self, in_channels: int, chans: list[int], frames: int, norm: NormName, sn: bool = False) -> None:
        wrap = maybe_sn(sn)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (c, (kt, st, pt)) in enumerate(zip(chans, temporal_plan(frames, len(chans)), strict=True)):
            use_norm = i > 0 and norm != "none"
            layers.append(wrap(ShortClipConv3d(c_in, c, (kt, 4, 4), (st, 2, 2), (pt, 1, 1), bias=not use_norm)))
            if use_norm:
                layers.append(make_norm(norm, c, 3))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c
        super().__init__(*layers)


class UpTrunk2d(nn.Module):
    """Dense vector → ``[N, out_channels, H, W]`` in [-1, 1] (DCGAN generator).

    A linear layer makes the ``final`` map (the 1×1 → 4×4 transposed convolution of
    DCGAN), then each level doubles the size (4×4 stride-2 transposed convolution, or
    nearest up-sampling + 3×3 convolution) with norm and ReLU; the last level outputs
    ``out_channels`` through tanh.
    """

    def __init__(
        self,
        in_features: int,
        out_channels: int,
        chans: list[int],
        final: tuple[int, int],
        norm: NormName,
        upsample: Literal["transposed", "nearest"] = "transposed",
    ) -> None:
        super().__init__()
        top = chans[-1]
        self.final = final
        self.top = top
        self.stem = nn.Linear(in_features, top * final[0] * final[1], bias=norm == "none")
        self.stem_act = nn.Sequential(make_norm(norm, top, 2), nn.ReLU())
        layers: list[nn.Module] = []
        rev = list(reversed(chans))  # top ... base
        for i, c_in in enumerate(rev):
            last = i == len(rev) - 1
            c_out = out_channels if last else rev[i + 1]
            use_norm = not last and norm != "none"
            if upsample == "transposed":
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not use_norm))
            else:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                layers.append(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=not use_norm))
            if last:
                layers.append(nn.Tanh())
            else:
                if use_norm:
                    layers.append(make_norm(norm, c_out, 2))
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x).view(x.shape[0], self.top, *self.final)
        return self.body(self.stem_act(h))


def conv3x3_block(c_in: int, c_out: int, norm: NormName, stride: int = 1) -> nn.Sequential:
    """3×3 convolution → norm → LeakyReLU(0.2)."""
    use_norm = norm != "none"
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not use_norm),
        make_norm(norm, c_out, 2),
        nn.LeakyReLU(0.2),
    )


#: For each output phase a (even or odd row of the doubled map), which rows of a 3×3 kernel
#: fall on each of the three low-resolution rows r - 1, r, r + 1 around it: nearest
#: up-sampling repeats every row twice, so an even output row's window covers low rows
#: (r - 1, r, r) and an odd one's (r, r, r + 1). Columns are the same.
_PHASE_TAPS = torch.tensor(
    [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ]
)


def conv3x3_of_upsampled(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv2d(upsample(x, 2, nearest), weight, bias, padding=1)`` without the up-sampled map.

    Each of the four output phases (row and column parity) of a 3×3 convolution over a
    nearest-up-sampled map is a 3×3 convolution (two taps wide in each direction) over the
    map itself; the four run as one convolution with four times the output channels,
    interleaved back by ``pixel_shuffle``. Same result up to rounding, a quarter of the
    input to read and write: the stacked convolution over a full-resolution map was
    memory-bound. ``x`` [N, I, H, W],
    ``weight`` [O, I, 3, 3] → [N, O, 2H, 2W].
    """
    out_channels = weight.shape[0]
    taps = _PHASE_TAPS.to(weight)
    phases = torch.einsum("arh,bcg,oihg->oabirc", taps, taps, weight).reshape(4 * out_channels, *weight.shape[1:])
    phase_bias = None if bias is None else bias.repeat_interleave(4)
    return F.pixel_shuffle(F.conv2d(x, phases, phase_bias, padding=1), 2)


def check_sides_multiple_of_4(geometry: VideoGeometry, who: str) -> None:
    """The full-resolution spatial networks halve the frame twice and upsample back: sides must divide by 4."""
    if geometry.height % 4 or geometry.width % 4:
        raise ShapeError(f"{who}: frame sides must be multiples of 4, got {geometry.height}×{geometry.width}")
