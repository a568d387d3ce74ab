"""Run the KServe server on a background thread with its own event loop (tests, benchmarks,
notebooks): synchronous clients such as `tritonclient.http` can then call it from this thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

from rcstudio.serve.kserve import Backend, KServeApp, RunningServer, ServerSettings, start_server


class BackgroundServer:
    """`with BackgroundServer(backend_factory, settings) as srv: srv.url` - started and ready on enter."""

    def __init__(self, load: Callable[[], Backend], settings: ServerSettings | None = None,
                 name: str = "reward_model", start_timeout_s: float = 120.0) -> None:
        self.load = load
        self.settings = settings or ServerSettings(port=0)
        self.name = name
        self.start_timeout_s = start_timeout_s
        self.loop = asyncio.new_event_loop()
        self.app = KServeApp(name, self.settings)
        self.running: RunningServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="rcstudio-kserve", daemon=True)

    @property
    def url(self) -> str:
        assert self.running is not None
        return self.running.url

    def call(self, coro, timeout: float | None = None):
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, load_now: bool = True) -> "BackgroundServer":
        self._thread.start()
        self.running = self.call(start_server(self.app), self.start_timeout_s)
        if load_now:
            self.app.backend = self.load()
        return self

    def stop(self) -> None:
        if self.running is not None:
            closer = getattr(self.app.backend, "aclose", None)
            if closer is not None:
                self.call(closer(), 30)
            self.call(self.running.stop(), 30)
            self.running = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
