"""The judge-output parser against a corpus of well-formed, variant and broken outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcstudio.rationale.parse import (
    VERDICTS,
    flip_verdict,
    normalize_verdict,
    parse_judgment,
    verdict_direction,
    verdict_score,
)

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "parser_corpus.jsonl").read_text().splitlines()]


def test_corpus_is_large_and_mixed():
    assert len(CORPUS) >= 30
    assert sum(1 for c in CORPUS if c["error"]) >= 8
    assert len({c["verdict"] for c in CORPUS if c["verdict"]}) == 5


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_corpus_case(case):
    j = parse_judgment(case["text"])
    assert j.verdict == case["verdict"]
    if case["error"]:
        assert j.error is not None and case["error"] in j.error
        assert not j.ok
    else:
        assert j.error is None, j.error
        assert j.ok
    if case["n_reasons"] is not None:
        assert len(j.reasons) == case["n_reasons"], j.reasons
    if case["first_reason"]:
        assert j.reasons[0] == case["first_reason"]
    if case["think"]:
        assert j.think is not None and j.think.startswith(case["think"])
    for reason in j.reasons:  # no box, tag or list marker leaks into a reason
        assert "boxed" not in reason and "RESULT_" not in reason
        assert not reason.startswith(("1.", "-", "*", "Reason"))


def test_reasons_keep_model_order():
    text = "<RESULT_START>\n1. first\n2. second\n3. third\n\\boxed{A>B}\n<RESULT_END>"
    assert parse_judgment(text).reasons == ["first", "second", "third"]


def test_verdict_helpers():
    assert [verdict_direction(v) for v in VERDICTS] == [-1, -1, 0, 1, 1]
    assert [verdict_score(v) for v in VERDICTS] == [-2, -1, 0, 1, 2]
    assert [flip_verdict(v) for v in VERDICTS] == list(reversed(VERDICTS))
    assert normalize_verdict("A » B") == "A>>B"
    assert normalize_verdict("response 2 >> response 1") == "B>>A"
    assert normalize_verdict("B<<A") == "A>>B"
    assert normalize_verdict("B=A") == "A=B"
    assert normalize_verdict("A>C") is None
    assert normalize_verdict("yes") is None


def test_parser_never_raises_on_garbage():
    for text in ["\\boxed{", "<think>", "</think>", "<RESULT_END><RESULT_START>", "\\boxed{}{}", "1.\n2.\n\\boxed{A>B}"]:
        parse_judgment(text)
