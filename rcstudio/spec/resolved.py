"""The resolved form of a spec: canonical dict, content hash, deterministic TOML and back.

The canonical dict is every field with its value (defaults included), except `reward.alpha` under
the gated form when the user never set it - so reloading the TOML gives the same spec, and the
gated-with-alpha check still fires only for alphas a user actually wrote - and except the tables of
engines the run does not use (`[rl.<table>]` of the other engines): a run's identity holds only
what it runs with, so registering a new engine changes no existing run id.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rcstudio.engines import registry as engines
from rcstudio.spec import toml_write
from rcstudio.spec.keys import set_dotted
from rcstudio.spec.load import Origins, read_toml, validate
from rcstudio.spec.models import Spec

RESOLVED_NAME = "spec.resolved.toml"
HEADER = "Resolved rcstudio spec (written by rcstudio; every value explicit). Do not edit: recompile."


def canonical_dict(spec: Spec, *, all_engines: bool = False) -> dict[str, Any]:
    """The spec as plain data; `all_engines` keeps every engine's table (expand() needs them: a
    variant or sweep point may select another engine than the base spec)."""
    data = spec.model_dump(mode="json", exclude={"extends"})
    if spec.reward.form == "gated" and not spec.alpha_set:
        data["reward"].pop("alpha", None)
    for name in engines.names():
        if name != spec.rl.engine and not all_engines:
            data["rl"].pop(engines.table_of(name), None)
    return data


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Move keys of run dirs compiled before engine tables existed (rl.tensor_parallel, ...) to
    their engine table, so old runs still load for resubmit, export and the dashboard."""
    for old, new in engines.moved_keys().items():
        section, _, key = old.partition(".")
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            value = table.pop(key)
            if new.split(".")[1] == engines.table_of(data.get("rl", {}).get("engine", engines.default())):
                set_dotted(data, new, value)
    return data


def spec_hash(spec: Spec) -> str:
    """sha256 of the canonical JSON (sorted keys): the identity of a resolved spec."""
    text = json.dumps(canonical_dict(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dump_resolved(spec: Spec) -> str:
    """Deterministic TOML of the whole resolved spec."""
    return toml_write.dumps(canonical_dict(spec), header=HEADER)


def load_resolved(path: str | Path) -> Spec:
    """A resolved spec from `spec.resolved.toml` (or a run dir holding one); no extends, no env."""
    path = Path(path)
    if path.is_dir():
        path = path / RESOLVED_NAME
    data, text = read_toml(path)
    data = _migrate(data)
    origins = Origins(main_file=str(path))
    origins.add_file(str(path), text)
    spec = validate(data, origins)
    spec._origins = origins  # noqa: SLF001
    return spec
