"""Gather match requests from concurrent infer calls into matcher batches.

Each sequence awaits `submit(request)`; a collector takes whatever has queued within
`max_wait_s` (up to `max_batch`) and hands it to the matcher as one call (`amatch_each` when it
has one: each sequence is answered as its own matrix arrives). Batches run as
separate tasks, so a slow LLM batch never holds up the next one: the matcher's own concurrency
limit bounds the calls in flight. Every batch has a deadline; a failure or timeout fails only
the futures of that batch, and with a matcher offering `amatch_partial` only the failed items
(the scorer turns them into the penalty).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger("rcstudio.serve")


@dataclass
class BatchStats:
    batches: int = 0
    requests: int = 0
    failures: int = 0
    latency_ms: list[float] = field(default_factory=list)

    def take_latency(self) -> list[float]:
        out, self.latency_ms = self.latency_ms, []
        return out


class MatchBatcher:
    def __init__(self, matcher: Any, max_batch: int = 256, max_wait_s: float = 0.01, timeout_s: float = 600.0) -> None:
        self.matcher = matcher
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s
        self.stats = BatchStats()
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future]] | None = None
        self._collector: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    def _ensure(self) -> asyncio.Queue:
        if self._queue is None or self._collector is None or self._collector.done():
            self._queue = asyncio.Queue()
            self._collector = asyncio.get_running_loop().create_task(self._collect(self._queue))
        return self._queue

    async def submit(self, request: Any) -> np.ndarray:
        """The score matrix (n human x k model) for one request; raises when its batch failed."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._ensure().put_nowait((request, fut))
        return await fut

    async def _collect(self, queue: asyncio.Queue) -> None:
        while True:
            first = await queue.get()
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), timeout=left))
                except asyncio.TimeoutError:
                    break
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        started = time.perf_counter()
        self.stats.batches += 1
        self.stats.requests += len(batch)
        if getattr(self.matcher, "amatch_each", None) is not None:
            await self._run_each(batch, started)
            return
        try:
            requests = [r for r, _ in batch]
            partial = getattr(self.matcher, "amatch_partial", None)  # per-item failures, when offered
            call = partial(requests) if partial is not None else self.matcher.amatch(requests)
            results = await asyncio.wait_for(call, timeout=self.timeout_s)
            if len(results) != len(batch):
                raise RuntimeError(f"matcher returned {len(results)} results for {len(batch)} requests")
        except Exception as exc:  # includes timeouts: fail this batch's sequences, keep serving
            self.stats.failures += len(batch)
            log.warning("matcher batch of %d failed: %s: %s", len(batch), type(exc).__name__, exc)
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.stats.latency_ms.append((time.perf_counter() - started) * 1e3)  # one figure per batch
        for (_, fut), scores in zip(batch, results):
            if fut.done():
                continue
            if isinstance(scores, BaseException):
                self.stats.failures += 1
                fut.set_exception(scores)
            else:
                fut.set_result(scores)

    def _deliver(self, fut: asyncio.Future, scores: Any) -> None:
        if fut.done():
            return
        if isinstance(scores, BaseException):
            self.stats.failures += 1
            fut.set_exception(scores)
        else:
            fut.set_result(scores)

    async def _run_each(self, batch: list[tuple[Any, asyncio.Future]], started: float) -> None:
        """The batch through `matcher.amatch_each`: each sequence's future resolves when its own
        matrix arrives, not when the batch's slowest does - so the actor's request holding it
        returns, and its next one is sent, while the rest of the batch is still in flight."""
        requests = [r for r, _ in batch]

        def deliver(i: int, scores: Any) -> None:
            # one latency figure per answered sequence, taken as it is answered: a step's log line
            # (written when its last sequence is scored) then never misses its batch's figures
            if not isinstance(scores, BaseException):
                self.stats.latency_ms.append((time.perf_counter() - started) * 1e3)
            self._deliver(batch[i][1], scores)

        try:
            await asyncio.wait_for(self.matcher.amatch_each(requests, deliver), timeout=self.timeout_s)
        except Exception as exc:  # includes timeouts: fail what is still open, keep serving
            open_futures = [fut for _, fut in batch if not fut.done()]
            self.stats.failures += len(open_futures)
            log.warning("matcher batch of %d failed (%d unanswered): %s: %s", len(batch), len(open_futures),
                        type(exc).__name__, exc)  # fmt: skip
            for fut in open_futures:
                fut.set_exception(exc)
            return
        missing = [fut for _, fut in batch if not fut.done()]
        for fut in missing:
            self.stats.failures += 1
            fut.set_exception(RuntimeError(f"matcher returned no result for {len(missing)} of {len(batch)} requests"))

    async def aclose(self) -> None:
        tasks = [t for t in [self._collector, *self._running] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._collector = None
