"""Which judge backend a run uses: `judge.backend = "auto" | "transformers" | "vllm" | "endpoint"`.

`auto` picks, in order: the spec's endpoint when it names one; vLLM's offline engine (`vllm.LLM`,
in-process) when the `vllm` package imports and a CUDA device is visible; a `vllm serve` process
started by the eval job when only the `vllm` executable is on PATH (the older path, see
`evals/serve.py`); otherwise transformers `generate` in batches. `tiny://` test models and
`RCSTUDIO_JUDGE_SERVER=local` always run with transformers. The choice is recorded with the run's
results (`judge.backend` in each benchmark's `judge` block) and in its W&B config.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass

from rcstudio.errors import UserError

BACKENDS = ("auto", "transformers", "vllm", "endpoint")


@dataclass(frozen=True)
class Machine:
    """What this process can use (probed once by `probe`, given directly in tests)."""

    cuda: bool
    vllm_module: bool
    vllm_executable: bool
    force_local: bool = False


def probe() -> Machine:
    cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        cuda = bool(torch.cuda.is_available())
    return Machine(cuda=cuda, vllm_module=importlib.util.find_spec("vllm") is not None,
                   vllm_executable=shutil.which("vllm") is not None,
                   force_local=os.environ.get("RCSTUDIO_JUDGE_SERVER", "auto").lower() == "local")


def choose_backend(choice: str, endpoint: str, model: str, machine: Machine) -> str:
    """The backend to build: `endpoint`, `vllm`, `vllm-serve` or `transformers` (pure).

    An explicit choice the machine cannot honour is a UserError naming `judge.backend`.
    """
    from rcstudio.tiny_model import is_tiny

    if choice not in BACKENDS:
        raise UserError(f"unknown judge backend {choice!r}", key="judge.backend", hint="one of: " + ", ".join(BACKENDS))
    if choice == "endpoint":
        if not endpoint:
            raise UserError('judge.backend = "endpoint" needs judge.endpoint', key="judge.endpoint",
                            hint="set judge.endpoint to an OpenAI-compatible base URL, or use backend = \"auto\"")
        return "endpoint"
    if choice == "transformers":
        return "transformers"
    if choice == "vllm":
        if is_tiny(model):
            raise UserError("tiny:// test models run with transformers only", key="judge.backend",
                            hint='use backend = "auto" or "transformers"')
        if not (machine.vllm_module and machine.cuda):
            missing = "the vllm package" if not machine.vllm_module else "a CUDA device"
            raise UserError(f'judge.backend = "vllm" but this machine has no {missing}', key="judge.backend",
                            hint='install vllm on a GPU node, or use backend = "auto"')
        return "vllm"
    # auto
    if endpoint:
        return "endpoint"
    if is_tiny(model) or machine.force_local:
        return "transformers"
    if machine.vllm_module and machine.cuda:
        return "vllm"
    if machine.vllm_executable:
        return "vllm-serve"
    return "transformers"
