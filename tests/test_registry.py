import pytest

from vidgan_kit import ComponentConfig, ComponentRegistry, Wire
from vidgan_kit.errors import DuplicateComponentError, RecipeError, RegistryError, UnknownComponentError
from vidgan_kit.interfaces import ContentEncoder, FrameDecoder, TemporalGenerator
from vidgan_kit.registry import Registrar


class SizeConfig(ComponentConfig):
    size: int = 3


class Thing:
    """A thing of some size."""

    Config = SizeConfig

    def __init__(self, config: SizeConfig, **wiring) -> None:
        self.config, self.wiring = config, wiring


def test_add_get_build_and_list():
    reg = ComponentRegistry()
    entry = reg.add("discriminator", "thing_disc", Thing, plugin="p", distribution="dist-a")
    assert entry.summary == "A thing of some size."
    assert reg.get("discriminator", "thing_disc") is entry
    built = reg.build("discriminator", "thing_disc", {"size": 5}, geometry="g")
    assert built.config.size == 5 and built.wiring == {"geometry": "g"}
    assert built.component_spec.params == {"size": 5}
    assert [e.name for e in reg.list("discriminator")] == ["thing_disc"]
    assert reg.list("loss") == []
    assert [e.name for e in reg.list(pattern="thing*")] == ["thing_disc"]
    assert [e.name for e in reg.list(pattern="disc")] == ["thing_disc"]  # substring


def test_registries_are_independent_instances():
    a, b = ComponentRegistry(), ComponentRegistry()
    a.add("loss", "x", Thing)
    assert len(a) == 1 and len(b) == 0


def test_duplicate_names_both_plugins():
    reg = ComponentRegistry()
    Registrar(reg, "first_plugin", "dist-one").add("encoder", "enc", Thing)
    with pytest.raises(DuplicateComponentError) as exc:
        Registrar(reg, "second_plugin", "dist-two").add("encoder", "enc", Thing)
    msg = str(exc.value)
    assert "first_plugin" in msg and "second_plugin" in msg and "dist-one" in msg and "dist-two" in msg


def test_same_name_in_different_kinds_is_allowed():
    reg = ComponentRegistry()
    reg.add("encoder", "conv", Thing)
    reg.add("decoder", "conv", Thing)
    assert {e.kind for e in reg.find("conv")} == {"encoder", "decoder"}


def test_unknown_name_suggests_closest_and_command():
    reg = ComponentRegistry()
    reg.add("discriminator", "conv3d_video_discriminator", Thing)
    reg.add("discriminator", "image_pair_discriminator", Thing)
    with pytest.raises(UnknownComponentError) as exc:
        reg.get("discriminator", "conv3d_video_discrimnator")
    msg = str(exc.value)
    assert "Did you mean 'conv3d_video_discriminator'" in msg
    assert "vidgan list-components --kind discriminator" in msg


@pytest.mark.parametrize(
    "kind,name,why",
    [("widget", "x", "Unknown kind"), ("loss", "CamelCase", "snake_case"), ("loss", "a-b", "snake_case")],
)
def test_bad_registrations(kind, name, why):
    with pytest.raises(RegistryError, match=why):
        ComponentRegistry().add(kind, name, Thing)


def test_factory_without_config_model_is_rejected():
    with pytest.raises(RegistryError, match="needs a config model"):
        ComponentRegistry().add("loss", "bare", lambda cfg: None, plugin="p")


def test_build_validates_params_with_paths():
    reg = ComponentRegistry()
    reg.add("loss", "thing", Thing)
    with pytest.raises(RecipeError) as exc:
        reg.build("loss", "thing", {"sise": 2})
    assert "loss.sise: unknown key; did you mean size?" in str(exc.value)


# -- kinds --------------------------------------------------------------------------------------


def test_a_registry_starts_with_the_toolkits_own_kinds_in_wiring_order():
    reg = ComponentRegistry()
    assert list(reg.kinds) == ["encoder", "temporal_generator", "decoder", "discriminator", "loss", "model",
                               "dataset", "metric"]
    assert {k.plugin for k in reg.kinds.values()} == {"vidgan_kit"}
    decoder = reg.kind("decoder")
    assert decoder.base is FrameDecoder and decoder.contract is not None
    assert decoder.wiring == {"content_shape": Wire(ContentEncoder, "code_shape"),
                              "frame_code_dim": Wire(TemporalGenerator, "frame_code_dim")}
    assert reg.kind("model").context == ("geometry", "registry") and reg.kind("loss").context == ()


def test_an_added_kind_takes_components_that_list_after_the_toolkits_kinds():
    reg = ComponentRegistry()
    kind = Registrar(reg, "kp_plugin", "dist-kp").add_kind("keypoint_detector", "finds points in a frame", base=Thing)
    assert reg.kind("keypoint_detector") is kind and kind.origin == "plugin 'kp_plugin' (distribution dist-kp)"
    reg.add("keypoint_detector", "dots", Thing)
    reg.add("loss", "x", Thing)
    assert [(e.kind, e.name) for e in reg.list()] == [("loss", "x"), ("keypoint_detector", "dots")]
    built = reg.build("keypoint_detector", "dots", {"size": 2}, geometry="g")
    assert built.config.size == 2 and built.component_spec.kind == "keypoint_detector"
    reg.remove_kind("keypoint_detector")
    assert "keypoint_detector" not in reg.kinds and ("keypoint_detector", "dots") not in reg
    with pytest.raises(RegistryError, match="Unknown kind 'keypoint_detector'.*add_kind"):
        reg.add("keypoint_detector", "dots", Thing)


def test_a_kind_added_twice_names_both_plugins():
    reg = ComponentRegistry()
    with pytest.raises(RegistryError, match=r"Kind 'encoder' is added twice: by plugin 'vidgan_kit' and by plugin 'p'"):
        Registrar(reg, "p", None).add_kind("encoder", "another encoder")


@pytest.mark.parametrize(
    "name,options,why",
    [
        ("Key-Points", {}, "snake_case"),
        ("points", {"context": ("geometry", "fps")}, r"unknown context keyword\(s\) \['fps'\]"),
        ("points", {"wiring": {"size": ("encoder", "size")}}, r"wiring \['size'\] must be Wire"),
        ("points", {"base": "KeypointDetector"}, "base must be a class"),
        ("points", {"contract": 3}, "contract must be a function"),
    ],
)
def test_bad_kinds(name, options, why):
    with pytest.raises(RegistryError, match=why):
        ComponentRegistry().add_kind(name, "a kind", **options)


def test_unknown_kind_suggests_and_lists_the_kinds():
    with pytest.raises(RegistryError, match=r"Unknown kind 'decodr'; did you mean decoder\? Kinds: encoder, "):
        ComponentRegistry().kind("decodr")
