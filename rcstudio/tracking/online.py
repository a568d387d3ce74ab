"""Online W&B runs through the public API (`wandb.Api`).

Charts use sampled history (`run.history(samples=N)`, one GraphQL call); a full scan
(`scan_history`) is on demand (`samples=None`). Results are cached per run and keyed by the run's
update marker (heartbeat time + history line count), so an unchanged run costs one small query and
a finished run none at all after its final fetch. HTTP 429 (rate limited) backs off exponentially.
The API key comes from the environment (WANDB_API_KEY) and is never stored by rcstudio.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rcstudio.tracking.source import TERMINAL_STATES, MetricSource, RunRef, Series, downsample


class RateLimited(RuntimeError):
    """W&B kept answering 429 after all retries."""


def _is_rate_limit(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "429" in text or "rate limit" in text or "too many requests" in text


class OnlineSource(MetricSource):
    """Runs of one W&B entity/project, read through `wandb.Api`."""

    def __init__(
        self,
        entity: str = "",
        project: str = "",
        *,
        base_url: str | None = None,
        api: Any = None,
        timeout: int = 20,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        min_poll_s: float = 5.0,
    ) -> None:
        self.entity = entity
        self.project = project
        self.base_url = base_url or os.environ.get("WANDB_BASE_URL")
        self._api_obj = api
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.min_poll_s = min_poll_s  # a live run is re-queried at most this often
        self._runs: dict[str, Any] = {}  # run id -> wandb Run
        self._loaded_at: dict[str, float] = {}
        self._history: dict[tuple[Any, ...], dict[str, Series]] = {}
        self.calls = 0  # API calls made (tests and the status bar read it)

    # -- plumbing --------------------------------------------------------------------------
    def _api(self) -> Any:
        if self._api_obj is None:
            import wandb

            overrides = {"base_url": self.base_url} if self.base_url else {}
            if self.entity:
                overrides["entity"] = self.entity
            if self.project:
                overrides["project"] = self.project
            self._api_obj = wandb.Api(overrides=overrides, timeout=self.timeout)
        return self._api_obj

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run one API call, backing off on 429 (1 s, 2 s, 4 s, ...)."""
        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                return fn()
            except Exception as exc:
                if not _is_rate_limit(exc):
                    raise
                if attempt == self.max_retries:
                    raise RateLimited(f"W&B rate limit: still 429 after {attempt + 1} tries") from exc
                self.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _path(self, run_id: str) -> str:
        return f"{self.entity}/{self.project}/{run_id}"

    @staticmethod
    def _ref(run: Any) -> RunRef:
        return RunRef(
            key=run.path and "/".join(run.path) or run.id,
            id=run.id,
            name=run.name or run.id,
            project=run.project,
            entity=run.entity,
            group=run.group or "",
            job_type=run.job_type or "",
        )

    @staticmethod
    def _marker(run: Any) -> tuple[Any, ...]:
        attrs = getattr(run, "_attrs", {}) or {}
        return (run.state, attrs.get("heartbeatAt"), attrs.get("historyLineCount"))

    def _run(self, run_id: str, refresh: bool = True) -> Any:
        run = self._runs.get(run_id)
        if run is not None and (run.state in TERMINAL_STATES or not refresh):
            return run  # finished runs are never re-polled
        if run is not None and time.monotonic() - self._loaded_at.get(run_id, 0.0) < self.min_poll_s:
            return run  # summary, state and history of one refresh share one query
        if run is not None:
            self._call(lambda: run.load(force=True))  # wandb.Api caches Run objects: re-query
        else:
            run = self._call(lambda: self._api().run(self._path(run_id)))
            self._runs[run_id] = run
        self._loaded_at[run_id] = time.monotonic()
        return run

    # -- MetricSource ----------------------------------------------------------------------
    def runs(self) -> list[RunRef]:
        found = self._call(lambda: list(self._api().runs(f"{self.entity}/{self.project}", per_page=200)))
        for run in found:
            self._runs.setdefault(run.id, run)
        return [self._ref(r) for r in found]

    def find(self, run_id: str) -> RunRef | None:
        try:
            return self._ref(self._run(run_id))
        except Exception as exc:  # noqa: BLE001 - "not found" reads as no W&B run yet
            if isinstance(exc, RateLimited) or "not found" not in str(exc).lower():
                raise
            return None

    def config(self, run: RunRef) -> dict[str, Any]:
        return dict(self._run(run.id, refresh=False).config)

    def summary(self, run: RunRef) -> dict[str, Any]:
        data = dict(self._run(run.id).summary._json_dict)
        return {k: v for k, v in data.items() if not k.startswith("_wandb")}

    def state(self, run: RunRef) -> str:
        return self._run(run.id).state

    def history(self, run: RunRef, keys: Sequence[str], samples: int | None = None) -> dict[str, Series]:
        wb = self._run(run.id)
        cache_key = (run.id, tuple(keys), samples, self._marker(wb))
        cached = self._history.get(cache_key)
        if cached is not None:
            return cached
        out: dict[str, Series] = {}
        for key in keys:
            if samples is None:
                rows = self._call(lambda k=key: list(wb.scan_history(keys=[k, "_step"], page_size=1000)))
            else:
                rows = self._call(lambda k=key: wb.history(samples=samples, keys=[k], pandas=False))
            pairs = sorted((r["_step"], r[key]) for r in rows if r.get(key) is not None and "_step" in r)
            steps = np.array([p[0] for p in pairs], dtype=float)
            values = np.array([p[1] if isinstance(p[1], (int, float)) else np.nan for p in pairs], dtype=float)
            steps, values = downsample(steps, values, samples)
            out[key] = Series(key, steps, values)
        self._history = {k: v for k, v in self._history.items() if k[0] != run.id}
        self._history[cache_key] = out
        return out
