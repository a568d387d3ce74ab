"""Experiment specs: pydantic models, TOML loading with line-accurate errors, extends, sweeps.

Public API (docs/architecture.md): `load_spec`, `expand`, `RunSpec`, `Spec`, `dump_resolved`,
`load_resolved`, `spec_hash`.
"""

from rcstudio.spec.load import load_spec
from rcstudio.spec.models import Spec
from rcstudio.spec.resolved import RESOLVED_NAME, canonical_dict, dump_resolved, load_resolved, spec_hash
from rcstudio.spec.sweep import RunSpec, expand

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
