"""Finding a sequence's prompt row: token-prefix hashing, BOS, text fallback, bad tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import PROMPTS, ROWS, write_data
from rcstudio.errors import UserError
from rcstudio.serve.ground_truth import PromptIndex, load_table, prompt_sha


@pytest.fixture
def tok(tiny_tokenizer_dir):
    from rcstudio.serve.tokenizer import load_tokenizer

    return load_tokenizer(str(tiny_tokenizer_dir))


def test_longest_known_prompt_wins_among_shared_prefixes(tmp_path, tok):
    base = PROMPTS["item-1"]
    prompts = {f"p{i}": base + "x" * i for i in range(0, 40, 3)}  # each is a prefix of the next ones
    rows = {k: {"preference": 1, "human_checklist": []} for k in prompts}
    write_data(tmp_path, prompts, rows)
    table, texts = load_table(tmp_path)
    index = PromptIndex(table, texts, tok, tok.special_ids)
    assert len(index) == len(prompts)
    for key, text in prompts.items():
        ids = np.asarray(tok.encode(text) + tok.encode(" then the judgment"), dtype=np.int64)
        row, n = index.lookup_tokens(ids)
        assert row.id == key and n == len(tok.encode(text))
        assert tok.decode(ids[:n].tolist()) == prompts[row.id]


def test_unknown_and_truncated_prompts_are_not_found(data_dir, tok):
    table, texts = load_table(data_dir)
    index = PromptIndex(table, texts, tok, tok.special_ids)
    ids = np.asarray(tok.encode(PROMPTS["item-1"]), dtype=np.int64)
    assert index.lookup_tokens(ids[:-2]) is None
    assert index.lookup_tokens(np.asarray(tok.encode("something else"), dtype=np.int64)) is None
    assert index.lookup_tokens(np.zeros(0, dtype=np.int64)) is None


def test_text_fallback_when_tokens_merge_across_the_boundary(data_dir, tok):
    table, texts = load_table(data_dir)
    index = PromptIndex(table, texts, tok, tok.special_ids)
    joint = PROMPTS["item-3"] + "A>>B"  # tokenized together: boundary tokens may differ
    row, n = index.lookup_text(joint)
    assert row.id == "item-3" and joint[n:] == "A>>B"
    assert index.lookup_text("nothing known") is None


def test_table_errors_point_at_the_line(tmp_path):
    with pytest.raises(UserError, match="no ground-truth table"):
        load_table(tmp_path)
    (tmp_path / "ground_truth.jsonl").write_text(json.dumps({"prompt_sha": "x", "id": "a"}) + "\n{oops\n")
    with pytest.raises(UserError) as err:
        load_table(tmp_path)
    assert err.value.location.line == 2


def test_rows_keep_label_swap_and_checklist(data_dir):
    table, texts = load_table(data_dir)
    row = table[prompt_sha(PROMPTS["item-2"])]
    assert row.preference == ROWS["item-2"]["preference"] and row.swapped is True
    assert row.human_checklist == tuple(ROWS["item-2"]["human_checklist"])
    assert sorted(texts) == sorted(PROMPTS.values())
