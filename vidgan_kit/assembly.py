"""Building a model assembly's slots from their declarations.

An assembly declares its slots once, as :class:`~vidgan_kit.config.Slot` fields of its
config (kind, role, description, wiring). :func:`build_slots` builds them in declaration
order and wires each from the slots built before it: a keyword of the slot's kind that a
neighbour provides (:attr:`vidgan_kit.kinds.Kind.wiring`: a decoder's ``content_shape`` is
a content encoder's ``code_shape``) is read off the one earlier slot whose component derives
from the provider, or off the slot the declaration names (``Slot(..., wiring={"content_shape":
"content_encoder.code_shape"})``)::

    class MyModel(ModelAssembly):
        def __init__(self, config, *, geometry, registry, **wiring):
            super().__init__()
            for name, component in build_slots(config, registry, geometry=geometry).items():
                setattr(self, name, component)
"""

from __future__ import annotations

from typing import Any

from .config import ComponentConfig, ComponentSpec, Slot, join_path, slot_fields
from .errors import RecipeError, VidganError
from .kinds import Wire
from .registry import ComponentRegistry, role_issue

__all__ = ["build_slots"]


def build_slots(config: ComponentConfig, registry: ComponentRegistry, *, path: str = "model",
                **context: Any) -> dict[str, Any]:
    """Every slot of ``config``, built: slot name -> component, in declaration order.

    :param config: an assembly's validated config; its :class:`Slot` fields are the slots.
    :param registry: builds each slot's component.
    :param path: the assembly's place in the recipe, for messages (``model``).
    :param context: what the builder knows by itself (``geometry``, ...): each component gets
        the keywords its kind's ``context`` names.
    :raises RecipeError: a component whose factory is no class turned out not to be of the
        slot's role (classes are checked when the recipe is validated).
    """
    built: dict[str, Any] = {}
    for name, slot in slot_fields(type(config)).items():
        spec: ComponentSpec = getattr(config, name)
        at = join_path(path, name)
        kind = registry.kind(slot.kind)
        missing = [k for k in kind.context if k not in context]
        if missing:
            raise VidganError(f"{at}: a component of kind {slot.kind} is built with {', '.join(missing)}; pass them to"
                              " build_slots")
        wiring = {k: context[k] for k in kind.context}
        wiring.update({k: _wired(at, k, wire, slot, built) for k, wire in kind.wiring.items()})
        component = registry.build(slot.kind, spec, **wiring)
        if not isinstance(registry.get(slot.kind, spec.type).factory, type):
            issue = role_issue(registry, slot, spec.type, type(component), at)
            if issue is not None:
                raise RecipeError([issue])
        built[name] = component
    return built


def _wired(at: str, keyword: str, wire: Wire, slot: Slot, built: dict[str, Any]) -> Any:
    """The value of wiring ``keyword`` for the slot at ``at``, from the slots built before it."""
    if keyword in slot.wiring:
        source, _, attribute = slot.wiring[keyword].partition(".")
        if source not in built or not attribute:
            raise VidganError(f"{at}: wiring {keyword} = {slot.wiring[keyword]!r} must name a slot declared before"
                              " it and an attribute, as 'slot.attribute' (slots before it:"
                              f" {', '.join(built) or 'none'})")
    else:
        providers = [n for n, component in built.items() if isinstance(component, wire.provider)]
        if len(providers) != 1:
            found = f"{len(providers)} ({', '.join(providers)})" if providers else "none"
            raise VidganError(
                f"{at}: its {keyword} is the {wire.attribute} of a {wire.provider.__name__}; slots declared before it"
                f" that hold one: {found}. Declare one first, or name the source: Slot(..., wiring={{{keyword!r}:"
                " 'slot.attribute'})"
            )
        source, attribute = providers[0], wire.attribute
    value = getattr(built[source], attribute)
    return tuple(value) if isinstance(value, list) else value
