"""Launch plans: command runs (TRL, eval, data) vs the NeMo-Aligner hetjob."""

from __future__ import annotations

import sys

import json

from rcs_compile_helpers import GENRM


def test_trl_eval_and_data_runs_are_commands(compile_spec):
    runs = compile_spec(GENRM + """
        [rl]
        engine = "trl"
        algorithm = "grpo"
        [cluster]
        gpus_per_node = 1
        cpus_per_task = 2
        time = "00:30:00"
        partition = "debug"
        setup = ["source /env/bin/activate"]
    """)
    (c,) = runs
    assert c.plan.mode == "command" and c.plan.script is None
    assert c.plan.argv == [sys.executable, "-m", "rcstudio", "run-job", "--run-dir", str(c.run_dir)]
    assert (c.plan.nodes, c.plan.gpus_per_node, c.plan.cpus_per_task) == (1, 1, 2)
    assert (c.plan.time, c.plan.partition, c.plan.setup) == ("00:30:00", "debug", ["source /env/bin/activate"])
    assert not (c.run_dir / "compiled" / "job.sbatch").exists()
    for sub in ("compiled", "data", "logs", "results", "checkpoints", "wandb"):
        assert (c.run_dir / sub).is_dir()
    meta = json.loads((c.run_dir / "compiled" / "run.json").read_text())
    assert meta["plan"]["mode"] == "command" and meta["run_id"] == c.run.run_id

    (e,) = compile_spec('[experiment]\nname = "ev"\nkind = "eval"\n[eval]\nbenchmarks = ["judgebench"]\n')
    assert e.plan.mode == "command" and e.plan.argv[:4] == [sys.executable, "-m", "rcstudio", "run-job"]
    assert (e.run_dir / "spec.resolved.toml").is_file()


def test_nemo_runs_are_sbatch_plans(compile_spec):
    (c,) = compile_spec(GENRM)
    assert c.plan.mode == "sbatch" and c.plan.argv == []
    assert {str(f) for f in c.files} == {"spec.resolved.toml", "compiled/overrides.txt", "compiled/config.yaml",
                                        "compiled/job.sbatch", "compiled/actor_auth.py", "compiled/run.json"}


def test_cpu_only_command_jobs_ask_for_no_gpus(compile_spec):
    """Evals that re-score stored outputs or call an endpoint, and data jobs, must not wait for GPUs."""
    base = '[experiment]\nname = "ev"\nkind = "eval"\n[cluster]\ngpus_per_node = 4\n'
    (judged,) = compile_spec(base + '[eval]\nbenchmarks = ["judgebench"]\n')
    assert judged.plan.gpus_per_node == 4  # serves the judge itself
    (stored,) = compile_spec(base + '[eval]\nbenchmarks = ["hs3-atomic"]\nstored_judges = ["j1"]\n'
                             '[reward.matcher]\nkind = "embedding"\n')
    assert stored.plan.gpus_per_node == 0
    (remote,) = compile_spec(base.replace('[cluster]', '[judge]\nendpoint = "http://judge:8000/v1"\n[cluster]')
                             + '[eval]\nbenchmarks = ["judgebench"]\n')
    assert remote.plan.gpus_per_node == 0


def test_plan_carries_array_parallelism_and_survives_launch_json(compile_spec, tmp_path):
    """The compiled plan is what launch/ submits and keeps in launch.json: one type, read back equal."""
    from rcstudio.compile import LaunchPlan

    (c,) = compile_spec(GENRM + '[cluster]\narray_parallelism = 3\nsbatch_extra = ["--exclusive"]\n')
    assert c.plan.array_parallelism == 3 and c.plan.mode == "sbatch"
    back = LaunchPlan.from_json(c.plan.to_json())
    assert back == c.plan and back.script == c.run_dir / "compiled" / "job.sbatch"
    assert json.loads(c.plan.to_json())["script"] == str(c.run_dir / "compiled" / "job.sbatch")
    assert c.plan.resources_key()[-2:] == (("--exclusive",), ())
    hash(c.plan.resources_key())  # arrays are grouped by it


def test_plan_normalises_sequences_and_script():
    from rcstudio.compile import LaunchPlan

    plan = LaunchPlan(argv=("python", 3), script="", setup=("a",))
    assert plan.argv == ["python", "3"] and plan.setup == ["a"] and plan.script is None
    assert LaunchPlan(mode="sbatch", script="compiled/job.sbatch").script.name == "job.sbatch"
