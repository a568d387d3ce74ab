"""`rcstudio run-job`: the command every compiled job executes (see rcstudio/engines/dispatch.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def run_job_cmd(
    run_dir: Path = typer.Option(..., "--run-dir", help="Run directory holding spec.resolved.toml."),
    step: Optional[str] = typer.Option(
        None, "--step", help="prepare | eval | decompose | an engine's step, e.g. train (default: from experiment.kind / rl.engine)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the step's result as one JSON object."),
) -> None:
    """Run one job step inside a run dir; failures exit 1 with a line in logs/run-job.log."""
    from rcstudio.engines.dispatch import run_job

    result = run_job(run_dir, step)
    if as_json:
        payload = result if isinstance(result, dict) else {"result": None if result is None else str(result)}
        print(json.dumps(payload, default=str, sort_keys=True))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("run-job")(run_job_cmd)
