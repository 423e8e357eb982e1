import pytest

from vidgan_kit import ComponentConfig, ComponentRegistry
from vidgan_kit.errors import DuplicateComponentError, RecipeError, RegistryError, UnknownComponentError
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
