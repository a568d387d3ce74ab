"""The compiled verl job on the local Slurm cluster (2 nodes): data prep, real `ray start` head and
worker under srun with readiness polled, then a stand-in trainer that joins Ray and sees both nodes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rcstudio.compile import compile_run

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _cluster_nodes() -> int:
    if shutil.which("sbatch") is None:
        return 0
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%D %a"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(int(line.split()[0]) for line in out.stdout.splitlines() if line.endswith("up"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_processes(port: int) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if f":{port}" in line and ("raylet" in line or "gcs_server" in line)]


def test_compiled_job_brings_up_ray_over_two_nodes(verl_spec, verl_python, tmp_path):
    if _cluster_nodes() < 2:
        pytest.skip("the local 2-node Slurm cluster is not up (bash slurm/cluster.sh start)")
    port = _free_port()
    run = verl_spec(
        verl=f"""
        python = "{verl_python}"
        ray_port = {port}
        ray_ready_timeout_s = 300
        trainer_command = ["{verl_python}", "{HERE / 'ray_probe.py'}"]
        """,
        cluster=f"""
        nodes = 2
        cpus_per_task = 2
        time = "00:15:00"
        setup = ["export PYTHONPATH={REPO}"]
        """,
        extra='[reward.matcher]\nkind = "embedding"\n')
    compiled = compile_run(run, tmp_path / "runs" / run.run_id)
    script = compiled.plan.script
    assert "#SBATCH --nodes=2" in script.read_text() and "hetjob" not in script.read_text()
    res = subprocess.run(["sbatch", "--parsable", "--wait", str(script)], capture_output=True, text=True,
                         timeout=900, cwd=compiled.run_dir)
    logs = "\n".join(f"== {p.name}\n" + p.read_text(errors="replace")[-3000:]
                     for p in sorted((compiled.run_dir / "logs").glob("*")) if p.is_file())
    assert res.returncode == 0, f"{res.stderr}\n{logs}"
    probe = json.loads((compiled.run_dir / "results" / "ray_probe.json").read_text())
    assert probe["alive"] == 2 and probe["ran_on"] == probe["node_ids"]  # a task ran on each node
    assert probe["address"].endswith(f":{port}") and probe["run_dir"] == str(compiled.run_dir)
    # step 1 ran the shared prep: verl's parquet is there
    assert pq.read_table(compiled.run_dir / "data" / "train.parquet").num_rows == 11  # 12 items less the validation hold-out
    slurm_out = next((compiled.run_dir / "logs").glob("slurm-*.out")).read_text()
    assert "Ray ready with 2 node(s)" in slurm_out and "trainer exited with status 0" in slurm_out
    assert (compiled.run_dir / "logs" / "ray-worker-1.log").is_file()
    # the job's Ray is gone with the job
    job_id = res.stdout.strip().split(";")[0]
    assert job_id not in subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True).stdout
    assert _ray_processes(port) == []
    address_file = Path("/tmp/ray/ray_current_cluster")
    assert not address_file.exists() or not address_file.read_text().endswith(f":{port}")
