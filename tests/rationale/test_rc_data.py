"""Loaders: RationaleRM and raw HelpSteer3 records, bad lines reported, hf:// offline error."""

from __future__ import annotations

import json

import pytest

from rcstudio.errors import UserError
from rcstudio.rationale.data import load_pairs, record_to_item, write_pairs


def test_rationalerm_record_with_stored_judges(make_pair, write_jsonl):
    rec = make_pair(
        1,
        **{
            "gpt-5-checklist": ["Response A is correct.", "Response B is off by one."],
            "gpt-5-label": "A>B",
            "gpt-5-generated_text": "<RESULT_START>...",
            "o3-mini-label": "B>A",
            "split": "test",
        },
    )
    res = load_pairs(write_jsonl("d.jsonl", [rec]))
    assert res.skipped == [] and len(res.items) == 1
    item = res.items[0]
    assert item.id == "item-1" and item.domain == "stem" and item.preference == -2
    assert item.preference_direction == -1
    assert item.human_checklist == rec["human-checklist"]
    assert item.outputs["gpt-5"].checklist == rec["gpt-5-checklist"]
    assert item.outputs["gpt-5"].label == "A>B"
    assert item.outputs["o3-mini"].checklist == [] and item.outputs["o3-mini"].label == "B>A"
    assert item.extra == {"split": "test"}


def test_raw_helpsteer3_keeps_annotator_reasoning(write_jsonl):
    rec = {
        "domain": "code",
        "context": [{"role": "user", "content": "fix it"}, {"role": "assistant", "content": "which?"},
                    {"role": "user", "content": "the loop"}],
        "response1": "a", "response2": "b", "overall_preference": 1,
        "individual_preference": [
            {"score": 1, "reasoning": "@Response 2 fixes the bound.", "feedback1": "x"},
            {"score": 2, "reasoning": "Response 1 leaves the bug."},
            {"score": 1, "reasoning": ""},
        ],
    }  # fmt: skip
    item = load_pairs(write_jsonl("hs3.jsonl", [rec])).items[0]
    assert item.human_checklist == [] and len(item.context) == 3
    assert item.extra["annotator_reasoning"] == ["@Response 2 fixes the bound.", "Response 1 leaves the bug."]
    assert item.extra["individual_preference"][0]["feedback1"] == "x"
    assert len(item.id) == 16  # content hash when the record has no id
    assert record_to_item(rec).id == item.id


def test_every_bad_line_is_reported(make_pair, write_jsonl):
    recs = [
        make_pair(0),
        "{not json",
        {"id": "x", "response1": "only one"},
        make_pair(3, overall_preference=7),
        make_pair(4, overall_preference="A"),
        make_pair(5, **{"human-checklist": [1, 2]}),
        make_pair(6, context=5),
        make_pair(0),  # duplicate id
        "[1, 2]",
        make_pair(9),
    ]
    res = load_pairs(write_jsonl("bad.jsonl", recs, raw_lines={1: ""}))  # a blank line is not an error
    assert [i.id for i in res.items] == ["item-0", "item-9"]
    got = {s.line: s.reason for s in res.skipped}
    assert set(got) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert got[3].startswith("invalid JSON")
    assert got[4] == "missing field 'response2'"
    assert "outside -3..3" in got[5]
    assert "not an integer" in got[6]
    assert "human-checklist" in got[7]
    assert "context" in got[8]
    assert got[9].startswith("duplicate id")
    assert got[10].startswith("not a JSON object")
    assert "2 items loaded" in res.summary() and "8 skipped" in res.summary()


def test_checklist_given_as_text(make_pair, write_jsonl):
    rec = make_pair(1, **{"human-checklist": '["a", "b"]', "j-checklist": "1. first\n2. second"})
    item = load_pairs(write_jsonl("t.jsonl", [rec])).items[0]
    assert item.human_checklist == ["a", "b"]
    assert item.outputs["j"].checklist == ["first", "second"]


def test_roundtrip_and_limit(make_pair, tmp_path, write_jsonl):
    src = write_jsonl("d.jsonl", [make_pair(i, **{"m-checklist": ["r"], "m-label": "A>B"}) for i in range(5)])
    res = load_pairs(src, limit=3)
    assert len(res.items) == 3
    out = write_pairs(res.items, tmp_path / "copy.jsonl")
    again = load_pairs(out)
    assert [i.to_record() for i in again.items] == [i.to_record() for i in res.items]
    assert json.loads(out.read_text().splitlines()[0])["m-label"] == "A>B"


def test_json_array_file(make_pair, tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps([make_pair(1), {"bad": 1}]))
    res = load_pairs(p)
    assert len(res.items) == 1 and res.skipped[0].line == 2


def test_missing_file_and_hub_offline(tmp_path):
    with pytest.raises(UserError) as err:
        load_pairs(tmp_path / "nope.jsonl")
    assert "not found" in err.value.message
    with pytest.raises(UserError) as err:
        load_pairs("hf://Qwen/RationaleRM:test")  # HF_DATASETS_OFFLINE=1 in tests (and no network)
    assert "hf://Qwen/RationaleRM:test" in err.value.message
    assert "to_json" in err.value.hint and "pass its path" in err.value.hint
