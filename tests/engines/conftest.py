"""Fixtures for engine tests: the shipped quickstart pairs and a primed tiny judge model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcstudio.paths import resolve_source

QUICKSTART = "pkg://rcstudio/data/quickstart/pairs.jsonl"


@pytest.fixture(scope="session")
def quickstart_pairs() -> Path:
    return Path(resolve_source(QUICKSTART))


@pytest.fixture(scope="session")
def embedding_matcher():
    from rcstudio.rationale.matchers import make_matcher

    return make_matcher({"kind": "embedding"})


@pytest.fixture(scope="session")
def prep_tokenizer_dir(tmp_path_factory, quickstart_pairs) -> Path:
    """A small real tokenizer (byte-level BPE on the sample's text): NeMo-Aligner's prep counts
    prompt tokens with the judge's tokenizer, and tests have no model hub."""
    from rcstudio.testing.tokenizer import bpe_tokenizer

    corpus = quickstart_pairs.read_text(encoding="utf-8").splitlines()
    fast = bpe_tokenizer(corpus, 400, ["<pad>", "<s>", "</s>"], additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    out = tmp_path_factory.mktemp("prep-tok")
    fast.save_pretrained(out)
    return out
