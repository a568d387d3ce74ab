"""Async client for any OpenAI-compatible chat endpoint (vLLM, SGLang, OpenAI), built for batch scoring.

Two HTTP transports: "aiohttp" (the default) posts the JSON body itself on one pooled
`aiohttp.ClientSession` - no `openai` import (about 1 s of start-up a scoring command would pay for
nothing); "httpx" goes through `openai.AsyncOpenAI` (`max_retries=0`). Both map status codes,
timeouts and connection errors the same way. On top of either:
* a concurrency cap that backs off (`AdaptiveLimit`): `concurrency` requests at most, halved on each
  timeout (the server is behind; more requests only queue behind the abandoned ones) and regrown by
  one per `cap` answers, so a slow server gets about one request per answer instead of a storm,
* its own retries with exponential backoff + jitter on 429 (honouring Retry-After), 5xx,
  timeouts, connection errors and malformed bodies - so the behaviour is visible and testable,
* a re-ask when the reply fails the caller's `validate` (which raises ValueError): the bad reply
  and the reason go back to the model once more,
* a persistent SQLite `ResponseCache` keyed by sha256(model, messages, params): an interrupted run
  resumes where it stopped and a rerun makes zero calls (only validated replies are stored),
* counters (`stats()`): calls, cache hits, retries, re-asks, latency.
The API key is read from the environment variable named by `api_key_env` ("EMPTY" when unset),
when the first request opens the connection, and never logged or stored.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import os
import random
import sqlite3
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rcstudio import paths

T = TypeVar("T")
Validate = Callable[[str], Any]


class LLMError(RuntimeError):
    """The endpoint failed for good (retries exhausted, a 4xx, or replies that never validated)."""


@dataclass
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 64
    timeout_s: float = 120.0
    max_retries: int = 4
    temperature: float = 0.0
    max_tokens: int = 4096
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    extra_body: dict[str, Any] = field(default_factory=dict)
    # HTTP transport: "aiohttp" (bare aiohttp, no SDK: the least client CPU per request - what keeps
    # 64 requests in flight on a 2-core host - and no `openai` import) or "httpx" (the openai SDK's
    # default client). Both honour timeouts and map errors the same way.
    transport: str = "aiohttp"

    @classmethod
    def from_section(cls, section: Any, **overrides: Any) -> LLMConfig:
        """From a spec section carrying endpoint/model/api_key_env/... (e.g. `reward.matcher`, `judge`)."""
        def get(key: str, default: Any = None) -> Any:  # a pydantic section, a dataclass or a dict
            return section.get(key, default) if isinstance(section, dict) else getattr(section, key, default)

        kwargs: dict[str, Any] = {
            "base_url": get("endpoint", None) or get("base_url", "") or "",
            "model": get("model", ""),
            "api_key_env": get("api_key_env", "OPENAI_API_KEY") or "OPENAI_API_KEY",
        }
        for name in ("concurrency", "timeout_s", "max_retries", "temperature", "max_tokens"):
            value = get(name, None)
            if value is not None:
                kwargs[name] = value
        kwargs.update(overrides)
        return cls(**kwargs)

    def params(self) -> dict[str, Any]:
        """Sampling parameters that change the reply (part of the cache key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, **self.extra_body}


@dataclass
class Completion:
    text: str
    cached: bool
    latency_ms: float
    value: Any = None
    attempts: int = 1


def cache_key(model: str, messages: Sequence[dict], params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": list(messages), "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies on disk (SQLite, WAL), keyed by `cache_key`; safe to share between processes.

    By default every reply is committed at once. With `commit_every_s > 0` writes are committed at
    most that often (and on `flush`/`close`; `complete_many` flushes when its batch ends): at high
    concurrency a per-reply commit is a noticeable share of the client's CPU, and an interrupted
    run loses at most that window of replies. The matchers use 1 s.
    """

    def __init__(self, path: str | Path | None = None, commit_every_s: float = 0.0) -> None:
        self.path = Path(path) if path else paths.cache_dir("llm") / "responses.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.moved_aside: Path | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
                raise
            self._db = self._rebuild(exc)
        self.commit_every_s = commit_every_s
        self._dirty = False
        self._last_commit = time.monotonic()

    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise sqlite3.DatabaseError(f"{self.path} is a directory")
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT, created REAL)")
            db.execute("SELECT key, model, text, created FROM responses LIMIT 1").fetchall()
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, exc: BaseException) -> sqlite3.Connection:
        """A corrupt cache is only lost speed: move it aside (kept for inspection) and start empty."""
        import logging

        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.rename(Path(str(aside) + suffix))
        self.moved_aside = aside
        logging.getLogger("rcstudio.llm").warning(
            "LLM reply cache %s was unreadable (%s): moved it to %s and started an empty cache "
            "(replies are asked again)", self.path, exc, aside)
        return self._open()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, text: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, text, created) VALUES (?, ?, ?, ?)",
                (key, model, text, time.time()),
            )
            self._dirty = True
            if time.monotonic() - self._last_commit >= self.commit_every_s:
                self._commit()

    def _commit(self) -> None:
        self._db.commit()
        self._dirty = False
        self._last_commit = time.monotonic()

    def flush(self) -> None:
        """Commit pending writes now."""
        with self._lock:
            if self._dirty:
                self._commit()

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._dirty:
                self._commit()
            self._db.close()

    def __del__(self) -> None:  # a cache dropped without close() still keeps its replies
        try:
            if getattr(self, "_dirty", False):
                self._db.commit()
        except Exception:
            pass


class AdaptiveLimit:
    """At most `limit` holders at once; `limit` starts at `maximum`, halves on `shrink()` (a timeout)
    and grows by one after `limit` `grow()`s (answers), back up to `maximum` (AIMD, as TCP does).

    Waiters queue first-in first-out and a release hands its slot to exactly one of them (as
    `asyncio.Semaphore` does): waking every waiter to re-check a condition costs O(waiting) per
    answer, which with 1,000 queued items was a third of the client's CPU.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, int(maximum))
        self.limit = self.maximum
        self.active = 0
        self._answers = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def __aenter__(self) -> AdaptiveLimit:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return self
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # resolved by `_wake`, which has already counted this holder in `active`
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.active -= 1  # handed a slot, then cancelled before using it: pass it on
                self._wake()
            else:
                self._waiters.remove(fut)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.active -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.active < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.active += 1
                fut.set_result(None)

    def shrink(self) -> None:
        self.limit = max(1, self.limit // 2)
        self._answers = 0

    def grow(self) -> None:
        self._answers += 1
        if self._answers >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._answers = 0
            self._wake()


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Timeout(_Transient):
    """The request outlived `timeout_s`: the server is behind (the client then lowers its limit)."""


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_message(content: bytes) -> str:
    """The endpoint's own error text (OpenAI-style `{"error": {"message": ...}}`), else the body."""
    text = content.decode("utf-8", "replace")
    try:
        err = json.loads(text).get("error")
        return str(err.get("message", err) if isinstance(err, dict) else err or text)[:500]
    except (ValueError, AttributeError):
        return text[:500]


# A poster sends one chat-completions body and returns (status, retry-after seconds, body bytes,
# error message); it raises _Transient for timeouts and connection failures. One per event loop.
PostResult = tuple[int, "float | None", bytes, str]


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (None when unset or bypassed by NO_PROXY)."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


class _AiohttpPoster:
    """POST /chat/completions on one pooled aiohttp session: the wire protocol is a JSON body and a
    bearer token, which needs no SDK."""

    def __init__(self, base_url: str, api_key: str, size: int, timeout_s: float) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._timeout_s = timeout_s
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=size),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )
        # HTTP(S)_PROXY / NO_PROXY as httpx honours them, looked up once here: aiohttp's own
        # `trust_env` repeats the lookup (and a .netrc read) in a thread for every request
        self._proxy = _proxy_for(self._url)

    async def post(self, body: dict) -> PostResult:
        aiohttp = self._aiohttp
        try:
            async with self._session.post(self._url, data=json.dumps(body), headers=self._headers, proxy=self._proxy) as resp:
                content = await resp.read()
                status = resp.status
                retry_after = _retry_after(resp.headers.get("retry-after"))
        except asyncio.TimeoutError:
            raise _Timeout(f"timed out after {self._timeout_s}s") from None
        except aiohttp.ClientError as exc:
            raise _Transient(f"connection error: {type(exc).__name__}") from exc
        return status, retry_after, content, _error_message(content) if status >= 400 else ""

    async def close(self) -> None:
        await self._session.close()


class _OpenAIPoster:
    """The same POST through `openai.AsyncOpenAI`'s generic `post` (its httpx client, auth and
    timeouts, without the typed request/response models)."""

    def __init__(self, base_url: str, api_key: str, size: int, timeout_s: float) -> None:
        import httpx2
        import openai

        self._openai = openai
        self._raw_type = httpx2.Response
        self._timeout_s = timeout_s
        limits = httpx2.Limits(max_connections=size, max_keepalive_connections=size)
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout_s),
        )

    async def post(self, body: dict) -> PostResult:
        openai = self._openai
        try:
            resp = await self._client.post("/chat/completions", cast_to=self._raw_type, body=body)
        except openai.APITimeoutError:
            raise _Timeout(f"timed out after {self._timeout_s}s") from None
        except openai.APIConnectionError as exc:
            raise _Transient(f"connection error: {type(exc.__cause__ or exc).__name__}") from exc
        except openai.APIStatusError as exc:
            headers = exc.response.headers if exc.response is not None else {}
            return exc.status_code, _retry_after(headers.get("retry-after")), b"", exc.message
        return resp.status_code, None, resp.content, ""

    async def close(self) -> None:
        await self._client.close()


class LLMClient:
    """Concurrent, retrying, caching chat completions against one OpenAI-compatible endpoint."""

    def __init__(self, cfg: LLMConfig, cache: ResponseCache | None = None) -> None:
        if not cfg.base_url:
            raise ValueError("LLMConfig.base_url is empty: name an OpenAI-compatible endpoint")
        if cfg.transport not in ("aiohttp", "httpx"):
            raise ValueError(f"unknown LLM transport {cfg.transport!r} (aiohttp | httpx)")
        self.cfg = cfg
        self.cache = cache
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._sem: AdaptiveLimit | None = None
        self.calls = 0
        self.cache_hits = 0
        self.retries = 0
        self.reasks = 0
        self.errors = 0
        self.timeouts = 0
        self.latencies_ms: list[float] = []

    # ---- plumbing --------------------------------------------------------------------------------
    def _bind(self) -> None:
        """(Re)create the HTTP client and semaphore for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._client = None  # opened by the first request: a fully cached run never imports HTTP code
        self._sem = AdaptiveLimit(max(1, int(self.cfg.concurrency)))

    def _poster(self) -> Any:
        if self._client is None:
            size = max(1, int(self.cfg.concurrency))
            api_key = os.environ.get(self.cfg.api_key_env) or "EMPTY"
            kind = _AiohttpPoster if self.cfg.transport == "aiohttp" else _OpenAIPoster
            self._client = kind(self.cfg.base_url, api_key, size, self.cfg.timeout_s)
        return self._client

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * (2**attempt))
        delay *= 0.5 + random.random()  # jitter: spread retries of many concurrent requests
        return max(delay, retry_after or 0.0)

    async def _request(self, messages: Sequence[dict]) -> str:
        assert self._sem is not None
        poster = self._poster()
        async with self._sem:
            self.calls += 1
            start = time.perf_counter()
            body = {"model": self.cfg.model, "messages": list(messages), **self.cfg.params()}
            try:
                status, retry_after, content, message = await poster.post(body)
            except _Timeout:
                self._sem.shrink()
                self.timeouts += 1
                raise
            if status == 429:
                raise _Transient("429 rate limited", retry_after)
            if status >= 500 or status in (408, 409):
                raise _Transient(f"HTTP {status}", retry_after)
            if status >= 400:
                raise LLMError(f"endpoint refused the request: HTTP {status}: {message}")
            try:
                data = json.loads(content)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise _Transient("malformed response body") from None
            try:
                text = data["choices"][0]["message"].get("content")
            except (KeyError, IndexError, TypeError, AttributeError):
                raise _Transient("response without choices") from None
            self.latencies_ms.append((time.perf_counter() - start) * 1000)
            self._sem.grow()
            return text or ""

    async def _call(self, messages: Sequence[dict]) -> tuple[str, int]:
        last = "unknown"
        for attempt in range(self.cfg.max_retries + 1):
            try:
                return await self._request(messages), attempt + 1
            except _Transient as exc:
                last = str(exc)
                if attempt == self.cfg.max_retries:
                    break
                self.retries += 1
                await asyncio.sleep(self._backoff(attempt, exc.retry_after))
        self.errors += 1
        raise LLMError(f"{self.cfg.base_url}: gave up after {self.cfg.max_retries + 1} attempts: {last}")

    # ---- public API ------------------------------------------------------------------------------
    async def complete(
        self, messages: Sequence[dict], validate: Validate | None = None, reask: int = 1
    ) -> Completion:
        """One chat completion; `validate(text)` may raise ValueError to trigger a re-ask (`reask` times)."""
        self._bind()
        key = cache_key(self.cfg.model, messages, self.cfg.params())
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    value = validate(hit) if validate else None
                except ValueError:
                    self.cache.delete(key)  # stale (validator changed): ask again
                else:
                    self.cache_hits += 1
                    return Completion(hit, True, 0.0, value, 0)
        start = time.perf_counter()
        convo = list(messages)
        attempts = 0
        for ask in range(reask + 1):
            text, n = await self._call(convo)
            attempts += n
            try:
                value = validate(text) if validate else None
            except ValueError as exc:
                if ask == reask:
                    self.errors += 1
                    raise LLMError(f"reply still unusable after {reask + 1} asks: {exc}") from exc
                self.reasks += 1
                convo = convo + [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"Your reply could not be used: {exc}. "
                        "Answer again, following the required format exactly.",
                    },
                ]
                continue
            if self.cache is not None:
                self.cache.put(key, self.cfg.model, text)
            return Completion(text, False, (time.perf_counter() - start) * 1000, value, attempts)
        raise AssertionError("unreachable")

    async def complete_many(
        self,
        batch: Sequence[Sequence[dict]],
        validate: Validate | None = None,
        progress: bool = False,
        reask: int = 1,
        return_exceptions: bool = False,
        description: str = "LLM calls",
        validators: Sequence[Validate] | None = None,
        on_done: Callable[[int, Completion | BaseException], None] | None = None,
    ) -> list[Completion | BaseException]:
        """Many completions concurrently (bounded by `concurrency`), results in input order.

        `validators` gives one validate callback per message list (e.g. each with its own expected
        shape); otherwise `validate` applies to all. With `return_exceptions=True` a failed item
        yields its LLMError/ValueError in place instead of failing the batch. `on_done(i, result)`
        is called as each item finishes (the caller's per-item work overlaps the requests still out).
        """
        self._bind()
        results: list[Any] = [None] * len(batch)
        if validators is not None and len(validators) != len(batch):
            raise ValueError("validators must have one entry per message list")

        # `on_done` runs after the requests that answers just made room for have been sent: a
        # burst of 64 answers otherwise delays every next request by 64 callers' worth of work.
        loop = asyncio.get_running_loop()
        finished: list[int] = []
        failures: list[BaseException] = []

        def report() -> None:
            todo = finished[:]
            finished.clear()
            for i in todo:
                try:
                    on_done(i, results[i])  # type: ignore[misc]
                except Exception as exc:  # raised by complete_many once the batch is done
                    failures.append(exc)

        async def one(i: int, messages: Sequence[dict]) -> None:
            check = validators[i] if validators is not None else validate
            try:
                results[i] = await self.complete(messages, check, reask)
            except (LLMError, ValueError) as exc:
                if not return_exceptions:
                    raise
                results[i] = exc
            if on_done is not None:
                if not finished:  # a timer runs after the callbacks already due (the woken sends)
                    loop.call_later(0, report)
                finished.append(i)

        # A pool of workers, not one task per item: the first requests go out after a few cache
        # lookups instead of after every item's, and no more than 2 x concurrency coroutines wait
        # on the limit. Twice the cap, so that workers sleeping in a retry backoff leave enough
        # others to keep `concurrency` requests in flight.
        cursor = iter(range(len(batch)))
        advance: Callable[[], None] = lambda: None  # noqa: E731 - replaced by the progress bar's

        async def worker() -> None:
            for i in cursor:  # shared: each item is taken by exactly one worker
                await one(i, batch[i])
                advance()

        workers = min(len(batch), 2 * max(1, int(self.cfg.concurrency)))
        tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
        try:
            if progress:
                from rich.console import Console
                from rich.progress import Progress

                with Progress(console=Console(stderr=True), transient=False) as bar:
                    tid = bar.add_task(description, total=len(batch))
                    advance = lambda: bar.advance(tid)  # noqa: E731
                    await asyncio.gather(*tasks)
            else:
                await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            if self.cache is not None:
                self.cache.flush()
        report()
        if failures:
            raise failures[0]
        return results

    def stats(self) -> dict[str, float]:
        lat = self.latencies_ms
        lookups = self.calls + self.cache_hits
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "cache_hit_rate": self.cache_hits / lookups if lookups else 0.0,
            "retries": self.retries,
            "reasks": self.reasks,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "latency_ms_mean": statistics.fmean(lat) if lat else 0.0,
            "latency_ms_p50": statistics.median(lat) if lat else 0.0,
            "latency_ms_p95": sorted(lat)[int(0.95 * (len(lat) - 1))] if lat else 0.0,
        }

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (the client reopens them if used again); flush the cache."""
        if self.cache is not None:
            self.cache.flush()
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._loop = None


def run_sync(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, also when an event loop is already running (then in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())  # type: ignore[arg-type]
    out: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(coro_factory()))  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return out[0]
