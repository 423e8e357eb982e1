"""Describing components and recipes to people: options tables and JSON Schema.

``vidgan show-component``, ``vidgan schema`` and the generated docs pages all read from
here, so what users see cannot drift from what the code validates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .config import ComponentSpec, slot_fields
from .registry import ComponentEntry, ComponentRegistry

__all__ = ["OptionInfo", "component_options", "recipe_json_schema", "type_label"]


@dataclass(frozen=True)
class OptionInfo:
    """One option of a component (or a recipe section)."""

    name: str
    type: str
    default: str
    description: str
    slot_kind: str | None = None


def type_label(annotation: Any) -> str:
    """A short human-readable type: ``int``, ``float``, ``'a' | 'b'``, ``list[str]``."""
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    if text:
        return text
    text = repr(annotation).replace("typing.", "")
    if text.startswith("Literal["):
        return " | ".join(v.strip() for v in text[len("Literal[") : -1].split(","))
    return text


def _default_label(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    value = field.default if field.default is not PydanticUndefined else field.default_factory()  # type: ignore[misc]
    if isinstance(value, ComponentSpec):
        return value.type
    if isinstance(value, BaseModel):
        return "{...}"
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def component_options(model: type[BaseModel]) -> list[OptionInfo]:
    """Every option of a config model, in declaration order."""
    out = []
    slots = slot_fields(model)
    for name, field in model.model_fields.items():
        slot = slots.get(name)
        if slot is not None:
            out.append(OptionInfo(name, f"{slot.kind} component", _default_label(field),
                                  field.description or slot.help, slot.kind))
        else:
            out.append(OptionInfo(name, type_label(field.annotation), _default_label(field), field.description or ""))
    return out


def _entry_schema(entry: ComponentEntry, kind_refs: dict[str, str]) -> dict[str, Any]:
    schema = entry.config_model.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})
    props = schema.setdefault("properties", {})
    for name, slot in slot_fields(entry.config_model).items():
        if slot.kind in kind_refs:
            field = entry.config_model.model_fields[name]
            props[name] = {"$ref": kind_refs[slot.kind], "description": field.description or slot.help}
    props["type"] = {"const": entry.name, "description": entry.summary}
    schema["required"] = sorted(set(schema.get("required", [])) | {"type"})
    schema["title"] = f"{entry.kind}:{entry.name}"
    schema["additionalProperties"] = False
    schema.pop("$defs", None)
    return {"schema": schema, "defs": defs}


def recipe_json_schema(registry: ComponentRegistry) -> dict[str, Any]:
    """JSON Schema of a recipe, with one alternative per registered component of each kind."""
    from .recipe import LOSS_SCHEDULE_KEYS, LossTerm, _RecipeShape

    kind_refs = {k: f"#/$defs/component_{k}" for k in registry.kinds}
    top = _RecipeShape.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top.pop("$defs", {})
    for kind in registry.kinds:
        alternatives = []
        for entry in registry.list(kind):
            built = _entry_schema(entry, kind_refs)
            defs.update(built["defs"])
            alternatives.append(built["schema"])
        if kind == "loss":
            for alt in alternatives:
                for key in LOSS_SCHEDULE_KEYS:
                    field = LossTerm.model_fields[key]
                    alt["properties"][key] = {"type": _json_type(field.annotation), "description": field.description}
        defs[f"component_{kind}"] = {"oneOf": alternatives} if alternatives else {"type": "object"}
    props = top["properties"]
    props["data"] = {"$ref": kind_refs["dataset"], "description": "The dataset component."}
    props["model"] = {"$ref": kind_refs["model"], "description": "The model assembly."}
    props["losses"] = {"type": "object", "additionalProperties": {"$ref": kind_refs["loss"]},
                       "description": "Named loss terms: a loss component plus weight, start, ramp, enabled."}
    props["extends"] = {"type": "string", "description": "Another recipe file (relative to this one) whose tables"
                        " this recipe's are merged onto; [data] and [model] may then come from it."}
    top["required"] = []  # a recipe that extends another may leave [data] and [model] to it
    top["$defs"] = defs
    top["title"] = "vidgan-kit recipe"
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return top


def _json_type(annotation: Any) -> str:
    return {float: "number", int: "integer", bool: "boolean", str: "string"}.get(annotation, "string")
