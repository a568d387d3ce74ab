"""Writing Python values as Hydra command-line override values (`key=value`).

Strings are always single-quoted, so a path or name can never change the override's structure;
`${` is escaped so spec text never becomes an OmegaConf interpolation.
"""

from __future__ import annotations

import re
from typing import Any

_BACKSLASHES_BEFORE_QUOTE = re.compile(r"(\\*)('|$)")


def quote(value: str) -> str:
    text = value.replace("${", "\\${")
    # Inside Hydra quotes a backslash only escapes when it precedes a quote (or ends the string).
    text = _BACKSLASHES_BEFORE_QUOTE.sub(lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), text)
    return f"'{text}'"


def value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as a Hydra value")


def override(key: str, v: Any, *, add: bool = False) -> str:
    """`key=value`, or `++key=value` for keys absent from the YAML (they come from the checkpoint)."""
    return f"{'++' if add else ''}{key}={value(v)}"
