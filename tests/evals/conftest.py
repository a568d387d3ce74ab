"""Fixtures of the evals area: specs for eval runs and compiled run dirs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def eval_spec():
    """Build an eval Spec from a plain dict (the same model `load_spec` validates into)."""
    from rcstudio.spec.models import Spec

    def make(**sections):
        data = {"experiment": {"name": "evaltest", "kind": "eval"}, "tracking": {"mode": "offline"}}
        data.update(sections)
        return Spec.model_validate(data)

    return make


@pytest.fixture
def offline_summary():
    """The summary metrics of the offline W&B run written under a run dir.

    wandb-core writes the offline file asynchronously: `run.finish()` can return before the records
    are on disk (seen under load), so this waits for the run's exit record.
    """

    def read(run_dir: Path, timeout_s: float = 60.0) -> dict:
        import time

        from rcstudio.tracking.offline import OfflineRun

        files = sorted(Path(run_dir, "wandb").glob("offline-run-*/run-*.wandb"))
        assert files, f"no offline W&B run under {run_dir}"
        deadline = time.monotonic() + timeout_s
        while True:
            run = OfflineRun(files[-1])
            run.refresh()
            if run.exit_code is not None or time.monotonic() > deadline:
                return run.summary
            time.sleep(0.2)

    return read
