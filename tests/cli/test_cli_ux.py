"""Everyday CLI behaviour: --version, shell completion, help without type placeholders, one JSON
object from `validate --json` on an invalid spec, typo hints drawn from the right key set."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _rcstudio(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_version():
    from rcstudio import __version__

    done = _rcstudio("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"rcstudio {__version__}"


def test_shell_completion_of_commands_and_runs(tmp_path):
    from rcstudio.launch.registry import Registry, RunRecord

    Registry().add_runs([RunRecord(
        run_id="quickstart-1c24b59e", name="quickstart", experiment="quickstart", kind="eval", engine="",
        executor="local", state="COMPLETED", created_at=1.0, updated_at=1.0, started_at=None, ended_at=None,
        run_dir=str(tmp_path), spec_hash="h")])
    script = _rcstudio("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert script.returncode == 0 and "_RCSTUDIO_COMPLETE" in script.stdout
    words = _rcstudio(env={"_RCSTUDIO_COMPLETE": "complete_bash", "COMP_WORDS": "rcstudio lo", "COMP_CWORD": "1"})
    assert "logs" in words.stdout.split()
    runs = _rcstudio(env={"_RCSTUDIO_COMPLETE": "complete_bash", "COMP_WORDS": "rcstudio logs quick", "COMP_CWORD": "2"})
    assert {"quickstart-1c24b59e", "quickstart", "quickstart/quickstart"} <= set(runs.stdout.split())


def test_help_has_no_type_placeholders_and_names_arguments():
    done = _rcstudio("submit", "--help", env={"COLUMNS": "200"})
    assert done.returncode == 0
    assert "<bool>" not in done.stdout and "<str>" not in done.stdout and "<list[str]>" not in done.stdout
    assert "rcstudio submit [OPTIONS] SPEC" in done.stdout and "--dry-run" in done.stdout
    logs = _rcstudio("logs", "--help", env={"COLUMNS": "200"})
    # later paragraphs reflow to the width instead of keeping the docstring's ragged line breaks
    assert "the command's stdout is logs/stdout.log (or the hetjob script's --output)" in logs.stdout


def test_validate_json_prints_one_object_with_the_errors(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    done = _rcstudio("validate", "specs/quickstart.toml", "--set", "variants.tiny-trl.enabld=true", "--json")
    assert done.returncode == 2
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and len(doc["errors"]) == 1
    (error,) = doc["errors"]
    assert error["key"] == "variants.tiny-trl.enabld" and error["hint"] == "did you mean enabled?"
    assert "did you mean enabled?" in done.stderr and "eval" not in error["hint"]
    ok = _rcstudio("validate", "specs/quickstart.toml", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
