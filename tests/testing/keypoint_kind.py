"""A plugin that adds a kind of its own (``keypoint_detector``) and components of it, for the
tests of kinds that plugins add: registry, plugin host, contracts, CLI and catalogue."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, Wire, hookimpl
from vidgan_kit.interfaces import MotionEncoder
from vidgan_kit.kind_contracts import ContractCase, random_frames

KIND = "keypoint_detector"


class KeypointDetector(nn.Module):
    """Finds ``points`` points in each frame: [N, C, H, W] -> [N, points, 2] in [-1, 1]."""

    points: int


def keypoint_contract(case: ContractCase) -> torch.Tensor:
    frames = random_frames(case.settings, case.generator)
    found = case.component(frames)
    want = (frames.shape[0], case.component.points, 2)
    if tuple(found.shape) != want:
        raise AssertionError(f"{case.label}: points shape {tuple(found.shape)}, expected {want}")
    return found


class PointsConfig(ComponentConfig):
    points: int = Field(3, ge=1, description="Points per frame.")
    mode: str = Field("ok", description="'ok', or a defect: 'wrong_shape'.")


class ColourPoints(KeypointDetector):
    """Points placed by the frame's mean colour."""

    Config = PointsConfig

    def __init__(self, config: PointsConfig, *, geometry, motion_dim: int) -> None:
        super().__init__()
        self.points, self.mode, self.motion_dim = config.points, config.mode, motion_dim
        self.head = nn.Linear(geometry.channels, 2 * config.points)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        points = torch.tanh(self.head(frames.mean(dim=(2, 3)))).view(len(frames), self.points, 2)
        return points[:, :-1] if self.mode == "wrong_shape" else points


class NotADetector(nn.Module):
    """A module of the kind that does not derive from its base."""

    Config = PointsConfig

    def __init__(self, config: PointsConfig, *, geometry, motion_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1)


class KeypointPlugin:
    """Adds the kind (with a wiring keyword a motion encoder provides) and two components."""

    @hookimpl
    def vidgan_register_kinds(self, registry):
        registry.add_kind(KIND, "finds points in a frame", base=KeypointDetector, contract=keypoint_contract,
                          wiring={"motion_dim": Wire(MotionEncoder, "motion_dim")})

    @hookimpl
    def vidgan_register_components(self, registry):
        registry.add(KIND, "colour_points", ColourPoints)
        registry.add(KIND, "not_a_detector", NotADetector)


class KeypointUserPlugin:
    """Registers a component of the kind that another plugin adds."""

    @hookimpl
    def vidgan_register_components(self, registry):
        registry.add(KIND, "more_colour_points", ColourPoints)
