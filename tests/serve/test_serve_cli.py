"""`rcstudio serve-reward` as a process: a run dir in, rewards out over the Triton client, W&B
components in an offline run that the tracking reader reads back; SIGTERM ends it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton

from conftest import GOOD_1, GOOD_3, MALFORMED, PROMPTS, WRONG_1, make_batch, write_data
from rcstudio.spec import dump_resolved, load_spec

pytestmark = pytest.mark.slow


def make_run_dir(tmp_path: Path, tokenizer_dir: Path, extra: str = "") -> Path:
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f"""
[experiment]
name = "serve-test"
kind = "genrm-train"
[judge]
tokenizer = "{tokenizer_dir}"
top_k = 0
[data]
train = ["{tmp_path / 'train.jsonl'}"]
[reward]
form = "gated"
format_penalty = -0.5
[reward.matcher]
kind = "embedding"
[rl]
global_batch_size = 8
mini_batch_size = 8
rollouts_per_prompt = 1
[rl.nemo_aligner]
rollout_micro_batch_size = 1
[cluster]
gpus_per_node = 8
[tracking]
mode = "offline"
{extra}
""")
    spec = load_spec(spec_file)
    run_dir = tmp_path / "runs" / "serve-test" / "serve-test-0000abcd"
    write_data(run_dir / "data")
    (run_dir / "spec.resolved.toml").write_text(dump_resolved(spec))
    return run_dir


def start(run_dir: Path, tmp_path: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, dict]:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcstudio", "serve-reward", "--run-dir", str(run_dir), "--port", "0",
         "--ready-file", str(ready), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("server never became ready")
        time.sleep(0.2)
    return proc, json.loads(ready.read_text())


def test_serve_reward_end_to_end_with_embedding_matcher_and_wandb(tmp_path, tiny_tokenizer_dir):
    run_dir = make_run_dir(tmp_path, tiny_tokenizer_dir)
    proc, info = start(run_dir, tmp_path)
    try:
        client = triton.InferenceServerClient(f"127.0.0.1:{info['port']}", network_timeout=60)
        assert client.is_model_ready("reward_model")
        pairs = [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1), (PROMPTS["item-2"], MALFORMED),
                 ("not a prepared prompt", GOOD_1), (PROMPTS["item-3"], GOOD_3)]
        batch = make_batch(tiny_tokenizer_dir, pairs, pad_to=512)
        t = triton.InferInput("tokens", list(batch.tokens.shape), "INT64")
        t.set_data_from_numpy(batch.tokens)
        n = triton.InferInput("sequence_lengths", list(batch.lengths.shape), "INT64")
        n.set_data_from_numpy(batch.lengths)
        rewards = client.infer("reward_model", [t, n]).as_numpy("rewards").ravel()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    # MiniLM: near-verbatim reasons reach level 1.0 -> AP close to 1 for the right verdicts
    assert rewards[0] > 0.7 and rewards[4] > 0.7
    assert rewards[1] == 0.0 and rewards[2] == -0.5 and rewards[3] == -0.5

    from rcstudio.tracking.offline import find_wandb_files, read_run

    files = find_wandb_files(run_dir)
    assert len(files) == 1 and "serve-test-0000abcd-rm" in files[0].name
    run = read_run(files[0])
    history = {k: [v for _, v in run.raw_history(k)] for k in run.keys()}
    assert history["reward/total"] == [pytest.approx(float(np.mean(rewards)), abs=1e-6)]
    assert history["reward/format_error_rate"] == [pytest.approx(0.2)]
    assert history["reward/unknown_prompts"] == [1]
    for key in ("reward/outcome", "reward/ap", "reward/rc", "reward/rationale", "matcher/latency_ms"):
        assert key in history, key
    assert "step 0: 5 sequences" in out


def test_serve_reward_user_errors_exit_2(tmp_path, tiny_tokenizer_dir):
    run_dir = make_run_dir(tmp_path, tiny_tokenizer_dir)
    (run_dir / "data" / "ground_truth.jsonl").unlink()
    res = subprocess.run([sys.executable, "-m", "rcstudio", "serve-reward", "--run-dir", str(run_dir), "--port", "0"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "no ground-truth table" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "rcstudio", "serve-reward", "--run-dir", str(run_dir),
                          "--token-env", "RCSTUDIO_TEST_EMPTY_TOKEN"], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "RCSTUDIO_TEST_EMPTY_TOKEN"})
    assert res.returncode == 2 and "RCSTUDIO_TEST_EMPTY_TOKEN is empty" in res.stderr
