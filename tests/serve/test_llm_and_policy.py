"""The LLM matcher and the policy-RLHF GenRM reward, both through the loopback OpenAI stub (real HTTP)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tritonclient.http as triton

from conftest import GOOD_1, GOOD_3, WRONG_1, PROMPTS, make_batch, write_data
from rcstudio.serve.app import build_backend
from rcstudio.serve.background import BackgroundServer
from rcstudio.serve.ground_truth import prompt_sha
from rcstudio.serve.policy import policy_value
from rcstudio.spec import dump_resolved, load_resolved, load_spec
from rcstudio.testing.openai_stub import OpenAIStub
from test_triton_client import Recorder, _infer


def diagonal_grader(messages, model):
    """A strict matcher: H_i fulfilled by M_i exactly, nothing else."""
    text = messages[-1]["content"]
    n = int(re.search(r"\(n = (\d+)\)", text).group(1))
    k = int(re.search(r"\(k = (\d+)\)", text).group(1))
    return json.dumps({"scores": [[1 if i == j else 0 for j in range(k)] for i in range(n)]})


def _spec(tmp_path, tokenizer_dir, body: str, name: str = "serve-llm", judge: str = ""):
    f = tmp_path / "spec.toml"
    f.write_text(f"""
[experiment]
name = "{name}"
{body}
[judge]
tokenizer = "{tokenizer_dir}"
top_k = 0
{judge}
[rl]
global_batch_size = 8
mini_batch_size = 8
rollouts_per_prompt = 1
[rl.nemo_aligner]
rollout_micro_batch_size = 1
[tracking]
mode = "disabled"
""")
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "spec.resolved.toml").write_text(dump_resolved(load_spec(f)))
    return run_dir, load_resolved(run_dir)


def test_llm_matcher_via_stub_batches_caches_and_fails_soft(tmp_path, tiny_tokenizer_dir):
    with OpenAIStub(diagonal_grader) as stub:
        run_dir, spec = _spec(tmp_path, tiny_tokenizer_dir, f"""
kind = "genrm-train"
[reward]
format_penalty = -1.0
[reward.matcher]
kind = "llm"
endpoint = "{stub.base_url}"
model = "stub-model"
max_retries = 0
timeout_s = 5
""")
        write_data(run_dir / "data")
        run = Recorder()
        backend = build_backend(run_dir, spec, wandb_run=run)
        pairs = [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1), (PROMPTS["item-3"], GOOD_3)]
        batch = make_batch(tiny_tokenizer_dir, pairs)
        with BackgroundServer(lambda: backend) as srv:
            client = triton.InferenceServerClient(srv.url, network_timeout=60)
            first = _infer(client, batch).ravel()
            assert stub.calls == 2  # the wrong verdict never reached the matcher (gated form)
            again = _infer(client, batch).ravel()
            assert stub.calls == 2  # cached replies
            stub.fail_next("500", times=10)
            new_item = "<RESULT_START>\n1. Response A names Paris correctly\n\\boxed{A>B}\n<RESULT_END>"
            failed = _infer(client, make_batch(tiny_tokenizer_dir, [(PROMPTS["item-3"], new_item)])).ravel()
    np.testing.assert_allclose(first, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(again, first)
    assert failed.tolist() == [-1.0]  # endpoint failing after retries: penalty, server alive
    assert backend.step_logger.totals["matcher_error"] == 1


POLICY_PROMPTS = {"q-1": "<|im_start|>user\nCompare the two answers about sorting.<|im_end|>\n<|im_start|>assistant\n"}


def _policy_data(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    text = POLICY_PROMPTS["q-1"]
    row = {"prompt_sha": prompt_sha(text), "id": "q-1", "domain": "code",
           "context": [{"role": "user", "content": "How fast is quicksort?"}],
           "reference": "REFERENCE: quicksort averages n log n comparisons."}
    (data_dir / "ground_truth.jsonl").write_text(json.dumps(row) + "\n")
    (data_dir / "train_prompts.jsonl").write_text(json.dumps({"text": text}) + "\n")


def quality_judge(messages, model):
    """Prefers the response containing 'excellent' strongly, else the reference mildly."""
    text = messages[-1]["content"]
    ref, pol = text.find("REFERENCE:"), max(text.find("excellent"), text.find("poor"))
    policy_first = pol < ref
    if "excellent" in text:
        verdict = "A>>B" if policy_first else "B>>A"
    else:
        verdict = "B>A" if policy_first else "A>B"
    return f"<RESULT_START>\n1. one response is more accurate\n\\boxed{{{verdict}}}\n<RESULT_END>"


def test_policy_value_table():
    assert [policy_value(v, True) for v in ("A>>B", "A>B", "A=B", "B>A", "B>>A")] == [1.0, 0.5, 0.0, -0.5, -1.0]
    assert policy_value("A>>B", policy_is_a=False) == -1.0


@pytest.mark.parametrize("judge,expected", [
    (quality_judge, [1.0, -0.5]),
    ("<RESULT_START>\n1. first is better\n\\boxed{A>B}\n<RESULT_END>", [0.0, 0.0]),  # pure position bias cancels
])
def test_policy_rlhf_reward_from_genrm_both_orders(tmp_path, tiny_tokenizer_dir, judge, expected):
    with OpenAIStub(judge) as stub:
        run_dir, spec = _spec_policy(tmp_path, tiny_tokenizer_dir, stub.base_url)
        _policy_data(run_dir / "data")
        backend = build_backend(run_dir, spec, wandb_run=Recorder())
        pairs = [(POLICY_PROMPTS["q-1"], "An excellent answer: n log n on average."),
                 (POLICY_PROMPTS["q-1"], "A poor answer.")]
        with BackgroundServer(lambda: backend) as srv:
            rewards = _infer(triton.InferenceServerClient(srv.url), make_batch(tiny_tokenizer_dir, pairs)).ravel()
        assert stub.calls == 4  # two games per rollout
    np.testing.assert_allclose(rewards, expected)


def _spec_policy(tmp_path, tokenizer_dir, endpoint):
    body = 'kind = "policy-rlhf"\n[reward.matcher]\nmax_retries = 0\ntimeout_s = 5'
    return _spec(tmp_path, tokenizer_dir, body, name="serve-policy", judge=f'endpoint = "{endpoint}"\nmodel = "stub-model"')
