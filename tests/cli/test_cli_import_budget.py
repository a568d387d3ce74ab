"""What each command imports, checked in a fresh interpreter (`python -X importtime`): the light
commands load no heavy library, and `rcstudio score --matcher llm` loads neither the openai SDK
(its default transport is bare aiohttp) nor the whole of scipy.optimize. No timing is asserted:
the benchmark `benchmarks/bench_cli_start.py` measures the seconds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "scipy", "torch", "transformers", "sentence_transformers", "wandb", "textual", "plotext",
         "matplotlib", "openai", "aiohttp", "httpx", "submitit", "hydra", "omegaconf")  # fmt: skip


def imported(*args: str, code: str | None = None, ok: tuple[int, ...] = (0,)) -> set[str]:
    """Modules a fresh `python -X importtime` process imported (top-level names and full names)."""
    argv = [sys.executable, "-X", "importtime", *(["-c", code] if code else ["-m", "rcstudio", *args])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode in ok, done.stderr[-3000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name)
            names.add(name.split(".")[0])
    assert names, done.stderr[-2000:]
    return names


@pytest.mark.parametrize("args", [("--help",), ("ls", "--no-refresh"), ("ls",), ("status", "no-such-run"), ("score", "--help")])
def test_light_commands_import_no_heavy_library(args):
    names = imported(*args, ok=(2,) if args[0] == "status" else (0,))  # status of an unknown run: exit 2
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
    if args[0] in ("ls", "status"):
        assert "rcstudio.spec.models" not in names  # the registry needs no spec schema


def test_score_with_the_llm_matcher_imports_no_openai_and_no_scipy_optimize(tmp_path):
    data = tmp_path / "judged.jsonl"
    rows = [
        {"id": f"item-{i}", "domain": "general", "context": [{"role": "user", "content": "q"}], "response1": "a",
         "response2": "b", "overall_preference": -2, "human-checklist": ["Response 1 is right.", "Response 2 is wrong."],
         "j-checklist": ["A is right", "B is wrong"], "j-label": "A>B"}
        for i in range(6)
    ]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = (
        "import json, sys\n"
        "from rcstudio.testing.openai_stub import OpenAIStub, matrix_responder\n"
        "from rcstudio.cli import main\n"
        "with OpenAIStub(matrix_responder) as stub:\n"
        "    try:\n"
        f"        main(['score', '--data', {str(data)!r}, '--model', 'j', '--matcher', 'llm',\n"
        "              '--endpoint', stub.base_url, '--json', '--bootstrap', '50'])\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "    assert stub.calls == 6, stub.calls\n"
        "assert 'scipy.optimize._lsap' in sys.modules and 'scipy.optimize' not in sys.modules\n"
    )
    names = imported(code=code)
    assert "openai" not in names and "httpx" not in names
    assert "scipy.optimize" not in names  # the solver's extension is loaded alone (checked inside too)
    assert "numpy.ma" not in names  # np.quantile's import, avoided by the bootstrap


def test_a_cached_rerun_imports_no_http_library(tmp_path):
    """A rerun answered from the cache never opens a connection, so never imports aiohttp."""
    code = (
        "import asyncio, sys\n"
        "from rcstudio.clients.llm import LLMClient, LLMConfig, ResponseCache, cache_key\n"
        f"cache = ResponseCache({str(tmp_path / 'c.sqlite')!r})\n"
        "cfg = LLMConfig(base_url='http://127.0.0.1:9/v1', model='m')\n"
        "msgs = [{'role': 'user', 'content': 'q'}]\n"
        "cache.put(cache_key('m', msgs, cfg.params()), 'm', 'cached reply')\n"
        "client = LLMClient(cfg, cache=cache)\n"
        "out = asyncio.run(client.complete(msgs))\n"
        "assert out.cached and out.text == 'cached reply'\n"
    )
    names = imported(code=code)
    assert "aiohttp" not in names and "openai" not in names


def test_the_dashboards_first_paint_path_imports_no_numpy():
    """The TUI app and its first (partial) snapshot read the registry only: numpy, the W&B SDK and
    the spec models wait until a chart, a history or a submission needs them."""
    code = (
        "import sys\n"
        "from rcstudio.tui.app import RcStudioApp\n"
        "from rcstudio.tui.backend import Backend\n"
        "snap = Backend(poll=lambda: None).snapshot(limit=200, poll=False)\n"
        "assert snap.rows == []\n"
    )
    names = imported(code=code)
    assert not names & {"numpy", "wandb", "torch", "openai"}, sorted(names & {"numpy", "wandb", "torch", "openai"})
    assert "rcstudio.spec.models" not in names and "rcstudio.launch.submit" not in names


def test_help_formatting_loads_typer_rich_utils_only_when_help_is_shown():
    assert "typer.rich_utils" not in imported("ls")
    assert "typer.rich_utils" in imported("score", "--help")


def _run_entry(tmp_path, code: str) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "RCSTUDIO_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_quick_exit_keeps_exit_codes_output_and_atexit_handlers(tmp_path):
    """`rcstudio.cli.run` (the executable) skips the interpreter's teardown for light commands, but
    still runs atexit handlers, flushes buffered output and keeps the exit status."""
    ok = _run_entry(tmp_path, "import atexit, sys\n"
                    "atexit.register(lambda: print('atexit ran'))\n"
                    "sys.stdout.write('buffered ')\n"
                    "sys.argv = ['rcstudio', 'ls']\n"
                    "from rcstudio.cli import run\nrun()\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("buffered ") and "atexit ran" in ok.stdout
    bad = _run_entry(tmp_path, "import sys\nsys.argv = ['rcstudio', 'validate', 'no-such.toml']\n"
                     "from rcstudio.cli import run\nrun()\n")  # fmt: skip
    assert bad.returncode == 2 and "no such spec file" in bad.stderr


def test_quick_exit_waits_for_a_live_thread(tmp_path):
    """A non-daemon thread still running at the end takes Python's normal exit (which joins it)."""
    marker = tmp_path / "thread-finished"
    done = _run_entry(tmp_path, "import sys, threading, time\n"
                      f"def late():\n    time.sleep(0.5)\n    open({str(marker)!r}, 'w').write('x')\n"
                      "threading.Thread(target=late).start()\n"
                      "sys.argv = ['rcstudio', 'ls']\n"
                      "from rcstudio.cli import run\nrun()\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert marker.exists()
