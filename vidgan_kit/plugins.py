"""Discovering and loading plugins.

Plugins come from three places, in this order:

1. the ``vidgan_kit`` entry-point group of installed distributions (the built-in
   components arrive this way too, from the ``vidgan-kit`` distribution itself);
2. modules named in ``VIDGAN_PLUGINS`` (comma-separated);
3. ``--plugin`` options and a recipe's ``plugins = [...]``: a module name or a ``.py`` file.

Environment switches:

- ``VIDGAN_DISABLE_PLUGIN_AUTOLOAD=1``: load no third-party entry points (the toolkit's
  own built-ins still load), for hermetic runs;
- ``VIDGAN_BLOCK_PLUGINS=name,name``: never load the named plugins (built-ins included);
- ``VIDGAN_TRACE_PLUGINS=1``: print every hook call and result to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginLoadError, VidganError
from .registry import ComponentRegistry, Registrar

__all__ = ["PluginInfo", "PluginHost", "ENV_DISABLE_AUTOLOAD", "ENV_BLOCK", "ENV_TRACE", "ENV_PLUGINS"]

ENV_DISABLE_AUTOLOAD = "VIDGAN_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "VIDGAN_BLOCK_PLUGINS"
ENV_TRACE = "VIDGAN_TRACE_PLUGINS"
ENV_PLUGINS = "VIDGAN_PLUGINS"
OWN_DISTRIBUTION = "vidgan-kit"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and where it came from."""

    name: str
    source: str  # "entry point", "env", "local"
    distribution: str | None
    version: str | None
    module: str


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _normalise(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-")


class PluginHost:
    """One pluggy manager plus the registry its plugins fill.

    Use :meth:`create` for the standard set-up; the CLI and :func:`vidgan_kit.load_registry`
    do. Tests may build one with ``autoload=False`` and add plugin objects directly.
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = ComponentRegistry()
        self.infos: dict[str, PluginInfo] = {}
        self._kinds_added: set[str] = set()  # plugins whose vidgan_register_kinds has run
        self.blocked = set(_split(self.env.get(ENV_BLOCK)))
        for name in self.blocked:
            self.pm.set_blocked(name)
        self._undo_trace = None
        if _truthy(self.env.get(ENV_TRACE)):
            self._enable_trace()

    # -- set-up ------------------------------------------------------------------
    @classmethod
    def create(cls, local_plugins: Iterable[str] = (), env: dict[str, str] | None = None) -> PluginHost:
        """Load entry points (per the env switches), env plugins and local plugins, then register."""
        host = cls(env)
        host.load_entry_points(third_party=not _truthy(host.env.get(ENV_DISABLE_AUTOLOAD)))
        for spec in _split(host.env.get(ENV_PLUGINS)):
            host.load_local(spec, source="env")
        for spec in local_plugins:
            host.load_local(spec)
        host.register_components()
        return host

    def _enable_trace(self) -> None:
        def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
            names = ", ".join(i.plugin_name for i in hook_impls)
            print(f"[vidgan trace] {hook_name}({', '.join(kwargs)}) -> [{names}]", file=sys.stderr)

        def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
            exc = outcome.exception
            status = f"raised {type(exc).__name__}: {exc}" if exc else "ok"
            print(f"[vidgan trace] {hook_name} {status}", file=sys.stderr)

        self._undo_trace = self.pm.add_hookcall_monitoring(before, after)

    def load_entry_points(self, third_party: bool = True, distributions: Iterable[Any] | None = None) -> None:
        """Import every entry point of the ``vidgan_kit`` group, attributing each to its distribution."""
        dists = metadata.distributions() if distributions is None else distributions
        seen: set[tuple[str, str]] = set()
        unloaded: list[str] = []
        blocked: set[str] = set()
        for dist in dists:
            dist_name = dist.metadata["name"]
            own = _normalise(dist_name) == OWN_DISTRIBUTION
            if not third_party and not own:
                unloaded += [f"{ep.name} (--plugin {ep.value})" for ep in dist.entry_points
                             if ep.group == hookspecs.PROJECT and not self.pm.is_blocked(ep.name)]
                continue
            for ep in dist.entry_points:
                if ep.group != hookspecs.PROJECT or (dist_name, ep.name) in seen:
                    continue
                seen.add((dist_name, ep.name))
                if self.pm.is_blocked(ep.name):
                    blocked.add(ep.name)
                    continue
                if self.pm.get_plugin(ep.name) is not None:
                    continue
                try:
                    plugin = ep.load()
                except Exception as exc:  # any import-time failure of foreign code
                    raise PluginLoadError(
                        f"Plugin {ep.name!r} from distribution {dist_name} {dist.version} failed to load "
                        f"({ep.value}): {type(exc).__name__}: {exc}. Uninstall or fix it, or skip it with "
                        f"{ENV_BLOCK}={ep.name}."
                    ) from exc
                self._register(plugin, ep.name, "entry point", dist_name, dist.version, ep.value)
        notes = []
        if unloaded:
            notes.append(
                f"plugin autoload is off ({ENV_DISABLE_AUTOLOAD}=1), so the installed plugin(s)"
                f" {', '.join(sorted(set(unloaded)))} are not loaded: unset {ENV_DISABLE_AUTOLOAD}, or load one"
                " with --plugin"
            )
        if blocked:
            notes.append(f"{ENV_BLOCK} keeps the installed plugin(s) {', '.join(sorted(blocked))} from loading")
        self.registry.unloaded_note = "; ".join(notes)

    def load_local(self, spec: str, source: str = "local") -> PluginInfo:
        """Load a plugin from a module name or a ``.py`` file path."""
        if spec.endswith(".py") or os.sep in spec or "/" in spec:
            module = self._import_file(Path(spec))
        else:
            try:
                module = importlib.import_module(spec)
            except Exception as exc:
                raise PluginLoadError(
                    f"Plugin module {spec!r} could not be imported: {type(exc).__name__}: {exc}."
                    " Pass an importable module name or a path to a .py file."
                ) from exc
        name = spec if source != "local" or not spec.endswith(".py") else Path(spec).stem
        if self.pm.is_blocked(name):
            return PluginInfo(name, source, None, None, module.__name__)
        existing = self.pm.get_plugin(name)
        if existing is not None:
            if existing is module:
                return self.infos[name]
            raise PluginLoadError(f"A plugin named {name!r} is already loaded ({self.infos[name].module}).")
        return self._register(module, name, source, None, None, module.__name__)

    @staticmethod
    def _import_file(path: Path) -> ModuleType:
        if not path.is_file():
            raise PluginLoadError(f"Plugin file {str(path)!r} does not exist.")
        mod_name = f"vidgan_local_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
        if mod_name in sys.modules:
            return sys.modules[mod_name]
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[mod_name]
            raise PluginLoadError(f"Plugin file {str(path)!r} failed to load: {type(exc).__name__}: {exc}") from exc
        return module

    def _register(
        self, plugin: object, name: str, source: str, dist: str | None, version: str | None, module: str
    ) -> PluginInfo:
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hook names and signatures here
            origin = f" from distribution {dist}" if dist else ""
            raise PluginLoadError(f"Plugin {name!r}{origin} is invalid: {exc}") from exc
        info = PluginInfo(name, source, dist, version, module)
        self.infos[name] = info
        return info

    def add_plugin(self, plugin: object, name: str, distribution: str | None = None) -> PluginInfo:
        """Register an in-memory plugin object (tests, notebooks); call :meth:`register_components` after."""
        return self._register(plugin, name, "object", distribution, None, getattr(plugin, "__name__", repr(plugin)))

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and drop the kinds and components it registered."""
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._kinds_added.discard(name)
        for entry in list(self.registry):
            if entry.plugin == name:
                self.registry.remove(entry.kind, entry.name)
        for kind in list(self.registry.kinds.values()):
            if kind.plugin == name:
                self.registry.remove_kind(kind.name)

    # -- hooks ---------------------------------------------------------------------
    def register_components(self) -> ComponentRegistry:
        """Call each plugin's ``vidgan_register_kinds``, then each one's ``vidgan_register_components``,
        once per plugin, with a registrar bound to it (every kind exists before any component)."""
        for impl in self.pm.hook.vidgan_register_kinds.get_hookimpls():
            if impl.plugin_name not in self._kinds_added:
                self._kinds_added.add(impl.plugin_name)
                self._call_registration(impl, "kinds")
        done = {e.plugin for e in self.registry}
        for impl in self.pm.hook.vidgan_register_components.get_hookimpls():
            if impl.plugin_name not in done:
                self._call_registration(impl, "components")
        return self.registry

    def _call_registration(self, impl: Any, what: str) -> None:
        info = self.infos.get(impl.plugin_name)
        registrar = Registrar(self.registry, impl.plugin_name, info.distribution if info else None)
        try:
            impl.function(registry=registrar)
        except VidganError:
            raise  # already says what is wrong (a duplicate name, say)
        except Exception as exc:
            dist = f" (distribution {info.distribution})" if info and info.distribution else ""
            raise PluginLoadError(
                f"Plugin {impl.plugin_name!r}{dist} failed while registering {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def register_commands(self, app: Any) -> None:
        """Call each plugin's ``vidgan_register_commands`` with the CLI's Typer ``app``; a plugin
        that fails there is named in a :class:`PluginLoadError`."""
        for impl in self.pm.hook.vidgan_register_commands.get_hookimpls():
            try:
                impl.function(app=app)
            except VidganError:
                raise
            except Exception as exc:
                info = self.infos.get(impl.plugin_name)
                dist = f" (distribution {info.distribution})" if info and info.distribution else ""
                raise PluginLoadError(
                    f"Plugin {impl.plugin_name!r}{dist} failed while adding its commands: {type(exc).__name__}: {exc}"
                ) from exc

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugin_for(self, component_plugin: str) -> PluginInfo | None:
        return self.infos.get(component_plugin)

    def close(self) -> None:
        if self._undo_trace is not None:
            self._undo_trace()
            self._undo_trace = None
