"""JSON Schema of a format model, as published in docs/schemas/ for other agencies' systems.

Pydantic writes one property per field under its first alias; our files accept every alias
(``title`` and ``题名``). The schema must accept what the station accepts, so each alternative
key is added as a property of the same type, and a required field is required under any of its
names.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = model
    for info in model.model_fields.values():
        for sub in _nested(info.annotation):
            _models(sub, seen)
    return seen


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested(arg)]


def _add_aliases(schema: dict[str, Any], model: type[BaseModel]) -> None:
    props = schema.get("properties", {})
    required = list(schema.get("required", []))
    any_of = []
    for info in model.model_fields.values():
        choices = [c for c in getattr(info.validation_alias, "choices", ()) if isinstance(c, str)]
        if len(choices) < 2 or choices[0] not in props:
            continue
        for alt in choices[1:]:
            props[alt] = {**props[choices[0]], "description": f"same as {choices[0]}"}
        if choices[0] in required:
            required.remove(choices[0])
            any_of.append({"anyOf": [{"required": [c]} for c in choices]})
    if "required" in schema:
        if required:
            schema["required"] = required
        else:
            del schema["required"]
    if any_of:
        schema["allOf"] = schema.get("allOf", []) + any_of


def model_schema(model: type[BaseModel], *, title: str, schema_id: str, description: str = "") -> dict[str, Any]:
    """The model's validation schema with every accepted key, titled and identified."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    models = _models(model, {})
    defs = schema.get("$defs", {})
    for name, sub in models.items():
        if name in defs:
            _add_aliases(defs[name], sub)
    _add_aliases(schema, model)
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "title": title}
    if description:
        head["description"] = description
    return {**head, **{k: v for k, v in schema.items() if k not in ("title", "description")}}
