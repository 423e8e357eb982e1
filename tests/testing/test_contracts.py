"""Every registered component honours its kind's contract; broken ones are caught."""

from __future__ import annotations

import pytest
import torch
from pydantic import Field
from torch import nn

from vidgan_kit import ComponentConfig, PluginHost, VideoGeometry, hookimpl, load_registry
from vidgan_kit.testing import CONTRACT_GEOMETRY, ContractSettings, build_component, check_component, registered_plugin
from vidgan_kit.interfaces import FrameDecoder, VideoDiscriminator

REGISTRY = load_registry()
TENSOR_KINDS = ("encoder", "temporal_generator", "decoder", "discriminator", "model")


def _params_for(entry, tmp_path) -> dict:
    """Required options for components that cannot be built from defaults alone."""
    from tests.testing.contract_examples import example_params

    return example_params(entry, tmp_path)


@pytest.mark.parametrize("entry", [e for e in REGISTRY.list() if e.kind in TENSOR_KINDS], ids=lambda e: f"{e.kind}:{e.name}")
def test_tensor_component_contract(entry, tmp_path):
    from tests.testing.contract_examples import example_settings

    check_component(entry.kind, entry.name, _params_for(entry, tmp_path), registry=REGISTRY,
                    settings=example_settings(entry))


@pytest.mark.parametrize("entry", REGISTRY.list("dataset"), ids=lambda e: e.name)
def test_dataset_contract(entry, tmp_path):
    check_component("dataset", entry.name, _params_for(entry, tmp_path), registry=REGISTRY)


@pytest.fixture(scope="module")
def default_model():
    models = REGISTRY.names("model")
    if not models:
        pytest.skip("no model assembly registered")
    return build_component("model", models[0], registry=REGISTRY)


@pytest.mark.parametrize("entry", REGISTRY.list("loss"), ids=lambda e: e.name)
def test_loss_contract(entry, default_model):
    from tests.testing.contract_examples import example_loss_model

    params = example_loss_model(entry)
    if params is None:
        model = default_model
    else:
        params = dict(params)
        model = build_component("model", params.pop("type", "dual_mtgan"), params, registry=REGISTRY)
    check_component("loss", entry.name, registry=REGISTRY, model=model)


# -- the contracts must fail on broken components ------------------------------------------------


class Cfg(ComponentConfig):
    mode: str = Field("ok", description="Which defect to show.")


class FaultyDisc(VideoDiscriminator):
    """A video discriminator with a configurable defect."""

    def __init__(self, config: Cfg, *, geometry: VideoGeometry) -> None:
        super().__init__()
        self.mode = config.mode
        self.lin = nn.Linear(geometry.channels, 1)
        self.unused = nn.Linear(2, 2)
        if self.mode != "dead_param":
            del self.unused

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        score = self.lin(video.mean(dim=(1, 3, 4))).squeeze(1)
        if self.mode == "wrong_shape":
            return score.unsqueeze(1)
        if self.mode == "noisy":
            return score + torch.randn(score.shape)  # draws from the global RNG: still deterministic
        if self.mode == "nondeterministic":
            return score + torch.rand(1, generator=torch.Generator().manual_seed(torch.seed())).item()
        if self.mode == "nan":
            return score * float("nan")
        return score


class HeldDecoder(FrameDecoder):
    """A decoder whose render_held override forgets the last frame's motion (mode "stale")."""

    def __init__(self, config: Cfg, *, geometry: VideoGeometry, content_shape, frame_code_dim: int) -> None:
        super().__init__()
        self.mode, self.geometry = config.mode, geometry
        self.lin = nn.Linear(content_shape[0] + frame_code_dim, geometry.channels)

    def forward(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        colour = torch.tanh(self.lin(torch.cat([content, motion], dim=1)))
        return colour[:, :, None, None].expand(-1, -1, self.geometry.height, self.geometry.width)

    def render_held(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        if self.mode == "stale":
            motion = torch.cat([motion[:, :-1], motion[:, -2:-1]], dim=1)
        return super().render_held(content, motion)


class FaultyPlugin:
    @hookimpl
    def vidgan_register_components(self, registry):
        registry.add("discriminator", "faulty_disc", FaultyDisc, config=Cfg)
        registry.add("decoder", "held_decoder", HeldDecoder, config=Cfg)


@pytest.fixture(scope="module")
def faulty_host():
    with registered_plugin(FaultyPlugin(), "faulty", PluginHost.create()) as host:
        yield host


def test_healthy_component_passes(faulty_host):
    check_component("discriminator", "faulty_disc", {"mode": "ok"}, registry=faulty_host.registry)
    check_component("discriminator", "faulty_disc", {"mode": "noisy"}, registry=faulty_host.registry)


@pytest.mark.parametrize(
    "mode,message",
    [
        ("wrong_shape", "logits shape (2, 1), expected (2,)"),
        ("dead_param", "no finite gradient reaches 2 parameter(s)"),
        ("nondeterministic", "the same seed and input gave different outputs"),
        ("nan", "NaN or Inf"),
    ],
)
def test_contract_catches_defects(faulty_host, mode, message):
    with pytest.raises(AssertionError) as exc:
        check_component("discriminator", "faulty_disc", {"mode": mode}, registry=faulty_host.registry)
    assert message in str(exc.value) and "faulty_disc" in str(exc.value)


def test_contract_checks_render_held_against_forward(faulty_host):
    check_component("decoder", "held_decoder", {"mode": "ok"}, registry=faulty_host.registry)
    with pytest.raises(AssertionError, match="held_decoder.*render_held differs from forward frame by frame"):
        check_component("decoder", "held_decoder", {"mode": "stale"}, registry=faulty_host.registry)


def test_contract_geometry_is_small():
    assert CONTRACT_GEOMETRY.height <= 32 and CONTRACT_GEOMETRY.frames <= 8


# -- kinds that plugins add ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def keypoint_host():
    from tests.testing.keypoint_kind import KeypointPlugin

    with registered_plugin(KeypointPlugin(), "keypoints", PluginHost.create()) as host:
        yield host


def test_contract_runs_over_components_of_a_kind_a_plugin_adds(keypoint_host):
    from tests.testing.keypoint_kind import KIND

    registry = keypoint_host.registry
    check_component(KIND, "colour_points", registry=registry)
    with pytest.raises(AssertionError, match=r"'colour_points': points shape \(2, 2, 2\), expected \(2, 3, 2\)"):
        check_component(KIND, "colour_points", {"mode": "wrong_shape"}, registry=registry)
    with pytest.raises(AssertionError, match=r"'not_a_detector': must derive from .*keypoint_kind\.KeypointDetector"):
        check_component(KIND, "not_a_detector", registry=registry)
    # The kind's wiring keyword gets the contract's value for it.
    built = build_component(KIND, "colour_points", registry=registry, settings=ContractSettings(motion_dim=5))
    assert built.motion_dim == 5
