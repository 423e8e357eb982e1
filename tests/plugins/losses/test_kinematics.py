"""L_smooth (``vidgan_builtin.losses.kinematics``): the unbounced path's acceleration, known answers."""

from __future__ import annotations

import math

import pytest
import torch
from test_builtin_losses import StubModel, loss

import vidgan_kit
from vidgan_kit import VideoGeometry
from vidgan_kit.errors import ShapeError
from vidgan_kit.interfaces import LossContext

G = VideoGeometry(frames=4, height=32, width=32)
MAX_SHIFT = 2.0


@pytest.fixture(scope="module")
def registry() -> vidgan_kit.ComponentRegistry:
    return vidgan_kit.load_registry()


def _scene(registry, boundary: str = "reflect") -> tuple[StubModel, torch.Tensor]:
    """A decoder whose code (0, atanh(d / MAX_SHIFT)) carries the part's anchor ``d`` (normalised
    units) to the right, and layered content codes [1, T, 8, 32, 32] of a square near the right wall."""
    encoder = registry.build("encoder", "layered_content_encoder", {"width": 4}, geometry=G)
    decoder = registry.build("decoder", "sprite_frame_decoder", {"max_shift": MAX_SHIFT, "boundary": boundary},
                             geometry=G, content_shape=encoder.code_shape, frame_code_dim=2)
    with torch.no_grad():
        decoder.motion_head.weight[4, 1] = -1.0  # e_x = -MAX_SHIFT tanh(code)
    logits = torch.zeros(2, 32, 32)
    logits[0] = 20.0
    logits[0, 12:20, 20:28] = -20.0
    content = torch.cat([torch.zeros(6, 32, 32), logits]).expand(1, G.frames, -1, -1, -1)
    return StubModel(content_encoder=encoder, decoder=decoder), content


def _score(registry, travel: list[float], boundary: str = "reflect") -> torch.Tensor:
    model, content = _scene(registry, boundary)
    codes = torch.zeros(1, len(travel), 2)
    codes[0, :, 1] = torch.tensor([math.atanh(d / MAX_SHIFT) for d in travel])
    outputs = {"content_codes": content[:, : len(travel)], "frame_codes": codes}
    return loss(registry, "path_smoothness")(LossContext(model=model, batch={}, outputs=outputs), "generator")


@pytest.mark.parametrize("boundary", ["reflect", "none"])
def test_a_constant_velocity_is_free_even_past_a_wall(registry, boundary):
    # 0.4 per frame from x = 0.5: past the right wall from frame 2, where reflect folds it back.
    score = _score(registry, [0.0, 0.4, 0.8, 1.2], boundary)
    assert score.item() == pytest.approx(0.0, abs=1e-8)


def test_a_kink_pays_its_squared_second_difference(registry):
    # Out and back: the second differences are 0 (frame 2) and 0.1 - 0.4 + 0.1 = -0.2 (frame 3).
    score = _score(registry, [0.0, 0.1, 0.2, 0.1])
    assert score.item() == pytest.approx(0.2**2 / 2, rel=1e-4)
    assert score.requires_grad  # the motion path learns from it


def test_it_needs_three_frames_and_a_sprite_decoder(registry):
    with pytest.raises(ShapeError, match="at least 3 frames"):
        _score(registry, [0.0, 0.1])
    outputs = {"content_codes": torch.zeros(1, 4, 8, 32, 32), "frame_codes": torch.zeros(1, 4, 2)}
    ctx = LossContext(model=StubModel(decoder=torch.nn.Linear(2, 2)), batch={}, outputs=outputs)
    with pytest.raises(vidgan_kit.VidganError, match="needs a decoder with part_affine"):
        loss(registry, "path_smoothness")(ctx, "generator")
