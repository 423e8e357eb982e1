"""The component registry: what can be built, by which name, from which plugin.

A :class:`ComponentRegistry` is an ordinary object (no module-global state) filled by
plugins through the ``vidgan_register_components`` hook. Each plugin receives a
:class:`Registrar` bound to its own name, so every entry records which plugin and which
distribution registered it, and a clash names both.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .config import ComponentConfig, ComponentSpec, resolve_component
from .errors import DuplicateComponentError, RegistryError, UnknownComponentError
from .suggest import closest

__all__ = ["KINDS", "ComponentEntry", "ComponentRegistry", "Registrar"]

#: The kinds of component the toolkit knows, with what each one is for.
KINDS: dict[str, str] = {
    "encoder": "maps frames or clips to latent codes (content encoders, motion encoders)",
    "temporal_generator": "turns a clip-level motion code into per-frame motion codes",
    "decoder": "renders a frame from a content code and a per-frame motion code (image generator)",
    "discriminator": "scores images, image pairs or videos as real or generated",
    "loss": "one weighted training objective, for the generator and/or discriminator phase",
    "model": "an assembly that wires components of the other kinds into one trainable model",
    "dataset": "yields video clips as [T, C, H, W] tensors in [-1, 1]",
    "metric": "scores generated videos against references",
}


@dataclass(frozen=True)
class ComponentEntry:
    """One registered component."""

    kind: str
    name: str
    factory: Callable[..., Any]
    config_model: type[ComponentConfig]
    summary: str
    plugin: str
    distribution: str | None

    @property
    def origin(self) -> str:
        """Human-readable provenance: plugin name and distribution."""
        return f"plugin {self.plugin!r}" + (f" (distribution {self.distribution})" if self.distribution else "")


def _summary_of(factory: Callable[..., Any], summary: str | None) -> str:
    if summary:
        return summary
    doc = (factory.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


class ComponentRegistry:
    """All components known to one session of the toolkit."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ComponentEntry] = {}
        #: Why a component someone asks for may be missing although installed (the plugin host
        #: sets it when it leaves plugins unloaded); messages about unknown components say it.
        self.unloaded_note = ""

    # -- registration -------------------------------------------------------------
    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        *,
        config: type[ComponentConfig] | None = None,
        summary: str | None = None,
        plugin: str = "<direct>",
        distribution: str | None = None,
    ) -> ComponentEntry:
        """Register ``factory`` as ``kind``/``name``.

        ``factory(config, **wiring)`` must build the component; ``config`` defaults to the
        factory's ``Config`` attribute. Names are snake_case and stable.
        """
        if kind not in KINDS:
            raise RegistryError(f"Unknown kind {kind!r}; kinds are: {', '.join(KINDS)}.")
        if not name or not name.replace("_", "").isalnum() or name != name.lower():
            raise RegistryError(f"Component name {name!r} must be snake_case (lowercase letters, digits, '_').")
        config = config or getattr(factory, "Config", None)
        if not (isinstance(config, type) and issubclass(config, ComponentConfig)):
            raise RegistryError(
                f"{kind} component {name!r} from plugin {plugin!r} needs a config model: pass config=... "
                "or give the factory a `Config` class deriving from vidgan_kit.ComponentConfig."
            )
        key = (kind, name)
        if key in self._entries:
            raise DuplicateComponentError(kind, name, self._entries[key].origin, ComponentEntry(
                kind, name, factory, config, "", plugin, distribution).origin)
        entry = ComponentEntry(kind, name, factory, config, _summary_of(factory, summary), plugin, distribution)
        self._entries[key] = entry
        return entry

    def remove(self, kind: str, name: str) -> None:
        """Remove an entry (used by tests that register a component temporarily)."""
        self._entries.pop((kind, name), None)

    # -- lookup -----------------------------------------------------------------
    def get(self, kind: str, name: str) -> ComponentEntry:
        try:
            return self._entries[(kind, name)]
        except KeyError:
            known = self.names(kind)
            raise UnknownComponentError(kind, name, closest(name, known), known, self.unloaded_note) from None

    def names(self, kind: str) -> list[str]:
        return sorted(n for k, n in self._entries if k == kind)

    def list(self, kind: str | None = None, pattern: str | None = None) -> list[ComponentEntry]:
        """Entries sorted by kind and name; ``pattern`` is a glob or a substring."""
        out = []
        for entry in self._entries.values():
            if kind is not None and entry.kind != kind:
                continue
            if pattern and not (fnmatch.fnmatch(entry.name, pattern) or pattern in entry.name):
                continue
            out.append(entry)
        return sorted(out, key=lambda e: (list(KINDS).index(e.kind), e.name))

    def find(self, name: str) -> list[ComponentEntry]:
        """Every entry called ``name``, whatever its kind."""
        return [e for (k, n), e in self._entries.items() if n == name]

    def __iter__(self) -> Iterator[ComponentEntry]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, str]) -> bool:
        try:
            return key in self._entries
        except TypeError:  # a recipe's list or table where a name belongs is no component
            return False

    # -- building ----------------------------------------------------------------
    def resolve(self, kind: str, spec: ComponentSpec | dict[str, Any], path: str = "") -> tuple[ComponentSpec, ComponentConfig]:
        """Validate a component table (raises :class:`~vidgan_kit.errors.RecipeError`)."""
        return resolve_component(self, kind, spec, path)

    def build(self, kind: str, name: str | ComponentSpec, params: dict[str, Any] | None = None, /, **wiring: Any) -> Any:
        """Validate ``params`` against the component's config and build it.

        ``wiring`` carries what the assembling code knows and the recipe does not
        (channels, image size, the widths of neighbouring components).
        """
        if isinstance(name, ComponentSpec):
            table = name.to_table()
        else:
            table = {"type": name, **(params or {})}
        spec, config = self.resolve(kind, table, kind)
        obj = self.get(kind, spec.type).factory(config, **wiring)
        # Remember how the object was made: checkpoints write it next to the weights.
        try:
            obj.component_spec = spec
        except AttributeError:  # objects that refuse new attributes simply don't carry it
            pass
        return obj

    def __repr__(self) -> str:
        counts = {k: len(self.names(k)) for k in KINDS}
        return "ComponentRegistry(" + ", ".join(f"{k}={v}" for k, v in counts.items() if v) + ")"


class Registrar:
    """What a plugin's ``vidgan_register_components`` hook receives.

    It adds to the host's registry on the plugin's behalf, stamping each entry with the
    plugin's name and distribution.
    """

    def __init__(self, registry: ComponentRegistry, plugin: str, distribution: str | None) -> None:
        self._registry = registry
        self.plugin = plugin
        self.distribution = distribution

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        *,
        config: type[ComponentConfig] | None = None,
        summary: str | None = None,
    ) -> ComponentEntry:
        """Register a component; see :meth:`ComponentRegistry.add`."""
        return self._registry.add(
            kind, name, factory, config=config, summary=summary, plugin=self.plugin, distribution=self.distribution
        )

    def __getattr__(self, item: str) -> Any:
        # Read access (get, list, names) passes through to the registry.
        if item in {"get", "list", "names", "find", "build", "resolve"}:
            return getattr(self._registry, item)
        raise AttributeError(item)
