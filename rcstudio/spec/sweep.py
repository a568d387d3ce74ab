"""Expanding a spec into runs: sweep points (grid x zip) and enabled variants.

Each run carries its own resolved spec (no sweep, no variants left in it), a content-derived id
`<experiment>-<8 hex>` and a readable name such as `genrm-additive-alpha0.8`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from rcstudio.errors import UserError
from rcstudio.spec.keys import set_dotted
from rcstudio.spec.labels import label_value, point_label
from rcstudio.spec.load import Origins, validate
from rcstudio.spec.models import Spec
from rcstudio.spec.resolved import canonical_dict, spec_hash


@dataclass(frozen=True)
class RunSpec:
    """One run: its resolved spec, id, readable name and the swept values that define it."""

    spec: Spec
    run_id: str
    name: str
    point: dict[str, Any] = field(default_factory=dict)
    spec_hash: str = ""


# A hard ceiling on runs per spec (each run is a directory and a registry row); `submit` asks for
# confirmation well below it (launch/submit.py CONFIRM_RUNS).
MAX_RUNS = 10_000


def sweep_size(spec: Spec) -> int:
    """How many runs `expand(spec)` gives, computed without expanding (a grid can be astronomical)."""
    grid = 1
    for values in spec.sweep.grid.values():
        grid *= max(1, len(values))
    zipped = len(next(iter(spec.sweep.zip.values()))) if spec.sweep.zip else 1
    return grid * max(1, zipped) + sum(1 for v in spec.variants.values() if v.enabled)


def sweep_points(grid: dict[str, list[Any]], zipped: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of `grid` (keys in written order) times the zipped rows; [{}] without a sweep."""
    grid_points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] if grid else [{}]
    if zipped:
        n = len(next(iter(zipped.values())))
        zip_points = [{k: v[i] for k, v in zipped.items()} for i in range(n)]
    else:
        zip_points = [{}]
    return [{**g, **z} for g in grid_points for z in zip_points]


def make_run(spec: Spec, name: str, point: dict[str, Any]) -> RunSpec:
    digest = spec_hash(spec)
    return RunSpec(spec=spec, run_id=f"{spec.experiment.name}-{digest[:8]}", name=name, point=dict(point),
                   spec_hash=digest)


def _copy_tree(node: Any) -> Any:
    """Copy of a JSON-like tree (dicts, lists, scalars); much faster than copy.deepcopy."""
    if isinstance(node, dict):
        return {k: _copy_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy_tree(v) for v in node]
    return node


def _point_spec(base: dict[str, Any], sets: dict[str, Any], spec: Spec, where: str, label: str) -> Spec:
    data = _copy_tree(base)
    for key, value in sets.items():
        set_dotted(data, key, value)
    origins = spec._origins or Origins()  # noqa: SLF001
    try:
        point_spec = validate(data, origins)
    except UserError as exc:
        file, line = origins.locate(where)
        raise UserError(f"{label}: {exc.message}", file=file or None, line=line,
                        key=exc.location.key or where, hint=exc.hint) from None
    point_spec._origins = origins  # noqa: SLF001
    return point_spec


def expand(spec: Spec) -> list[RunSpec]:
    """All runs of a spec, in a fixed order: sweep points (grid order, then zip), then variants by name."""
    count = sweep_size(spec)
    if count > MAX_RUNS:
        file = spec._origins.main_file if spec._origins else None  # noqa: SLF001
        raise UserError(f"this spec expands into {count} runs; at most {MAX_RUNS} per spec",
                        file=file, key="sweep",
                        hint="split the sweep into several specs, or sweep fewer values per key")
    base = canonical_dict(spec, all_engines=True)
    base["sweep"] = {"grid": {}, "zip": {}}
    base["variants"] = {}
    runs: list[RunSpec] = []
    exp = spec.experiment.name
    first_key = next(iter([*spec.sweep.grid, *spec.sweep.zip]), None)
    for point in sweep_points(spec.sweep.grid, spec.sweep.zip):
        if point:
            table = "grid" if first_key in spec.sweep.grid else "zip"
            where = f"sweep.{table}.{first_key}"
            label = "sweep point " + ", ".join(f"{k}={label_value(v)}" for k, v in point.items())
            point_spec = _point_spec(base, point, spec, where, label)
            runs.append(make_run(point_spec, f"{exp}-{point_label(point)}", point))
        else:
            runs.append(make_run(_point_spec(base, {}, spec, "experiment", "spec"), exp, {}))
    for vname in sorted(spec.variants):
        variant = spec.variants[vname]
        if not variant.enabled:
            continue
        overrides = variant.overrides
        vspec = _point_spec(base, overrides, spec, f"variants.{vname}", f"variant {vname}")
        runs.append(make_run(vspec, f"{exp}-{vname}", overrides))
    seen: dict[str, str] = {}
    for run in runs:
        if run.run_id in seen:
            raise UserError(
                f"runs {seen[run.run_id]!r} and {run.name!r} resolve to the same spec",
                key="sweep" if run.point else "variants",
                file=(spec._origins.main_file if spec._origins else None),  # noqa: SLF001
                hint="remove the duplicate sweep value or variant")
        seen[run.run_id] = run.name
    return runs
