"""Matchers: LLM over loopback HTTP, embedding on the packaged MiniLM, precomputed matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rcstudio.errors import UserError
from rcstudio.clients.llm import ResponseCache
from rcstudio.rationale.matchers import MatchError, MatchRequest, make_matcher
from rcstudio.rationale.matchers.embedding import levels_from_cosine, normalize_naming
from rcstudio.rationale.matchers.llm import parse_match_reply, render_match_messages
from rcstudio.testing.openai_stub import OpenAIStub

REQ = MatchRequest("i1", ["Response 1 is correct.", "Response 2 has a bug."], ["A is correct.", "B crashes.", "A is short."])


def llm_cfg(stub, **kw):
    cfg = {"kind": "llm", "endpoint": stub.base_url, "model": "matcher", "max_retries": 3, "timeout_s": 5.0}
    cfg.update(kw)
    return cfg


# ---- LLM matcher ---------------------------------------------------------------------------------


def test_match_prompt_states_rubric_and_mapping():
    text = render_match_messages(REQ)[0]["content"]
    assert "H1. Response 1 is correct." in text and "M3. A is short." in text
    assert "(n = 2)" in text and "(k = 3)" in text
    assert "Response A is Response 1 and Response B is Response 2" in text
    assert "0, 0.25, 0.5, 0.75, 1" in text and "lower one" in text and "never enough" in text
    swapped = render_match_messages(MatchRequest("s", ["h"], ["m"], swapped=True))[0]["content"]
    assert "Response A is Response 2 and Response B is Response 1" in swapped


def test_parse_match_reply_variants():
    good = parse_match_reply('{"scores": [[1, 0, 0.25], [0, 0.75, 0]]}', 2, 3)
    assert good.tolist() == [[1, 0, 0.25], [0, 0.75, 0]]
    assert parse_match_reply("```json\n[[0.5]]\n```", 1, 1).tolist() == [[0.5]]
    assert parse_match_reply('<think>hmm</think> Here: {"scores": [[1]]} done', 1, 1).tolist() == [[1.0]]
    for bad, msg in [
        ("no json here", "not JSON"),
        ('{"scores": [[1, 0]]}', "exactly 2 rows of 3"),
        ('{"scores": [[1, 0, 0.3], [0, 0, 0]]}', "0.3 is not one of"),
        ('{"scores": [[1, 0, "x"], [0, 0, 0]]}', "number"),
        ('{"scores": 5}', "list of rows"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_match_reply(bad, 2, 3)


def test_llm_matcher_over_http(stub):
    matcher = make_matcher(llm_cfg(stub), cache=None)
    reqs = [REQ, MatchRequest("i2", ["x"], []), MatchRequest("i3", [], ["y"]), MatchRequest("i4", ["a", "b", "c"], ["d"])]
    out = matcher.match(reqs)
    assert out[0].tolist() == [[1, 0, 0], [0, 1, 0]]
    assert out[1].shape == (1, 0) and out[2].shape == (0, 1)
    assert out[3].tolist() == [[1], [0], [0]]
    assert stub.calls == 2  # empty sides need no call
    assert matcher.stats()["calls"] == 2


def test_llm_matcher_reasks_on_bad_matrix():
    replies = iter(['{"scores": [[1, 0]]}', '{"scores": [[0.3, 0, 0], [0, 0, 0]]}', '{"scores": [[1, 0, 0], [0, 0.5, 0]]}'])
    with OpenAIStub(lambda m, model: next(replies)) as stub:
        cfg = llm_cfg(stub)
        matcher = make_matcher(cfg, cache=None)
        with pytest.raises(MatchError, match="still unusable"):
            matcher.match([REQ])  # reask=1: two bad replies are one too many
        assert matcher.stats()["reasks"] == 1
        matcher2 = make_matcher(cfg, cache=None)
        assert matcher2.match([REQ])[0].tolist() == [[1, 0, 0], [0, 0.5, 0]]
        assert "exactly 2 rows of 3" in stub.requests[1]["messages"][-1]["content"]


def test_llm_matcher_retries_429_and_500(stub):
    stub.fail_next("429", retry_after=0.05)
    stub.fail_next("500")
    stub.fail_next("malformed")
    matcher = make_matcher(llm_cfg(stub), cache=None)
    assert matcher.match([REQ])[0].tolist() == [[1, 0, 0], [0, 1, 0]]
    assert stub.calls == 4 and matcher.stats()["retries"] == 3


def test_llm_matcher_timeout_then_partial_failure(stub):
    stub.fail_next("hang")
    matcher = make_matcher(llm_cfg(stub, timeout_s=0.3, max_retries=1), cache=None)
    assert matcher.match([REQ])[0].shape == (2, 3)
    stub.fail_next("500")
    m2 = make_matcher(llm_cfg(stub, max_retries=0, concurrency=1), cache=None)
    out = m2.match_partial([REQ, MatchRequest("ok", ["h"], ["m"])])
    assert isinstance(out[0], Exception) and out[1].tolist() == [[1.0]]


def test_llm_matcher_cache_after_restart_makes_zero_calls(stub, tmp_path):
    reqs = [MatchRequest(f"i{i}", [f"h{i}", "h"], [f"m{i}"] * (1 + i % 3)) for i in range(12)]
    first = make_matcher(llm_cfg(stub), cache=ResponseCache(tmp_path / "m.sqlite"))
    a = first.match(reqs)
    first.close()
    assert stub.calls == 12
    second = make_matcher(llm_cfg(stub), cache=ResponseCache(tmp_path / "m.sqlite"))
    b = second.match(reqs)
    assert stub.calls == 12 and second.stats()["cache_hit_rate"] == 1.0
    assert all((x == y).all() for x, y in zip(a, b))


def test_default_cache_lives_under_rcstudio_home(stub, rcstudio_home):
    make_matcher(llm_cfg(stub)).match([REQ])
    assert (rcstudio_home / "cache" / "llm" / "responses.sqlite").is_file()
    make_matcher(llm_cfg(stub)).match([REQ])
    assert stub.calls == 1


def test_make_matcher_errors(tmp_path):
    with pytest.raises(UserError, match="needs an endpoint"):
        make_matcher({"kind": "llm", "endpoint": ""})
    with pytest.raises(UserError, match="unknown matcher kind"):
        make_matcher({"kind": "psychic"})
    with pytest.raises(UserError, match="matches file"):
        make_matcher({"kind": "matrix"})
    with pytest.raises(UserError, match="increasing"):
        make_matcher({"kind": "embedding", "thresholds": [0.9, 0.1, 0.5, 0.6]})


# ---- embedding matcher ---------------------------------------------------------------------------


def test_naming_normalisation_and_levels():
    assert normalize_naming("@Response 1 is right, Response 2 is not", swapped=False) == "Response A is right, Response B is not"
    assert normalize_naming("Response 1 is right", swapped=True) == "Response B is right"
    cos = np.array([0.1, 0.35, 0.49, 0.5, 0.7, 0.8, 0.99])
    assert levels_from_cosine(cos, (0.35, 0.5, 0.65, 0.8)).tolist() == [0, 0.25, 0.25, 0.5, 0.75, 1.0, 1.0]


@pytest.mark.slow
def test_embedding_matcher_on_packaged_model():
    matcher = make_matcher({"kind": "embedding"})
    human = [
        "Response 1 correctly states that the boiling point of water at sea level is 100 degrees Celsius.",
        "Response 2 uses a friendly tone.",
    ]
    model = [
        "Response A gives the right boiling point of water at sea level: 100 degrees Celsius.",
        "Response B recommends a pasta recipe with tomatoes.",
    ]
    scores = matcher.match([MatchRequest("e", human, model)])[0]
    assert scores.shape == (2, 2)
    assert set(np.unique(scores)) <= {0, 0.25, 0.5, 0.75, 1}
    assert scores[0, 0] > scores[0, 1]  # the paraphrase beats the unrelated reason
    assert scores[0, 0] >= 0.75
    # swapped: "Response 1" is B for this item, so the A-sentence no longer lines up as well
    swapped = matcher.match([MatchRequest("e", human[:1], model[:1], swapped=True)])[0]
    assert swapped[0, 0] <= scores[0, 0]
    before = matcher.stats()["sentences_embedded"]
    matcher.match([MatchRequest("again", human, model)])  # nothing new to embed
    assert matcher.stats()["sentences_embedded"] == before
    assert 0 < matcher.stats()["embed_share"] <= 1


# ---- matrix matcher ------------------------------------------------------------------------------


def test_matrix_matcher(tmp_path):
    p = tmp_path / "m.jsonl"
    lines = [
        {"id": "a", "scores": [[1, 0], [0, 0.5]]},
        {"id": "b", "scores": [[0.3]], "outcome": 1},
        "not json",
        {"id": "c", "scores": [[1, 0], [0]]},
        {"id": "d", "scores": [[2]]},
        {"id": "a", "scores": [[1]]},
        {"id": "e", "scores": [[1]], "outcome": 3},
    ]
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    matcher = make_matcher({"kind": "matrix", "matches_file": str(p)})
    skipped = dict(matcher.file.skipped)
    assert set(skipped) == {3, 4, 5, 6, 7}
    assert "different lengths" in skipped[4] and "[0, 1]" in skipped[5] and "duplicate" in skipped[6]
    out = matcher.match_partial([
        MatchRequest("a", ["h1", "h2"], ["m1", "m2"]),
        MatchRequest("b", ["h"], ["m"]),
        MatchRequest("b", ["h"], ["m", "m2"]),
        MatchRequest("zzz", ["h"], ["m"]),
    ])  # fmt: skip
    assert out[0].tolist() == [[1, 0], [0, 0.5]] and out[1].tolist() == [[0.3]]
    assert isinstance(out[2], MatchError) and "1x1" in str(out[2])
    assert isinstance(out[3], MatchError) and "zzz" in str(out[3])
    with pytest.raises(MatchError):
        matcher.match([MatchRequest("zzz", ["h"], ["m"])])


def test_make_matcher_from_spec_sections(stub, tmp_path):
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.spec.models import RewardSection

    section = RewardSection(form="additive", alpha=0.5, matcher={"kind": "llm", "endpoint": stub.base_url, "model": "matcher"})
    settings = RewardSettings.from_spec(section)
    assert (settings.form, settings.alpha) == ("additive", 0.5)
    matcher = make_matcher(section.matcher, cache=None)
    assert matcher.client.cfg.base_url == stub.base_url and matcher.client.cfg.concurrency == 64
    assert matcher.match([REQ])[0].shape == (2, 3)
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"id": "i1", "scores": [[1, 0, 0], [0, 0, 0]]}) + "\n")
    mm = make_matcher(RewardSection(matcher={"kind": "matrix", "matches_file": str(p)}).matcher)
    assert mm.match([REQ])[0].tolist() == [[1, 0, 0], [0, 0, 0]]
