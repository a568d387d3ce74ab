"""Small pieces every command module shares: the `--set` help text and JSON output."""

from __future__ import annotations

import json
from typing import Any

import typer

SET_HELP = (
    "Override a key: --set rl.lr=1e-6 (value read as TOML, else a string; relative paths are taken from "
    "the current directory). Quote dotted variant keys as in TOML: --set 'variants.v.\"judge.model\"=m'. "
    "Repeatable."
)


def echo_json(obj: Any, indent: int | None = 2) -> None:
    """One JSON object on stdout (what every `--json` flag promises); non-JSON values as strings."""
    typer.echo(json.dumps(obj, indent=indent, default=str))
