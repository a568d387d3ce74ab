"""A compiled genrm-train hetjob on the local Slurm cluster, the actor replaced by a Triton client
script (rl.nemo_aligner.actor_command): group 0 prepares data and serves rewards, group 1 waits for
readiness, gets rewards, exits; the server is torn down with the job."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rcstudio.compile import compile_run
from rcstudio.spec import expand, load_spec

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
HERE = Path(__file__).resolve().parent


def _cluster_up() -> bool:
    if shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%a"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "up" in out.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PAIRS = [
    {"id": "p1", "domain": "stem", "context": [{"role": "user", "content": "Why is the sky blue?"}],
     "response1": "Because of Rayleigh scattering of sunlight.", "response2": "Because it reflects the sea.",
     "overall_preference": -2,
     "human-checklist": ["Response 1 correctly names Rayleigh scattering", "Response 2 repeats the sea-reflection myth"]},
    {"id": "p2", "domain": "code", "context": [{"role": "user", "content": "Reverse a list in Python."}],
     "response1": "Use a for loop.", "response2": "Use lst[::-1] or lst.reverse().",
     "overall_preference": 2,
     "human-checklist": ["Response 2 gives the idiomatic slicing lst[::-1]", "Response 1 is vague"]},
]


def test_compiled_hetjob_serves_rewards_to_a_client_actor(tmp_path, tiny_tokenizer_dir):
    if not _cluster_up():
        pytest.skip("local Slurm cluster is not up (bash slurm/cluster.sh start)")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    actor = [sys.executable, str(HERE / "actor_client.py"), str(tiny_tokenizer_dir)]
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f"""
[experiment]
name = "hetjob-test"
kind = "genrm-train"
[judge]
tokenizer = "{tiny_tokenizer_dir}"
chat_format = "chatml"
[data]
train = ["{pairs}"]
eval = ["{pairs}"]
swap = "random"
[reward]
form = "gated"
format_penalty = -0.25
[reward.matcher]
kind = "embedding"
[rl]
global_batch_size = 2
mini_batch_size = 2
rollouts_per_prompt = 3
max_prompt_tokens = 1024
max_generation_tokens = 512
[rl.nemo_aligner]
rollout_micro_batch_size = 1
actor_command = {json.dumps(actor)}
[cluster]
executor = "slurm"
nodes = 1
gpus_per_node = 1
reward_gpus = 0
cpus_per_task = 1
time = "00:10:00"
reward_port = {_free_port()}
ready_timeout_s = 180
runs_root = "{tmp_path / 'runs'}"
[tracking]
mode = "offline"
""")
    (run,) = expand(load_spec(spec_file))
    compiled = compile_run(run, tmp_path / "runs" / run.run_id)
    script = compiled.plan.script
    text = script.read_text()
    # The local cluster has no GPUs (no GRES): drop the GPU request the real cluster needs.
    script.write_text("\n".join(l for l in text.splitlines() if not l.startswith("#SBATCH --gpus-per-node")) + "\n")
    res = subprocess.run(["sbatch", "--parsable", "--wait", str(script)], capture_output=True, text=True,
                         timeout=600, cwd=compiled.run_dir)
    logs = "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted((compiled.run_dir / "logs").glob("*")))
    assert res.returncode == 0, f"{res.stderr}\n{logs}"
    out = json.loads((compiled.run_dir / "results" / "actor_rewards.json").read_text())
    by_kind = {}
    for kind, reward in zip(out["kinds"], out["rewards"]):
        by_kind.setdefault(kind, []).append(reward)
    assert all(r > 0.7 for r in by_kind["right"]), out  # MiniLM matches the verbatim human points
    assert by_kind["wrong"] == [0.0, 0.0] and by_kind["malformed"] == [-0.25, -0.25]
    reward_log = (compiled.run_dir / "logs" / "reward.log").read_text()
    assert "reward server ready" in reward_log and "step 0: 6 sequences" in reward_log
    # torn down with the job: nothing of this job is left in the queue
    job_id = res.stdout.strip().split(";")[0]
    queue = subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True)
    assert job_id not in queue.stdout
