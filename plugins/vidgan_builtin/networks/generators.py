"""G_T and G_I: the LSTM temporal generator and the DCGAN-style frame decoder."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import FrameDecoder, TemporalGenerator

from .blocks import ConvNetConfig, UpTrunk2d, spatial_plan, widths

__all__ = ["CodeSequenceGenerator", "LSTMTemporalGenerator", "ConvFrameDecoder"]


class CodeSequenceGenerator(TemporalGenerator):
    """What the built-in G_Ts share: their wiring (geometry, z_M's length, the frame code's
    length from ``config.frame_code_dim``), the check of z_M's shape and the option
    ``relative_to_first`` (codes minus the first frame's)."""

    #: The component's registered name, for error messages.
    name = "temporal_generator"

    def __init__(self, config: Any, *, geometry: VideoGeometry, motion_dim: int) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        self.motion_dim = motion_dim
        self.frame_code_dim = config.frame_code_dim

    def _frames(self, z: torch.Tensor, frames: int | None) -> int:
        """The clip length to generate (the geometry's by default), after checking z [B, motion_dim]."""
        if z.dim() != 2 or z.shape[1] != self.motion_dim:
            raise ShapeError(f"{self.name}: expected z [B, {self.motion_dim}], got {tuple(z.shape)}")
        t = self.geometry.frames if frames is None else frames
        if t < 1:
            raise ShapeError(f"{self.name}: frames must be at least 1, got {t}")
        return t

    def _relative(self, codes: torch.Tensor) -> torch.Tensor:
        return codes - codes[:, :1] if self.config.relative_to_first else codes


class LSTMTemporalGenerator(CodeSequenceGenerator):
    """G_T: z_M [B, motion_dim] → per-frame motion codes [B, T, frame_code_dim] (LSTM).

    z_M is the LSTM's input at *every* step, and with ``init_state = "from_z"`` (default)
    also sets the initial hidden and cell states through a linear layer, so the first
    frame's code already depends on z_M and the input keeps the clip's motion available
    to every step (without per-step input the code has to survive T state updates).
    A linear read-out maps each hidden state to the frame code, or with ``integrate`` to the
    code's change since the previous frame. ``relative_to_first`` makes every code a
    displacement from the first frame's (which is then zero).
    """

    class Config(ComponentConfig):
        hidden: int = Field(128, ge=1, description="LSTM hidden size.")
        layers: int = Field(1, ge=1, description="Stacked LSTM layers.")
        frame_code_dim: int = Field(32, ge=1, description="Length of each per-frame motion code z_m^t.")
        init_state: Literal["from_z", "zeros"] = Field(
            "from_z", description="Initial LSTM state: a linear map of z_M (from_z) or zeros (z_M only as input)."
        )
        relative_to_first: bool = Field(
            False,
            description="Subtract the first frame's code from every frame's: z_m^1 = 0, so the first frame depends "
            "on the content alone (as in data whose first frame is the target image).",
        )
        integrate: bool = Field(
            False,
            description="Read each step's output as the code's change since the previous frame and sum the changes: "
            "the code moves by one step's change per frame, as motion is continuous in time.",
        )

    name = "lstm_temporal_generator"

    def __init__(self, config: Config, *, geometry: VideoGeometry, motion_dim: int, **wiring: Any) -> None:
        super().__init__(config, geometry=geometry, motion_dim=motion_dim)
        self.lstm = nn.LSTM(motion_dim, config.hidden, num_layers=config.layers, batch_first=True)
        self.init = (
            nn.Linear(motion_dim, 2 * config.layers * config.hidden) if config.init_state == "from_z" else None
        )
        self.readout = nn.Linear(config.hidden, config.frame_code_dim)

    def forward(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        t = self._frames(z, frames)
        b = z.shape[0]
        inputs = z.unsqueeze(1).expand(b, t, self.motion_dim)
        if self.init is not None:
            L, H = self.config.layers, self.config.hidden
            h0, c0 = torch.tanh(self.init(z)).view(b, 2, L, H).permute(1, 2, 0, 3).contiguous().unbind(0)
            out, _ = self.lstm(inputs, (h0, c0))
        else:
            out, _ = self.lstm(inputs)
        codes = self.readout(out)
        return self._relative(codes.cumsum(1) if self.config.integrate else codes)


class ConvFrameDecoder(FrameDecoder):
    """G_I: (content code, frame motion code) → frame [N, C, H, W] in [-1, 1].

    The content code (flattened, whatever its shape) and the motion code are concatenated
    (Eq. 3's ⊕) and decoded by a DCGAN generator: a dense layer to the coarsest map, then
    one 2× up-sampling per level, tanh at the end.
    """

    class Config(ConvNetConfig):
        upsample: Literal["transposed", "nearest"] = Field(
            "transposed",
            description="Up-sampling per level: 4×4 stride-2 transposed convolution (DCGAN) or "
            "nearest-neighbour + 3×3 convolution (no checkerboard artefacts).",
        )

    def __init__(
        self,
        config: Config,
        *,
        geometry: VideoGeometry,
        content_shape: tuple[int, ...],
        frame_code_dim: int,
        **wiring: Any,
    ) -> None:
        super().__init__()
        self.config = config
        self.geometry = geometry
        self.content_shape = tuple(content_shape)
        self.frame_code_dim = frame_code_dim
        plan = spatial_plan(geometry, "conv_frame_decoder")
        chans = widths(config.base_channels, config.max_channels, plan.levels)
        in_features = math.prod(self.content_shape) + frame_code_dim
        self.net = UpTrunk2d(in_features, geometry.channels, chans, plan.final, config.norm, config.upsample)

    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        n = content.shape[0]
        if tuple(content.shape[1:]) != self.content_shape:
            raise ShapeError(
                f"conv_frame_decoder: expected content [N, {', '.join(map(str, self.content_shape))}], "
                f"got {tuple(content.shape)}"
            )
        if motion.shape != (n, self.frame_code_dim):
            raise ShapeError(f"conv_frame_decoder: expected motion [{n}, {self.frame_code_dim}], got {tuple(motion.shape)}")
        return self.net(torch.cat([content.reshape(n, -1), motion], dim=1))
