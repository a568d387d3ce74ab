"""An eval job whose every matcher call fails is FAILED with the reason, and `submit --wait` prints
that reason (no traceback, no crash on the missing numbers); results stay on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rcstudio.launch.registry import Registry
from rcstudio.testing.openai_stub import OpenAIStub

SPEC = """
[experiment]
name = "allfail"
kind = "eval"

[data]
eval = ["pkg://rcstudio/data/quickstart/pairs.jsonl"]
max_items = 4

[eval]
benchmarks = ["hs3-atomic"]
stored_judges = ["evidence-judge"]
bootstrap = 0

[reward.matcher]
kind = "llm"
endpoint = "{url}"
model = "stub-model"
max_retries = 0

[cluster]
executor = "local"
gpus_per_node = 0
"""


def test_all_matcher_calls_failing_fails_the_job_with_its_reason(tmp_path):
    with OpenAIStub("unused") as stub:
        stub.fail_next("401", times=1000)
        spec = tmp_path / "allfail.toml"
        spec.write_text(SPEC.format(url=stub.base_url))
        proc = subprocess.run([sys.executable, "-m", "rcstudio", "submit", str(spec), "--wait"],
                              capture_output=True, text=True, env=os.environ, timeout=600)
        assert stub.calls >= 4
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "hs3-atomic judge evidence-judge: 0 of 4 items valid (none valid); matcher failed: 4" in proc.stderr
    (run,) = Registry().list_runs(experiment="allfail")
    assert run.state == "FAILED"
    summary = json.loads((Path(run.run_dir) / "results" / "summary.json").read_text())
    assert summary["benchmarks"]["hs3-atomic"]["evidence-judge"]["valid"] == 0 and summary["failed"]
