"""The component catalogue's shapes: on every component, and what the built components give."""

from __future__ import annotations

import re

import pytest
import torch

from vidgan_kit import ComponentConfig
from vidgan_kit.cli.docsgen import _interface_contracts, _shapes_line, components_page
from vidgan_kit.interfaces import ContentEncoder, FrameDecoder
from vidgan_kit.plugins import ENV_DISABLE_AUTOLOAD, PluginHost
from vidgan_kit.registry import ComponentRegistry
from vidgan_kit.testing import CONTRACT_GEOMETRY, registered_plugin

NETWORK_KINDS = ("encoder", "temporal_generator", "decoder", "discriminator")
MEASURED = re.compile(r"^\*\*Shapes:\*\* `(?P<call>[^`]+)` \(measured(?:, wired to (?P<via>[^;]+))?; ", re.M)


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.create(env={ENV_DISABLE_AUTOLOAD: "1"})


@pytest.fixture(scope="module")
def sections(host: PluginHost) -> dict[str, tuple[str, str]]:
    """Component name -> (kind, its section of a freshly generated page)."""
    out, kind = {}, ""
    for block in re.split(r"^(?=##+ )", components_page(host), flags=re.M):
        if block.startswith("## "):
            kind = block[3:].split("\n", 1)[0].strip()
        elif block.startswith("### `"):
            out[block[5:].split("`", 1)[0]] = (kind, block)
    return out


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.strip("[]").split(", "))


def measured(sections: dict[str, tuple[str, str]], name: str) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...], list[str]]:
    """A measured shapes line, parsed: (input name -> shape, output shape, components it was wired to)."""
    match = MEASURED.search(sections[name][1])
    assert match, f"{name}: no measured shapes line in\n{sections[name][1]}"
    inputs, output = match["call"].split(" → ")
    shapes = {arg.split(" ", 1)[0]: _shape(arg.split(" ", 1)[1]) for arg in re.findall(r"\w+ \[[\d, ]+\]", inputs)}
    return shapes, _shape(output), re.findall(r"`(\w+)`", match["via"] or "")


def test_every_component_section_has_one_shapes_line(sections) -> None:
    assert {kind for kind, _ in sections.values()} >= {*NETWORK_KINDS, "loss", "model", "dataset", "metric"}
    for name, (kind, text) in sections.items():
        assert text.count("\n**Shapes:** ") == 1, f"{name}: expected one shapes line in\n{text}"
        if kind in NETWORK_KINDS:  # every built-in network builds and runs at the reference geometry
            assert MEASURED.search(text), f"{name}: shapes not measured:\n{text}"
        else:
            assert "interface's contract" in text, name


@pytest.mark.parametrize("name", ["conv_content_encoder", "spatial_content_encoder"])
def test_encoder_shapes_are_what_the_encoder_gives(sections, host, name) -> None:
    inputs, output, _ = measured(sections, name)
    assert inputs["frames"][1:] == CONTRACT_GEOMETRY.frame_shape
    torch.manual_seed(0)
    encoder = host.registry.build("encoder", name, {}, geometry=CONTRACT_GEOMETRY)
    with torch.no_grad():
        assert tuple(encoder(torch.zeros(inputs["frames"])).shape) == output


@pytest.mark.parametrize("name", ["conv_frame_decoder", "warp_frame_decoder"])
def test_decoder_shapes_are_what_the_decoder_gives(sections, host, name) -> None:
    inputs, output, (content_name, temporal_name) = measured(sections, name)
    registry, g = host.registry, CONTRACT_GEOMETRY
    torch.manual_seed(0)
    # The codes it was wired to are those the named components make (the temporal generator
    # built for its own section's motion code).
    content_shape = tuple(registry.build("encoder", content_name, {}, geometry=g).code_shape)
    motion_dim = measured(sections, temporal_name)[0]["z"][1]
    frame_code_dim = registry.build("temporal_generator", temporal_name, {}, geometry=g, motion_dim=motion_dim).frame_code_dim
    assert inputs["content"][1:] == content_shape and inputs["motion"][1:] == (frame_code_dim,)
    decoder = registry.build("decoder", name, {}, geometry=g, content_shape=content_shape, frame_code_dim=frame_code_dim)
    with torch.no_grad():
        frames = decoder(torch.randn(inputs["content"]), torch.randn(inputs["motion"]))
    assert tuple(frames.shape) == output == (inputs["content"][0], *g.frame_shape)


class _BrokenEncoder(ContentEncoder):
    """A content encoder that cannot run at the reference geometry."""

    class Config(ComponentConfig):
        pass

    def __init__(self, config, *, geometry, **wiring) -> None:
        super().__init__()
        self.code_shape = (4,)

    def forward(self, frames):
        raise ValueError("needs 64x64 frames")


class _LoneDecoder(FrameDecoder):
    """A decoder with no content encoder to wire it to."""

    class Config(ComponentConfig):
        pass


def test_components_that_cannot_run_show_their_interface_contract() -> None:
    registry, contracts = ComponentRegistry(), _interface_contracts()
    broken = registry.add("encoder", "broken_encoder", _BrokenEncoder)
    assert _shapes_line(broken, registry, {}, contracts) == (
        "**Shapes:** `frames [N,C,H,W] -> code [N,*code_shape]` (the interface's contract: it could not be built"
        " and run at the reference geometry: ValueError: needs 64x64 frames).\n\n")
    lone = registry.add("decoder", "lone_decoder", _LoneDecoder)
    assert _shapes_line(lone, registry, {}, contracts) == (
        "**Shapes:** `(content [N,*shape], motion [N,d]) -> [N,C,H,W]` (the interface's contract: it could not be"
        " built and run at the reference geometry: no measured ContentEncoder, TemporalGenerator to wire it to).\n\n")


def test_the_catalogue_lists_a_kind_a_plugin_adds() -> None:
    from tests.testing.keypoint_kind import KeypointPlugin

    with registered_plugin(KeypointPlugin(), "keypoints", PluginHost.create(env={ENV_DISABLE_AUTOLOAD: "1"})) as host:
        own = components_page(host)
        every = components_page(host, distribution=None)
    assert "## keypoint_detector" not in own  # the toolkit's page shows its own components only
    section = every.split("\n## keypoint_detector\n", 1)[1].split("\n## ", 1)[0]
    assert section.startswith("\nFinds points in a frame.\n")
    colour = section.split("### `colour_points`", 1)[1].split("### ", 1)[0]
    assert "Implements `tests.testing.keypoint_kind.KeypointDetector`." in colour
    match = MEASURED.search(colour)
    assert match and match["call"].endswith("→ [2, 3, 2]"), colour  # built, wired and run by its kind's contract
    assert "could not be built and run" in section.split("### `not_a_detector`", 1)[1]
