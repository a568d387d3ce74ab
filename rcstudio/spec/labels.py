"""Names of sweep points (`alpha0.8-lr1e-06`), apart from the sweep machinery: the dashboard
reads them for every run it lists and must not load the spec schema to do so."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["label_value", "point_label"]


def label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "x".join(label_value(v) for v in value)
    return str(value)


def point_label(point: dict[str, Any]) -> str:
    """`alpha0.8-lr1e-06`: last key part plus value; the full key where last parts collide."""
    lasts = [k.rsplit(".", 1)[-1] for k in point]
    parts = []
    for key, last in zip(point, lasts):
        label = last if lasts.count(last) == 1 else key.replace(".", "_")
        parts.append(f"{label}{label_value(point[key])}")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts))
