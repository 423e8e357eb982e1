"""Slots declared once: build_slots builds, wires and role-checks an assembly's slots."""

from __future__ import annotations

from typing import Annotated

import pytest
from vidgan_kit import ComponentConfig, ComponentRegistry, ComponentSpec, Slot, build_slots
from vidgan_kit.errors import RecipeError, VidganError
from vidgan_kit.interfaces import ContentEncoder, FrameDecoder, MotionEncoder, TemporalGenerator


class Empty(ComponentConfig):
    pass


class Content(ContentEncoder):
    Config = Empty

    def __init__(self, config, *, geometry) -> None:
        super().__init__()
        self.code_shape = (5, 2, 2)


class OtherContent(Content):
    def __init__(self, config, *, geometry) -> None:
        super().__init__(config, geometry=geometry)
        self.code_shape = [7]  # a list: wiring passes it on as a tuple


class Motion(MotionEncoder):
    Config = Empty

    def __init__(self, config, *, geometry) -> None:
        super().__init__()
        self.motion_dim = 3


class Temporal(TemporalGenerator):
    Config = Empty

    def __init__(self, config, *, geometry, motion_dim) -> None:
        super().__init__()
        self.geometry, self.motion_dim, self.frame_code_dim = geometry, motion_dim, 2 * motion_dim


class Decoder(FrameDecoder):
    Config = Empty

    def __init__(self, config, *, geometry, content_shape, frame_code_dim) -> None:
        super().__init__()
        self.content_shape, self.frame_code_dim = content_shape, frame_code_dim


def motion_made_by_a_function(config, *, geometry):
    """A factory that is no class: its product's role is only known once it is built."""
    return Motion(config, geometry=geometry)


@pytest.fixture
def registry() -> ComponentRegistry:
    reg = ComponentRegistry()
    reg.add("encoder", "content", Content)
    reg.add("encoder", "other_content", OtherContent)
    reg.add("encoder", "motion", Motion)
    reg.add("encoder", "motion_by_function", motion_made_by_a_function, config=Empty)
    reg.add("temporal_generator", "temporal", Temporal)
    reg.add("decoder", "decoder", Decoder)
    return reg


class FourSlots(ComponentConfig):
    content: Annotated[ComponentSpec, Slot("encoder", "the content encoder", ContentEncoder)] = ComponentSpec(
        type="content")
    motion: Annotated[ComponentSpec, Slot("encoder", "the motion encoder", MotionEncoder)] = ComponentSpec(type="motion")
    temporal: Annotated[ComponentSpec, Slot("temporal_generator")] = ComponentSpec(type="temporal")
    decoder: Annotated[ComponentSpec, Slot("decoder", "the decoder", FrameDecoder)] = ComponentSpec(type="decoder")
    width: int = 4


def test_slots_are_built_in_order_and_wired_from_the_kinds_providers(registry):
    built = build_slots(FourSlots(), registry, geometry="g")
    assert list(built) == ["content", "motion", "temporal", "decoder"]
    assert built["temporal"].motion_dim == 3 and built["temporal"].geometry == "g"
    assert built["decoder"].content_shape == (5, 2, 2) and built["decoder"].frame_code_dim == 6
    assert built["decoder"].component_spec.type == "decoder"


def test_a_slot_names_its_source_where_several_slots_could_provide(registry):
    class TwoContents(FourSlots):
        second: Annotated[ComponentSpec, Slot("encoder", "a second content encoder", ContentEncoder)] = ComponentSpec(
            type="other_content")
        late_decoder: Annotated[ComponentSpec, Slot("decoder")] = ComponentSpec(type="decoder")
        named_decoder: Annotated[ComponentSpec, Slot("decoder", wiring={"content_shape": "second.code_shape"})] = (
            ComponentSpec(type="decoder"))

    with pytest.raises(VidganError, match=r"model\.late_decoder: its content_shape is the code_shape of a"
                                          r" ContentEncoder; slots declared before it that hold one: 2 \(content, second\)"):
        build_slots(TwoContents(), registry, geometry="g")

    class Named(FourSlots):
        second: Annotated[ComponentSpec, Slot("encoder", "a second content encoder", ContentEncoder)] = ComponentSpec(
            type="other_content")
        named_decoder: Annotated[ComponentSpec, Slot("decoder", wiring={"content_shape": "second.code_shape"})] = (
            ComponentSpec(type="decoder"))

    built = build_slots(Named(), registry, geometry="g")
    assert built["named_decoder"].content_shape == (7,) and built["named_decoder"].frame_code_dim == 6


def test_a_slot_before_its_provider_or_without_its_context_is_an_error(registry):
    class DecoderFirst(ComponentConfig):
        decoder: Annotated[ComponentSpec, Slot("decoder")] = ComponentSpec(type="decoder")
        content: Annotated[ComponentSpec, Slot("encoder")] = ComponentSpec(type="content")

    with pytest.raises(VidganError, match=r"model\.decoder: its content_shape .* slots declared before it that hold"
                                          r" one: none"):
        build_slots(DecoderFirst(), registry, geometry="g")

    class BadName(FourSlots):
        named: Annotated[ComponentSpec, Slot("decoder", wiring={"content_shape": "later.code_shape"})] = ComponentSpec(
            type="decoder")

    with pytest.raises(VidganError, match=r"model\.named: wiring content_shape = 'later\.code_shape' must name a slot"):
        build_slots(BadName(), registry, geometry="g")
    with pytest.raises(VidganError, match=r"model\.content: a component of kind encoder is built with geometry"):
        build_slots(FourSlots(), registry)


def test_the_role_of_what_a_function_factory_builds_is_checked_once_built(registry):
    wrong = FourSlots(content=ComponentSpec(type="motion_by_function"))
    with pytest.raises(RecipeError) as err:
        build_slots(wrong, registry, geometry="g")
    assert str(err.value).endswith(
        "model.content.type: 'motion_by_function' is not a ContentEncoder, which this slot needs (the content"
        " encoder); fitting encoder components: content, other_content")


def test_a_class_of_the_wrong_role_is_reported_when_the_table_is_validated(registry):
    registry.add("model", "four_slots", lambda config, **wiring: build_slots(config, **wiring), config=FourSlots)
    with pytest.raises(RecipeError) as err:
        registry.resolve("model", {"type": "four_slots", "motion": {"type": "content"}}, "model")
    assert ("model.motion.type: 'content' is not a MotionEncoder, which this slot needs (the motion encoder);"
            " fitting encoder components: motion") in str(err.value)


def test_a_slots_option_description_comes_from_its_declaration():
    from vidgan_kit.introspect import component_options

    options = {o.name: o for o in component_options(FourSlots)}
    assert options["content"].description == "the content encoder; any registered encoder component that is a" \
                                              " ContentEncoder."
    assert options["temporal"].description == "Any registered temporal_generator component."
    assert options["content"].slot_kind == "encoder" and options["width"].slot_kind is None

