"""Whatever `sbatch` prints is checked before it becomes a job id (a fake or broken sbatch records
nothing), and compiled commands start the submitting interpreter, not a `rcstudio` found on PATH."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rcstudio import paths
from rcstudio.compile.plan import rcstudio_argv
from rcstudio.launch import Registry, submit_spec
from rcstudio.launch.executors import SlurmExecutor
from rcstudio.launch.slurm import SlurmError, checked_job_id, sbatch_script


@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    def install(output: str) -> None:
        bindir = tmp_path / "fakebin"
        bindir.mkdir(exist_ok=True)
        for name in ("sbatch", "srun", "scancel"):
            body = f'#!/bin/bash\necho "{output}"\n' if name == "sbatch" else "#!/bin/bash\nexit 0\n"
            (bindir / name).write_text(body)
            (bindir / name).chmod(0o755)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    return install


@pytest.mark.parametrize("raw,ok", [("123", True), ("123_4", True), ("not-a-job-id", False), ("", False),
                                    ("12 34", False), ("123\n", True), ("1;cluster", False), ("\x1b]0;x\x07", False)])
def test_checked_job_id(raw, ok):
    if ok:
        assert checked_job_id(raw, "sbatch") == raw.strip()
    else:
        with pytest.raises(SlurmError, match="not a Slurm job id"):
            checked_job_id(raw, "sbatch")


def test_parsable_output_that_is_not_a_job_id_is_refused(fake_sbatch, tmp_path):
    fake_sbatch("not-a-job-id")
    script = tmp_path / "job.sbatch"
    script.write_text("#!/bin/bash\ntrue\n")
    with pytest.raises(SlurmError, match="'not-a-job-id', which is not a Slurm job id"):
        sbatch_script(script, cwd=tmp_path)


def test_a_submit_through_a_lying_sbatch_records_nothing(fake_sbatch, write_spec):
    fake_sbatch("Submitted batch job not-a-job-id")
    with pytest.raises(SlurmError):
        submit_spec(write_spec("liar", seeds=[0, 1]), executor=SlurmExecutor())
    assert Registry().list_runs() == [] and Registry().claims() == []
    root = paths.runs_root()
    assert not root.exists() or not any(root.rglob("launch.json"))


def test_compiled_commands_need_no_rcstudio_on_path(tmp_path):
    argv = rcstudio_argv()
    assert argv[:3] == [sys.executable, "-m", "rcstudio"]
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(tmp_path)}  # nothing to find
    proc = subprocess.run([*argv, "run-job", "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "--run-dir" in proc.stdout
