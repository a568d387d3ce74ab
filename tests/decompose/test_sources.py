"""Finding annotator reasoning in the records people bring, and the audit markdown."""

from __future__ import annotations

import json

from rcstudio.rationale.data import load_pairs
from rcstudio.rationale.decompose.audit import AuditEntry, render_audit, sample_indices
from rcstudio.rationale.decompose.outcome import PairOutcome
from rcstudio.rationale.decompose.prompt import Annotation
from rcstudio.rationale.decompose.reply import Decomposition, Dropped
from rcstudio.rationale.decompose.sources import annotations_for
from rcstudio.rationale.schema import PairItem


def _load(tmp_path, records):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return load_pairs(str(path)).items


def test_helpsteer3_individual_preference_keeps_annotator_indices(tmp_path):
    (item,) = _load(tmp_path, [{"response1": "a", "response2": "b", "overall_preference": 1, "individual_preference": [
        {"score": 1, "reasoning": "Response 2 is shorter."}, {"score": 2, "reasoning": "  "}, {"score": 1, "reasoning": "R2 cites a source."}]}])
    assert annotations_for(item) == [Annotation(0, "Response 2 is shorter.", 1), Annotation(2, "R2 cites a source.", 1)]


def test_in_house_reasoning_string_or_list(tmp_path):
    one, many, none = _load(tmp_path, [
        {"id": "s", "response1": "a", "response2": "b", "reasoning": "Response 1 is wrong about X."},
        {"id": "l", "response1": "a", "response2": "b", "rationale": ["first point", "", "second point"]},
        {"id": "n", "response1": "a", "response2": "b"},
    ])
    assert [a.reasoning for a in annotations_for(one)] == ["Response 1 is wrong about X."]
    assert [(a.annotator, a.reasoning) for a in annotations_for(many)] == [(0, "first point"), (2, "second point")]
    assert annotations_for(none) == []


def test_sampling_is_seeded_and_bounded():
    assert sample_indices(100, 5, seed=1) == sample_indices(100, 5, seed=1)
    assert sample_indices(100, 5, seed=1) != sample_indices(100, 5, seed=2)
    assert sample_indices(3, 10, seed=0) == [0, 1, 2]


def test_audit_markdown_escapes_cells_and_shows_status():
    item = PairItem(id="p|1", domain="code", preference=-2)
    entries = [
        AuditEntry(item, [Annotation(0, "uses a | pipe\nand a newline", -2)],
                   PairOutcome("p|1", "kept", None, Decomposition(("Response 1 a|b",), (Dropped("A is better", "generic"),)))),
        AuditEntry(PairItem(id="q"), [], PairOutcome("q", "failed", "LLMError: boom")),
    ]
    md = render_audit(entries, source="x.jsonl", model="m", prompt_version="v", total=10, seed=4)
    assert "| **Annotator 1** (-2): uses a \\| pipe<br>and a newline | 1. Response 1 a\\|b |" in md
    assert "kept, 1 items" in md and "failed (LLMError: boom)" in md and "_(no reasoning)_" in md
    assert "- 'A is better': generic" in md and "2 of 10 pairs sampled (seed 4)" in md
    assert md.count("<details><summary>conversation and responses</summary>") == 2 and "--- Response 2 ---" in md
