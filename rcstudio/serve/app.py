"""Assemble the reward server of a run directory: tokenizer, ground truth, scorer, matcher, W&B.

`build_backend` is synchronous (it runs in a thread while the server already answers liveness);
`run_server` is what `rcstudio serve-reward` calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.errors import UserError
from rcstudio.serve.batcher import MatchBatcher
from rcstudio.serve.ground_truth import PromptIndex, load_table
from rcstudio.serve.kserve import RunningServer, ServerSettings, body_limit, serve
from rcstudio.serve.reward_model import MODEL_NAME, RewardBackend
from rcstudio.serve.scorer import HybridScorer, SequenceSplitter
from rcstudio.serve.step_log import StepLogger

if TYPE_CHECKING:
    from rcstudio.spec.models import Spec

log = logging.getLogger("rcstudio.serve")


# Set by the compiled hetjob when group 0 started a vLLM server for the matcher / the GenRM.
MATCHER_ENDPOINT_ENV = "RCSTUDIO_MATCHER_ENDPOINT"
JUDGE_ENDPOINT_ENV = "RCSTUDIO_JUDGE_ENDPOINT"


def run_id_of(run_dir: Path) -> str:
    """The registry run id: $RCSTUDIO_RUN_ID (set by the compiled job), else the run dir's name."""
    return os.environ.get("RCSTUDIO_RUN_ID") or run_dir.resolve().name


def _matcher_stats(batcher: MatchBatcher, matcher: Any):
    def stats() -> tuple[list[float], float | None]:
        raw = {}
        try:
            raw = matcher.stats() or {}
        except Exception as exc:  # best effort: the W&B row still goes out, without these two
            log.warning("matcher stats unavailable: %s", exc)
        hit = raw.get("cache_hit_rate") if isinstance(raw, dict) else getattr(raw, "cache_hit_rate", None)
        return batcher.stats.take_latency(), (None if hit is None else float(hit))

    return stats


class _SyncCloser:
    """Adapts a matcher's synchronous `close()` to the backend's `aclose()` chain."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    async def aclose(self) -> None:
        closer = getattr(self.obj, "aclose", None)
        if closer is not None:
            await closer()
        elif hasattr(self.obj, "close"):
            await asyncio.to_thread(self.obj.close)


def _warm(matcher: Any, section: Any) -> None:
    """Load what the first request would otherwise wait for (readiness means ready to score).

    The embedding model, or the LLM client's HTTP library (it is imported by the first request
    otherwise, so that a fully cached `rcstudio score` never imports it).
    """
    if getattr(matcher, "kind", "") == "llm":
        import aiohttp  # noqa: F401
    if getattr(matcher, "kind", "") == "embedding":
        from rcstudio.rationale.matchers.embedding import load_model

        load_model(section.embedding_model)


def build_backend(
    run_dir: Path,
    spec: Spec,
    tokenizer: str | None = None,
    *,
    matcher: Any = None,
    llm_client: Any = None,
    wandb_run: Any = None,
    max_wait_s: float = 0.005,
    idle_flush_s: float = 30.0,
) -> RewardBackend:
    """Everything the server needs, loaded; `matcher`/`llm_client`/`wandb_run` override the spec's."""
    from rcstudio.rationale.reward import RewardSettings
    from rcstudio.serve.tokenizer import load_tokenizer

    run_dir = Path(run_dir)
    tok = load_tokenizer(tokenizer or spec.judge.tokenizer or spec.judge.model)
    rows, texts = load_table(run_dir / "data")
    if not texts:
        raise UserError(f"no prompt texts in {run_dir / 'data'} match the ground-truth table",
                        hint="data/train_prompts.jsonl holds {\"text\": prompt} lines whose sha256 is a prompt_sha")
    index = PromptIndex(rows, texts, tok, tok.special_ids)
    log.info("ground truth: %d rows, %d prompts indexed", len(rows), len(index))
    settings = RewardSettings.from_spec(spec.reward)
    batcher = None
    if spec.experiment.kind == "policy-rlhf":
        from rcstudio.serve.policy import PolicyScorer

        if llm_client is None:
            from rcstudio.clients.llm import LLMClient, LLMConfig

            endpoint = spec.judge.endpoint or os.environ.get(JUDGE_ENDPOINT_ENV, "")
            if not endpoint:
                raise UserError("policy-rlhf needs the trained GenRM's endpoint", key="judge.endpoint",
                                hint="serve the GenRM with vLLM and set judge.endpoint = \"http://HOST:PORT/v1\"")
            llm_client = LLMClient(LLMConfig.from_section(spec.judge, base_url=endpoint,
                                                          concurrency=spec.reward.matcher.concurrency,
                                                          timeout_s=spec.reward.matcher.timeout_s,
                                                          max_retries=spec.reward.matcher.max_retries))
        scorer: Any = PolicyScorer(llm_client, penalty=settings.format_penalty, top_k=spec.judge.top_k,
                                   template=spec.judge.prompt_template)
        stats = None
    else:
        if matcher is None:
            from rcstudio.rationale.matchers import make_matcher

            section = spec.reward.matcher
            if section.kind == "llm" and not section.endpoint and os.environ.get(MATCHER_ENDPOINT_ENV):
                section = section.model_copy(update={"endpoint": os.environ[MATCHER_ENDPOINT_ENV]})
            matcher = make_matcher(section)
            _warm(matcher, spec.reward.matcher)
        timeout = spec.reward.matcher.timeout_s * (spec.reward.matcher.max_retries + 1) + 30.0
        batcher = MatchBatcher(matcher, max_batch=max(64, spec.reward.matcher.concurrency * 4),
                               max_wait_s=max_wait_s, timeout_s=timeout)
        scorer = HybridScorer(settings, batcher, top_k=spec.judge.top_k)
        stats = _matcher_stats(batcher, matcher)
    if wandb_run is None:
        from rcstudio.tracking.wandb_log import init_run

        rid = run_id_of(run_dir)
        wandb_run = init_run(spec, run_dir, rid + "-rm", job_type="reward-server", name=rid + "-rm")
    step_logger = StepLogger(wandb_run, spec.rl.global_batch_size * spec.rl.rollouts_per_prompt,
                             idle_flush_s=idle_flush_s, matcher_stats=stats)
    closers: list[Any] = [scorer] if hasattr(scorer, "aclose") else []
    if matcher is not None:
        closers.append(_SyncCloser(matcher))
    return RewardBackend(SequenceSplitter(index, tok), scorer, step_logger=step_logger, batcher=batcher,
                         extra_closers=closers)


def run_server(
    run_dir: Path,
    host: str = "127.0.0.1",
    port: int = 5555,
    tokenizer: str | None = None,
    token_env: str | None = None,
    request_timeout_s: float = 600.0,
    ready_file: Path | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (what Slurm sends at teardown). Exits nonzero if loading fails."""
    from rcstudio.spec import load_resolved
    from rcstudio.spec.resolved import RESOLVED_NAME

    run_dir = Path(run_dir)
    if not (run_dir / RESOLVED_NAME).is_file():
        raise UserError(f"{run_dir} is not a run directory (no {RESOLVED_NAME})",
                        hint="pass the directory `rcstudio compile` or `rcstudio submit` created")
    spec = load_resolved(run_dir)
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise UserError(f"environment variable {token_env} is empty", key="--token-env",
                            hint="export the shared token in that variable before starting the server")
    # A request holds at most one step's rollouts, each padded to the model's sequence length.
    rows = spec.rl.global_batch_size * spec.rl.rollouts_per_prompt
    settings = ServerSettings(host=host, port=port, token=token, request_timeout_s=request_timeout_s,
                              max_body_bytes=body_limit(rows, spec.rl.effective_seq_length))

    def on_ready(server: RunningServer) -> None:
        info = {"host": host, "port": server.port, "model": MODEL_NAME}
        if ready_file is not None:
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(json.dumps(info) + "\n")
        print(f"reward server ready on {host}:{server.port} (model {MODEL_NAME})", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await serve(MODEL_NAME, settings, lambda: build_backend(run_dir, spec, tokenizer), on_ready=on_ready, stop=stop)

    asyncio.run(main())
