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
