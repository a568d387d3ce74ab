"""TRL GRPO engine: spec mapping, the hybrid reward function, and real training on a tiny model.

The integration test builds a 2-layer Llama with a BPE tokenizer trained in the test, primes it for a
few seconds so some samples are well-formed judgments, then trains two GRPO steps with real
generations, the real parser and the real hybrid reward on the packaged MiniLM matcher, and reads
the components back from the offline W&B run; a rerun resumes from the saved checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rcstudio.engines.trl import train as trl_grpo
from rcstudio.engines.grpo_reward import SHARED_KEYS, HybridReward
from rcstudio.errors import UserError
from rcstudio.rationale.data import load_pairs
from rcstudio.rationale.parse import parse_judgment
from rcstudio.rationale.reward import RewardSettings
from rcstudio.spec import dump_resolved, load_spec

REPO = Path(__file__).resolve().parents[2]


def _train_spec(extra=()):
    base = ["variants.tiny-trl.enabled=true"]
    from rcstudio.spec import expand

    runs = [r for r in expand(load_spec(REPO / "specs" / "quickstart.toml", base)) if r.name.endswith("tiny-trl")]
    spec = runs[0].spec
    if extra:  # apply further dotted overrides through the loader (validated like a user's --set)
        from rcstudio.spec.resolved import canonical_dict
        from rcstudio.spec.keys import set_dotted
        from rcstudio.spec.models import Spec

        data = canonical_dict(spec)
        for item in extra:
            key, value = item.split("=", 1)
            set_dotted(data, key, json.loads(value))
        spec = Spec.model_validate(data)
    return spec


def _rows(items, swap, seed):
    """GRPO dataset rows of `items` as the shared prep renders them (engines/prepare.py)."""
    from rcstudio.engines.prepare import judge_prompts

    return trl_grpo.dataset_rows(judge_prompts(items, swap=swap, seed=seed, template="rcstudio-genrm-v1"))


def test_training_rows_swap_flips_preference(quickstart_pairs):
    items = load_pairs(quickstart_pairs).items[:6]
    both = _rows(items, "both", 0)
    assert len(both) == 12
    plain, swapped = both[0], both[1]
    assert plain["preference"] == -swapped["preference"] == items[0].preference
    assert swapped["swapped"] and not plain["swapped"]
    assert plain["human_checklist"] == items[0].human_checklist
    # the swapped prompt shows response2 first
    assert plain["prompt"].index(items[0].response1[:40]) < plain["prompt"].index(items[0].response2[:40])
    assert swapped["prompt"].index(items[0].response2[:40]) < swapped["prompt"].index(items[0].response1[:40])
    rnd = _rows(items, "random", 7)
    assert rnd == _rows(items, "random", 7)
    assert len(rnd) == 6


def test_grpo_settings_come_from_the_spec(tmp_path):
    spec = _train_spec(['rl.global_batch_size=8', 'rl.mini_batch_size=4', 'rl.rollouts_per_prompt=4',
                        'rl.micro_batch_size=2', 'rl.max_steps=3', 'rl.clip_ratio=0.0002', 'rl.kl_beta=0.01'])
    kw = trl_grpo.grpo_kwargs(spec, tmp_path)
    assert kw["num_generations"] == 4 and kw["epsilon"] == 0.0002 and kw["beta"] == 0.01
    assert kw["generation_batch_size"] == 32                      # 8 prompts x 4 rollouts per round
    assert kw["per_device_train_batch_size"] * kw["gradient_accumulation_steps"] == 16  # 4 prompts x 4
    assert kw["max_steps"] == 6                                   # 3 rounds x 2 updates per round
    assert kw["max_completion_length"] == spec.rl.max_generation_tokens and kw["report_to"] == "none"
    from trl import GRPOConfig

    GRPOConfig(**kw)  # TRL accepts the mapping as is
    bad = _train_spec(['rl.micro_batch_size=3'])
    with pytest.raises(UserError, match="micro_batch_size"):
        trl_grpo.grpo_kwargs(bad, tmp_path)


def test_shared_log_keeps_reward_names_and_prefixes_the_rest():
    out = trl_grpo.shared_log({"reward/total": 0.5, "matcher/latency_ms": 3, "loss": 0.1, "kl": None, "x": "s"})
    assert out == {"reward/total": 0.5, "matcher/latency_ms": 3.0, "train/loss": 0.1}


def test_hybrid_reward_function_scores_and_logs_components(quickstart_pairs, embedding_matcher):
    item = load_pairs(quickstart_pairs).items[0]  # response1 better; evidence reasons match humans
    reasons = "\n".join(f"{i}. {r}" for i, r in enumerate(item.outputs["evidence-judge"].checklist, 1))
    good = f"<RESULT_START>\n{reasons}\n\\boxed{{A>B}}\n<RESULT_END>"
    wrong = good.replace("A>B", "B>A")
    broken = "I think the first one, probably."
    fn = HybridReward(RewardSettings(form="gated", format_penalty=-0.5), embedding_matcher)
    logged: dict[str, float] = {}
    rewards = fn(prompts=["p"] * 3, completions=[good, wrong, broken], preference=[item.preference] * 3,
                 human_checklist=[item.human_checklist] * 3, swapped=[False] * 3, item_id=[item.id] * 3,
                 log_metric=logged.__setitem__)
    assert rewards[0] > 0.5            # right verdict, human-aligned reasons first
    assert rewards[1] == 0.0           # gated: wrong verdict earns nothing
    assert rewards[2] == -0.5          # unparseable: the format penalty
    assert logged["reward/format_error_rate"] == pytest.approx(1 / 3)
    assert logged["reward/outcome"] == pytest.approx(1 / 3)  # a format error counts as a wrong outcome
    assert logged["reward/total"] == pytest.approx((rewards[0] + 0.0 - 0.5) / 3)
    assert logged["reward/ap"] == pytest.approx(rewards[0])  # only the matched completion has AP
    assert {"reward/rc", "reward/rationale", "matcher/latency_ms"} <= set(logged)
    assert set(logged) <= set(SHARED_KEYS)
    # additive form: the wrong verdict still earns its rationale share
    add = HybridReward(RewardSettings(form="additive", alpha=0.8), embedding_matcher)
    r_add = add(completions=[wrong], preference=[item.preference], human_checklist=[item.human_checklist])
    assert 0.4 < r_add[0] <= 0.8


def _prime_tiny_judge(out_dir: Path, items, rows) -> Path:
    """A tiny random Llama nudged (a few seconds of SFT) towards short well-formed judgments."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rcstudio.engines.tiny_model import build_tiny_model

    def target(item):
        verdict = "A>B" if item.preference < 0 else "B>A"
        return f"<RESULT_START>\n1. {item.outputs['evidence-judge'].checklist[0]}\n\\boxed{{{verdict}}}\n<RESULT_END>"

    targets = [target(i) for i in items]
    path = build_tiny_model("tiny://random?layers=2&hidden=64&vocab=1500", [r["prompt"] for r in rows] + targets * 5, out_dir)
    tok, lm = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(0)
    opt = torch.optim.AdamW(lm.parameters(), lr=5e-3)
    encoded = [(tok(r["prompt"])["input_ids"], tok(t)["input_ids"] + [tok.eos_token_id]) for r, t in zip(rows, targets)]
    for step in range(1, 151):
        for p, y in encoded:
            lm(input_ids=torch.tensor([p + y]), labels=torch.tensor([[-100] * len(p) + y])).loss.backward()
        opt.step()
        opt.zero_grad()
        if step % 15 == 0:  # stop as soon as greedy decoding gives a well-formed judgment for every prompt
            with torch.no_grad():
                outs = [lm.generate(torch.tensor([p]), max_new_tokens=len(y) + 4, do_sample=False)[0, len(p):] for p, y in encoded]
            if all(parse_judgment(tok.decode(o, skip_special_tokens=True)).ok for o in outs):
                break
    lm.save_pretrained(path)
    return path


@pytest.mark.slow
def test_two_grpo_steps_log_reward_components_and_resume(tmp_path, quickstart_pairs, capsys):
    from rcstudio.engines.dispatch import run_job
    from rcstudio.tracking.offline import find_wandb_files, read_run

    items = load_pairs(quickstart_pairs).items[:2]
    rows = _rows(items, "none", 0)
    model = _prime_tiny_judge(tmp_path / "judge", items, rows)
    spec = _train_spec([f'judge.model="{model}"', f'data.train=["{quickstart_pairs}"]', 'data.max_items=2',
                        'data.swap="none"', 'rl.max_generation_tokens=48', 'rl.temperature=0.3',
                        'reward.form="additive"', 'reward.alpha=0.5'])
    run_dir = tmp_path / "runs" / "quickstart" / "quickstart-tinytrl"
    run_dir.mkdir(parents=True)
    (run_dir / "spec.resolved.toml").write_text(dump_resolved(spec))

    capsys.readouterr()
    summary = run_job(run_dir)  # through the dispatcher, as `rcstudio run-job` runs it
    # the trainer prints its log dicts; they go to stderr so `run-job --json` stdout stays one object
    assert capsys.readouterr().out == ""
    assert summary["global_step"] == 2 and summary["resumed_from"] is None
    ckpt = run_dir / "checkpoints" / "checkpoint-2"
    assert json.loads((ckpt / "trainer_state.json").read_text())["global_step"] == 2
    assert (ckpt / "model.safetensors").exists() and (run_dir / "results" / "train_summary.json").exists()

    [wandb_file] = find_wandb_files(run_dir / "wandb")
    run = read_run(wandb_file)
    deadline = time.time() + 60
    while not run.finished and time.time() < deadline:  # wandb-core may still be flushing after finish()
        time.sleep(0.5)
        run.refresh()
    assert run.run_id == run_dir.name and run.group == "quickstart"
    keys = set(run.keys())
    assert {"reward/total", "reward/outcome", "reward/format_error_rate", "train/loss"} <= keys
    hist = run.history(["reward/total", "reward/format_error_rate", "reward/rc", "reward/outcome"])
    fmt = hist["reward/format_error_rate"]
    steps = [int(x) for x in fmt.steps]
    assert steps[:2] == [1, 2]
    values = [float(v) for v in fmt.values]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert min(values) < 1.0, "the primed judge should produce some parseable judgments"
    assert "reward/rc" in keys  # parsed, right or wrong, the additive reward matched their reasons

    # preempted/requeued job: same run dir, more steps -> continues from checkpoint-2
    longer = _train_spec([f'judge.model="{model}"', f'data.train=["{quickstart_pairs}"]', 'data.max_items=2',
                          'data.swap="none"', 'rl.max_generation_tokens=48', 'rl.max_steps=3', 'rl.temperature=0.3',
                          'reward.form="additive"', 'reward.alpha=0.5'])
    again = trl_grpo.run_training(run_dir, longer)
    assert again["resumed_from"].endswith("checkpoint-2")
    assert again["global_step"] == 3
    assert (run_dir / "checkpoints" / "checkpoint-3").is_dir()


def test_slurm_warning_signal_asks_for_a_checkpoint_and_a_stop():
    import os
    import signal

    from transformers import TrainerControl, TrainerState, TrainingArguments

    pre = trl_grpo._Preemption()
    pre.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)  # what Slurm sends before a time limit / preemption
        assert pre.requested
    finally:
        pre.restore()
    stop = trl_grpo._callbacks(wandb_run=None, preemption=pre)[1]
    control = stop.on_step_end(TrainingArguments(output_dir="/tmp/unused", report_to="none"),
                               TrainerState(), TrainerControl())
    assert control.should_save and control.should_training_stop


def test_tiny_model_strings_are_checked():
    from rcstudio.engines.tiny_model import TinyModelSpec, is_tiny, parse_tiny

    assert is_tiny("tiny://random") and not is_tiny("Qwen/Qwen3-0.6B")
    assert parse_tiny("tiny://random?layers=3&prime=5") == TinyModelSpec(layers=3, prime=5)
    for bad, msg in (("tiny://random?depth=2", "unknown tiny model parameter"),
                     ("tiny://random?layers=two", "not an integer"),
                     ("tiny://random?hidden=30&heads=4", "not divisible"),
                     ("tiny://big", "unknown tiny model")):
        with pytest.raises(UserError, match=msg):
            parse_tiny(bad)


def test_priming_examples_are_stored_judgments_that_agree_with_humans(quickstart_pairs):
    items = load_pairs(quickstart_pairs).items
    rows = _rows(items, "both", 0)
    examples = trl_grpo.priming_examples(items, rows)
    # 31 + 31 of the 40 x 2 stored verdicts agree with the human preference; swapped rows never prime
    assert len(examples) == 62
    unswapped = {r["prompt"] for r in rows if not r["swapped"]}
    assert all(prompt in unswapped for prompt, _ in examples)
    assert all("\\boxed{" in text for _, text in examples)
