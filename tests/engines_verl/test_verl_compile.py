"""verl runs compile against the installed verl 0.9.1: overrides composed with its packaged Hydra
configs, value types checked, its validate_config run; the paper's numbers land in verl's units;
a misspelled or wrongly typed engine key is exit 2 from `rcstudio validate`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from rcstudio.compile import check_runs, compile_run
from rcstudio.spec import expand, load_spec

REPO = Path(__file__).resolve().parents[2]
VERL_RECIPES = ["genrm-gated", "genrm-additive", "genrm-outcome-only", "policy-rlhf"]


def overrides_of(run_dir: Path) -> dict[str, str]:
    lines = (run_dir / "compiled" / "overrides.txt").read_text().splitlines()
    return dict(line.lstrip("+").split("=", 1) for line in lines)


def config_of(run_dir: Path) -> dict:
    return yaml.safe_load((run_dir / "compiled" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, verl_python):
    """Every verl recipe's runs, checked in one verl process, then compiled twice."""
    runs = [run for name in VERL_RECIPES
            for run in expand(load_spec(REPO / f"rcstudio/recipes/rationalerm/{name}.toml"))]
    check_runs(runs)
    out = tmp_path_factory.mktemp("verl-recipes")
    return {run.run_id: (run, compile_run(run, out / "a" / run.run_id), compile_run(run, out / "b" / run.run_id))
            for run in runs}


def test_every_verl_recipe_compiles_byte_identically(compiled):
    assert len(compiled) == 1 + 5 + 1 + 1
    for _run, first, again in compiled.values():
        assert first.plan.mode == "sbatch" and first.plan.script == first.run_dir / "compiled" / "job.sbatch"
        for rel in ("spec.resolved.toml", "compiled/overrides.txt", "compiled/config.yaml"):
            a = (first.run_dir / rel).read_text().replace(str(first.run_dir), "RUN")
            b = (again.run_dir / rel).read_text().replace(str(again.run_dir), "RUN")
            assert a == b, rel
        head = (first.run_dir / "compiled" / "config.yaml").read_text().splitlines()[:2]
        assert "verl's validate_config passed" in head[1]


def test_paper_setup_in_verl_units(compiled):
    run, c, _ = next(v for v in compiled.values() if v[0].spec.experiment.name == "genrm-gated")
    cfg = config_of(c.run_dir)
    actor, rollout = cfg["actor_rollout_ref"]["actor"], cfg["actor_rollout_ref"]["rollout"]
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["actor_rollout_ref"]["model"]["path"] == "Qwen/Qwen3-14B"
    assert actor["optim"]["lr"] == 2e-6
    # prompts per step and per optimizer step (verl multiplies by rollout.n itself)
    assert (cfg["data"]["train_batch_size"], actor["ppo_mini_batch_size"], rollout["n"]) == (256, 128, 8)
    assert (cfg["data"]["max_prompt_length"], cfg["data"]["max_response_length"]) == (8192, 12288)
    assert rollout["prompt_length"] == 8192 and rollout["response_length"] == 12288
    assert actor["ppo_max_token_len_per_gpu"] == 8192 + 12288 and actor["use_dynamic_bsz"] is True
    # the paper's sequence-level clip: GSPO's ratio, clipped to [1 - 2e-4, 1 + 2e-4]
    assert actor["policy_loss"]["loss_mode"] == "gspo" and actor["loss_agg_mode"] == "seq-mean-token-mean"
    assert actor["clip_ratio_low"] == actor["clip_ratio_high"] == 2e-4
    assert actor["use_kl_loss"] is False
    assert rollout["top_k"] == -1 and rollout["temperature"] == 1.0  # free sampling in training
    assert cfg["trainer"]["total_epochs"] == 2 and cfg["trainer"]["nnodes"] == 4
    assert cfg["trainer"]["n_gpus_per_node"] == 8
    # checkpoints and resume
    assert cfg["trainer"]["save_freq"] == 10 and cfg["trainer"]["resume_mode"] == "auto"
    assert cfg["trainer"]["default_local_dir"] == str(c.run_dir / "checkpoints")
    # the reward: rcstudio's module by pkg:// path, 0.9.1's reward.* keys, the run dir as kwargs
    reward = cfg["reward"]
    assert reward["custom_reward_function"]["path"] == "pkg://rcstudio.engines.verl.reward"
    assert reward["custom_reward_function"]["reward_kwargs"] == {"run_dir": str(c.run_dir), "workers": 1}
    assert reward["reward_manager"]["name"] == "naive" and reward["reward_model"]["enable"] is False
    assert cfg["data"]["train_files"] == [str(c.run_dir / "data" / "train.parquet")]
    sbatch = (c.run_dir / "compiled" / "job.sbatch").read_text()
    assert "#SBATCH hetjob" in sbatch and "vllm serve Qwen/Qwen3-30B-A3B-Instruct-2507" in sbatch
    assert "-m verl.trainer.main_ppo" in sbatch.replace("\n  ", " ")
    assert 'nodes=("$nodes")' not in sbatch and "mapfile -t NODES" in sbatch


def test_additive_sweep_and_policy_rlhf(compiled):
    alphas = sorted(v[0].spec.reward.alpha for v in compiled.values() if v[0].spec.experiment.name == "genrm-additive")
    assert alphas == [0.0, 0.25, 0.5, 0.8, 1.0]
    run, c, _ = next(v for v in compiled.values() if v[0].spec.experiment.kind == "policy-rlhf")
    cfg = config_of(c.run_dir)
    assert cfg["data"]["train_batch_size"] == 512 and cfg["trainer"]["total_training_steps"] == 90
    rm = cfg["reward"]["reward_model"]
    assert rm["enable"] is True and rm["model_path"] == run.spec.judge.model  # verl serves the GenRM
    assert rm["rollout"]["name"] == "vllm" and rm["rollout"]["tensor_model_parallel_size"] == 2
    assert cfg["data"]["train_files"] == [str(c.run_dir / "data" / "train.parquet")]
    assert "#SBATCH hetjob" not in (c.run_dir / "compiled" / "job.sbatch").read_text()


def test_two_node_sweep_point(tmp_path, verl_python):
    spec = tmp_path / "nodes.toml"
    spec.write_text(textwrap.dedent("""
        extends = "rationalerm/genrm-gated"
        [experiment]
        name = "gated-nodes"
        [sweep]
        grid = { "cluster.nodes" = [2, 4] }
        """))
    runs = expand(load_spec(spec))
    check_runs(runs)
    two = next(r for r in runs if r.spec.cluster.nodes == 2)
    c = compile_run(two, tmp_path / "runs" / two.run_id)
    cfg = config_of(c.run_dir)
    assert cfg["trainer"]["nnodes"] == 2 and cfg["trainer"]["n_gpus_per_node"] == 8
    sbatch = (c.run_dir / "compiled" / "job.sbatch").read_text()
    group1 = sbatch.split("#SBATCH hetjob", 1)[1]
    assert "#SBATCH --nodes=2" in group1 and "expected 2 trainer nodes" in sbatch
    assert c.plan.nodes == 2


def validate_cli(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    spec = tmp_path / "bad.toml"
    spec.write_text('extends = "rationalerm/genrm-gated"\n[experiment]\nname = "bad"\n' + textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "rcstudio", "validate", str(spec)], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.mark.parametrize(("body", "needle"), [
    ('[rl.verl]\nrollout_engin = "vllm"\n', "rl.verl.rollout_engin"),                   # misspelled table key
    ('[rl.verl]\nrollout_tensor_parallel = "two"\n', "rl.verl.rollout_tensor_parallel"),  # wrongly typed
    ('[rl.verl]\nrollout_tensor_parallel = 3\n', "must fit the 8 GPUs"),                  # cross-field
    ('[rl.verl]\noverrides = ["actor_rollout_ref.actor.clip_ratoi=0.1"]\n', "does not compose"),  # verl key typo
    ('[rl.verl]\noverrides = ["actor_rollout_ref.actor.use_kl_loss=3"]\n', "wrong type"),         # verl value type
])
def test_bad_engine_keys_exit_2(tmp_path, body, needle, verl_python):
    out = validate_cli(tmp_path, body)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and "bad.toml:" in out.stderr and "Traceback" not in out.stderr


def test_validate_config_failure_is_a_user_error(tmp_path, verl_python):
    out = validate_cli(tmp_path, '[rl.verl]\noverrides = ["actor_rollout_ref.actor.use_dynamic_bsz=false", '
                                 '"actor_rollout_ref.actor.ppo_mini_batch_size=512"]\n')
    assert out.returncode == 2, out.stdout + out.stderr
    assert "validate_config" in out.stderr and "ppo_mini_batch_size (512)" in out.stderr
