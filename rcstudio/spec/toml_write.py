"""A deterministic TOML writer for the value types a spec holds (no TOML writer is installed).

Scalars and arrays of scalars, nested tables. Keys keep their insertion order, so the same dict
gives byte-identical text. Output always round-trips through `tomllib`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    return name if _BARE_KEY.match(name) else string(name)


def string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key(k)} = {scalar(v)}" for k, v in value.items()) + "}"
    if value is None:
        raise TypeError("TOML has no null: drop the key instead")
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


def dumps(data: dict[str, Any], header: str = "") -> str:
    """TOML text for `data`; `header` lines are written first as comments."""
    out: list[str] = [f"# {line}" if line else "#" for line in header.splitlines()]
    _table(data, (), out)
    return "\n".join(out).strip("\n") + "\n"


def _table(data: dict[str, Any], path: tuple[str, ...], out: list[str]) -> None:
    plain = [(k, v) for k, v in data.items() if v is not None and not _is_table(v)]
    tables = [(k, v) for k, v in data.items() if _is_table(v)]
    if path and (plain or not tables):
        if out:
            out.append("")
        out.append("[" + ".".join(key(p) for p in path) + "]")
    for k, v in plain:
        out.append(f"{key(k)} = {scalar(v)}")
    for k, v in tables:
        _table(v, path + (k,), out)
