"""What a compiled NeMo-Aligner v0.7.0 job trains with, recomputed from the composed config.

Each quantity is derived here from the overrides (composed with Hydra against the shared v0.7.0
conf) by the rules of the v0.7.0 / NeMo 2.1 sources, written out independently of the compiler:
- `algorithms/reinforce.py` `fit`: every DP rank holds the whole rollout batch (chunk keeps all
  indices) and trains it in `rollout_size / (model_gbs / DP)` chunks, one optimizer step each;
- `trainer_utils.compute_num_steps_per_epoch`: prompts // num_rollout_samples per epoch;
- `modelPT.setup_optimization`: sched.max_steps = trainer.max_steps when that is >= 0, else the
  sched's own max_steps; `lr_scheduler.WarmupAnnealHoldPolicy.get_lr` + `CosineAnnealing._get_lr`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rcstudio.compile import compile_run
from rcstudio.engines.nemo_aligner.compile import REWARD_IP_KEY
from rcstudio.engines.nemo_aligner.prep import actor_overrides
from rcstudio.spec import expand, load_spec

from rcs_compile_helpers import hydra_compose

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "rcstudio" / "recipes" / "rationalerm" / "nemo-aligner-genrm-gated.toml"
TRAIN_PROMPTS = 21_860  # RationaleRM full (22,116) minus 256 held out for validation
VAL_PROMPTS = 256


def _divide(a: int, b: int) -> int:
    """megatron.core.utils.divide: exact division or an error."""
    assert a % b == 0, f"{a} is not divisible by {b}"
    return a // b


def nemo_lr(step: int, cfg: dict) -> float:
    """NeMo 2.1 CosineAnnealing (WarmupAnnealHoldPolicy) at optimizer step `step`."""
    sched, lr = cfg["model"]["optim"]["sched"], cfg["model"]["optim"]["lr"]
    assert sched["name"] == "CosineAnnealing"
    warmup, constant, max_steps, min_lr = (sched["warmup_steps"], sched["constant_steps"], sched["max_steps"],
                                           sched["min_lr"])
    decay = max_steps - (constant + warmup)
    if warmup > 0 and step <= warmup:
        return lr * (step + 1) / (warmup + 1)
    if constant > 0 and warmup + decay < step <= max_steps:
        return min_lr
    if step > max_steps:
        return min_lr
    assert constant == 0  # the linear-warmup-with-cosine variant is not what rcstudio compiles
    mult = 0.5 * (1 + math.cos(math.pi * (step - warmup) / (max_steps - warmup)))
    return (lr - min_lr) * mult + min_lr


def composed_job(nemo_conf, run, tmp_path) -> dict:
    compiled = compile_run(run, tmp_path / run.run_id)
    overrides = (compiled.run_dir / "compiled" / "overrides.txt").read_text().splitlines()
    runtime = actor_overrides(run.spec, TRAIN_PROMPTS, VAL_PROMPTS)  # what prep writes
    return hydra_compose(nemo_conf, overrides + runtime + [f"{REWARD_IP_KEY}=10.0.0.1"])


def v070_steps(cfg: dict) -> dict:
    """Batch units as v0.7.0 runs them, from the composed config."""
    m, t = cfg["model"], cfg["trainer"]
    dp = _divide(t["num_nodes"] * t["devices"], m["tensor_model_parallel_size"] * m["pipeline_model_parallel_size"])
    n_prompts = m["reinforce"]["num_rollout_samples"]
    rollout_size = n_prompts * t["reinforce"]["num_rollouts_per_prompt"]  # gathered on every DP rank
    assert t["reinforce"]["model_gbs"] == m["global_batch_size"]
    per_chunk = _divide(t["reinforce"]["model_gbs"], dp)  # num_to_load_on_each_dp
    opt_per_rl = _divide(rollout_size, per_chunk)  # get_iterator_k_split(..., rollout_size / per_chunk)
    micro = _divide(m["global_batch_size"], m["micro_batch_size"] * dp)  # configure_batch_sizes
    _divide(_divide(n_prompts, m["reinforce"]["rollout_micro_batch_size"]), dp)  # rollout microbatches
    val = m["reinforce"]["num_val_samples"]
    _divide(_divide(val, m["reinforce"]["val_rollout_micro_batch_size"]), dp)
    steps_per_epoch = TRAIN_PROMPTS // n_prompts
    rl_steps = steps_per_epoch * t["reinforce"]["max_epochs"]
    if t["reinforce"]["max_steps"] >= 0:
        rl_steps = min(rl_steps, t["reinforce"]["max_steps"])
    # modelPT: trainer.max_steps >= 0 would overwrite the scheduler's horizon with REINFORCE steps
    assert t["max_steps"] == -1
    return {"dp": dp, "opt_per_rl": opt_per_rl, "rollouts_per_opt": per_chunk, "micro": micro,
            "rl_steps": rl_steps, "opt_steps": rl_steps * opt_per_rl, "val": val}


def runs(overrides=()):
    return expand(load_spec(RECIPE, list(overrides)))


def test_paper_recipe_trains_two_updates_of_1024_rollouts_at_constant_lr(nemo_conf, tmp_path):
    (run,) = runs()
    cfg = composed_job(nemo_conf, run, tmp_path)
    s = v070_steps(cfg)
    # 4 nodes x 8 GPUs / TP 4 = DP 8; 256 prompts x 8 rollouts = 2,048 per step
    assert s["dp"] == 8
    assert s["opt_per_rl"] == 2 == run.spec.rl.global_batch_size // run.spec.rl.mini_batch_size
    assert s["rollouts_per_opt"] == 1024 == run.spec.rl.mini_batch_size * run.spec.rl.rollouts_per_prompt
    assert s["micro"] == 1024  # micro_batch_size 1 per rank
    assert s["rl_steps"] == (21_860 // 256) * 2 == 170 and s["opt_steps"] == 340
    assert cfg["model"]["optim"]["sched"]["max_steps"] == s["opt_steps"]
    assert s["val"] == 256
    lr = run.spec.rl.lr
    last = s["opt_steps"] - 1
    assert [nemo_lr(k, cfg) for k in (0, 0, last)] == [lr, lr, lr]  # no warmup: step 0 is the end of warmup
    # the LR holds over the whole run (the YAML's own sched would have fallen to 9e-8 at step 11)
    assert all(nemo_lr(k, cfg) == lr for k in range(0, s["opt_steps"], 17))


def test_two_node_sweep_point_with_cosine_and_warmup(nemo_conf, tmp_path):
    sweep = ['sweep.grid={"cluster.nodes"=[2, 4]}', "rl.lr_schedule=cosine", "rl.lr_warmup_steps=10",
             "rl.min_lr=1e-7"]
    point = next(r for r in runs(sweep) if r.spec.cluster.nodes == 2)
    assert (point.spec.cluster.nodes, point.spec.cluster.gpus_per_node) == (2, 8)
    cfg = composed_job(nemo_conf, point, tmp_path)
    s = v070_steps(cfg)
    assert s["dp"] == 4  # 16 GPUs / TP 4
    assert cfg["model"]["global_batch_size"] == 128 * 8 * 4
    assert s["opt_per_rl"] == 2 and s["rollouts_per_opt"] == 1024
    assert s["opt_steps"] == 340 and cfg["model"]["optim"]["sched"]["max_steps"] == 340
    lr, warmup, last = 2e-6, 10, s["opt_steps"] - 1
    assert nemo_lr(0, cfg) == pytest.approx(lr / 11)
    assert nemo_lr(warmup, cfg) == pytest.approx(lr)
    expected_last = (lr - 1e-7) * 0.5 * (1 + math.cos(math.pi * (last - warmup) / (340 - warmup))) + 1e-7
    assert nemo_lr(last, cfg) == pytest.approx(expected_last)
    assert 1e-7 < nemo_lr(last, cfg) < 1.001e-7
    # the old mapping (global_batch_size = mini x rollouts, no x DP) would give 8 updates of 256
    old_chunk = 128 * 8 // s["dp"]
    assert 256 * 8 // old_chunk == 8


def test_unsupported_family_is_refused_with_exit_2_naming_verl(tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "q.toml"
    spec.write_text(f'extends = "{RECIPE}"\n[judge]\nmodel = "Qwen/Qwen3-14B"\n')
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "compile", str(spec), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "judge.model" in proc.stderr and "verl" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("job.sbatch"))


def test_too_few_validation_prompts_is_a_compile_error(tmp_path):
    from rcstudio.errors import UserError

    (run,) = runs(["data.val_items=63"])  # one batch = rollout_micro_batch_size 8 x DP 8 = 64
    with pytest.raises(UserError) as info:
        compile_run(run, tmp_path / "r")
    assert info.value.location.key == "data.val_items" and "IndexError" in info.value.message
    (run,) = runs(["data.val_items=64"])
    compile_run(run, tmp_path / "ok")


def test_the_trt_model_type_and_stop_strings_follow_the_family(nemo_conf, tmp_path):
    (run,) = runs()
    cfg = composed_job(nemo_conf, run, tmp_path)
    assert cfg["trainer"]["reinforce"]["trt_llm"]["model_type"] == "llama"
    assert cfg["model"]["reinforce"]["sampling_params"]["end_strings"] == ["<|eot_id|>", "<|end_of_text|>"]
    # prompt budget: dataset cut-off, TRT-LLM input length and the reward client's padding agree
    m = cfg["model"]
    assert m["encoder_seq_length"] - m["length_params"]["max_length"] == run.spec.rl.max_prompt_tokens
    assert cfg["trainer"]["reinforce"]["trt_llm"]["max_input_len"] == run.spec.rl.max_prompt_tokens
    assert cfg["remote_rm"]["pad_to_length"] == run.spec.rl.max_prompt_tokens + run.spec.rl.max_generation_tokens


def test_validate_warns_when_the_image_does_not_bundle_v070(tmp_path):
    import json
    import subprocess
    import sys

    from rcstudio.engines.nemo_aligner.container import image_warning

    assert "predates" in image_warning("nvcr.io/nvidia/nemo:24.12")
    assert "predates" in image_warning("nvcr.io/nvidia/nemo:24.07-py3")
    assert "0.6.0" in image_warning("registry.example/nemo-aligner:0.6.0")
    assert "cannot tell" in image_warning("registry.example/team/trainer:latest")
    assert image_warning("registry.example/nemo-aligner:0.7.0") is None
    assert image_warning("nemo-aligner:v0.7.0-trtllm") is None and image_warning("") is None

    def validate(image: str):
        spec = tmp_path / "s.toml"
        spec.write_text(f'extends = "{RECIPE}"\n[cluster]\ncontainer_image = "{image}"\n')
        return subprocess.run([sys.executable, "-m", "rcstudio", "validate", str(spec), "--json"],
                              capture_output=True, text=True, timeout=120)

    old = validate("nvcr.io/nvidia/nemo:24.12")
    assert old.returncode == 0 and "warning:" in old.stderr and "ALIGNER_COMMIT=v0.7.0" in old.stderr
    assert json.loads(old.stdout)["warnings"] and "predates" in json.loads(old.stdout)["warnings"][0]
    good = validate("nemo-aligner:0.7.0")
    assert good.returncode == 0 and "warning" not in good.stderr and json.loads(good.stdout)["warnings"] == []


def test_validating_on_an_evaluated_split_is_an_error():
    from rcstudio.errors import UserError

    with pytest.raises(UserError) as info:
        runs(['data.eval=["hf://Qwen/RationaleRM:full"]'])
    assert info.value.location.key == "data.eval" and "evaluation split" in info.value.message
    (run,) = runs()
    assert run.spec.data.eval == ["hf://Qwen/RationaleRM:test"] and run.spec.data.val_items == 256


def test_reward_server_deadline_outlasts_the_step_and_stays_under_the_clients(tmp_path):
    """v0.7.0's client waits 600,000 s and never retries (servers/http_communicator.py); a step's
    2,048 sequences queue on 64 matcher calls of up to 120 s x 5 tries."""
    from rcstudio.errors import UserError

    (run,) = runs()
    compiled = compile_run(run, tmp_path / "r")
    script = (compiled.run_dir / "compiled" / "job.sbatch").read_text()
    assert "--token-env RCSTUDIO_REWARD_TOKEN --request-timeout 19260" in script
    assert 2048 / 64 * 120 * 5 < 19260 < 600_000
    (slow,) = runs(["reward.matcher.timeout_s=5000", "reward.matcher.concurrency=1"])
    with pytest.raises(UserError) as info:
        compile_run(slow, tmp_path / "s")
    assert info.value.location.key == "reward.matcher.timeout_s"
