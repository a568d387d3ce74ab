"""The judge runner end to end: a loopback OpenAI-compatible server, and a tiny local HF model."""

from __future__ import annotations

import json

import pytest

from rcstudio.evals import judgebench as jb
from rcstudio.evals import tasks as T
from rcstudio.evals.prompts import PAIRWISE_VERSION
from rcstudio.evals.runner import EndpointBackend, JudgeRunner, JudgeTask, LocalHFBackend, summarize
from rcstudio.clients.llm import LLMConfig, ResponseCache
from rcstudio.testing.openai_stub import OpenAIStub


@pytest.fixture(scope="module")
def pairs(shared_dir):
    return jb.load_pairs(shared_dir / "data" / "judgebench_gpt-4o-2024-05-13.jsonl")


def _oracle(pairs, tasks, broken_both=10, broken_one=10):
    """Replies by prompt text: the right verdict, except garbage for some pairs (one or both orders)."""
    label = {p.pair_id: p.label for p in pairs}
    index = {p.pair_id: i for i, p in enumerate(pairs)}
    replies = {}
    for t in tasks:
        pair_id, order = t.key.rsplit(":", 1)
        i = index[pair_id]
        right = label[pair_id] if order == "0" else jb.verdicts.flip(label[pair_id])
        broken = i < broken_both or (i < broken_both + broken_one and order == "1")
        replies[t.messages[-1]["content"]] = "I cannot decide." if broken else f"Reasoning...\n\\boxed{{{right}}}"
    return lambda messages, model: replies[messages[-1]["content"]]


def test_endpoint_judgebench_end_to_end_with_resume(tmp_path, pairs):
    tasks = T.judgebench_tasks(pairs, PAIRWISE_VERSION)
    assert len(tasks) == 700
    out = tmp_path / "judgebench.judgments.jsonl"
    with OpenAIStub(_oracle(pairs, tasks), latency_s=0.01) as stub:
        cfg = LLMConfig(base_url=stub.base_url, model="stub-model", concurrency=32, timeout_s=10,
                        max_retries=3, backoff_base_s=0.01)
        stub.fail_next("500", times=3)  # retried by the client, invisible in the results
        outcomes = JudgeRunner(EndpointBackend(cfg, ResponseCache(tmp_path / "c.sqlite")), out,
                               progress=False).run(tasks)
        assert stub.calls == 703
        stats = summarize(outcomes)
        assert stats == {"n": 700, "call_failures": 0, "parse_failures": 30, "cached": 0}
        result = jb.score(T.judgebench_rows(pairs, outcomes))
        assert result.correct == 340 and result.micro == round(100 * 340 / 350, 2)
        assert result.failures == round(100 * 30 / 700, 2) and result.inconsistent == 0.0
        # The swapped prompt shows response_B first.
        first = stub.requests[0]["messages"][-1]["content"]
        assert "## Response A" in first and "\\boxed{A>>B}" in first
        # Resume: every outcome is on disk, a second run makes no call at all.
        stub.reset_counters()
        runner = JudgeRunner(EndpointBackend(cfg, ResponseCache(tmp_path / "c.sqlite")), out, progress=False)
        again = runner.run(tasks)
        assert stub.calls == 0 and runner.resumed == 700
        assert {k: o.verdict for k, o in again.items()} == {k: o.verdict for k, o in outcomes.items()}
    assert len(out.read_text().splitlines()) == 700


def test_endpoint_failures_are_counted_and_retried_on_resume(tmp_path, pairs):
    tasks = T.judgebench_tasks(pairs[:5], PAIRWISE_VERSION)
    out = tmp_path / "j.jsonl"
    with OpenAIStub("\\boxed{A>B}") as stub:
        cfg = LLMConfig(base_url=stub.base_url, model="m", concurrency=1, timeout_s=5, max_retries=0)
        stub.fail_next("500", times=2)
        outcomes = JudgeRunner(EndpointBackend(cfg), out, progress=False).run(tasks)
        failed = [o for o in outcomes.values() if o.call_failed]
        assert len(failed) == 2 and all(o.error.startswith("endpoint:") for o in failed)
        assert summarize(outcomes)["call_failures"] == 2
        stub.reset_counters()
        again = JudgeRunner(EndpointBackend(cfg), out, progress=False).run(tasks)
        assert stub.calls == 2 and summarize(again)["call_failures"] == 0


def _tiny_model(path, chat_template=None):
    """A 2-layer Llama with random weights and a BPE tokenizer trained here with `tokenizers`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from rcstudio.testing.tokenizer import bpe_tokenizer

    fast = bpe_tokenizer(["Response A is better. \\boxed{A>B} B>A A=B judge the two responses"] * 20, 300,
                         ["<pad>", "<s>", "</s>", "<unk>"], unk_token="<unk>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(path)
    import torch

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(path)
    return path


@pytest.mark.slow
def test_local_transformers_model_plumbing(tmp_path, pairs):
    model_dir = _tiny_model(tmp_path / "tiny")
    tasks = T.judgebench_tasks(pairs[:3], PAIRWISE_VERSION)
    backend = LocalHFBackend(str(model_dir), max_new_tokens=8)
    outcomes = JudgeRunner(backend, tmp_path / "out.jsonl", progress=False).run(tasks)
    assert set(outcomes) == {t.key for t in tasks}
    # Random weights: text comes back, verdicts fail to parse, and the failures are counted.
    assert all(isinstance(o.text, str) for o in outcomes.values())
    assert summarize(outcomes)["parse_failures"] == sum(o.verdict is None for o in outcomes.values())
    result = jb.score(T.judgebench_rows(pairs[:3], outcomes))
    assert result.n == 3 and 0.0 <= result.failures <= 100.0
    # The parse path is the real one: a scripted reply is read as a verdict.
    from rcstudio.evals.runner import outcome_from_text

    assert outcome_from_text("k", "blah \\boxed{B>>A}").verdict == "B>>A"
    # Greedy decoding is deterministic: the same prompt gives the same text.
    assert backend.generate_one(tasks[0].messages) == outcomes[tasks[0].key].text
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["key"] for r in rows} == {t.key for t in tasks}


@pytest.mark.slow
def test_local_model_with_a_chat_template(tmp_path, pairs):
    template = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}<s>assistant:"
    model_dir = _tiny_model(tmp_path / "tiny-chat", chat_template=template)
    backend = LocalHFBackend(str(model_dir), max_new_tokens=4)
    tasks = T.judgebench_tasks(pairs[:1], PAIRWISE_VERSION)
    outcomes = JudgeRunner(backend, None, progress=False).run(tasks)
    assert all(isinstance(o.text, str) and o.error for o in outcomes.values())
    assert backend.describe()["backend"] == "transformers"


def test_task_keys_must_be_unique(tmp_path):
    with pytest.raises(ValueError):
        JudgeRunner(LocalHFBackend("unused"), None, progress=False).run(
            [JudgeTask("a", []), JudgeTask("a", [])])


def test_judging_progress_lands_in_the_runs_progress_file(tmp_path, pairs):
    """An eval job's judging keeps `logs/progress.json` current (what the dashboard's run header
    and `submit --wait` read): phase, done/total, and done at the end; resumed items count as done."""
    from rcstudio.tracking.progress import read_progress

    tasks = T.judgebench_tasks(pairs[:10], PAIRWISE_VERSION)
    seen: list[tuple[int, int | None]] = []
    with OpenAIStub(_oracle(pairs[:10], tasks), latency_s=0.01) as stub:
        cfg = LLMConfig(base_url=stub.base_url, model="stub-model", concurrency=4, timeout_s=10)

        class Watching(EndpointBackend):
            async def run(self, todo, on_done):
                def spy(*args):
                    on_done(*args)
                    state = read_progress(tmp_path)
                    seen.append((state.step, state.total))

                await super().run(todo, spy)

        runner = JudgeRunner(Watching(cfg, ResponseCache(tmp_path / "c.sqlite")), tmp_path / "out.jsonl",
                             progress=False, description="judgebench: judging", run_dir=tmp_path)
        runner.run(tasks[:12])
        state = read_progress(tmp_path)
        assert state.phase == "judgebench: judging" and state.done and (state.step, state.total) == (12, 12)
        assert len(seen) == 12 and all(total == 12 and step <= 12 for step, total in seen)  # there while judging
        assert state.line().startswith("judgebench: judging gen 12/12 (100%)")
        JudgeRunner(EndpointBackend(cfg, ResponseCache(tmp_path / "c.sqlite")), tmp_path / "out.jsonl",
                    progress=False, description="judgebench: judging", run_dir=tmp_path).run(tasks[:20])
        state = read_progress(tmp_path)
        assert (state.step, state.total, state.items) == (20, 20, 8) and state.done
