"""Fixtures of the rationale tests: a loopback OpenAI-compatible server and small data files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcstudio.testing.openai_stub import OpenAIStub, matrix_responder


@pytest.fixture
def stub():
    """A stub that answers rcstudio's matching prompt with a diagonal matrix."""
    with OpenAIStub(matrix_responder, models=("matcher",)) as server:
        yield server


def _pair(i: int, **kw) -> dict:
    rec = {
        "id": f"item-{i}",
        "domain": ["general", "stem", "code", "multilingual"][i % 4],
        "context": [{"role": "user", "content": f"What is {i} + {i}?"}],
        "response1": f"{2 * i}",
        "response2": f"{2 * i + 1}",
        "overall_preference": -2,
        "human-checklist": [f"Response 1 gives the correct sum {2 * i}.", f"Response 2 answers {2 * i + 1}, which is wrong."],
    }
    rec.update(kw)
    return rec


@pytest.fixture
def write_jsonl(tmp_path):
    def write(name: str, records: list, raw_lines: dict[int, str] | None = None) -> Path:
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        for idx, text in (raw_lines or {}).items():
            lines.insert(idx, text)
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_pair():
    """make_pair(i, **fields) -> a RationaleRM-style record (two human items, response1 better)."""
    return _pair
