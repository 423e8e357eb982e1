"""Plugin discovery: faked distributions, the installed example package, local files, env switches."""

import importlib.metadata as md
import sys
import textwrap

import pytest

from vidgan_kit import PluginHost, hookimpl
from vidgan_kit.errors import DuplicateComponentError, PluginLoadError, RegistryError
from vidgan_kit.plugins import ENV_BLOCK, ENV_DISABLE_AUTOLOAD, ENV_PLUGINS, ENV_TRACE
from vidgan_kit.testing import registered_plugin

PLUGIN_SOURCE = textwrap.dedent(
    '''
    from vidgan_kit import ComponentConfig, hookimpl

    class Cfg(ComponentConfig):
        pass

    class Fancy:
        """A fancy loss."""
        Config = Cfg
        def __init__(self, config):
            pass

    @hookimpl
    def vidgan_register_components(registry):
        registry.add("loss", "{name}", Fancy)
    '''
)


class FakeDist:
    """Stands in for an installed distribution (after pluggy's own tests)."""

    def __init__(self, name: str, entry_points: list[md.EntryPoint], version: str = "1.2.3") -> None:
        self.metadata = {"name": name}
        self.version = version
        self.entry_points = entry_points


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write an importable plugin module; return its name."""

    def make(mod_name: str, comp_name: str, source: str | None = None) -> str:
        (tmp_path / f"{mod_name}.py").write_text(source or PLUGIN_SOURCE.replace("{name}", comp_name))
        return mod_name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in [m for m in sys.modules if m.startswith("fakeplug_")]:
        del sys.modules[name]


def _ep(name: str, module: str) -> md.EntryPoint:
    return md.EntryPoint(name=name, value=module, group="vidgan_kit")


def test_entry_points_from_faked_distributions(plugin_module):
    mod = plugin_module("fakeplug_a", "fancy_loss")
    host = PluginHost(env={})
    host.load_entry_points(distributions=[FakeDist("fancy-dist", [_ep("fancy", mod)]),
                                          FakeDist("other", [md.EntryPoint("x", "nope", "other_group")])])
    host.register_components()
    entry = host.registry.get("loss", "fancy_loss")
    assert (entry.plugin, entry.distribution) == ("fancy", "fancy-dist")
    assert host.infos["fancy"].version == "1.2.3"
    assert entry.summary == "A fancy loss."


def test_plugin_import_failure_names_plugin_and_distribution(plugin_module):
    mod = plugin_module("fakeplug_broken", "", source="raise RuntimeError('kaboom')\n")
    host = PluginHost(env={})
    with pytest.raises(PluginLoadError) as exc:
        host.load_entry_points(distributions=[FakeDist("broken-dist", [_ep("broken", mod)])])
    msg = str(exc.value)
    assert "'broken'" in msg and "broken-dist" in msg and "kaboom" in msg and ENV_BLOCK in msg


def test_duplicate_across_distributions_names_both(plugin_module):
    a = plugin_module("fakeplug_one", "same_name")
    b = plugin_module("fakeplug_two", "same_name")
    host = PluginHost(env={})
    host.load_entry_points(distributions=[FakeDist("dist-one", [_ep("one", a)]), FakeDist("dist-two", [_ep("two", b)])])
    with pytest.raises(DuplicateComponentError) as exc:
        host.register_components()
    assert "dist-one" in str(exc.value) and "dist-two" in str(exc.value)


def test_installed_example_plugin_is_discovered():
    host = PluginHost.create(env={})
    entry = host.registry.get("discriminator", "frame_difference_video_discriminator")
    assert entry.plugin == "example_discriminator"
    assert entry.distribution == "vidgan-example-discriminator"


def test_builtins_arrive_through_entry_points():
    host = PluginHost.create(env={})
    builtin = {n: i for n, i in host.infos.items() if n.startswith("builtin_") or n == "dual_mtgan"}
    assert set(builtin) >= {"builtin_networks", "builtin_losses", "builtin_data", "dual_mtgan"}
    assert all(i.source == "entry point" and i.distribution == "vidgan-kit" for i in builtin.values())
    assert host.infos["dual_mtgan"].module == "vidgan_dual_mtgan.plugin"


def test_disable_autoload_keeps_builtins_only():
    host = PluginHost.create(env={ENV_DISABLE_AUTOLOAD: "1"})
    assert "example_discriminator" not in host.infos
    assert "dual_mtgan" in host.infos
    assert ("discriminator", "frame_difference_video_discriminator") not in host.registry


def test_block_plugins():
    host = PluginHost.create(env={ENV_BLOCK: "example_discriminator, builtin_data"})
    assert "example_discriminator" not in host.infos and "builtin_data" not in host.infos
    assert "dual_mtgan" in host.infos


def test_env_plugins_and_local_file(tmp_path, plugin_module):
    mod = plugin_module("fakeplug_env", "env_loss")
    local = tmp_path / "my_local_plugin.py"
    local.write_text(PLUGIN_SOURCE.replace("{name}", "local_loss"))
    host = PluginHost.create([str(local)], env={ENV_PLUGINS: mod})
    assert host.registry.get("loss", "env_loss").plugin == mod
    assert host.registry.get("loss", "local_loss").plugin == "my_local_plugin"
    assert host.infos["my_local_plugin"].source == "local"


@pytest.mark.parametrize("spec,match", [("missing_file.py", "does not exist"), ("no_such_module_xyz", "could not be imported")])
def test_bad_local_plugins(spec, match):
    with pytest.raises(PluginLoadError, match=match):
        PluginHost.create([spec], env={})


def test_trace_prints_hook_calls(capsys):
    import typer

    PluginHost.create(env={ENV_TRACE: "1"}).hook.vidgan_register_commands(app=typer.Typer())
    assert "[vidgan trace] vidgan_register_commands" in capsys.readouterr().err


def test_registered_plugin_is_always_undone():
    class Obj:
        @hookimpl
        def vidgan_register_components(self, registry):
            registry.add("loss", "temporary_loss", type("L", (), {"Config": __import__("vidgan_kit").ComponentConfig}))

    host = PluginHost.create(env={})
    with pytest.raises(RuntimeError), registered_plugin(Obj(), "temp", host) as h:
        assert ("loss", "temporary_loss") in h.registry
        raise RuntimeError("test body fails")
    assert ("loss", "temporary_loss") not in host.registry and "temp" not in host.infos


def test_a_plugin_may_register_components_of_a_kind_another_plugin_adds():
    from tests.testing.keypoint_kind import KIND, KeypointPlugin, KeypointUserPlugin

    host = PluginHost.create(env={ENV_DISABLE_AUTOLOAD: "1"})
    # The user of the kind comes first: its components are registered before the kind's plugin
    # runs its own component hook, so the kind must exist before any component hook runs.
    host.add_plugin(KeypointUserPlugin(), "kp_user")
    host.add_plugin(KeypointPlugin(), "keypoints")
    host.register_components()
    assert host.registry.kind(KIND).plugin == "keypoints"
    assert {(e.name, e.plugin) for e in host.registry.list(KIND)} == {
        ("colour_points", "keypoints"), ("not_a_detector", "keypoints"), ("more_colour_points", "kp_user")}
    host.register_components()  # again: nothing is added twice
    assert len(host.registry.list(KIND)) == 3

    host.remove_plugin("keypoints")  # its kind goes, and with it every component of the kind
    assert KIND not in host.registry.kinds and host.registry.list(KIND) == []
    assert "conv_frame_decoder" in host.registry.names("decoder")


def test_a_plugin_adding_a_kind_that_exists_is_named():
    class Clash:
        @hookimpl
        def vidgan_register_kinds(self, registry):
            registry.add_kind("decoder", "another decoder")

    host = PluginHost.create(env={ENV_DISABLE_AUTOLOAD: "1"})
    host.add_plugin(Clash(), "clash")
    with pytest.raises(RegistryError, match="Kind 'decoder' is added twice: by plugin 'vidgan_kit' and by plugin 'clash'"):
        host.register_components()
