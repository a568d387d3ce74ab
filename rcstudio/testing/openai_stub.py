"""An OpenAI-compatible chat server on loopback, for tests and benchmarks (real HTTP, real wire format).

It stands in for a remote LLM endpoint (vLLM, SGLang, OpenAI) that cannot run here. Usage::

    from rcstudio.testing.openai_stub import OpenAIStub

    def responder(messages, model):          # -> the assistant's reply text
        return "<RESULT_START>1. ...\\n\\boxed{A>B}<RESULT_END>"

    with OpenAIStub(responder, latency_s=0.2) as stub:
        client = AsyncOpenAI(base_url=stub.base_url, api_key="EMPTY")   # or LLMConfig(base_url=stub.base_url)
        ...
        stub.fail_next("429", retry_after=0.1)   # scripted failures, consumed in order by the next requests
        stub.fail_next("500", times=2)
        stub.fail_next("malformed")              # HTTP 200 with a body that is not JSON
        stub.fail_next("hang")                   # never answers (until stop) -> client timeout
        assert stub.calls == 3                   # chat-completion requests received (failures included)

Endpoints: `POST /v1/chat/completions` (non-streaming) and `GET /v1/models`.
`responder` may also be a plain string (always that reply) or None (echo of the last user message).
It runs on the server's event loop thread: keep it quick; it may raise to produce a 500.
Latency is an `asyncio.sleep`, so many requests wait concurrently (64 in flight at 200 ms cost
~200 ms of wall time, not 64 x 200 ms). `parallel=N` makes a slow server instead: at most N requests
are worked on at once and the rest queue (a GPU server at its batch limit), so a client that sends
too much waits past its timeout. A request whose client went away is cancelled, as vLLM aborts it.
`stub.requests` keeps every request body (model, messages, params) in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

Responder = Callable[[list[dict], str], str]
FAILURE_KINDS = ("429", "500", "503", "400", "401", "malformed", "hang", "empty")


class OpenAIStub:
    """A real aiohttp server on 127.0.0.1 (random port) in a background thread; a context manager."""

    def __init__(
        self,
        responder: Responder | str | None = None,
        latency_s: float = 0.0,
        models: tuple[str, ...] = ("stub-model",),
        hang_s: float = 3600.0,
        parallel: int = 0,
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.parallel = parallel  # 0 = no limit; N = at most N requests worked on at once
        self._slots: asyncio.Semaphore | None = None
        self.models = models
        self.hang_s = hang_s
        self.calls = 0
        self.failures_served = 0
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []  # Authorization header of each request (tests check keys)
        self.max_in_flight = 0
        self._in_flight = 0
        self._failures: deque[tuple[str, float | None]] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self.port: int | None = None

    # ---- public API ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What to pass as an OpenAI client's `base_url` (ends in /v1)."""
        if self.port is None:
            raise RuntimeError("the stub is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, kind: str, times: int = 1, retry_after: float | None = None) -> None:
        """Queue `times` failures of `kind` for the next requests: 429 (with Retry-After when given),
        500/503, 400/401 (not retryable), malformed (200 + broken JSON), hang (no answer until
        stop), empty (200 without choices)."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {FAILURE_KINDS}")
        with self._lock:
            for _ in range(times):
                self._failures.append((kind, retry_after))

    def reset_counters(self) -> None:
        with self._lock:
            self.calls = 0
            self.failures_served = 0
            self.max_in_flight = 0
            self.requests.clear()
            self.authorizations.clear()

    def start(self) -> OpenAIStub:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._start_server())
            except BaseException as exc:  # pragma: no cover - port/bind problems
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="openai-stub", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._stop_server(), self._loop)
        try:
            fut.result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop = None
            self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- server ----------------------------------------------------------------------------------
    async def _start_server(self) -> None:
        self._closing = asyncio.Event()
        self._slots = asyncio.Semaphore(self.parallel) if self.parallel > 0 else None
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stub/stats", self._stats)  # not OpenAI: lets a benchmark count requests
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                                     handler_cancellation=True)  # a gone client's request stops
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop_server(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "rcstudio-stub"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response({"calls": self.calls, "max_in_flight": self.max_in_flight})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except Exception:
            return _error(400, "request body is not JSON", "invalid_request_error")
        with self._lock:
            self.calls += 1
            self.requests.append(body)
            self.authorizations.append(request.headers.get("Authorization", ""))
            failure = self._failures.popleft() if self._failures else None
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self._slots is not None:
                async with self._slots:  # a busy server: queue for a slot, then work latency_s on it
                    if self.latency_s > 0:
                        await asyncio.sleep(self.latency_s)
            elif self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            if failure is not None:
                with self._lock:
                    self.failures_served += 1
                return await self._fail(*failure)
            messages = body.get("messages") or []
            model = body.get("model", "")
            try:
                text = self._reply(messages, model)
            except Exception as exc:  # the responder's own failure becomes a server error
                return _error(500, f"responder failed: {exc}", "server_error")
            return web.json_response(_completion(next(self._ids), model, text, messages))
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply(self, messages: list[dict], model: str) -> str:
        if callable(self.responder):
            return str(self.responder(messages, model))
        if isinstance(self.responder, str):
            return self.responder
        users = [m for m in messages if m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""

    async def _fail(self, kind: str, retry_after: float | None) -> web.StreamResponse:
        if kind == "429":
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return _error(429, "rate limited (scripted)", "rate_limit_exceeded", headers)
        if kind in ("500", "503"):
            return _error(int(kind), "server error (scripted)", "server_error")
        if kind in ("400", "401"):
            return _error(int(kind), "refused (scripted)", "invalid_request_error")
        if kind == "malformed":
            return web.Response(status=200, text='{"id": "x", "choices": [', content_type="application/json")
        if kind == "empty":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        # hang: answer only when the server shuts down (or after hang_s)
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), self.hang_s)
        except asyncio.TimeoutError:
            pass
        return _error(504, "hung (scripted)", "timeout")


def _error(status: int, message: str, code: str, headers: dict | None = None) -> web.Response:
    payload = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return web.json_response(payload, status=status, headers=headers)


def _completion(n: int, model: str, text: str, messages: list[dict]) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    completion_tokens = len(text.split())
    return {
        "id": f"chatcmpl-stub-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def matrix_responder(messages: list[dict], model: str) -> str:
    """Answers rcstudio's matching prompt (`n = N`, `k = K` in its text) with a JSON n x k matrix:
    1 on the diagonal, 0 elsewhere. For benchmarks and tests of the LLM matcher."""
    text = str(messages[-1].get("content", "")) if messages else ""
    n_match = re.search(r"\(n = (\d+)\)", text)
    k_match = re.search(r"\(k = (\d+)\)", text)
    n = int(n_match.group(1)) if n_match else 1
    k = int(k_match.group(1)) if k_match else 1
    return json.dumps({"scores": [[1 if i == j else 0 for j in range(k)] for i in range(n)]})


RESPONDERS: dict[str, Responder | None] = {"echo": None, "matrix": matrix_responder}


def main(argv: list[str] | None = None) -> None:
    """Serve a stub in this process until killed: prints its base URL on the first stdout line."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="python -m rcstudio.testing.openai_stub", description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--parallel", type=int, default=0, help="requests worked on at once (0 = no limit)")
    parser.add_argument("--responder", choices=sorted(RESPONDERS), default="echo")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with OpenAIStub(RESPONDERS[args.responder], latency_s=args.latency, parallel=args.parallel) as stub:
        print(stub.base_url, flush=True)
        stop.wait()
        print(f"served {stub.calls} requests", file=sys.stderr)


if __name__ == "__main__":
    main()
