"""Cross-field checks of the Spec model: each impossible combination names its key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rcstudio.engines.nemo_aligner.engine import data_parallel_size
from rcstudio.spec.models import Spec, SpecConflict, cross_checks


def make(**sections):
    return Spec.model_validate({"experiment": {"name": "t"}, **sections})


def conflict_key(**sections) -> str:
    with pytest.raises(ValidationError) as info:
        make(**sections)
    err = info.value.errors()[0]
    exc = (err.get("ctx") or {}).get("error")
    assert isinstance(exc, SpecConflict), err
    return exc.key


def test_defaults_are_the_paper_setup():
    spec = make()
    assert spec.reward.form == "gated" and spec.rl.lr == 2e-6
    assert (spec.rl.global_batch_size, spec.rl.mini_batch_size, spec.rl.rollouts_per_prompt) == (256, 128, 8)
    assert spec.rl.effective_seq_length == 8192 + 12288
    assert data_parallel_size(spec) == 8
    assert not spec.alpha_set


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"reward": {"alpha": 0.5}}, "reward.alpha"),
        ({"rl": {"mini_batch_size": 100}}, "rl.mini_batch_size"),
        ({"rl": {"mini_batch_size": 512}}, "rl.mini_batch_size"),
        ({"rl": {"engine": "trl"}}, "rl.algorithm"),
        ({"rl": {"algorithm": "grpo"}}, "rl.algorithm"),
        ({"rl": {"seq_length": 16384}}, "rl.max_generation_tokens"),
        ({"rl": {"nemo_aligner": {"tensor_parallel": 3}}}, "rl.nemo_aligner.tensor_parallel"),
        ({"rl": {"global_batch_size": 96, "mini_batch_size": 96}}, "rl.global_batch_size"),  # 96 % (8*8)
        ({"rl": {"micro_batch_size": 3}}, "rl.mini_batch_size"),  # 128*8 % (3*8)
        ({"rl": {"engine": "trl", "algorithm": "grpo", "rollouts_per_prompt": 1}}, "rl.rollouts_per_prompt"),
        ({"rl": {"max_steps": 0}}, "rl.max_steps"),
        ({"cluster": {"gpus_per_node": 0}}, "cluster.gpus_per_node"),
        ({"reward": {"matcher": {"kind": "matrix"}}}, "reward.matcher.matches_file"),
        ({"experiment": {"name": "t", "kind": "eval"}, "eval": {"benchmarks": []}}, "eval.benchmarks"),
        ({"experiment": {"name": "t", "kind": "data"}}, "decompose.input"),
        ({"experiment": {"name": "t", "kind": "policy-rlhf"}, "rl": {"engine": "trl", "algorithm": "grpo"}},
         "rl.engine"),
        ({"sweep": {"zip": {"rl.lr": [1e-6, 2e-6], "rl.seed": [1]}}}, "sweep.zip"),
        ({"sweep": {"grid": {"rl.lr": []}}}, "sweep.grid.rl.lr"),
    ],
)
def test_impossible_combinations_name_their_key(sections, key):
    assert conflict_key(**sections) == key


def test_alpha_is_fine_with_additive_and_gated_default_is_unset():
    spec = make(reward={"form": "additive", "alpha": 0.3})
    assert spec.alpha_set and spec.reward.alpha == 0.3
    assert make(reward={"form": "gated"}).alpha_set is False


def test_valid_parallel_layout_passes():
    spec = make(rl={"nemo_aligner": {"tensor_parallel": 4}}, cluster={"nodes": 4})
    assert data_parallel_size(spec) == 8
    assert cross_checks(spec) == []


def test_eval_kind_skips_training_checks():
    # a batch layout that would be wrong for training is irrelevant for an eval
    spec = make(experiment={"name": "t", "kind": "eval"}, rl={"mini_batch_size": 100}, cluster={"gpus_per_node": 0})
    assert spec.experiment.kind == "eval"


@pytest.mark.parametrize(
    "sections",
    [
        {"experiment": {"name": "bad name"}},
        {"judge": {"api_key_env": "sk-abc123"}},
        {"reward": {"alpha": 1.5, "form": "additive"}},
        {"reward": {"matcher": {"thresholds": [0.5, 0.4, 0.6, 0.7]}}},
        {"cluster": {"partition": "gpu; rm -rf /"}},
        {"cluster": {"time": "forever"}},
        {"cluster": {"sbatch_extra": ["exclusive"]}},
        {"rl": {"lr": -1}},
        {"data": {"swap": "sometimes"}},
    ],
)
def test_field_validation(sections):
    with pytest.raises(ValidationError):
        Spec.model_validate({"experiment": sections.pop("experiment", {"name": "t"}), **sections})


def test_variant_flattens_nested_tables():
    spec = make(variants={"v": {"enabled": True, "rl": {"engine": "trl"}, "rl.algorithm": "grpo"}})
    assert spec.variants["v"].overrides == {"rl.engine": "trl", "rl.algorithm": "grpo"}


def test_unknown_key_is_rejected():
    with pytest.raises(ValidationError) as info:
        make(rl={"rollouts_per_promt": 4})
    assert info.value.errors()[0]["type"] == "extra_forbidden"
