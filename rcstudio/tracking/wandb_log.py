"""W&B logging for jobs: one call that turns a resolved spec into a wandb run.

Every job (TRL engine, reward server, evals, decomposition) logs through `init_run` so that runs
land where the dashboard looks for them: `run_dir/wandb/`, id = the registry run id, group = the
experiment. With `tracking.mode = "disabled"` it returns a `NoopRun` with the same surface, so
callers never branch on the mode. wandb is imported lazily (the core imports without it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcstudio.spec.models import Spec

SECRET_KEY = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
# spec fields that *name* an environment variable (api_key_env = "OPENAI_API_KEY") are fine to log
_NAMES_ENV = re.compile(r"_env$")


def scrub(value: Any, key: str = "") -> Any:
    """A copy of a config tree with anything secret-looking replaced; env-var *names* are kept."""
    if isinstance(value, dict):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, key) for v in value]
    if key and SECRET_KEY.search(key) and not _NAMES_ENV.search(key) and value not in ("", None):
        return "<redacted>"
    if isinstance(value, Path):
        return str(value)
    return value


def spec_config(spec: Spec) -> dict[str, Any]:
    """The resolved spec as a plain dict for `wandb.config`: values read from the environment stay
    `${env:NAME}` (spec/resolved.public_dict), secrets scrubbed."""
    from rcstudio.spec.resolved import public_dict

    data: dict[str, Any] = scrub(public_dict(spec))
    return data


def tracking_settings(spec: Spec) -> dict[str, Any]:
    """mode/entity/project/group of a run (defaults live in the spec model, TrackingSection)."""
    tracking = spec.tracking
    return {
        "mode": tracking.mode,
        "entity": tracking.entity or None,
        "project": tracking.project,
        "group": tracking.group or spec.experiment.name,
    }


def wandb_link(spec: Spec, run_dir: str | Path, run_id: str) -> dict[str, Any]:
    """The `RunRecord.wandb` dict a registry row stores for a run (mode, entity, project, id, group, dir)."""
    settings = tracking_settings(spec)
    return {
        "mode": settings["mode"],
        "entity": settings["entity"] or "",
        "project": settings["project"],
        "id": run_id,
        "group": settings["group"] or "",
        "dir": str(Path(run_dir) / "wandb"),
    }


class NoopRun:
    """Stands in for a wandb run when tracking is disabled: same calls, nothing written."""

    def __init__(self, run_id: str, name: str | None, config: dict[str, Any]) -> None:
        self.id = run_id
        self.name = name or run_id
        self.config = dict(config)
        self.summary: dict[str, Any] = {}
        self.url = ""
        self.disabled = True
        self.step = 0

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        self.step = step if step is not None else self.step + 1

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        return None

    def __enter__(self) -> "NoopRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()


def init_run(
    spec: Spec,
    run_dir: str | Path,
    run_id: str,
    job_type: str,
    name: str | None = None,
    config: dict[str, Any] | None = None,
) -> Any:
    """Start the wandb run of a job: files under `run_dir/wandb/`, id `run_id`, config = the spec.

    The reward server of run X calls this with `run_id = X + "-rm"`; both share the group, which
    is how the dashboard shows them together. `config` (default: the spec) is scrubbed: secrets
    never reach it, and the API key, when online, is read by wandb itself from WANDB_API_KEY.
    """
    settings = tracking_settings(spec)
    config = spec_config(spec) if config is None else scrub(config)
    if settings["mode"] == "disabled":
        return NoopRun(run_id, name, config)
    import wandb

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if settings["mode"] == "offline":
        # an offline job must never try the network, even if WANDB_MODE says otherwise
        os.environ.setdefault("WANDB_MODE", "offline")
    return wandb.init(
        mode=settings["mode"],
        entity=settings["entity"],
        project=settings["project"],
        group=settings["group"],
        dir=str(run_dir),
        id=run_id,
        name=name or run_id,
        job_type=job_type,
        config=config,
        resume="allow",
        reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
    )
