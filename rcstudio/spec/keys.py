"""Dotted keys of the spec: checking that `rl.lr` exists, suggesting `rollouts_per_prompt` for a typo.

Used by `--set` overrides, sweep keys and variant overrides, and to phrase pydantic's errors.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from rcstudio.engines import registry as engines
from rcstudio.spec.models import Spec, Variant


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _dict_value(annotation: Any) -> Any | None:
    """Value type of a `dict[str, X]` annotation, else None."""
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1]
    return None


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def suggest(word: str, choices: typing.Iterable[str]) -> str | None:
    """'did you mean X?' for a misspelled key, or None when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {found[0]}?" if found else None


def fields_at(path: tuple[str, ...]) -> list[str] | None:
    """Field names allowed after `path` (None where any key is allowed, e.g. sweep.grid)."""
    model: type[BaseModel] | None = Spec
    free = False
    for part in path:
        if free:
            return None
        if model is None:
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann = _strip_optional(info.annotation)
        value_type = _dict_value(ann)
        if value_type is not None:
            model = _model_of(value_type)
            free = True
            if model is Variant:
                return None
            continue
        model = _model_of(ann)
        free = False
    return list(model.model_fields) if model is not None and not free else None


def moved(dotted: str) -> tuple[str, str] | None:
    """(message, hint) when `dotted` is an old key that moved into an engine's table, else None."""
    new = engines.moved_keys().get(dotted)
    if new is None:
        return None
    table, _, field = new.rpartition(".")
    return (f"{dotted} moved to {new} (engine-only settings live in the engine's table)",
            f"write it under [{table}] as {field} = ...")


def check_key(dotted: str, *, allow_tables: bool = False) -> tuple[str, str | None] | None:
    """(message, hint) saying why `dotted` is not a settable spec key, or None if it is.

    Keys under free-form tables (`sweep.grid.*`, `variants.NAME.*`) are accepted here; they are
    checked where they are used.
    """
    parts = tuple(dotted.split("."))
    if not dotted or any(not p for p in parts):
        return f"{dotted!r} is not a dotted key like rl.lr", None
    old = moved(dotted)
    if old is not None:
        return old
    model: type[BaseModel] = Spec
    for n, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            where = ".".join(parts[:n]) or "the spec"
            hint = suggest(part, model.model_fields) or "known keys: " + ", ".join(model.model_fields)
            return f"unknown key {part!r} in {where}", hint
        ann = _strip_optional(info.annotation)
        if _dict_value(ann) is not None:
            return None
        sub = _model_of(ann)
        if sub is None:
            if n != len(parts) - 1:
                return f"{'.'.join(parts[: n + 1])} is a value, not a table", None
            return None
        if n == len(parts) - 1 and not allow_tables:
            return f"{dotted} is a table", f"set one of its keys, e.g. {dotted}.{next(iter(sub.model_fields))}"
        model = sub
    return None


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c = value` in nested dicts, creating tables on the way."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value
