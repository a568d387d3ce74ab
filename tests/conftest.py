"""Fixtures every test area shares: a fresh RCSTUDIO_HOME per test, the ../shared reference folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcstudio import paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def rcstudio_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "rcstudio-home"
    monkeypatch.setenv("RCSTUDIO_HOME", str(home))
    monkeypatch.delenv("RCSTUDIO_RUNS", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = paths.shared_dir()
    if found is None:
        pytest.skip("../shared (reference data) is absent: these tests read it in place")
    return found


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO

