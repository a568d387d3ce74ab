"""judge.backend selection, the vLLM offline request construction, and progress lines."""

from __future__ import annotations

import io

import pytest

from rcstudio.errors import UserError
from rcstudio.evals.backend_choice import Machine, choose_backend
from rcstudio.evals.local_generate import GenerationSettings
from rcstudio.evals.progress import Progress, format_eta, format_line

GPU_VLLM = Machine(cuda=True, vllm_module=True, vllm_executable=True)
CPU_ONLY = Machine(cuda=False, vllm_module=False, vllm_executable=False)


def test_auto_picks_by_machine_and_spec():
    assert choose_backend("auto", "http://x/v1", "m", GPU_VLLM) == "endpoint"
    assert choose_backend("auto", "", "org/m", GPU_VLLM) == "vllm"
    assert choose_backend("auto", "", "org/m", CPU_ONLY) == "transformers"
    # vllm installed but no GPU: the offline engine is not used; a vllm executable alone -> the served path
    assert choose_backend("auto", "", "org/m", Machine(False, True, False)) == "transformers"
    assert choose_backend("auto", "", "org/m", Machine(False, False, True)) == "vllm-serve"
    assert choose_backend("auto", "", "tiny://random?layers=1", GPU_VLLM) == "transformers"
    assert choose_backend("auto", "", "org/m", Machine(True, True, True, force_local=True)) == "transformers"
    assert choose_backend("transformers", "http://x/v1", "org/m", GPU_VLLM) == "transformers"


def test_explicit_choices_the_machine_cannot_honour_are_user_errors():
    with pytest.raises(UserError) as e:
        choose_backend("vllm", "", "org/m", CPU_ONLY)
    assert e.value.location.key == "judge.backend" and "vllm package" in str(e.value)
    with pytest.raises(UserError) as e:
        choose_backend("vllm", "", "org/m", Machine(False, True, True))
    assert "CUDA" in str(e.value)
    with pytest.raises(UserError) as e:
        choose_backend("endpoint", "", "org/m", GPU_VLLM)
    assert e.value.location.key == "judge.endpoint"
    with pytest.raises(UserError):
        choose_backend("fast", "", "org/m", GPU_VLLM)


def test_spec_key_and_make_backend(eval_spec):
    from rcstudio.evals.runner import EndpointBackend, LocalHFBackend, make_backend
    from rcstudio.evals.vllm_backend import VLLMBackend

    spec = eval_spec(judge={"model": "org/judge", "backend": "auto", "stop": ["</verdict>"], "max_batch_size": 4,
                            "memory_budget_gb": 0.5, "max_tokens": 64})
    local = make_backend(spec.judge, machine=CPU_ONLY)
    assert isinstance(local, LocalHFBackend) and local.name == "transformers"
    assert local.settings.stop == ("</verdict>",) and local.settings.max_batch_size == 4
    assert local.settings.memory_budget_bytes == 512 << 20
    offline = make_backend(spec.judge, machine=GPU_VLLM, tensor_parallel=2)  # built, not loaded: vllm is not here
    assert isinstance(offline, VLLMBackend)
    assert offline.describe()["backend"] == "vllm" and offline.describe()["tensor_parallel"] == 2
    ep = spec.judge.model_copy(update={"endpoint": "http://127.0.0.1:9/v1"})
    assert isinstance(make_backend(ep, machine=GPU_VLLM), EndpointBackend)
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        eval_spec(judge={"backend": "tensorrt"})


def test_vllm_requests_from_the_shared_token_counter(tmp_path):
    from transformers import AutoTokenizer

    from rcstudio.tiny_model import build_tiny_model
    from rcstudio.tokens import prompt_ids
    from rcstudio.evals.vllm_backend import (
        engine_kwargs,
        sampling_kwargs,
        token_prompts,
    )

    model_dir = build_tiny_model("tiny://random?layers=1&hidden=32&vocab=280", ["judge the responses " * 5],
                                 tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(model_dir)
    msgs = [[{"role": "user", "content": "judge the responses " * 20}], [{"role": "user", "content": "judge"}]]
    prompts = token_prompts(tok, msgs, context=40, max_new_tokens=8)
    full = prompt_ids(tok, msgs[0])
    assert prompts[0] == {"prompt_token_ids": full[-32:]} and len(full) > 32  # the end kept, room for 8 new
    assert prompts[1] == {"prompt_token_ids": prompt_ids(tok, msgs[1])}
    kw = sampling_kwargs(GenerationSettings(max_new_tokens=99, temperature=0.0, seed=7, stop=("</s>",)))
    assert kw == {"n": 1, "max_tokens": 99, "temperature": 0.0, "seed": 7, "stop": ["</s>"]}
    assert "stop" not in sampling_kwargs(GenerationSettings())
    assert engine_kwargs("org/m", "", 0, 3) == {"model": "org/m", "tokenizer": "org/m", "tensor_parallel_size": 1,
                                                "seed": 3}


def test_progress_lines_in_the_job_log(tmp_path):
    assert format_line("x", 12, 60, 40.0) == "progress x: 12/60 (20%), 0.30 gen/s, ETA 2m40s"
    assert format_line("x", 0, 60, 5.0).endswith("0.00 gen/s, ETA ?")
    assert format_line("x", 60, 60, 10.0, fresh=20).endswith("(100%), 2.00 gen/s, ETA 0s")
    assert format_eta(3725) == "1h02m"
    now = [100.0]
    out = io.StringIO()
    log = tmp_path / "logs" / "run-job.log"
    p = Progress("judgebench: judging", 10, log_path=log, already=2, interval_s=5.0, bar=False, stream=out,
                 clock=lambda: now[0])
    p.start()
    for _ in range(8):
        now[0] += 2.0
        p.advance()
    p.close()
    lines = log.read_text().splitlines()
    assert lines[0].endswith("INFO progress judgebench: judging: started, 8 to do (2 resumed)")
    # every 5 s of clock (at 6 s, 12 s) and at the end; the rate counts only this process's items
    assert [ln.split("INFO ")[1] for ln in lines[1:]] == [
        "progress judgebench: judging: 5/10 (50%), 0.50 gen/s, ETA 10s",
        "progress judgebench: judging: 8/10 (80%), 0.50 gen/s, ETA 4s",
        "progress judgebench: judging: 10/10 (100%), 0.50 gen/s, ETA 0s",
    ]
    assert out.getvalue().splitlines() == [ln.split("INFO ")[1] for ln in lines]
