"""Fixtures for spec tests: write TOML files, run the CLI in-process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rcstudio.cli import main


@pytest.fixture
def write(tmp_path):
    """write(text, name="spec.toml") -> Path; text is dedented."""

    def _write(text: str, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit_code, stdout, stderr) running `rcstudio` in-process."""

    def _run(*argv: str):
        capsys.readouterr()
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    return _run
