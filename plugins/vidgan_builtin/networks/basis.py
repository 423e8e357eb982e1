"""G_T as smooth curves: z_M → per-frame motion codes on a fixed temporal basis.

Why beside the paper's LSTM. With the layered content path a frame code only has to say
where each part is at frame t, and E_M (``keypoint_motion_encoder``) already sees each
part's trajectory to a fraction of a pixel. Through the LSTM that precision was lost:
measured at 600 steps (``benchmarks/motion_precision.py``), E_M's keypoints follow a
translating object to 0.7-0.9 px at 32×32 but the reconstruction Ṽ_x draws its path
1.9-2.1 px off. Here the codes of a clip are a linear combination of a few smooth
functions of time (a *trajectory basis*, as in non-rigid structure from motion: Akhter
et al., "Nonrigid Structure from Motion in Trajectory Space", 2008):

    z_m^t = Σ_k φ_k(t) · C_k(z_M),   k = 1 … components,

with fixed basis functions φ_k (the cosines of the DCT-II, or Legendre polynomials) and
coefficients ``C_k`` that an optional MLP reads off z_M. With no hidden layer the whole map
z_M → codes is linear: a trajectory is a projection away from its code, so E_M's MLP only
has to find the coefficients, and a sampled z ~ N(0, I) gives a smooth Gaussian trajectory.
``components`` sets how smooth: with one fewer than the frames (the constant function is
left out), any path that starts at frame 1's code is reachable.

The basis is a function of *relative* time (t / T), so a clip of another length resamples
the same curves; ``relative_to_first`` makes frame 1's code zero, as in data whose first
frame is the target image.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry

from .generators import CodeSequenceGenerator

__all__ = ["BasisTemporalGenerator", "temporal_basis"]


def temporal_basis(kind: str, frames: int, components: int) -> torch.Tensor:
    """``[frames, components]``: the first non-constant basis functions at each frame's
    relative time. ``dct``: ``cos(π k (t + ½) / T)``, k = 1 …; ``polynomial``: Legendre
    polynomials P_k on [-1, 1], k = 1 … (P_1 is a straight line: constant-velocity paths
    are exact with one component). The constant function is left out: with codes taken
    relative to the first frame it cancels."""
    t = torch.arange(frames, dtype=torch.float64)
    k = torch.arange(1, components + 1, dtype=torch.float64)
    if kind == "dct":
        return torch.cos(math.pi * k.view(1, -1) * (t.view(-1, 1) + 0.5) / frames).float()
    if kind == "polynomial":
        x = 2 * t / max(frames - 1, 1) - 1
        rows = [torch.ones_like(x), x]
        for n in range(1, components):  # Bonnet's recursion: (n+1) P_{n+1} = (2n+1) x P_n - n P_{n-1}
            rows.append(((2 * n + 1) * x * rows[-1] - n * rows[-2]) / (n + 1))
        return torch.stack(rows[1 : components + 1], dim=1).float()
    raise ValueError(f"unknown temporal basis {kind!r}; expected 'dct' or 'polynomial'")


class BasisTemporalGenerator(CodeSequenceGenerator):
    """G_T: z_M [B, motion_dim] → per-frame codes [B, T, frame_code_dim] on a fixed temporal basis."""

    class Config(ComponentConfig):
        basis: Literal["dct", "polynomial"] = Field(
            "dct", description="Temporal basis functions: DCT-II cosines or Legendre polynomials (see the module)."
        )
        components: int = Field(
            8, ge=1, description="Basis functions per code dimension (frames - 1 of them: any path from frame 1 is reachable)."
        )
        frame_code_dim: int = Field(32, ge=1, description="Length of each per-frame motion code z_m^t.")
        hidden: int = Field(
            0, ge=0, description="Width of one hidden layer that reads the coefficients off z_M (0: a linear map)."
        )
        relative_to_first: bool = Field(
            True, description="Subtract the first frame's code from every frame's: z_m^1 = 0."
        )

        @model_validator(mode="after")
        def _components_fit_polynomials(self) -> "BasisTemporalGenerator.Config":
            if self.basis == "polynomial" and self.components > 12:
                raise ValueError("polynomial bases above degree 12 are badly conditioned; use basis = 'dct'")
            return self

    name = "basis_temporal_generator"

    def __init__(self, config: Config, *, geometry: VideoGeometry, motion_dim: int, **wiring: Any) -> None:
        super().__init__(config, geometry=geometry, motion_dim=motion_dim)
        out = config.components * config.frame_code_dim
        if config.hidden:
            self.coefficients: nn.Module = nn.Sequential(
                nn.Linear(motion_dim, config.hidden), nn.LeakyReLU(0.2), nn.Linear(config.hidden, out)
            )
        else:
            self.coefficients = nn.Linear(motion_dim, out)
        self.register_buffer(
            "basis", temporal_basis(config.basis, geometry.frames, config.components), persistent=False
        )

    def forward(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        t = self._frames(z, frames)
        basis = self.basis if t == self.basis.shape[0] else temporal_basis(self.config.basis, t, self.config.components)
        coefficients = self.coefficients(z).view(z.shape[0], self.config.components, self.frame_code_dim)
        codes = torch.einsum("tk,bkf->btf", basis.to(device=z.device, dtype=coefficients.dtype), coefficients)
        return self._relative(codes)
