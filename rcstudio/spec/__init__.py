"""Experiment specs: pydantic models, TOML loading with line-accurate errors, extends, sweeps.

Public API (docs/architecture.md): `load_spec`, `expand`, `RunSpec`, `Spec`, `dump_resolved`,
`load_resolved`, `spec_hash`.

The names load on first use (PEP 562): a command that needs only `rcstudio.spec.models` (the
flag defaults of `rcstudio score`) does not pay for the loader, the key checks and the sweeps.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcstudio.spec.load import load_spec
    from rcstudio.spec.models import Spec
    from rcstudio.spec.resolved import RESOLVED_NAME, canonical_dict, dump_resolved, load_resolved, spec_hash
    from rcstudio.spec.sweep import RunSpec, expand

_WHERE = {
    "load_spec": "rcstudio.spec.load",
    "Spec": "rcstudio.spec.models",
    "RESOLVED_NAME": "rcstudio.spec.resolved",
    "canonical_dict": "rcstudio.spec.resolved",
    "dump_resolved": "rcstudio.spec.resolved",
    "load_resolved": "rcstudio.spec.resolved",
    "spec_hash": "rcstudio.spec.resolved",
    "RunSpec": "rcstudio.spec.sweep",
    "expand": "rcstudio.spec.sweep",
}

__all__ = [
    "RESOLVED_NAME",
    "RunSpec",
    "Spec",
    "canonical_dict",
    "dump_resolved",
    "expand",
    "load_resolved",
    "load_spec",
    "spec_hash",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'rcstudio.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
