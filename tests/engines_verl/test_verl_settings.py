"""The verl engine's pure parts: registry entry, [rl.verl] table, spec-level conflicts, the mapping
of shared [rl] settings onto verl's units, and the one pin shared by pyproject and setup.sh."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rcstudio.engines import registry
from rcstudio.engines.verl import VERL_VERSION
from rcstudio.engines.verl.mapping import override_items
from rcstudio.errors import UserError
from rcstudio.spec import expand, load_spec

REPO = Path(__file__).resolve().parents[2]


def test_registered_behind_the_seam():
    engine = registry.get("verl")
    assert engine.name == "verl" and engine.table == "verl" and "grpo" in engine.algorithms
    assert engine.kinds == {"genrm-train", "policy-rlhf"} and engine.default_step is None
    assert engine.steps["prepare"].module == "rcstudio.engines.verl.data"  # verl's parquet replaces the JSONL
    assert engine.shared_metrics({"critic/score/mean": 0.5}) == {"reward/total": 0.5}


def test_one_pin_everywhere():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["verl"] == [f"verl=={VERL_VERSION}"] and VERL_VERSION == "0.9.1"
    assert f'"verl=={VERL_VERSION}"' in (REPO / "scripts" / "setup.sh").read_text()


def _spec(tmp_path, body: str):
    path = tmp_path / "s.toml"
    path.write_text('extends = "rationalerm/genrm-gated"\n[experiment]\nname = "s"\n' + body)
    return expand(load_spec(path))[0]


def test_units_and_the_sequence_level_clip(tmp_path):
    run = _spec(tmp_path, "[rl]\nkl_beta = 0.01\nmax_steps = 40\n")
    items = {k: v for k, v, _ in override_items(run.spec, run.spec.rl.verl, tmp_path, run_name="s", run_id="s-1")}
    assert items["data.train_batch_size"] == 256                       # prompts, as rl.global_batch_size
    assert items["actor_rollout_ref.actor.ppo_mini_batch_size"] == 128  # prompts, verl multiplies by n
    assert items["actor_rollout_ref.rollout.n"] == 8
    assert items["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu"] == 1  # samples per GPU
    assert items["actor_rollout_ref.actor.policy_loss.loss_mode"] == "gspo"
    assert items["actor_rollout_ref.actor.clip_ratio_low"] == items["actor_rollout_ref.actor.clip_ratio_high"] == 2e-4
    assert items["actor_rollout_ref.actor.use_kl_loss"] is True and items["actor_rollout_ref.actor.kl_loss_coef"] == 0.01
    assert items["trainer.total_training_steps"] == 40
    assert items["reward.custom_reward_function.reward_kwargs"] == {"run_dir": str(tmp_path), "workers": 1}


@pytest.mark.parametrize(("body", "key", "needle"), [
    ("[rl.verl]\nrollout_tensor_parallel = 3\n", "rl.verl.rollout_tensor_parallel", "must fit the 8 GPUs"),
    ("[rl]\nglobal_batch_size = 6\nmini_batch_size = 6\n", "rl.global_batch_size", "divisible by the 32 trainer GPUs"),
    ('[rl.verl]\nresume = "resume_path"\n', "rl.verl.resume_from", "needs the checkpoint"),
    ("[cluster]\ngpus_per_node = 0\n", "cluster.gpus_per_node", "needs GPUs"),
    ('[rl.verl]\npolicy_loss = "gspoo"\n', "rl.verl.policy_loss", ""),
])
def test_spec_conflicts_point_at_the_key(tmp_path, body, key, needle):
    with pytest.raises(UserError) as err:
        _spec(tmp_path, body)
    loc = err.value.location
    assert loc.key == key and needle in str(err.value) and loc.line is not None


def test_verl_table_with_another_engine_is_an_error(tmp_path):
    with pytest.raises(UserError) as err:
        _spec(tmp_path, '[rl]\nengine = "trl"\n[rl.verl]\nrollout_engine = "sglang"\n')
    assert "rl.verl" in (err.value.location.key or "") + str(err.value)
