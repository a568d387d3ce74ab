"""Helpers and fixtures for launch and slurm tests: specs that compile to command plans, submissions built by hand,
and PATH shims that count (or refuse) Slurm calls while passing through to the real binaries."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from rcstudio.compile.plan import LaunchPlan
from rcstudio.launch.executors import Submission
from rcstudio.launch.registry import Registry
from rcstudio.launch.submit import plan_spec

EVAL_SPEC = """
[experiment]
name = "{name}"
kind = "eval"
tags = ["launch-test"]

[judge]
endpoint = "http://127.0.0.1:9/v1"

[cluster]
gpus_per_node = 0
cpus_per_task = 1
time = "00:10:00"
array_parallelism = {par}
{cluster_extra}

[eval]
benchmarks = ["hs3-atomic"]
{sweep}
"""


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(name, seeds=[...], cluster_extra="", par=8) -> path of an eval spec (sweep over eval.seed)."""

    def make(name: str = "lt", seeds: list[int] | None = None, cluster_extra: str = "", par: int = 8) -> Path:
        sweep = f'[sweep]\ngrid = {{ "eval.seed" = {seeds!r} }}' if seeds else ""
        path = tmp_path / f"{name}.toml"
        path.write_text(EVAL_SPEC.format(name=name, sweep=sweep, cluster_extra=cluster_extra, par=par))
        return path

    return make


def py_argv(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", textwrap.dedent(code))


@pytest.fixture
def make_submission(tmp_path):
    """make_submission(run_id, code, **plan) -> a Submission running `python -c code` in its run dir."""

    def make(run_id: str, code: str = "print('hello')", experiment: str = "exp", **plan) -> Submission:
        run_dir = tmp_path / "runs" / experiment / run_id
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        fields = {"argv": py_argv(code), "time": "00:05:00", "cpus_per_task": 1, **plan}
        return Submission(run_id, run_dir, LaunchPlan(**fields), run_id)

    return make


def trivial_plan(spec_path: Path, code: str = "print('point done')", **kwargs):
    """plan_spec(...) with every run's command replaced by a tiny Python program: the full
    submit path (spec, expand, compile, registry) without depending on what the job itself does."""
    import dataclasses

    from rcstudio.launch.jobs import save_plan

    plan = plan_spec(spec_path, **kwargs)
    for prepared in plan.runs:
        prepared.plan = dataclasses.replace(prepared.plan, argv=py_argv(code))
        save_plan(prepared.run_dir, prepared.plan)  # what `resubmit` reads
    return plan


@pytest.fixture
def slurm_shims(tmp_path, monkeypatch):
    """Wrap sbatch/sacct/squeue on PATH with scripts that log each call, then exec the real one.

    Returns calls(name) -> number of times `name` ran. With fail={"sbatch": "message"} the shim
    refuses like a cluster would (exit 1, message on stderr) instead of passing through."""

    def install(fail: dict[str, str] | None = None):
        bindir = tmp_path / "shims"
        bindir.mkdir(exist_ok=True)
        log = tmp_path / "shim-calls.log"
        for name in ("sbatch", "sacct", "squeue"):
            real = shutil.which(name) or f"/usr/bin/{name}"
            body = f'echo {name} >> "{log}"\n'
            if fail and name in fail:
                body += f'echo "{fail[name]}" >&2\nexit 1\n'
            else:
                body += f'exec "{real}" "$@"\n'
            shim = bindir / name
            shim.write_text("#!/bin/bash\n" + body)
            shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
        if shutil.which("srun") is None:  # submitit only checks that srun exists
            (bindir / "srun").write_text("#!/bin/bash\nexit 1\n")
            (bindir / "srun").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

        def calls(name: str) -> int:
            return log.read_text().split().count(name) if log.exists() else 0

        return calls

    return install
