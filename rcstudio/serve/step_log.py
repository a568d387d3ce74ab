"""Reward components per actor step, for W&B (the curves of paper figure 3).

The server cannot see the actor's step, so it counts: one step = `sequences_per_step` scored
TRAINING sequences (rl.global_batch_size x rl.rollouts_per_prompt). Validation sequences (rows
with split = val) never advance the count: they are logged as `val_reward/*` at the current step,
which is the step NeMo-Aligner v0.7.0 logs its `val_rollouts/` at (`fit` increments `self.step`
before it validates), so both logs share one step axis. A quiet gap of `idle_flush_s` flushes
pending validation sequences; a partial training step is logged only at close (the last step). Aggregation is pure (`summarize`); the logger only feeds it and calls `run.log`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from rcstudio.serve.scorer import Scored

log = logging.getLogger("rcstudio.serve")


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarize(scored: Sequence[Scored], matcher_latency_ms: Sequence[float] = (),
              cache_hit_rate: float | None = None) -> dict[str, float]:
    """The shared metric names (docs/architecture.md) for one step's sequences."""
    n = len(scored)
    status = Counter(s.status for s in scored)
    parts = [s.breakdown for s in scored if s.breakdown is not None]
    out: dict[str, float | None] = {
        "reward/total": _mean([s.reward for s in scored]),
        "reward/outcome": _mean([b.outcome for b in parts]),
        "reward/rationale": _mean([b.rationale for b in parts]),
        "reward/ap": _mean([b.ap for b in parts]),
        "reward/rc": _mean([b.rc for b in parts]),
        "reward/format_error_rate": status["format_error"] / n if n else None,
        "reward/unknown_prompts": float(status["unknown_prompt"]),
        "reward/matcher_errors": float(status["matcher_error"]),
        "reward/skipped": float(status["skipped"]),
        "reward/sequences": float(n),
        "matcher/latency_ms": _mean(list(matcher_latency_ms)),
        "matcher/cache_hit_rate": cache_hit_rate,
    }
    return {k: v for k, v in out.items() if v is not None}


@dataclass
class StepLogger:
    """Accumulates scored sequences; logs one dict per actor step to `run` (a wandb run)."""

    run: Any
    sequences_per_step: int
    idle_flush_s: float = 30.0
    matcher_stats: Callable[[], tuple[list[float], float | None]] | None = None
    step: int = 0
    pending: list[Scored] = field(default_factory=list)
    val_pending: list[Scored] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    _last: float = field(default_factory=time.monotonic)
    _task: asyncio.Task | None = None

    def add(self, scored: Sequence[Scored], validation: Sequence[bool] | None = None) -> None:
        if self._task is None and self.idle_flush_s > 0:
            self.start()
        self._last = time.monotonic()
        self.totals.update(s.status for s in scored)
        flags = list(validation) if validation is not None else [False] * len(scored)
        self.val_pending.extend(s for s, v in zip(scored, flags) if v)
        self.pending.extend(s for s, v in zip(scored, flags) if not v)
        while len(self.pending) >= self.sequences_per_step > 0:
            chunk, self.pending = self.pending[: self.sequences_per_step], self.pending[self.sequences_per_step :]
            self._log(chunk)

    def flush_validation(self) -> None:
        """Log pending validation sequences at the current step (the step counter stays)."""
        if self.val_pending:
            chunk, self.val_pending = self.val_pending, []
            metrics = {"val_" + k: v for k, v in summarize(chunk).items()}
            try:
                self.run.log(metrics, step=self.step)
            except Exception as exc:  # W&B trouble must never stop the rewards
                log.warning("W&B log failed at step %d: %s", self.step, exc)
            log.info("validation at step %d: %d sequences, reward %.4f", self.step, len(chunk),
                     metrics.get("val_reward/total", 0.0))

    def flush(self) -> None:
        self.flush_validation()
        if self.pending:
            chunk, self.pending = self.pending, []
            self._log(chunk)

    def _log(self, chunk: list[Scored]) -> None:
        latency, hit = self.matcher_stats() if self.matcher_stats else ([], None)
        metrics = summarize(chunk, latency, hit)
        try:
            self.run.log(metrics, step=self.step)
        except Exception as exc:  # W&B trouble must never stop the rewards
            log.warning("W&B log failed at step %d: %s", self.step, exc)
        bad = {k: int(v) for k, v in Counter(s.status for s in chunk).items() if k != "ok"}
        log.info("step %d: %d sequences, reward %.4f, %s", self.step, len(chunk),
                 metrics.get("reward/total", 0.0), bad or "no penalties")
        self.step += 1

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_flush_s))
            if self.val_pending and time.monotonic() - self._last >= self.idle_flush_s:
                self.flush_validation()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.flush()
        try:
            self.run.finish()
        except Exception as exc:
            log.warning("W&B finish failed: %s", exc)
