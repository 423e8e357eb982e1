"""Typed component configs and the validation of component tables.

A component table in a recipe is ``{type = "name", option = value, ...}``. The ``type``
picks a registry entry; every other key is validated against that entry's own config
model, which forbids unknown keys. A config field annotated with :class:`Slot` holds a
nested component table (a model assembly's encoder, say), validated the same way, so a
whole recipe is checked in one pass and every problem is reported with its TOML path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import RecipeError, RecipeIssue, UnknownComponentError
from .suggest import closest, did_you_mean

if TYPE_CHECKING:
    from .registry import ComponentRegistry

__all__ = ["ComponentConfig", "ComponentSpec", "Slot", "validate_component", "issues_from_pydantic"]


class ComponentConfig(BaseModel):
    """Base of every component's options: unknown keys are errors, values are immutable, and
    NaN or infinity is no number (checkpoints and recipe.json stay standard JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), allow_inf_nan=False)


class Slot:
    """Marks a config field as a nested component of ``kind``.

    Use as ``encoder: Annotated[ComponentSpec, Slot("encoder")] = ComponentSpec(...)``.
    """

    def __init__(self, kind: str, description: str = "", base: type | None = None) -> None:
        self.kind = kind
        self.description = description
        #: Required base class (a role within the kind, e.g. ``VideoDiscriminator``): checked
        #: when the recipe is validated, so a wrong-role component fails before any run starts.
        self.base = base

    def __repr__(self) -> str:
        return f"Slot({self.kind!r})"


class ComponentSpec(BaseModel):
    """A reference to a registered component with its (validated) options.

    ``params`` is plain JSON data, so a spec is written to and read from checkpoints
    as-is. Accepts the recipe's flat form ``{"type": "name", **params}`` too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str | None = None
    type: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_table(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" in data and "params" not in data:
            rest = {k: v for k, v in data.items() if k not in ("type", "kind")}
            return {"kind": data.get("kind"), "type": data["type"], "params": rest}
        return data

    def to_table(self) -> dict[str, Any]:
        """The recipe's flat form, ``{"type": ..., **params}``."""
        return {"type": self.type, **self.params}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of ``loc`` (to suggest its keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue  # list indices and dict keys keep the element type found below
        field = current.model_fields.get(str(part))
        if field is None:
            return current
        current = _element_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _element_model(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``list[X]``, ``dict[str, X]`` or ``X | None``, else the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(get_args(annotation)):
        found = _element_model(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def issues_from_pydantic(
    err: ValidationError, path: str, model: type[BaseModel] | None = None, extra_keys: tuple[str, ...] = ()
) -> list[RecipeIssue]:
    """Turn pydantic's errors into recipe issues with full dotted paths and suggestions.

    ``extra_keys`` are keys valid at the top of ``path`` that the model itself does not own
    (a loss table's ``weight``, say), offered as suggestions too.
    """
    issues = []
    for e in err.errors():
        loc = path
        for part in e["loc"]:
            loc = _join(loc, part)
        if e["type"] == "extra_forbidden":
            key = str(e["loc"][-1]) if e["loc"] else ""
            owner = _model_at(model, tuple(e["loc"][:-1])) if model is not None else None
            fields = list(owner.model_fields) if owner is not None else []
            if len(e["loc"]) == 1:
                fields += list(extra_keys)
            msg = "unknown key" + did_you_mean(key, fields)
            if fields:
                msg += f" (valid keys: {', '.join(sorted(fields))})"
        elif e["type"] == "missing":
            msg = "required key is missing"
        else:
            got = e.get("input")
            msg = e["msg"].removeprefix("Value error, ")  # a validator's own message says what is wrong
            if not isinstance(got, dict | list):
                msg += f" (got {got!r})"
        issues.append(RecipeIssue(loc, msg))
    return issues


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
            RecipeIssue(_join(path, "type"), f"missing; choose a {kind} component: {', '.join(names) or '(none registered)'}")
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
                _join(path, "type"),
                f"unknown {kind} component {name!r}{hint} (run `vidgan list-components --kind {kind}`)",
            )
        )
        return None

    model = entry.config_model
    params = {k: v for k, v in table.items() if k not in ("type", "kind")}
    before = len(issues)
    # Nested slots first: they are validated against the registry, not by pydantic.
    for field_name, field in model.model_fields.items():
        slot = next((m for m in field.metadata if isinstance(m, Slot)), None)
        if slot is None:
            continue
        if field_name in params:
            # A component of the wrong role is reported alone: its options would only add noise.
            if _wrong_role(registry, slot, params[field_name], _join(path, field_name), issues):
                continue
            nested = validate_component(registry, slot.kind, params[field_name], _join(path, field_name), issues)
            if nested is not None:
                params[field_name] = nested[0]
        elif field.default is not None and isinstance(field.default, ComponentSpec):
            nested = validate_component(registry, slot.kind, field.default, _join(path, field_name), issues)
            if nested is not None:
                params[field_name] = nested[0]
    if len(issues) > before:
        # Still report the non-slot keys' problems, with slots replaced by their defaults.
        params = {k: v for k, v in params.items() if not isinstance(v, dict | ComponentSpec) or k not in _slot_names(model)}
    try:
        config = model.model_validate(params)
    except ValidationError as err:
        issues.extend(issues_from_pydantic(err, path, model, extra_keys))
        return None
    if len(issues) > before:
        return None
    spec = ComponentSpec(kind=kind, type=name, params=config.model_dump(mode="json"))
    return spec, config


def _wrong_role(registry: ComponentRegistry, slot: Slot, table: Any, path: str, issues: list[RecipeIssue]) -> bool:
    """Report (and return True) when ``table`` names a registered component of the slot's
    kind that does not derive from the slot's required base class."""
    name = table.get("type") if isinstance(table, dict) else getattr(table, "type", None)
    if slot.base is None or not isinstance(name, str) or (slot.kind, name) not in registry:
        return False
    factory = registry.get(slot.kind, name).factory
    if not isinstance(factory, type) or issubclass(factory, slot.base):
        return False
    fitting = [e.name for e in registry.list(slot.kind)
               if isinstance(e.factory, type) and issubclass(e.factory, slot.base)]
    issues.append(RecipeIssue(
        _join(path, "type"),
        f"{name!r} is not a {slot.base.__name__}, which this slot needs; fitting components: "
        f"{', '.join(fitting) or '(none registered)'}",
    ))
    return True


def _slot_names(model: type[BaseModel]) -> set[str]:
    return {n for n, f in model.model_fields.items() if any(isinstance(m, Slot) for m in f.metadata)}


def resolve_component(registry: ComponentRegistry, kind: str, table: Any, path: str = "") -> tuple[ComponentSpec, ComponentConfig]:
    """Like :func:`validate_component` but raises :class:`RecipeError` with every issue."""
    issues: list[RecipeIssue] = []
    result = validate_component(registry, kind, table, path, issues)
    if result is None:
        raise RecipeError(issues)
    return result


__all__ += ["resolve_component", "closest"]
