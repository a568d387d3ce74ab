"""The reply validator and the local rules that hold whatever the model did."""

from __future__ import annotations

import json

import pytest

from rcstudio.rationale.decompose.outcome import Bounds, classify, summarize
from rcstudio.rationale.decompose.prompt import PROMPT_VERSION, SYSTEM_RULES, Annotation, render_decompose_messages
from rcstudio.rationale.decompose.reply import ReplyError, is_generic, parse_reply, resolve_mentions
from rcstudio.rationale.schema import PairItem


def test_well_formed_reply_in_a_fence_with_chatter():
    text = 'Here you go:\n```json\n{"items": ["@Response 1 gives 42", "Response 2 omits units"], "dropped": [{"text": "A is better", "reason": "generic"}], "empty_reason": null}\n```'
    d = parse_reply(text)
    assert d.items == ("Response 1 gives 42", "Response 2 omits units")
    assert [x.text for x in d.dropped] == ["A is better"]
    assert d.empty_reason is None


def test_duplicates_merged_and_generic_items_dropped_with_reasons():
    d = parse_reply(json.dumps({"items": [
        "Response 1 cites the 2019 census", "response 1 cites the 2019 census.",
        "Response 2 is more helpful", "I prefer Response 1", "Response 2 uses a table for the prices",
    ]}))
    assert d.items == ("Response 1 cites the 2019 census", "Response 2 uses a table for the prices")
    reasons = {x.text: x.reason for x in d.dropped}
    assert "duplicate" in reasons["response 1 cites the 2019 census."]
    assert "generic" in reasons["Response 2 is more helpful"]
    assert "generic" in reasons["I prefer Response 1"]


@pytest.mark.parametrize("text", ["Response 1 is better.", "More helpful overall", "Response 2 is slightly better than Response 1"])
def test_bare_verdicts_are_generic(text):
    assert is_generic(text)


@pytest.mark.parametrize("text", ["Response 1 is better because it handles n = 0", "Response 2 is more concise: 3 lines vs 20"])
def test_points_with_evidence_are_not_generic(text):
    assert not is_generic(text)


def test_mentions_resolved():
    assert resolve_mentions("@Response 2 and @response1 both\n miss it") == "Response 2 and Response 1 both miss it"


def test_empty_needs_a_reason():
    with pytest.raises(ReplyError, match="empty_reason"):
        parse_reply('{"items": [], "dropped": []}')
    d = parse_reply('{"items": [], "empty_reason": "only taste"}')
    assert d.items == () and d.empty_reason == "only taste"


def test_all_generic_becomes_empty_with_a_reason():
    d = parse_reply('{"items": ["Response 1 is better"]}')
    assert d.items == () and d.empty_reason


@pytest.mark.parametrize("text, match", [
    ("no json here", "no JSON object"),
    ('{"items": "one string"}', "list of strings"),
    ('{"items": [1, 2]}', "must be a string"),
    ('{"checklist": ["x"]}', 'no "items"'),
    ('{"items": ["a", "b"', "no JSON object"),  # truncated (hit max_tokens)
    ('[1, 2]', "no JSON object"),
])
def test_malformed_replies_raise_reply_error(text, match):
    with pytest.raises(ReplyError, match=match):
        parse_reply(text)


def test_bounds_filter_never_truncates():
    b = Bounds(3, 7)
    many = parse_reply(json.dumps({"items": [f"Response 1 point {i}" for i in range(9)]}))
    o = classify("x", many, b)
    assert o.status == "filtered" and "too many items (9 > 7)" in o.reason and len(o.decomposition.items) == 9
    few = classify("y", parse_reply('{"items": ["Response 1 omits the unit"]}'), b)
    assert few.status == "filtered" and few.reason.startswith("too few items (1 < 3)")
    empty = classify("z", parse_reply('{"items": [], "empty_reason": "only taste"}'), b)
    assert empty.status == "filtered" and empty.reason == "empty: only taste"
    ok = classify("w", parse_reply(json.dumps({"items": ["a one", "b two", "c three"]})), b)
    assert ok.status == "kept" and ok.reason is None
    assert Bounds(3, 0).check(50) is None  # max 0 = no upper bound


def test_summary_histogram_and_mean():
    b = Bounds(3, 7)
    outs = [classify(str(i), parse_reply(json.dumps({"items": [f"Response 1 p{j}" for j in range(n)]})), b) for i, n in enumerate([3, 4, 4, 5, 9, 2])]
    s = summarize(outs).to_dict()
    assert (s["kept"], s["filtered"], s["failed"]) == (4, 2, 0)
    assert s["histogram"] == {"2": 1, "3": 1, "4": 2, "5": 1, "9": 1}
    assert s["kept_histogram"] == {"3": 1, "4": 2, "5": 1}
    assert s["mean_items_kept"] == 4.0
    assert s["filter_reasons"] == {"too few items": 1, "too many items": 1}


def test_prompt_is_deterministic_versioned_and_shows_every_annotator():
    item = PairItem(id="p1", context=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}, {"role": "user", "content": "sum 2+2"}],
                    response1="4", response2="5" * 10000)
    ann = [Annotation(0, "@Response 1 is right", 2), Annotation(2, "R2 says 5")]
    msgs = render_decompose_messages(item, ann)
    assert msgs == render_decompose_messages(item, ann)
    assert msgs[0]["content"] == SYSTEM_RULES and '"empty_reason"' in SYSTEM_RULES
    user = msgs[1]["content"]
    assert "Annotator 1 (preference score +2)" in user and "Annotator 3:\nR2 says 5" in user
    assert "[user] sum 2+2" in user and "characters clipped" in user
    assert PROMPT_VERSION.startswith("rcstudio-decompose-")
