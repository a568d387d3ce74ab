"""Serving the judge for an eval job when the spec names a model but no endpoint.

On a GPU node with vLLM installed, the job starts `vllm serve <judge.model>` on loopback, waits for
`/v1/models`, judges through it like any OpenAI-compatible endpoint, and stops it afterwards
(log: `logs/judge-vllm.log`). Without vLLM (or with `RCSTUDIO_JUDGE_SERVER=local`) the job runs the
model in-process with transformers instead (`runner.LocalHFBackend`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from rcstudio.errors import JobFailed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_vllm(model: str) -> bool:
    """Serve with vLLM: a `vllm` executable is on PATH, the model is not a tiny:// test model,
    and RCSTUDIO_JUDGE_SERVER does not say `local`."""
    from rcstudio.tiny_model import is_tiny

    choice = os.environ.get("RCSTUDIO_JUDGE_SERVER", "auto").lower()
    if choice == "local" or is_tiny(model):
        return False
    return shutil.which("vllm") is not None


def vllm_argv(model: str, port: int, tensor_parallel: int = 1, max_model_len: int = 0) -> list[str]:
    """`vllm serve` for the judge (an argv list: nothing goes through a shell)."""
    argv = ["vllm", "serve", model, "--host", "127.0.0.1", "--port", str(port), "--served-model-name", model,
            "--tensor-parallel-size", str(max(1, tensor_parallel))]
    if max_model_len:
        argv += ["--max-model-len", str(max_model_len)]
    return argv


class JudgeServer:
    """A server process started from `argv`, ready once `GET {base_url}/models` answers 200."""

    def __init__(self, argv: Sequence[str], port: int, log_path: Path, ready_timeout_s: float = 1800.0) -> None:
        self.argv = list(argv)
        self.port = port
        self.log_path = Path(log_path)
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""

    def start(self) -> JudgeServer:
        import httpx

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise JobFailed(f"judge server exited with code {code} before it was ready "
                                f"(log {self.log_path}):\n{self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise JobFailed(f"judge server not ready after {self.ready_timeout_s:.0f} s (log {self.log_path}):\n{self._tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> JudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
