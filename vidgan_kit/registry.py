"""The component registry: what can be built, by which name, from which plugin.

A :class:`ComponentRegistry` is an ordinary object (no module-global state) filled by
plugins through the ``vidgan_register_kinds`` and ``vidgan_register_components`` hooks.
Each plugin receives a :class:`Registrar` bound to its own name, so every kind and every
component records which plugin and which distribution registered it, and a clash names both.
A registry starts with the toolkit's own kinds (:data:`vidgan_kit.kinds.BUILTIN_KINDS`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .config import ComponentConfig, ComponentSpec, Slot, issues_from_pydantic, join_path, slot_fields
from .errors import DuplicateComponentError, RecipeError, RecipeIssue, RegistryError, UnknownComponentError
from .kind_contracts import ContractCase
from .kinds import BUILTIN_KINDS, CONTEXT_KEYWORDS, Kind, Wire
from .suggest import closest

__all__ = ["ComponentEntry", "ComponentRegistry", "Registrar", "validate_component", "resolve_component", "role_issue"]


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
        self._kinds: dict[str, Kind] = {}
        for kind in BUILTIN_KINDS:
            self.add_kind(kind.name, kind.description, base=kind.base, contract=kind.contract, context=kind.context,
                          wiring=kind.wiring, plugin=kind.plugin)
        #: Why a component someone asks for may be missing although installed (the plugin host
        #: sets it when it leaves plugins unloaded); messages about unknown components say it.
        self.unloaded_note = ""

    # -- kinds ----------------------------------------------------------------------
    def add_kind(
        self,
        name: str,
        description: str,
        *,
        base: type | None = None,
        contract: Callable[[ContractCase], Any] | None = None,
        context: tuple[str, ...] = ("geometry",),
        wiring: Mapping[str, Wire] | None = None,
        plugin: str = "<direct>",
        distribution: str | None = None,
    ) -> Kind:
        """Add a kind of component (see :class:`~vidgan_kit.kinds.Kind` for each argument).

        Components of the kind can then be registered, named in recipes and slots, listed and
        held to ``contract`` by the contract tests."""
        if not name or not name.replace("_", "").isalnum() or name != name.lower():
            raise RegistryError(f"Kind name {name!r} must be snake_case (lowercase letters, digits, '_').")
        kind = Kind(name, description, base, contract, tuple(context), dict(wiring or {}), plugin, distribution)
        if name in self._kinds:
            raise RegistryError(
                f"Kind {name!r} is added twice: by {self._kinds[name].origin} and by {kind.origin}."
            )
        if base is not None and not isinstance(base, type):
            raise RegistryError(f"Kind {name!r} from {kind.origin}: base must be a class, got {base!r}.")
        if contract is not None and not callable(contract):
            raise RegistryError(f"Kind {name!r} from {kind.origin}: contract must be a function of a ContractCase.")
        unknown = [k for k in kind.context if k not in CONTEXT_KEYWORDS]
        if unknown:
            raise RegistryError(
                f"Kind {name!r} from {kind.origin}: unknown context keyword(s) {unknown}; context keywords are"
                f" {', '.join(CONTEXT_KEYWORDS)} (a value from a neighbouring component is a wiring Wire)."
            )
        bad = [k for k, w in kind.wiring.items() if not isinstance(w, Wire)]
        if bad:
            raise RegistryError(f"Kind {name!r} from {kind.origin}: wiring {bad} must be Wire(provider, attribute).")
        self._kinds[name] = kind
        return kind

    def remove_kind(self, name: str) -> None:
        """Remove a kind and its components (used when the plugin that added it is removed)."""
        self._kinds.pop(name, None)
        for kind, component in [key for key in self._entries if key[0] == name]:
            self.remove(kind, component)

    @property
    def kinds(self) -> dict[str, Kind]:
        """Every kind, by name, in the order they were added (the toolkit's own first)."""
        return dict(self._kinds)

    def kind(self, name: str) -> Kind:
        """The kind called ``name``; an unknown one is an error that lists the kinds."""
        try:
            return self._kinds[name]
        except KeyError:
            hint = closest(name, list(self._kinds), n=1)
            raise RegistryError(
                f"Unknown kind {name!r}" + (f"; did you mean {hint[0]}?" if hint else "")
                + f" Kinds: {', '.join(self._kinds)}."
            ) from None

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
        if kind not in self._kinds:
            raise RegistryError(
                f"Unknown kind {kind!r}; kinds are: {', '.join(self._kinds)}. A plugin adds a kind with"
                " registry.add_kind(...) in its vidgan_register_kinds hook."
            )
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
        order = {k: i for i, k in enumerate(self._kinds)}
        return sorted(out, key=lambda e: (order[e.kind], e.name))

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
        counts = {k: len(self.names(k)) for k in self._kinds}
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

    def add_kind(self, name: str, description: str, **options: Any) -> Kind:
        """Add a kind of component; ``options`` are those of :meth:`ComponentRegistry.add_kind`
        (``base``, ``contract``, ``context``, ``wiring``)."""
        return self._registry.add_kind(name, description, plugin=self.plugin, distribution=self.distribution, **options)

    def __getattr__(self, item: str) -> Any:
        # Read access (get, list, names, kinds) passes through to the registry.
        if item in {"get", "list", "names", "find", "build", "resolve", "kind", "kinds"}:
            return getattr(self._registry, item)
        raise AttributeError(item)


# -- validating component tables against the registry ------------------------------


def validate_component(
    registry: ComponentRegistry,
    kind: str,
    table: Any,
    path: str,
    issues: list[RecipeIssue],
    extra_keys: tuple[str, ...] = (),
) -> tuple[ComponentSpec, ComponentConfig] | None:
    """Validate one component table; append every problem to ``issues``.

    Returns the normalised spec (defaults filled in, nested slots normalised) and the
    config object, or ``None`` when the table is invalid.
    """
    if isinstance(table, dict) and "type" in table and isinstance(table.get("params"), dict):
        table = ComponentSpec.model_validate(table)  # the normalised form stored in checkpoints
    if isinstance(table, ComponentSpec):
        table = table.to_table()
    if not isinstance(table, dict):
        issues.append(RecipeIssue(path, f"expected a table with a 'type' key naming a {kind} component, got {table!r}"))
        return None
    name = table.get("type")
    if not isinstance(name, str):
        names = registry.names(kind)
        issues.append(
            RecipeIssue(join_path(path, "type"), f"missing; choose a {kind} component: {', '.join(names) or '(none registered)'}")
        )
        return None
    try:
        entry = registry.get(kind, name)
    except UnknownComponentError as exc:
        elsewhere = [e.kind for e in registry.find(name)]
        if elsewhere:
            hint = f"; {name!r} is a {' and '.join(elsewhere)} component, this slot needs a {kind}"
        else:
            hint = f"; did you mean {exc.suggestions[0]}?" if exc.suggestions else ""
            if registry.unloaded_note:  # the component may well be installed: say that first
                hint = f"; {registry.unloaded_note}" + (f"; if not, did you mean {exc.suggestions[0]}?"
                                                        if exc.suggestions else "")
        issues.append(
            RecipeIssue(
                join_path(path, "type"),
                f"unknown {kind} component {name!r}{hint} (run `vidgan list-components --kind {kind}`)",
            )
        )
        return None

    model = entry.config_model
    params = {k: v for k, v in table.items() if k not in ("type", "kind")}
    before = len(issues)
    # Nested slots first: they are validated against the registry, not by pydantic.
    for field_name, slot in slot_fields(model).items():
        field = model.model_fields[field_name]
        if field_name in params:
            # A component of the wrong role is reported alone: its options would only add noise.
            table = params[field_name]
            named = table.get("type") if isinstance(table, dict) else getattr(table, "type", None)
            factory = registry.get(slot.kind, named).factory if (slot.kind, named) in registry else None
            issue = None
            if isinstance(factory, type):
                issue = role_issue(registry, slot, named, factory, join_path(path, field_name))
            if issue is not None:
                issues.append(issue)
                continue
            nested = validate_component(registry, slot.kind, params[field_name], join_path(path, field_name), issues)
            if nested is not None:
                params[field_name] = nested[0]
        elif field.default is not None and isinstance(field.default, ComponentSpec):
            nested = validate_component(registry, slot.kind, field.default, join_path(path, field_name), issues)
            if nested is not None:
                params[field_name] = nested[0]
    if len(issues) > before:
        # Still report the non-slot keys' problems, with slots replaced by their defaults.
        params = {k: v for k, v in params.items() if not isinstance(v, dict | ComponentSpec) or k not in slot_fields(model)}
    try:
        config = model.model_validate(params)
    except ValidationError as err:
        issues.extend(issues_from_pydantic(err, path, model, extra_keys))
        return None
    if len(issues) > before:
        return None
    spec = ComponentSpec(kind=kind, type=name, params=config.model_dump(mode="json"))
    return spec, config


def role_issue(registry: ComponentRegistry, slot: Slot, name: str, got: type, path: str) -> RecipeIssue | None:
    """The problem with component ``name``, of class ``got``, in ``slot`` at ``path``, or None
    when it fits: a slot with a ``base`` takes only components that derive from it.

    This is the one role check: validating a recipe applies it to the classes that factories
    are, and :func:`vidgan_kit.assembly.build_slots` to what any other factory returns."""
    if slot.base is None or issubclass(got, slot.base):
        return None
    fitting = [e.name for e in registry.list(slot.kind)
               if isinstance(e.factory, type) and issubclass(e.factory, slot.base)]
    role = f" ({slot.description})" if slot.description else ""
    return RecipeIssue(
        join_path(path, "type"),
        f"{name!r} is not a {slot.base.__name__}, which this slot needs{role}; fitting {slot.kind} components: "
        f"{', '.join(fitting) or '(none registered)'}",
    )


def resolve_component(registry: ComponentRegistry, kind: str, table: Any, path: str = "") -> tuple[ComponentSpec, ComponentConfig]:
    """Like :func:`validate_component` but raises :class:`RecipeError` with every issue."""
    issues: list[RecipeIssue] = []
    result = validate_component(registry, kind, table, path, issues)
    if result is None:
        raise RecipeError(issues)
    return result
