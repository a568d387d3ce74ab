"""The entry point as a user meets it: usage mistakes and rcstudio's own errors exit 2 with a
message and no traceback; every command group is registered."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rcstudio.cli import build_app


def _rcstudio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("compile", "specs/quickstart.toml"), ("eval", "judgebench", "x.jsonl"),
                                  ("submit", "--executor")])
def test_usage_errors_exit_2_without_traceback(args, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    done = _rcstudio(*args)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr and "Error" in done.stderr


def test_user_errors_exit_2_with_the_location(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[experiment]\nname = "x"\n[rl]\nrollout_per_prompt = 8\n')
    done = _rcstudio("validate", str(spec))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{spec}:4: rl.rollout_per_prompt" in done.stderr and "did you mean rollouts_per_prompt" in done.stderr


def test_every_command_the_readme_names_is_registered(repo_root):
    import typer.main

    names = set(typer.main.get_command(build_app()).commands)
    readme = (repo_root / "README.md").read_text()
    for name in ("init", "validate", "schema", "compile", "submit", "ls", "status", "logs", "cancel", "resubmit",
                 "export", "recipes", "score", "plot", "eval", "report", "serve-reward", "decompose", "tui",
                 "compare", "run-job"):
        assert name in names, name
        assert f"rcstudio {name}" in readme, name
