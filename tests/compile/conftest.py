"""Fixtures for compiler tests: spec files, Hydra composition against the shared NeMo-Aligner conf."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rcstudio.compile import compile_run
from rcstudio.spec import expand, load_spec

CONF_SUBPATH = "reference/nemo-aligner-v0.7.0-conf"


@pytest.fixture(scope="session")
def nemo_conf(shared_dir) -> Path:
    conf = shared_dir / CONF_SUBPATH
    if not (conf / "gpt_reinforce_actor.yaml").is_file():
        pytest.skip(f"{conf} has no gpt_reinforce_actor.yaml")
    return conf


@pytest.fixture
def compile_spec(tmp_path):
    """compile_spec(text, overrides=(), out=None) -> list[CompiledRun] (one per run)."""

    def _compile(text: str, overrides=(), out: Path | None = None):
        spec_file = tmp_path / "spec.toml"
        spec_file.write_text(textwrap.dedent(text).lstrip("\n"))
        out = out or tmp_path / "runs"
        return [compile_run(run, out / run.run_id) for run in expand(load_spec(spec_file, overrides))]

    return _compile


@pytest.fixture(scope="session")
def prep_tokenizer_dir(tmp_path_factory) -> Path:
    """A small real tokenizer (byte-level BPE) saved as a transformers tokenizer: prep counts
    prompt tokens with the judge's tokenizer, and tests have no model hub."""
    from rcstudio.testing.tokenizer import bpe_tokenizer

    corpus = [f"Question {i}? first answer {i} second answer {i} Response 1 states fact {i}." for i in range(50)]
    fast = bpe_tokenizer(corpus, 300, ["<pad>", "<s>", "</s>"],
                         additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    out = tmp_path_factory.mktemp("prep-tok")
    fast.save_pretrained(out)
    return out
