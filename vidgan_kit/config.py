"""Typed component configs and the validation of component tables.

A component table in a recipe is ``{type = "name", option = value, ...}``. The ``type``
picks a registry entry; every other key is validated against that entry's own config
model, which forbids unknown keys. A config field annotated with :class:`Slot` holds a
nested component table (a model assembly's encoder, say), validated the same way, so a
whole recipe is checked in one pass and every problem is reported with its TOML path.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import RecipeIssue
from .suggest import did_you_mean

__all__ = ["ComponentConfig", "ComponentSpec", "Slot", "issues_from_pydantic", "join_path", "slot_fields"]


class ComponentConfig(BaseModel):
    """Base of every component's options: unknown keys are errors, values are immutable, and
    NaN or infinity is no number (checkpoints and recipe.json stay standard JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), allow_inf_nan=False)


class Slot:
    """Marks a config field as a nested component of ``kind``: a slot of a model assembly.

    Use as ``encoder: Annotated[ComponentSpec, Slot("encoder", "E_C, the content encoder",
    ContentEncoder)] = ComponentSpec(type="conv_content_encoder")``. The declaration says all
    there is about the slot: recipe validation checks its role,
    :func:`vidgan_kit.assembly.build_slots` builds and wires it, and the docs describe it.

    :param kind: the kind of component it holds.
    :param description: what it is for, in a few words (the option's description and the
        wrong-role message say it).
    :param base: the class its component must derive from (a role within the kind, e.g.
        ``VideoDiscriminator``): checked when the recipe is validated, so a component of the
        wrong role fails before any run starts.
    :param wiring: where its wiring keywords come from, as ``{keyword: "slot.attribute"}``,
        for a keyword whose source is not the one slot declared before it that holds the
        kind's provider (:class:`vidgan_kit.kinds.Wire`).
    """

    def __init__(self, kind: str, description: str = "", base: type | None = None,
                 wiring: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.description = description
        self.base = base
        self.wiring = dict(wiring or {})

    @property
    def help(self) -> str:
        """The option's description: what the slot is for and what fills it."""
        what = f"any registered {self.kind} component" + (f" that is a {self.base.__name__}" if self.base else "")
        return f"{self.description}; {what}." if self.description else what[0].upper() + what[1:] + "."

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


def join_path(path: str, key: str | int) -> str:
    """``path`` extended by a key (``a.b``) or a list index (``a[0]``), as recipe issues name places."""
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
            loc = join_path(loc, part)
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


def slot_fields(model: type[BaseModel]) -> dict[str, Slot]:
    """The fields of ``model`` that hold a nested component, with their :class:`Slot`, in declaration order."""
    out = {}
    for name, field in model.model_fields.items():
        slot = next((m for m in field.metadata if isinstance(m, Slot)), None)
        if slot is not None:
            out[name] = slot
    return out
