"""Small pieces every command module shares: the `--set` help text, JSON output, the console."""

from __future__ import annotations

import json
from typing import Any

import typer

SET_HELP = (
    "Override a key: --set rl.lr=1e-6 (value read as TOML, else a string; relative paths are taken from "
    "the current directory). Quote dotted variant keys as in TOML: --set 'variants.v.\"judge.model\"=m'. "
    "Repeatable."
)


def complete_run(incomplete: str) -> list[str]:
    """Shell completion for RUN arguments: run ids and names from the registry (newest first)."""
    try:
        from rcstudio.launch.registry import Registry

        records = Registry().list_runs(limit=500)
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []
    found = dict.fromkeys(x for r in records for x in (r.run_id, r.name, f"{r.experiment}/{r.name}"))
    return [x for x in found if x.startswith(incomplete)]


RUN_HELP = "Run id (or a unique prefix of it), a unique run name, or EXPERIMENT/NAME."
RUNS_HELP = "Runs: ids (or unique prefixes), unique run names, or EXPERIMENT/NAME."


def echo_json(obj: Any, indent: int | None = 2) -> None:
    """One JSON object on stdout (what every `--json` flag promises); non-JSON values as strings."""
    typer.echo(json.dumps(obj, indent=indent, default=str))


PIPE_WIDTH = 4096  # columns a console gets when stdout is not a terminal: tables are never squeezed


def console(stderr: bool = False) -> Any:
    """A rich Console for a command's output: the terminal's width on a TTY; on a pipe or file
    (`rcstudio ls | grep ...`) a width no table reaches, so nothing is cut to 80 columns."""
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or os.environ.get("COLUMNS"):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)
