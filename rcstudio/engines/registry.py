"""The one place engines are registered: `rl.engine` value -> engine package.

Adding an engine = a package `rcstudio/engines/<table>/` with `settings.py` (class `Settings`) and
`engine.py` (class `Engine`), plus ONE line in `ENGINES` below (docs/architecture.md, "How to add
an engine"). The spec's `rl.engine` choices, its `[rl.<table>]` tables, compile, `run-job` and the
CLI all read this registry; none of them names an engine.

Importing this module imports no engine. `settings_models()` imports the light `settings.py` files
(the spec model needs them); `get(name)` imports an engine's `engine.py` on first use.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcstudio.engines.base import Engine, EngineSettings

# rl.engine value -> engine package (its table is the package's last name: [rl.nemo_aligner]).
# The first one is the default engine.
ENGINES: dict[str, str] = {
    "nemo-aligner": "rcstudio.engines.nemo_aligner",
    "trl": "rcstudio.engines.trl",
    # "verl": "rcstudio.engines.verl",
}


def names() -> tuple[str, ...]:
    """Every `rl.engine` value, the default first."""
    return tuple(ENGINES)


def default() -> str:
    return next(iter(ENGINES))


def table_of(name: str) -> str:
    """The spec table `[rl.<table>]` of engine `name`."""
    return ENGINES[name].rsplit(".", 1)[1]


def engine_of_table(table: str) -> str | None:
    """The engine whose table is `table`, or None."""
    return next((n for n in ENGINES if table_of(n) == table), None)


@functools.cache
def settings_models() -> dict[str, type[EngineSettings]]:
    """Engine name -> the pydantic model of its table (imports only the light settings modules)."""
    return {name: importlib.import_module(f"{pkg}.settings").Settings for name, pkg in ENGINES.items()}


@functools.cache
def get(name: str) -> Engine[Any]:
    """The engine registered as `name` (KeyError for an unknown name; the spec rejects those)."""
    engine: Engine[Any] = importlib.import_module(f"{ENGINES[name]}.engine").Engine()
    if engine.name != name or engine.table != table_of(name):
        raise RuntimeError(f"{ENGINES[name]}.engine.Engine says name={engine.name!r} table={engine.table!r}; "
                           f"the registry says {name!r} / {table_of(name)!r}")
    return engine


def all_engines() -> list[Engine[Any]]:
    return [get(name) for name in ENGINES]


def algorithms() -> dict[str, tuple[str, ...]]:
    """Engine name -> the `rl.algorithm` values it runs."""
    return {name: model.algorithms for name, model in settings_models().items()}


def moved_keys() -> dict[str, str]:
    """Old dotted spec key -> its new dotted key in an engine table (for the loader's hint)."""
    out: dict[str, str] = {}
    for name, model in settings_models().items():
        for old, field in model.moved_from.items():
            out[old] = f"rl.{table_of(name)}.{field}"
    return out
