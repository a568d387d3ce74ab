"""NeMo-Aligner v0.7.0's reward-client call sequence against `rcstudio serve-reward` (a real process).

v0.7.0 (`servers/http_communicator.py`, `models/nlp/gpt/reward_critic_clients.py`) calls pytriton
0.5.10's `FuturesModelClient(url, "reward_model").infer_batch(tokens=INT64[B, L] right-padded with
0 to remote_rm.pad_to_length, sequence_lengths=INT64[B, 1])` and reads `rewards` FP32 [B, 1].
pytriton 0.5.10 is not installed here: it would downgrade numpy (2.x -> 1.26.4) and protobuf
(7 -> 6). Its ModelClient is a tritonclient.http client, so this test drives tritonclient with the
same sequence pytriton runs (server live/ready, model ready, model config, then one infer with both
inputs binary and `rewards` requested) and the same request shapes. The per-job token is added the
way the compiled job adds it: `actor_auth.install`, a tritonclient client plugin.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import GOOD_1, GOOD_3, MALFORMED, PROMPTS, WRONG_1, make_batch
from rcstudio.engines.nemo_aligner import actor_auth
from rcstudio.serve.scorer import Scored
from rcstudio.serve.step_log import StepLogger
from test_serve_cli import make_run_dir, start

TOKEN = "job-token-0123456789abcdef"
PAD_TO = 512  # remote_rm.pad_to_length = model.encoder_seq_length


def v070_infer(url: str, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """pytriton ModelClient's sequence, on tritonclient.http (what it wraps)."""
    client = triton.InferenceServerClient(url, connection_timeout=60, network_timeout=600)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("reward_model")
        config = client.get_model_config("reward_model")
        assert [i["name"] for i in config["input"]][:2] == ["tokens", "sequence_lengths"]
        inputs = []
        for name, array in (("tokens", tokens), ("sequence_lengths", lengths)):
            assert array.dtype == np.int64
            inp = triton.InferInput(name, list(array.shape), "INT64")
            inp.set_data_from_numpy(array, binary_data=True)
            inputs.append(inp)
        outputs = [triton.InferRequestedOutput(o["name"], binary_data=True) for o in config["output"]]
        return client.infer("reward_model", inputs, outputs=outputs).as_numpy("rewards")
    finally:
        client.close()


def refused(url: str, tokens: np.ndarray, lengths: np.ndarray) -> bool:
    """pytriton would wait for readiness (and time out); the infer itself is answered 401."""
    client = triton.InferenceServerClient(url, connection_timeout=60, network_timeout=60)
    try:
        assert client.is_server_live()  # liveness is open: a launcher can tell starting from dead
        assert not client.is_server_ready() and not client.is_model_ready("reward_model")
        inputs = []
        for name, array in (("tokens", tokens), ("sequence_lengths", lengths)):
            inp = triton.InferInput(name, list(array.shape), "INT64")
            inp.set_data_from_numpy(array, binary_data=True)
            inputs.append(inp)
        with pytest.raises(InferenceServerException, match="token"):
            client.infer("reward_model", inputs)
        return True
    finally:
        client.close()


@pytest.mark.slow
def test_v070_client_sequence_with_the_job_token(tmp_path, tiny_tokenizer_dir):
    run_dir = make_run_dir(tmp_path, tiny_tokenizer_dir)
    proc, info = start(run_dir, tmp_path, "--token-env", "RCSTUDIO_REWARD_TOKEN",
                       env={"RCSTUDIO_REWARD_TOKEN": TOKEN})
    url = f"127.0.0.1:{info['port']}"
    truncated = GOOD_3[: len(GOOD_3) // 2]  # generation hit max_length: no verdict, no RESULT_END
    pairs = [(PROMPTS["item-1"], GOOD_1), (PROMPTS["item-1"], WRONG_1), (PROMPTS["item-2"], MALFORMED),
             (PROMPTS["item-3"], truncated), ("a prompt the job never prepared", GOOD_1), (PROMPTS["item-3"], GOOD_3)]
    batch = make_batch(tiny_tokenizer_dir, pairs, pad_to=PAD_TO)
    assert batch.tokens.shape == (6, PAD_TO) and batch.lengths.shape == (6, 1)
    assert (batch.tokens[0, batch.lengths[0, 0]:] == 0).all()  # right-padded with 0
    try:
        # without the token (or with a wrong one) the server refuses
        assert refused(url, batch.tokens, batch.lengths)
        actor_auth.install("wrong-token")
        try:
            assert refused(url, batch.tokens, batch.lengths)
        finally:
            actor_auth.uninstall()
        actor_auth.install(TOKEN)
        try:
            rewards = v070_infer(url, batch.tokens, batch.lengths)
        finally:
            actor_auth.uninstall()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert TOKEN not in out
    assert rewards.dtype == np.float32 and rewards.shape == (6, 1)
    r = rewards.ravel()
    assert r[0] > 0.7 and r[5] > 0.7  # right verdicts, reasons matching the human points
    assert r[1] == 0.0  # wrong verdict: gated reward 0
    assert r[2] == -0.5 and r[3] == -0.5 and r[4] == -0.5  # malformed, truncated, unknown prompt: penalty


class _Recorder:
    def __init__(self) -> None:
        self.logged: list[tuple[int, dict]] = []

    def log(self, data, step=None):
        self.logged.append((step, dict(data)))

    def finish(self):
        pass


def test_validation_rollouts_share_the_actors_step_axis():
    """v0.7.0 `fit`: train step k logs at step k, then self.step += 1 and validation logs at k + 1."""
    run = _Recorder()
    logger = StepLogger(run, sequences_per_step=4, idle_flush_s=0)
    ok = Scored(1.0, "ok", None, "i")
    logger.add([ok] * 4)  # training step 0
    logger.add([ok] * 3, validation=[True] * 3)  # validation after step 0 ...
    logger.flush_validation()
    logger.add([ok] * 2 + [ok] * 2, validation=[False, True, False, True])  # mixed requests
    logger.add([ok] * 2)
    logger.flush()
    steps = [(s, sorted(k for k in d if k.endswith("/sequences"))) for s, d in run.logged]
    assert steps == [(0, ["reward/sequences"]), (1, ["val_reward/sequences"]), (1, ["reward/sequences"]),
                     (2, ["val_reward/sequences"])]
    assert [d.get("reward/sequences", d.get("val_reward/sequences")) for _, d in run.logged] == [4, 3, 4, 2]


def test_actor_auth_launcher_runs_the_script_with_the_token_plugin(tmp_path):
    """compiled/actor_auth.py SCRIPT ARGS: the script runs as __main__ with its own argv, and every
    tritonclient HTTP client it creates carries the env token (never printed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "train.py"
    script.write_text(
        "import sys\n"
        "import tritonclient.http as http\n"
        "from tritonclient._request import Request\n"
        "c = http.InferenceServerClient('127.0.0.1:1')\n"
        "r = Request(None)\n"
        "c._call_plugin(r)\n"
        "print(__name__, sys.argv[0].endswith('train.py'), sys.argv[1:], repr(c._plugin))\n"
        "print('header-ok' if r.headers['Authorization'] == 'Bearer ' + __import__('os').environ['RCSTUDIO_REWARD_TOKEN'] else 'bad')\n")
    launcher = Path(actor_auth.__file__)
    env = {**os.environ, "RCSTUDIO_REWARD_TOKEN": TOKEN}
    proc = subprocess.run([sys.executable, str(launcher), str(script), "model.x=1", "++a.b=2"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first == "__main__ True ['model.x=1', '++a.b=2'] BearerToken(***)"
    assert second == "header-ok" and TOKEN not in proc.stdout + proc.stderr
