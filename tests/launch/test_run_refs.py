"""Naming runs on the command line: a unique name keeps resolving when other runs' ids share its
prefix, `experiment/name` works, `--dry-run` shows the plan of an already submitted spec, and a
table piped to a file is not squeezed to 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from launch_helpers import trivial_plan
from test_launch_cli import rcs

from rcstudio.errors import UserError
from rcstudio.launch.registry import RunRecord
from rcstudio.launch.submit import execute_plan


def _rec(run_id: str, name: str, experiment: str, t: float) -> RunRecord:
    return RunRecord(run_id=run_id, name=name, experiment=experiment, kind="eval", engine="", executor="local",
                     state="COMPLETED", created_at=t, updated_at=t, started_at=None, ended_at=None,
                     run_dir=f"/tmp/{run_id}", spec_hash=run_id)


def test_names_and_experiment_name_resolve(registry):
    registry.add_runs([_rec("quickstart-1c24b59e", "quickstart", "quickstart", 1.0),
                       _rec("quickstart-d27282c1", "quickstart-tiny-trl", "quickstart", 2.0),
                       _rec("other-00000001", "quickstart", "other", 3.0)])
    assert registry.get("quickstart-tiny-trl").run_id == "quickstart-d27282c1"  # its id shares the prefix
    assert registry.get("quickstart/quickstart").run_id == "quickstart-1c24b59e"
    assert registry.get("other/quickstart").run_id == "other-00000001"
    assert registry.get("quickstart-d2").run_id == "quickstart-d27282c1"
    with pytest.raises(UserError) as info:  # the same name in two experiments: say which, ask for more
        registry.get("quickstart")
    assert "quickstart-1c24b59e (quickstart/quickstart)" in info.value.message


def test_dry_run_shows_the_plan_of_a_submitted_spec(write_spec, registry):
    spec = write_spec("dryagain")
    (run,) = execute_plan(trivial_plan(spec, "print('x')", executor="local"), registry)
    before = sorted(p.name for p in Path(run.run_dir).iterdir())
    done = rcs("submit", str(spec), "--dry-run", "--executor", "local", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (item,) = doc["runs"]
    assert item["exists"]["run_id"] == run.run_id and item["run_dir"] == run.run_dir
    assert item["launch"].endswith(f"--run-dir {run.run_dir}")
    text = rcs("submit", str(spec), "--dry-run", "--executor", "local")
    assert text.returncode == 0 and "already submitted" in text.stdout
    assert sorted(p.name for p in Path(run.run_dir).iterdir()) == before  # untouched
    assert len(registry.list_runs()) == 1


def test_piped_tables_are_not_cut(registry):
    long_name = "an-experiment-with-a-long-name-alpha0.125-lr1e-06-seed12345"
    registry.add_runs([_rec("an-experiment-00000001", long_name, "an-experiment", 1.0)])
    done = rcs("ls", "--no-refresh")
    assert done.returncode == 0 and long_name in done.stdout and "an-experiment-00000001" in done.stdout
