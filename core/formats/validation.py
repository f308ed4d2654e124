"""Pydantic validation errors → one clear :class:`DossierError` naming file, row and field.

Every user file (case file, station profile, batch.json, capture package manifest) has a strict
pydantic model. Pydantic's own messages name a location tuple and a type; a clerk needs the
file, the catalogue row (序号 and 题名), the key as it was written, what was wrong and — for a
misspelt name — the nearest known one ("did you mean [build]?"). This module does that once.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from dossier_station.core.errors import DossierError

# Strict: no bool or float taken as an integer, no number taken as text, no inf/nan; unknown keys
# are errors; both the English field name and the Chinese alias are accepted.
STRICT = ConfigDict(
    strict=True,
    extra="forbid",
    frozen=True,
    validate_by_name=True,
    validate_by_alias=True,
    allow_inf_nan=False,
    str_strip_whitespace=False,
)

Labeller = Callable[[tuple[Any, ...]], str | None]


def nearest(name: object, known: Iterable[str]) -> str | None:
    """The closest known name to a misspelt one, or None when nothing is close."""
    if not isinstance(name, str):
        return None
    known = list(known)
    cutoff = 0.5 if len(name) <= 3 else 0.6  # 页码 for 页数: one character in two differs
    hit = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    if not hit:  # case and separator slips: "Max-Pages" for max_pages
        folded = {k.lower().replace("-", "_"): k for k in known}
        key = name.lower().replace("-", "_")
        hit = [folded[key]] if key in folded else difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
        hit = [folded.get(h, h) for h in hit]
    return hit[0] if hit else None


def known_keys(model: type[BaseModel]) -> list[str]:
    """Every key a model accepts: field names and their aliases."""
    names: list[str] = []
    for name, info in model.model_fields.items():
        names.append(name)
        if info.alias and info.alias != name:
            names.append(info.alias)
        va = info.validation_alias
        if isinstance(va, str) and va not in names:
            names.append(va)
        elif va is not None and hasattr(va, "choices"):
            names += [c for c in va.choices if isinstance(c, str) and c not in names]
    return names


def _submodel(annotation: Any, step: Any) -> type[BaseModel] | None:
    """The model a location step leads into (through Optional, list[...] and dict[str, ...])."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _submodel(arg, step)
            if found is not None:
                return found
        return None
    if origin is typing.Annotated:
        return _submodel(typing.get_args(annotation)[0], step)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin in (list, tuple, dict) and isinstance(step, (int, str)):
        args = typing.get_args(annotation)
        return _submodel(args[-1], step) if args else None
    return None


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Follow a pydantic error location through the model's fields to the model that holds it."""
    current: type[BaseModel] | None = model
    annotation: Any = None
    for step in loc:
        if annotation is not None and isinstance(step, int):
            current = _submodel(annotation, step)
            annotation = None
            continue
        if current is None:
            return None
        field = _field(current, step)
        if field is None:
            return None
        annotation = field.annotation
        nxt = _submodel(annotation, None)
        if nxt is not None and typing.get_origin(annotation) not in (list, tuple, dict):
            current, annotation = nxt, None
        else:
            current = None
    return current


def _field(model: type[BaseModel], step: Any) -> Any:
    for name, info in model.model_fields.items():
        if step == name or step == info.alias or step in _choices(info):
            return info
    return None


def _choices(info: Any) -> list[str]:
    va = info.validation_alias
    if isinstance(va, str):
        return [va]
    return [c for c in getattr(va, "choices", ()) if isinstance(c, str)]


def field_label(model: type[BaseModel] | None, key: Any) -> str:
    """A key as a clerk knows it: ``题名 (title)`` when the field has a Chinese name."""
    if model is None:
        return str(key)
    for name, info in model.model_fields.items():
        names = [name, *_choices(info)]
        if key in names or key == info.alias:
            zh = [n for n in names if not n.isascii()]
            return f"{zh[0]} ({name})" if zh else name
    return str(key)


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "a number too large (or not a number)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


_KIND = {
    "int_type": "int (a whole number, not true/false, not a decimal)",
    "int_from_float": "int (a whole number)",
    "float_type": "float (a number)",
    "finite_number": "float (a finite number)",
    "string_type": "str (text in quotes)",
    "bool_type": "bool (true or false)",
    "list_type": "list ([ … ])",
    "tuple_type": "list ([ … ])",
    "dict_type": "table ({ … })",
    "model_type": "table ({ … })",
    "model_attributes_type": "table ({ … })",
    "date_type": "date (like 2024-03-15)",
}


_TYPE_TAGS = {"int", "str", "bool", "float", "list", "dict", "tuple", "date", "none", "bytes", "model", "union"}


def _is_tag(step: Any) -> bool:
    """Pydantic puts the union branch it tried into the location (``bool``, ``constrained-int``,
    ``function-after[...]``): not a key a user wrote."""
    return isinstance(step, str) and (step in _TYPE_TAGS or bool(re.match(r"^[a-z]+(-[a-z]+)+(\[.*\])?$|^[a-z]+\[.*\]$", step)))


def clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(loc)
    while len(out) > 1 and _is_tag(out[-1]) and not isinstance(out[-2], int):
        out.pop()
    while len(out) > 1 and _is_tag(out[-1]) and isinstance(out[-2], int) and len(out) > 2:
        out.pop()
    return tuple(out)


def _where_and_path(loc: tuple[Any, ...], model: type[BaseModel], label: Labeller | None) -> str:
    where = label(loc) if label else None
    if loc and not isinstance(loc[-1], int):
        holder = model_at(model, loc[:-1]) if loc[:-1] else model
        name = field_label(holder, loc[-1])
        path = name if where else ".".join([*(str(p) for p in loc[:-1] if not isinstance(p, int)), name])
    else:
        path = "" if where else (".".join(str(p) for p in loc if not isinstance(p, int)) or "(top level)")
    if where and path:
        return f"{where}: {path}"
    return where or path


def describe(err: dict[str, Any], model: type[BaseModel], label: Labeller | None = None) -> str:
    """One line for one pydantic error: where (row, key), what was found, what is wanted."""
    loc = clean_loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        holder = model_at(model, loc[:-1]) if loc[:-1] else model
        known = known_keys(holder) if holder else []
        guess = nearest(key, known)
        tail = f" — did you mean {guess!r}?" if guess else (f" (known: {', '.join(known)})" if known else "")
        where = label(loc[:-1]) if label and loc[:-1] else None
        return f"{where + ': ' if where else ''}unknown key {key!r}{tail}"
    head = _where_and_path(loc, model, label)
    if kind == "value_error" and (not loc or isinstance(loc[-1], int) or isinstance(err.get("input"), dict)):
        whole = (label(loc) if label and loc else None) or (head if loc else "")  # a whole row or table, not one value
        return f"{whole}: {_wanted(err)}" if whole else _wanted(err)
    if kind == "missing":
        return f"{head} is required but missing"
    if kind == "string_pattern_mismatch" and loc and not isinstance(loc[-1], int):
        holder = model_at(model, loc[:-1]) if loc[:-1] else model
        info = _field(holder, loc[-1]) if holder else None
        if info is not None and info.description:
            return f"{head} = {_show(err.get('input'))}: expected {info.description}"
    return f"{head} = {_show(err.get('input'))}: {_wanted(err)}"


def _wanted(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind in _KIND:
        return f"expected {_KIND[kind]}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg[:1].lower() + msg[1:]


def _lines(exc: ValidationError, model: type[BaseModel], label: Labeller | None) -> list[str]:
    """One line per wrong field: a union's several complaints about one value become one."""
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in exc.errors(include_url=False):
        key = (*clean_loc(tuple(e.get("loc", ()))), e.get("type") == "extra_forbidden")
        grouped.setdefault(key, []).append(e)
    lines = []
    for errs in grouped.values():
        first = describe(errs[0], model, label)
        if len(errs) > 1 and errs[0].get("type") not in ("extra_forbidden", "missing"):
            wanted = []
            for e in errs:
                w = _wanted(e)
                if w not in wanted:
                    wanted.append(w)
            first = first.rsplit(": ", 1)[0] + ": " + ", or ".join(wanted)
        lines.append(first)
    return lines


def raise_for(
    exc: ValidationError,
    model: type[BaseModel],
    error: type[DossierError],
    *,
    source: str,
    hint: str,
    label: Labeller | None = None,
    limit: int = 8,
) -> typing.NoReturn:
    """Raise ``error`` listing (up to ``limit``) problems of one file; never a traceback."""
    lines = _lines(exc, model, label)
    seen: list[str] = []
    for line in lines:
        if line not in seen:
            seen.append(line)
    more = f"\n  … and {len(seen) - limit} more" if len(seen) > limit else ""
    body = seen[0] if len(seen) == 1 else "\n  " + "\n  ".join(seen[:limit]) + more
    raise error(f"{source}: {body}", hint=hint) from None
