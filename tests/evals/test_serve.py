"""Serving the judge for an eval job: `vllm serve` on PATH is started, waited for, used and stopped.

vLLM cannot run here, so a stand-in `vllm` executable answers the same OpenAI-compatible routes on
the port it is given; the code path (argv, readiness poll, endpoint use, teardown) is the real one.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap

import pytest

from rcstudio.errors import JobFailed
from rcstudio.evals import serve
from rcstudio.evals.job import run_eval_job

FAKE_VLLM = textwrap.dedent('''\
    #!{python}
    import json, os, sys, time
    from aiohttp import web
    args = sys.argv[1:]
    assert args[0] == "serve"
    port = int(args[args.index("--port") + 1])
    model = args[args.index("--served-model-name") + 1]
    with open({calls!r}, "a") as fh:
        fh.write(json.dumps({{"args": args, "pid": os.getpid()}}) + "\\n")
    if "broken" in model:
        sys.exit(3)
    async def models(request):
        return web.json_response({{"object": "list", "data": [{{"id": model, "object": "model"}}]}})
    async def chat(request):
        body = await request.json()
        return web.json_response({{"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{{"index": 0, "finish_reason": "stop",
                          "message": {{"role": "assistant", "content": "\\\\boxed{{B>A}}"}}}}],
            "usage": {{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}}})
    time.sleep(0.5)  # a server that takes a moment to come up
    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None)
''')


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "vllm-calls.jsonl"
    exe = bindir / "vllm"
    exe.write_text(FAKE_VLLM.format(python=sys.executable, calls=str(calls)))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.delenv("RCSTUDIO_JUDGE_SERVER", raising=False)
    return calls


def test_vllm_argv_is_a_list():
    argv = serve.vllm_argv("Qwen/Qwen3-14B", 8123, tensor_parallel=4)
    assert argv[:3] == ["vllm", "serve", "Qwen/Qwen3-14B"]
    assert argv[argv.index("--port") + 1] == "8123" and argv[argv.index("--tensor-parallel-size") + 1] == "4"


def test_eval_job_serves_the_judge(tmp_path, shared_dir, eval_spec, fake_vllm):
    assert serve.use_vllm("my/judge")
    spec = eval_spec(judge={"model": "my/judge"}, cluster={"gpus_per_node": 2},
                     data={"eval": [str(shared_dir / "data" / "judgebench_gpt-4o-2024-05-13.jsonl")], "max_items": 5},
                     eval={"benchmarks": ["judgebench"]})
    run_dir = tmp_path / "evaltest-vllm"
    run_eval_job(run_dir, spec, progress=False)
    started = [json.loads(line) for line in fake_vllm.read_text().splitlines()]
    assert len(started) == 1
    args = started[0]["args"]
    assert args[1] == "my/judge" and args[args.index("--tensor-parallel-size") + 1] == "2"
    with pytest.raises(ProcessLookupError):  # stopped with the job
        os.kill(started[0]["pid"], 0)
    result = json.loads((run_dir / "results" / "judgebench.json").read_text())
    assert result["judge"]["endpoint"].startswith("http://127.0.0.1:") and result["judge"]["model"] == "my/judge"
    assert result["n"] == 5 and result["inconsistent"] == 100.0  # always B>A: position-biased
    assert (run_dir / "logs" / "judge-vllm.log").exists()


def test_server_that_dies_fails_the_job_with_its_log(tmp_path, fake_vllm):
    server = serve.JudgeServer(serve.vllm_argv("broken/model", serve.free_port()), 1, tmp_path / "v.log", 30)
    with pytest.raises(JobFailed, match="exited with code 3"):
        server.start()


def test_local_override(monkeypatch, fake_vllm):
    monkeypatch.setenv("RCSTUDIO_JUDGE_SERVER", "local")
    assert not serve.use_vllm("my/judge")
    monkeypatch.delenv("RCSTUDIO_JUDGE_SERVER")
    assert not serve.use_vllm("tiny://random?layers=2")
