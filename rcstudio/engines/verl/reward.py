"""The reward function verl imports by path (`reward.custom_reward_function.path = pkg://...`).

verl's reward loop (verl/experimental/reward_loop/reward_manager/naive.py) awaits
`compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs)` once
per rollout, inside a long-lived Ray actor with its own event loop. Each call becomes the reward
server's `Split` and goes through the same scorers the NeMo-Aligner path uses
(`rcstudio.serve.scorer.HybridScorer` with a `MatchBatcher`, or `serve.policy.PolicyScorer` for
policy RLHF), so the value IS rcstudio's hybrid reward. Concurrent calls from the reward loop
land in shared matcher batches. Components are logged under the shared names through
`serve.step_log.StepLogger` into the W&B run `<run id>-rm` (grouped with verl's own run `<run id>`)
and `logs/reward_steps.jsonl`; each call also returns them, so verl keeps them per sample in its
rollout dumps and validation metrics.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("rcstudio.verl.reward")

STEPS_FILE = "reward_steps.jsonl"
WANDB_LOCK = "verl-reward-wandb.lock"
# Per-rollout values returned to verl (always the same keys: verl stacks them into arrays).
SAMPLE_KEYS = ("reward/total", "reward/outcome", "reward/rationale", "reward/rc", "reward/ap",
               "reward/format_error", "reward/matched")


class _JsonlRun:
    """A `run.log`-compatible sink appending one JSON line per step (every worker writes one)."""

    def __init__(self, path: Path, worker: str) -> None:
        self.path, self.worker = path, worker

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        line = json.dumps({"worker": self.worker, "step": step, "time": time.time(), **metrics}, sort_keys=True)
        with self.path.open("a", encoding="utf-8") as fh:  # O_APPEND: whole lines from many workers
            fh.write(line + "\n")

    def finish(self) -> None:
        pass


class _Tee:
    def __init__(self, *runs: Any) -> None:
        self.runs = runs

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        for r in self.runs:
            r.log(metrics, step=step)

    def finish(self) -> None:
        for r in self.runs:
            r.finish()


def _wandb_owner(logs: Path) -> Any:
    """An exclusive lock on logs/WANDB_LOCK: only its holder writes the `-rm` W&B run (offline files
    cannot be shared between processes); held for the process's life."""
    fh = (logs / WANDB_LOCK).open("a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


@dataclass
class _State:
    scorer: Any
    step_logger: Any
    batcher: Any
    lock: Any


_STATES: dict[tuple[str, int], _State] = {}
_BUILD_LOCK: asyncio.Lock | None = None


def _build(run_dir: Path, workers: int, router: str | None) -> _State:
    """Everything one reward worker needs, from the run dir's resolved spec (runs once per process)."""
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.serve.app import JUDGE_ENDPOINT_ENV, MATCHER_ENDPOINT_ENV, _matcher_stats, run_id_of
    from rcstudio.serve.batcher import MatchBatcher
    from rcstudio.serve.scorer import HybridScorer
    from rcstudio.serve.step_log import StepLogger
    from rcstudio.spec import load_resolved
    from rcstudio.tracking.wandb_log import NoopRun, init_run

    spec = load_resolved(run_dir)
    settings = RewardSettings.from_spec(spec.reward)
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workers = max(1, int(workers))
    # the matcher's concurrency is the whole job's: each of the reward workers gets its share
    per_worker = max(1, -(-spec.reward.matcher.concurrency // workers))
    batcher, stats = None, None
    if spec.experiment.kind == "policy-rlhf":
        from rcstudio.clients.llm import LLMClient, LLMConfig
        from rcstudio.serve.policy import PolicyScorer

        endpoint = spec.judge.endpoint or os.environ.get(JUDGE_ENDPOINT_ENV, "") or (
            f"http://{router}/v1" if router else "")
        if not endpoint:
            raise RuntimeError("policy-rlhf on verl needs judge.endpoint or verl's reward model (router address)")
        client = LLMClient(LLMConfig.from_section(spec.judge, base_url=endpoint, concurrency=per_worker,
                                                  timeout_s=spec.reward.matcher.timeout_s,
                                                  max_retries=spec.reward.matcher.max_retries))
        scorer: Any = PolicyScorer(client, penalty=settings.format_penalty, top_k=spec.judge.top_k,
                                   template=spec.judge.prompt_template)
    else:
        from rcstudio.rationale.matchers import make_matcher

        section = spec.reward.matcher
        if section.kind == "llm" and not section.endpoint and os.environ.get(MATCHER_ENDPOINT_ENV):
            section = section.model_copy(update={"endpoint": os.environ[MATCHER_ENDPOINT_ENV]})
        section = section.model_copy(update={"concurrency": per_worker})
        matcher = make_matcher(section)
        timeout = section.timeout_s * (section.max_retries + 1) + 30.0
        batcher = MatchBatcher(matcher, max_batch=max(64, per_worker * 4), max_wait_s=0.005, timeout_s=timeout)
        scorer = HybridScorer(settings, batcher, top_k=spec.judge.top_k)
        stats = _matcher_stats(batcher, matcher)
    worker = f"{socket.gethostname()}-{os.getpid()}"
    sink: Any = _JsonlRun(logs / STEPS_FILE, worker)
    lock = _wandb_owner(logs)
    if lock is not None:
        rid = run_id_of(run_dir)
        wandb_run = init_run(spec, run_dir, rid + "-rm", job_type="reward-server", name=rid + "-rm")
        if not isinstance(wandb_run, NoopRun):
            sink = _Tee(sink, wandb_run)
    per_step = spec.rl.global_batch_size * spec.rl.rollouts_per_prompt
    step_logger = StepLogger(sink, max(1, per_step // workers), idle_flush_s=30.0, matcher_stats=stats)
    return _State(scorer, step_logger, batcher, lock)


async def _state(run_dir: str, workers: int, router: str | None) -> _State:
    global _BUILD_LOCK
    key = (str(Path(run_dir).resolve()), int(workers))
    state = _STATES.get(key)
    if state is not None:
        return state
    if _BUILD_LOCK is None:
        _BUILD_LOCK = asyncio.Lock()
    async with _BUILD_LOCK:
        if key not in _STATES:
            _STATES[key] = await asyncio.to_thread(_build, Path(key[0]), workers, router)
    return _STATES[key]


def _row(ground_truth: Any, extra_info: dict[str, Any]) -> Any:
    """The reward server's ground-truth row, from what the parquet carried to this call."""
    from rcstudio.serve.ground_truth import GroundTruth

    pref = extra_info.get("preference")
    if pref is None and ground_truth not in (None, ""):
        try:
            pref = json.loads(ground_truth)
        except (TypeError, ValueError):
            pref = None
    return GroundTruth(
        prompt_sha=str(extra_info.get("prompt_sha", "")), id=str(extra_info.get("id", "")),
        domain=str(extra_info.get("domain", "")), preference=None if pref is None else int(pref),
        swapped=bool(extra_info.get("swapped", False)),
        human_checklist=tuple(str(x) for x in (extra_info.get("human_checklist") or ())),
        context=tuple(dict(m) for m in (extra_info.get("context") or ())),
        reference=str(extra_info.get("reference") or ""),
    )


def sample_values(scored: Any) -> dict[str, float]:
    """The per-rollout components verl receives (absent parts as 0 with `reward/matched` = 0)."""
    b = scored.breakdown
    return {
        "reward/total": float(scored.reward),
        "reward/outcome": float(b.outcome) if b is not None and b.outcome is not None else 0.0,
        "reward/rationale": float(b.rationale) if b is not None and b.rationale is not None else 0.0,
        "reward/rc": float(b.rc) if b is not None and b.rc is not None else 0.0,
        "reward/ap": float(b.ap) if b is not None and b.ap is not None else 0.0,
        "reward/format_error": 1.0 if scored.status == "format_error" else 0.0,
        "reward/matched": 1.0 if scored.matched else 0.0,
    }


async def compute_score(data_source: str, solution_str: str, ground_truth: Any = None,
                        extra_info: dict[str, Any] | None = None, run_dir: str | None = None,
                        workers: int = 1, reward_router_address: str | None = None,
                        **_: Any) -> dict[str, float]:
    """verl's reward function: {"score": hybrid reward, shared component names: values}."""
    from rcstudio.serve.scorer import Scored, Split

    run_dir = run_dir or os.environ.get("RCSTUDIO_RUN_DIR")
    if not run_dir:
        raise RuntimeError("compute_score needs reward_kwargs.run_dir (rcstudio's compiled overrides set it)")
    state = await _state(run_dir, workers, reward_router_address)
    row = _row(ground_truth, dict(extra_info or {}))
    try:
        scored = await state.scorer.score(Split(row, solution_str or ""))
    except Exception as exc:  # one rollout's failure costs that rollout, never the step
        log.error("scoring failed for item %s: %s: %s", row.id, type(exc).__name__, exc)
        scored = Scored(state.scorer.penalty, "judge_error", None, row.id)
    state.step_logger.add([scored])
    return {"score": float(scored.reward), **sample_values(scored)}


def flush() -> None:
    """Write out the partial step of every state of this process (tests, shutdown)."""
    for state in _STATES.values():
        state.step_logger.flush()
