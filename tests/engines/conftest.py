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
