"""A KServe v2 HTTP server (aiohttp) for one model, the contract NeMo-Aligner's remote RM client uses.

Endpoints: `GET /v2/health/live` (the process answers), `GET /v2/health/ready` and
`GET /v2/models/<name>/ready` (200 only once the backend is loaded), `GET /v2`, `GET
/v2/models/<name>` (metadata), `GET /v2/models/<name>/config` (Triton model config JSON that
pytriton's client reads), `POST /v2/models/<name>/infer` (JSON or binary tensors). The server
listens before the backend has loaded, so a launcher can tell "starting" from "dead".

Optional shared token: when set, every request except liveness must carry it in
`Authorization: Bearer <token>` or `X-RCStudio-Token`. The token value is never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

import numpy as np
from aiohttp import web

from rcstudio.serve.protocol import HEADER_LENGTH, ProtocolError, decode_request, encode_response

log = logging.getLogger("rcstudio.serve")


class Backend(Protocol):
    """What the server serves: a named model with a Triton config and an async infer."""

    name: str

    def model_config(self) -> dict[str, Any]: ...

    def validate(self, inputs: dict[str, np.ndarray]) -> None:
        """Raise ProtocolError for inputs the model cannot take (answered with 400)."""

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 5555
    token: str | None = None  # the value (read from the env var the user names), never logged
    request_timeout_s: float = 600.0  # one infer call, matcher included
    # Largest accepted body; `body_limit()` derives it from the batch shape of a run.
    max_body_bytes: int = 64 << 20
    # A connection must deliver a request's headers this long after it opens or after its last
    # answer (aiohttp's keep-alive timer), and a body this long after its headers; half-sent
    # requests are dropped instead of held forever.
    header_timeout_s: float = 60.0
    body_timeout_s: float = 60.0


def body_limit(rows: int, width: int) -> int:
    """Bytes a well-formed infer request for `rows` sequences of `width` tokens can need.

    NeMo-Aligner pads every rollout micro-batch to the full sequence length and may send
    `sentences` too; JSON tensors cost up to ~21 bytes per INT64 (digits, sign, comma), binary 8.
    Twice the JSON size of the tokens, plus 4 KiB per row for lengths and text, plus 1 MiB.
    """
    return max(1, rows) * (max(1, width) * 21 * 2 + 4096) + (1 << 20)


def _token_ok(given: str, token: str) -> bool:
    """Constant-time compare that cannot raise (header values may hold any bytes)."""
    try:
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))
    except (UnicodeError, TypeError):
        return False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class KServeApp:
    """Holds the backend once loaded; builds the aiohttp application."""

    def __init__(self, name: str, settings: ServerSettings) -> None:
        self.name = name
        self.settings = settings
        self.backend: Backend | None = None
        self.requests = 0
        self.failures = 0

    # -- helpers ---------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        token = self.settings.token
        if not token:
            return True
        given = request.headers.get("X-RCStudio-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            given = given or auth[7:].strip()
        return _token_ok(given, token)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        """Authentication before anything else; every error answered as JSON naming the problem."""
        if request.path != "/v2/health/live" and not self._authorized(request):
            return _error(401, "missing or wrong token")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            text = exc.text or ""
            if text.startswith("{"):
                return web.Response(status=exc.status, text=text, content_type="application/json")
            return _error(exc.status, text.removeprefix(f"{exc.status}: ") or exc.reason)

    def _model(self, request: web.Request) -> Backend:
        if request.match_info.get("model") != self.name:
            raise web.HTTPNotFound(text=f'{{"error": "unknown model {request.match_info.get("model")}"}}',
                                   content_type="application/json")
        if self.backend is None:
            raise web.HTTPServiceUnavailable(text='{"error": "model is loading"}', content_type="application/json")
        return self.backend

    # -- handlers --------------------------------------------------------------------------------
    async def live(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def ready(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.backend is not None else 503)

    async def model_ready(self, request: web.Request) -> web.Response:
        self._model(request)
        return web.Response(status=200)

    async def server_metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "rcstudio-reward-server", "version": "2", "extensions": ["binary_tensor_data"]})

    async def model_metadata(self, request: web.Request) -> web.Response:
        cfg = self._model(request).model_config()

        def _io(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            batch = [-1] if cfg.get("max_batch_size", 0) > 0 else []
            return [{"name": i["name"], "datatype": i["data_type"].removeprefix("TYPE_").replace("STRING", "BYTES"),
                     "shape": batch + list(i["dims"])} for i in items]

        return web.json_response({"name": self.name, "versions": ["1"], "platform": cfg.get("platform", ""),
                                  "inputs": _io(cfg["input"]), "outputs": _io(cfg["output"])})

    async def model_config(self, request: web.Request) -> web.Response:
        return web.json_response(self._model(request).model_config())

    async def infer(self, request: web.Request) -> web.Response:
        backend = self._model(request)
        self.requests += 1
        started = time.perf_counter()
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            self.failures += 1
            return _error(413, f"body of {request.content_length} bytes is over the limit of {limit} "
                               "(derived from the run's batch size and sequence length)")
        try:
            body = await asyncio.wait_for(request.read(), timeout=self.settings.body_timeout_s)
        except asyncio.TimeoutError:
            self.failures += 1
            response = _error(408, f"request body not received within {self.settings.body_timeout_s:g} s")
            response.force_close()  # answer, then drop the connection (its body never came)
            return response
        try:
            raw_len = request.headers.get(HEADER_LENGTH)
            header_length = None
            if raw_len is not None:
                if not raw_len.strip().isdigit() or len(raw_len) > 12:
                    raise ProtocolError(f"{HEADER_LENGTH} must be a byte count")
                header_length = int(raw_len)
            decoded = decode_request(body, header_length)
            backend.validate(decoded.inputs)
            outputs = await asyncio.wait_for(backend.infer(decoded.inputs), timeout=self.settings.request_timeout_s)
            payload, head_len = encode_response(self.name, outputs, decoded)
        except (ProtocolError, ValueError) as exc:
            self.failures += 1
            return web.json_response({"error": str(exc)}, status=400)
        except asyncio.TimeoutError:
            self.failures += 1
            log.error("infer timed out after %.0f s", self.settings.request_timeout_s)
            return web.json_response({"error": "inference timed out"}, status=504)
        except Exception as exc:  # a bug must answer the actor, not hang it
            self.failures += 1
            log.exception("infer failed")
            return web.json_response({"error": f"internal error: {type(exc).__name__}: {exc}"}, status=500)
        log.debug("infer %.1f ms", (time.perf_counter() - started) * 1e3)
        if head_len is None:
            return web.Response(body=payload, content_type="application/json")
        return web.Response(body=payload, headers={HEADER_LENGTH: str(head_len)}, content_type="application/octet-stream")

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=self.settings.max_body_bytes)
        m = "/v2/models/{model}"
        app.add_routes([
            web.get("/v2/health/live", self.live),
            web.get("/v2/health/ready", self.ready),
            web.get("/v2", self.server_metadata),
            web.get(m, self.model_metadata),
            web.get(m + "/versions/{version}", self.model_metadata),
            web.get(m + "/ready", self.model_ready),
            web.get(m + "/versions/{version}/ready", self.model_ready),
            web.get(m + "/config", self.model_config),
            web.get(m + "/versions/{version}/config", self.model_config),
            web.post(m + "/infer", self.infer),
            web.post(m + "/versions/{version}/infer", self.infer),
        ])
        return app


class RunningServer:
    """A started server: `.port` is the bound port (useful with port 0), `await .stop()` ends it."""

    def __init__(self, app: KServeApp, runner: web.AppRunner, port: int) -> None:
        self.app = app
        self.runner = runner
        self.port = port

    @property
    def url(self) -> str:
        return f"{self.app.settings.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_server(app: KServeApp) -> RunningServer:
    """Bind and start serving (the backend may still be loading: readiness says so)."""
    runner = web.AppRunner(app.application(), access_log=None, handle_signals=False,
                           keepalive_timeout=app.settings.header_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, app.settings.host, app.settings.port, shutdown_timeout=5.0)
    await site.start()
    port = app.settings.port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    return RunningServer(app, runner, port)


async def serve(
    name: str,
    settings: ServerSettings,
    load: Callable[[], Backend],
    on_ready: Callable[[RunningServer], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Listen, load the backend in a thread (readiness flips when done), serve until `stop` is set.

    A failed load ends the server with the load's exception, so the job fails visibly.
    """
    app = KServeApp(name, settings)
    running = await start_server(app)
    log.info("listening on %s:%d (model %s loading)", settings.host, running.port, name)
    try:
        app.backend = await asyncio.to_thread(load)
        log.info("model %s ready", name)
        if on_ready is not None:
            on_ready(running)
        await (stop or asyncio.Event()).wait()
    finally:
        await running.stop()
        closer = getattr(app.backend, "aclose", None)
        if closer is not None:
            await closer()
