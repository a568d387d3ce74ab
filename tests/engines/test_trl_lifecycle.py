"""The TRL engine on the smallest real case: prompt limits counted with the one token counter
(chat templates included), keep-last-N checkpoints with optimizer state only in the newest, a
resubmitted finished run that trains nothing more, and a stop signal in the last step = complete."""

from __future__ import annotations

import json
import os
import signal

import pytest
from test_trl_train import _rows, _train_spec

from rcstudio.tokens import count_prompt_tokens
from rcstudio.engines.trl import train as trl_train

TINY = "tiny://random?layers=1&hidden=32&vocab=600&prime=1"
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def test_max_prompt_tokens_is_enforced_for_chat_template_models(tmp_path, quickstart_pairs):
    from transformers import AutoTokenizer

    from rcstudio.tiny_model import build_tiny_model
    from rcstudio.rationale.data import load_pairs

    items = load_pairs(quickstart_pairs).items[:4]
    rows = _rows(items, "none", 0)
    path = build_tiny_model(TINY, [r["prompt"] for r in rows], tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = CHAT_TEMPLATE
    raw = tok.apply_chat_template([{"role": "user", "content": rows[0]["prompt"]}], add_generation_prompt=True,
                                  tokenize=True)
    lengths = [count_prompt_tokens(tok, [{"role": "user", "content": r["prompt"]}]) for r in rows]
    assert min(lengths) > 50 and len(raw) < 10  # the trap: len() of what the template returns is not its length
    kept, dropped = trl_train.fit_prompts(rows, tok, max_tokens=min(lengths) - 1, chat=True)
    assert kept == [] and dropped == len(rows)  # real lengths are counted: every prompt is over the limit
    kept, dropped = trl_train.fit_prompts(rows, tok, max_tokens=max(lengths), chat=True)
    assert dropped == 0 and kept[0]["prompt"] == [{"role": "user", "content": rows[0]["prompt"]}]
    middle = sorted(lengths)[len(lengths) // 2]
    kept, dropped = trl_train.fit_prompts(rows, tok, max_tokens=middle, chat=True)
    assert dropped == sum(n > middle for n in lengths) and len(kept) == sum(n <= middle for n in lengths)
    # the eval runner's local generator counts the same way
    from rcstudio.evals.local_generate import BatchGenerator, GenerationSettings

    class _Cfg:
        max_position_embeddings = 0

    lm = type("LM", (), {"config": _Cfg()})()
    gen = BatchGenerator(lm, tok, GenerationSettings(max_new_tokens=8, memory_budget_bytes=1 << 20))
    assert len(gen.prompt_ids([{"role": "user", "content": rows[0]["prompt"]}])) == lengths[0]


def test_keep_checkpoints_keeps_the_newest_and_prunes_optimizer_state(tmp_path):
    for step in (1, 2, 3, 10):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        for name in ("optimizer.pt", "scheduler.pt", "model.safetensors"):
            (d / name).write_bytes(b"x")
    (tmp_path / "checkpoint-10").touch()
    os.utime(tmp_path / "checkpoint-1", (4e9, 4e9))  # mtimes do not decide: step numbers do
    deleted = trl_train.prune_checkpoints(tmp_path, keep=3)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in deleted) == [
        "checkpoint-1", "checkpoint-2/optimizer.pt", "checkpoint-2/scheduler.pt",
        "checkpoint-3/optimizer.pt", "checkpoint-3/scheduler.pt"]
    assert (tmp_path / "checkpoint-10" / "optimizer.pt").exists()  # numeric order: 10 is the newest
    assert (tmp_path / "checkpoint-2" / "model.safetensors").exists()
    trl_train.prune_checkpoints(tmp_path, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-10"]


def _spec(quickstart_pairs, *extra):
    return _train_spec([f'judge.model="{TINY}"', f'data.train=["{quickstart_pairs}"]', 'data.max_items=3',  # 2 train after the validation hold-out
                        'data.swap="none"', 'rl.max_generation_tokens=8', 'rl.save_interval=1', *extra])


@pytest.mark.slow
def test_checkpoints_resubmit_and_a_late_stop_signal(tmp_path, quickstart_pairs, monkeypatch):
    run_dir = tmp_path / "quickstart-life"
    spec = _spec(quickstart_pairs, 'rl.max_steps=3', 'rl.keep_checkpoints=2')
    summary = trl_train.run_training(run_dir, spec)
    assert summary["global_step"] == 3 and not summary["preempted"]
    ckpts = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]  # the last 2
    assert (ckpts / "checkpoint-3" / "optimizer.pt").exists()
    assert not (ckpts / "checkpoint-2" / "optimizer.pt").exists()  # only the resume point keeps it
    assert (ckpts / "checkpoint-2" / "model.safetensors").exists()
    wandb_dirs = sorted((run_dir / "wandb").glob("offline-run-*"))

    # resubmitting the finished run trains nothing (no step 4 at lr 0), starts no new W&B attempt
    again = trl_train.run_training(run_dir, spec)
    assert again["global_step"] == 3 and again["already_complete"] and not again["preempted"]
    assert not (ckpts / "checkpoint-4").exists()
    assert json.loads((ckpts / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3
    assert sorted((run_dir / "wandb").glob("offline-run-*")) == wandb_dirs

    # a cancel (SIGTERM) that arrives during the last step: every step finished -> complete
    from transformers import TrainerCallback

    cancel_in_step = [2]

    class CancelInStep(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step + 1 == cancel_in_step[0]:
                os.kill(os.getpid(), signal.SIGTERM)

    real = trl_train._callbacks
    monkeypatch.setattr(trl_train, "_callbacks", lambda *a: [*real(*a), CancelInStep()])
    late = tmp_path / "quickstart-late"
    done = trl_train.run_training(late, _spec(quickstart_pairs, 'rl.max_steps=2'))
    assert done["global_step"] == 2 and done["preempted"] is False
    assert (late / "checkpoints" / "final").is_dir()
    # ... while one in an earlier step is a preemption: checkpoint, stop, resume later
    cancel_in_step[0] = 2
    early = tmp_path / "quickstart-early"
    from rcstudio.errors import JobFailed

    with pytest.raises(JobFailed, match="stopped by a signal at step 2"):
        trl_train.run_training(early, _spec(quickstart_pairs, 'rl.max_steps=3'))
    assert (early / "checkpoints" / "checkpoint-2").is_dir()
