"""The real Triton HTTP client against the reward server on loopback: tokens in, rewards out."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import GOOD_1, GOOD_3, MALFORMED, PROMPTS, WRONG_1, ExactMatcher, make_batch
from rcstudio.rationale.reward import RewardSettings
from rcstudio.serve.background import BackgroundServer
from rcstudio.serve.batcher import MatchBatcher
from rcstudio.serve.ground_truth import PromptIndex, load_table
from rcstudio.serve.kserve import ServerSettings
from rcstudio.serve.reward_model import RewardBackend
from rcstudio.serve.scorer import HybridScorer, SequenceSplitter
from rcstudio.serve.step_log import StepLogger
from rcstudio.tracking.wandb_log import NoopRun


class Recorder(NoopRun):
    def __init__(self):
        super().__init__("r", None, {})
        self.logged = []

    def log(self, data, step=None, commit=None):
        self.logged.append((step, dict(data)))


@pytest.fixture
def backend_factory(tiny_tokenizer_dir, data_dir):
    from rcstudio.serve.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tiny_tokenizer_dir))
    rows, texts = load_table(data_dir)
    index = PromptIndex(rows, texts, tok, tok.special_ids)

    def make(settings=RewardSettings(form="gated"), matcher=None, run=None, per_step=5):
        matcher = matcher or ExactMatcher()
        batcher = MatchBatcher(matcher, max_wait_s=0.02)
        logger = StepLogger(run or Recorder(), per_step, idle_flush_s=0)
        return RewardBackend(SequenceSplitter(index, tok), HybridScorer(settings, batcher), step_logger=logger,
                             batcher=batcher)

    return make


def _infer(client, batch, binary_in=True, binary_out=True):
    t = triton.InferInput("tokens", list(batch.tokens.shape), "INT64")
    t.set_data_from_numpy(batch.tokens, binary_data=binary_in)
    n = triton.InferInput("sequence_lengths", list(batch.lengths.shape), "INT64")
    n.set_data_from_numpy(batch.lengths, binary_data=binary_in)
    out = triton.InferRequestedOutput("rewards", binary_data=binary_out)
    return client.infer("reward_model", [t, n], outputs=[out]).as_numpy("rewards")


CASES = [
    (PROMPTS["item-1"], GOOD_1, 1.0),        # right verdict, both human points in order: AP 1
    (PROMPTS["item-1"], WRONG_1, 0.0),       # wrong verdict: gated reward 0, matcher skipped
    (PROMPTS["item-2"], MALFORMED, -0.5),    # no verdict: format penalty
    ("A prompt nobody prepared.", GOOD_1, -0.5),  # unknown prompt: penalty
    (PROMPTS["item-3"], GOOD_3, 1.0),
]


@pytest.mark.parametrize("binary_in,binary_out", [(True, True), (False, False), (True, False)])
def test_rewards_for_well_formed_malformed_and_unknown(tiny_tokenizer_dir, backend_factory, binary_in, binary_out):
    matcher = ExactMatcher()
    backend = backend_factory(RewardSettings(form="gated", format_penalty=-0.5), matcher)
    batch = make_batch(tiny_tokenizer_dir, [(p, r) for p, r, _ in CASES], pad_to=400)
    with BackgroundServer(lambda: backend) as srv:
        client = triton.InferenceServerClient(srv.url, connection_timeout=10, network_timeout=30)
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("reward_model")
        cfg = client.get_model_config("reward_model")
        assert [i["name"] for i in cfg["input"]][:2] == ["tokens", "sequence_lengths"]
        assert cfg["output"][0] == {"name": "rewards", "data_type": "TYPE_FP32", "dims": [1]}
        rewards = _infer(client, batch, binary_in, binary_out)
    assert rewards.dtype == np.float32 and rewards.shape == (5, 1)
    np.testing.assert_allclose(rewards.ravel(), [c[2] for c in CASES])
    assert sum(matcher.batches) == 2  # only the two right verdicts were matched, in shared batches
    counts = backend.step_logger.totals
    assert counts["unknown_prompt"] == 1 and counts["format_error"] == 1 and counts["ok"] == 3


def test_additive_form_and_leading_bos(tiny_tokenizer_dir, backend_factory):
    backend = backend_factory(RewardSettings(form="additive", alpha=0.5))
    batch = make_batch(tiny_tokenizer_dir, [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1)], bos=True)
    with BackgroundServer(lambda: backend) as srv:
        rewards = _infer(triton.InferenceServerClient(srv.url), batch)
    # right + AP 1 -> 1.0; wrong verdict, reason "A is shorter" matches nothing -> 0.5*0 + 0.5*0
    np.testing.assert_allclose(rewards.ravel(), [1.0, 0.0])


def test_swapped_item_maps_a_b_back(tiny_tokenizer_dir, backend_factory):
    # item-2 is swapped: the judge saw response2 as A; preference 1 means B (= response1 shown as B) better
    text = "<RESULT_START>\n1. Response B states the correct average complexity n log n\n\\boxed{B>A}\n<RESULT_END>"
    backend = backend_factory()
    with BackgroundServer(lambda: backend) as srv:
        rewards = _infer(triton.InferenceServerClient(srv.url), make_batch(tiny_tokenizer_dir, [(PROMPTS["item-2"], text)]))
    assert rewards.ravel().tolist() == [1.0]


def test_matcher_failure_gives_penalty_not_crash(tiny_tokenizer_dir, backend_factory):
    class Broken(ExactMatcher):
        async def amatch(self, requests):
            raise RuntimeError("matcher endpoint gone")

    backend = backend_factory(RewardSettings(form="gated", format_penalty=-1.0), Broken())
    batch = make_batch(tiny_tokenizer_dir, [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1)])
    with BackgroundServer(lambda: backend) as srv:
        rewards = _infer(triton.InferenceServerClient(srv.url), batch)
    np.testing.assert_allclose(rewards.ravel(), [-1.0, 0.0])
    assert backend.step_logger.totals["matcher_error"] == 1


def test_hung_matcher_times_out(tiny_tokenizer_dir, backend_factory):
    import asyncio

    class Hung(ExactMatcher):
        async def amatch(self, requests):
            await asyncio.sleep(3600)

    backend = backend_factory(RewardSettings(form="gated", format_penalty=-1.0), Hung())
    backend.batcher.timeout_s = 0.5
    with BackgroundServer(lambda: backend) as srv:
        rewards = _infer(triton.InferenceServerClient(srv.url, network_timeout=20),
                         make_batch(tiny_tokenizer_dir, [(PROMPTS["item-3"], GOOD_3)]))
    assert rewards.ravel().tolist() == [-1.0]


def test_not_ready_until_loaded_and_bad_requests(tiny_tokenizer_dir, backend_factory):
    srv = BackgroundServer(lambda: backend_factory()).start(load_now=False)
    try:
        client = triton.InferenceServerClient(srv.url)
        assert client.is_server_live() and not client.is_server_ready()
        assert not client.is_model_ready("reward_model")
        srv.app.backend = srv.load()
        assert client.is_server_ready() and client.is_model_ready("reward_model")
        assert not client.is_model_ready("other_model")
        bad = triton.InferInput("tokens", [1, 2], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 2), np.float32))
        with pytest.raises(InferenceServerException, match="sequence_lengths|integer"):
            client.infer("reward_model", [bad])
    finally:
        srv.stop()


def test_shared_token_required(tiny_tokenizer_dir, backend_factory):
    backend = backend_factory()
    settings = ServerSettings(port=0, token="s3cret-value")
    batch = make_batch(tiny_tokenizer_dir, [(PROMPTS["item-3"], GOOD_3)])
    with BackgroundServer(lambda: backend, settings) as srv:
        anon = triton.InferenceServerClient(srv.url)
        assert anon.is_server_live()  # liveness stays open
        with pytest.raises(InferenceServerException):
            _infer(anon, batch)
        authed = triton.InferenceServerClient(srv.url)
        t = triton.InferInput("tokens", list(batch.tokens.shape), "INT64")
        t.set_data_from_numpy(batch.tokens)
        n = triton.InferInput("sequence_lengths", list(batch.lengths.shape), "INT64")
        n.set_data_from_numpy(batch.lengths)
        res = authed.infer("reward_model", [t, n], headers={"Authorization": "Bearer s3cret-value"})
        assert res.as_numpy("rewards").ravel().tolist() == [1.0]


def test_step_logger_groups_sequences_into_actor_steps(tiny_tokenizer_dir, backend_factory):
    run = Recorder()
    backend = backend_factory(RewardSettings(form="gated"), run=run, per_step=4)
    pairs = [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1), (PROMPTS["item-2"], MALFORMED),
             (PROMPTS["item-3"], GOOD_3)]
    with BackgroundServer(lambda: backend) as srv:
        client = triton.InferenceServerClient(srv.url)
        _infer(client, make_batch(tiny_tokenizer_dir, pairs[:2]))
        assert run.logged == []  # half a step so far
        _infer(client, make_batch(tiny_tokenizer_dir, pairs[2:]))
        _infer(client, make_batch(tiny_tokenizer_dir, pairs[:1]))
    # step 0 = the first 4 sequences; the leftover one is flushed at shutdown as step 1
    assert [s for s, _ in run.logged] == [0, 1]
    step0 = run.logged[0][1]
    assert step0["reward/total"] == pytest.approx(0.5)
    assert step0["reward/outcome"] == pytest.approx(0.5)  # a format error counts as a wrong outcome
    assert step0["reward/format_error_rate"] == pytest.approx(0.25)
    assert step0["reward/ap"] == pytest.approx(1.0) and step0["reward/rc"] == pytest.approx(1.0)
    assert "matcher/latency_ms" not in step0 or step0["matcher/latency_ms"] >= 0


def test_outcome_only_baseline_still_logs_rationale(tiny_tokenizer_dir, backend_factory):
    run = Recorder()
    matcher = ExactMatcher()
    backend = backend_factory(RewardSettings(form="additive", alpha=0.0), matcher, run=run, per_step=2)
    pairs = [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1)]
    with BackgroundServer(lambda: backend) as srv:
        rewards = _infer(triton.InferenceServerClient(srv.url), make_batch(tiny_tokenizer_dir, pairs))
    np.testing.assert_allclose(rewards.ravel(), [1.0, 0.0])  # the reward is the outcome alone
    assert sum(matcher.batches) == 2  # both matched: AP is measured even where it is not rewarded
    assert run.logged[0][1]["reward/ap"] == pytest.approx(0.5)  # mean of 1.0 and 0.0


def test_sentences_input_is_a_text_fallback(tiny_tokenizer_dir, backend_factory):
    """A client that re-tokenized the text (ids match no prepared prompt) but sends `sentences`."""
    backend = backend_factory()
    tokens = np.array([[7, 8, 9, 10]], dtype=np.int64)
    lengths = np.array([[4]], dtype=np.int64)
    sentences = np.array([[(PROMPTS["item-3"] + GOOD_3).encode()]], dtype=object)
    with BackgroundServer(lambda: backend) as srv:
        client = triton.InferenceServerClient(srv.url)
        inputs = []
        for name, arr, dt in (("tokens", tokens, "INT64"), ("sequence_lengths", lengths, "INT64"),
                              ("sentences", sentences, "BYTES")):
            inp = triton.InferInput(name, list(arr.shape), dt)
            inp.set_data_from_numpy(arr, binary_data=True)
            inputs.append(inp)
        with_text = client.infer("reward_model", inputs).as_numpy("rewards").ravel().tolist()
        without = client.infer("reward_model", inputs[:2]).as_numpy("rewards").ravel().tolist()
    assert with_text == [1.0] and without == [0.0]
    assert backend.step_logger.totals["unknown_prompt"] == 1
