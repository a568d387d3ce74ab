"""Helpers for the verl tests (a uniquely named module: tests/ has no __init__.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_verl(python: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                       os.environ.get("PYTHONPATH", "")])),
           "RAY_USAGE_STATS_ENABLED": "0", "TOKENIZERS_PARALLELISM": "false",
           # a loopback-only test Ray: no token (Ray would otherwise write one to ~/.ray/auth_token)
           "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run([python, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{args[:3]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc
