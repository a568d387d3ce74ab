"""The judge runner: many judge prompts -> parsed verdicts, from an endpoint or a local HF model.

* `EndpointBackend`: any OpenAI-compatible server through `clients.llm.LLMClient` (concurrency
  cap `judge.concurrency` that halves while the server times out, `judge.timeout_s`,
  `judge.max_retries` with backoff, persistent SQLite reply cache).
* `LocalHFBackend`: a causal LM loaded with transformers, `generate` in left-padded batches
  (small models, CPU or one GPU), greedy when temperature is 0.
* `vllm_backend.VLLMBackend`: vLLM's offline engine on a GPU node (chosen by `judge.backend`).
`JudgeRunner` writes every finished call to a JSONL file as it arrives, so an interrupted run
resumes where it stopped (calls that failed at the endpoint are retried on resume; replies that
failed to parse are kept - that failure is the judge's). Progress (`evals/progress.py`): a rich bar in a
terminal, done/total, generations/s and ETA lines in the job's `run-job.log` and stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rcstudio.rationale.parse import parse_judgment

OnDone = Callable[["JudgeTask", "str | None", "str | None", bool, float], None]


@dataclass(frozen=True)
class JudgeTask:
    """One judge call: a unique key (e.g. `<pair_id>:1`) and its chat messages."""

    key: str
    messages: list[dict]


@dataclass
class JudgeOutcome:
    """What came back for one task. `verdict` is None when the call or the parse failed; `error`
    says which (`endpoint: ...` / `local: ...` for the call, the parser's message otherwise)."""

    key: str
    text: str | None
    verdict: str | None
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    cached: bool = False
    latency_ms: float = 0.0

    @property
    def call_failed(self) -> bool:
        return self.text is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JudgeOutcome:
        return cls(**{k: data.get(k) for k in ("key", "text", "verdict", "error")},
                   reasons=list(data.get("reasons") or []), cached=bool(data.get("cached")),
                   latency_ms=float(data.get("latency_ms") or 0.0))


def outcome_from_text(key: str, text: str, cached: bool = False, latency_ms: float = 0.0) -> JudgeOutcome:
    j = parse_judgment(text)
    return JudgeOutcome(key, text, j.verdict, list(j.reasons), j.error, cached, latency_ms)


class Backend(Protocol):
    name: str
    model: str

    async def run(self, tasks: Sequence[JudgeTask], on_done: OnDone) -> None: ...

    def describe(self) -> dict[str, Any]: ...


class EndpointBackend:
    """An OpenAI-compatible endpoint (vLLM, SGLang, OpenAI) via `LLMClient`."""

    name = "endpoint"

    def __init__(self, cfg: Any, cache: Any | None = None) -> None:
        from rcstudio.clients.llm import LLMClient

        self.cfg = cfg
        self.model = cfg.model
        self.client = LLMClient(cfg, cache=cache)

    async def run(self, tasks: Sequence[JudgeTask], on_done: OnDone) -> None:
        from rcstudio.clients.llm import LLMError

        async def one(task: JudgeTask) -> None:
            try:
                c = await self.client.complete(task.messages, validate=None, reask=0)
            except LLMError as exc:
                on_done(task, None, f"endpoint: {exc}", False, 0.0)
            else:
                on_done(task, c.text, None, c.cached, c.latency_ms)

        try:
            await asyncio.gather(*(one(t) for t in tasks))
        finally:
            await self.client.aclose()

    def describe(self) -> dict[str, Any]:
        # base URL and model only: the API key stays in the environment
        return {"backend": self.name, "model": self.model, "endpoint": self.cfg.base_url,
                "concurrency": self.cfg.concurrency, "timeout_s": self.cfg.timeout_s,
                "max_retries": self.cfg.max_retries, "temperature": self.cfg.temperature,
                "max_tokens": self.cfg.max_tokens}


class LocalHFBackend:
    """A local causal LM (HF id or directory) run with transformers `generate`, in left-padded
    batches sorted by prompt length (`evals/local_generate.py`); `max_batch_size=1` is one prompt
    at a time. Prompts longer than the model's context keep their end (the instructions and verdict
    format come last in the built-in prompts).
    """

    name = "transformers"

    def __init__(self, model: str, tokenizer: str = "", max_new_tokens: int = 512, temperature: float = 0.0,
                 seed: int = 0, device: str | None = None, workdir: str | Path | None = None,
                 stop: Sequence[str] = (), max_batch_size: int = 32, memory_budget_bytes: int = 0) -> None:
        from rcstudio.evals.local_generate import GenerationSettings

        self.model = model
        self.workdir = Path(workdir) if workdir else None
        self.tokenizer_name = tokenizer or model
        self.settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                           stop=tuple(stop), max_batch_size=max_batch_size,
                                           memory_budget_bytes=memory_budget_bytes)
        self.device = device
        self._gen: Any = None

    @property
    def max_new_tokens(self) -> int:
        return self.settings.max_new_tokens

    def _load(self, corpus: Sequence[str] = ()) -> Any:
        if self._gen is not None:
            return self._gen
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rcstudio.evals.local_generate import BatchGenerator
        from rcstudio.tiny_model import build_tiny_model, is_tiny

        path, tok_path = self.model, self.tokenizer_name
        if is_tiny(self.model):
            # a random test model, built (tokenizer trained on these prompts) under workdir
            workdir = self.workdir or Path(tempfile.mkdtemp(prefix="rcstudio-tiny-judge-"))
            path = tok_path = str(build_tiny_model(self.model, corpus or ["judge"], workdir / "tiny-judge"))
        tok = AutoTokenizer.from_pretrained(tok_path)
        lm = AutoModelForCausalLM.from_pretrained(path)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        lm.to(device).eval()
        self.device = device
        self._gen = BatchGenerator(lm, tok, self.settings, device)
        return self._gen

    def generate_one(self, messages: list[dict]) -> str:
        """One prompt alone (no padding): the reference the batched path must match."""
        gen = self._load()
        return gen.generate_batch([gen.prompt_ids(messages)])[0]

    def generate_many(self, prompts: Sequence[list[dict]]) -> list[str | None]:
        """Completions of many prompts in batches, in the given order."""
        return self._load().generate(prompts)

    async def run(self, tasks: Sequence[JudgeTask], on_done: OnDone) -> None:
        def work() -> None:
            gen = self._load([m["content"] for t in tasks for m in t.messages])
            start = time.perf_counter()

            def on_batch(indices: list[int], texts: list[str] | None, error: Exception | None) -> None:
                nonlocal start
                per_item = (time.perf_counter() - start) * 1000 / max(1, len(indices))
                start = time.perf_counter()
                for n, i in enumerate(indices):
                    if texts is None:  # a broken prompt or out of memory, not a bug here
                        on_done(tasks[i], None, f"local: {type(error).__name__}: {error}", False, 0.0)
                    else:
                        on_done(tasks[i], texts[n], None, False, per_item)

            gen.generate([t.messages for t in tasks], on_batch)

        await asyncio.to_thread(work)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"backend": self.name, "model": self.model, "tokenizer": self.tokenizer_name,
                "max_new_tokens": s.max_new_tokens, "temperature": s.temperature, "seed": s.seed,
                "stop": list(s.stop), "max_batch_size": s.max_batch_size,
                "memory_budget_bytes": self._gen.budget if self._gen is not None else s.memory_budget_bytes,
                "device": self.device}


def judge_model(judge: Any) -> str:
    """What to load or serve: a HF-format checkpoint when given (a `.nemo` file is for NeMo only)."""
    ckpt = getattr(judge, "checkpoint", "") or ""
    return ckpt if ckpt and not ckpt.endswith(".nemo") else judge.model


def make_backend(judge: Any, cache_path: Path | None = None, concurrency: int | None = None,
                 workdir: Path | None = None, machine: Any = None, tensor_parallel: int = 1) -> Backend:
    """From a spec's `[judge]`, per `judge.backend` (`evals/backend_choice.py`): its endpoint, vLLM's
    offline engine, or transformers in batches (`tiny://random?...` builds a random test model under
    `workdir`). A `vllm serve` process is the eval job's business (it passes the served endpoint)."""
    from rcstudio.evals import backend_choice
    from rcstudio.evals.local_generate import GenerationSettings

    model = judge_model(judge)
    chosen = backend_choice.choose_backend(getattr(judge, "backend", "auto"), getattr(judge, "endpoint", ""),
                                           model, machine or backend_choice.probe())
    if chosen == "endpoint":
        from rcstudio.clients.llm import LLMConfig, ResponseCache

        overrides = {"concurrency": concurrency} if concurrency else {}
        cfg = LLMConfig.from_section(judge, **overrides)
        return EndpointBackend(cfg, ResponseCache(cache_path) if cache_path else ResponseCache())
    stop = tuple(getattr(judge, "stop", ()) or ())
    batch = int(getattr(judge, "max_batch_size", 32) or 32)
    budget = int(float(getattr(judge, "memory_budget_gb", 0.0) or 0.0) * (1 << 30))
    if chosen == "vllm":
        from rcstudio.evals.vllm_backend import VLLMBackend

        settings = GenerationSettings(max_new_tokens=judge.max_tokens, temperature=judge.temperature, stop=stop)
        return VLLMBackend(model, judge.tokenizer, settings, tensor_parallel=tensor_parallel)
    # "transformers", or "vllm-serve" asked of a caller that starts no server
    return LocalHFBackend(model, judge.tokenizer, max_new_tokens=judge.max_tokens, temperature=judge.temperature,
                          workdir=workdir, stop=stop, max_batch_size=batch, memory_budget_bytes=budget)


class JudgeRunner:
    """Runs tasks through a backend with resume (a JSONL of outcomes) and a progress bar."""

    def __init__(self, backend: Backend, out_path: str | Path | None = None, progress: bool = True,
                 description: str = "judging", log_path: str | Path | None = None,
                 progress_interval_s: float = 10.0, run_dir: str | Path | None = None) -> None:
        self.backend = backend
        self.out_path = Path(out_path) if out_path else None
        self.progress = progress
        self.description = description
        self.log_path = Path(log_path) if log_path else None  # the job's run-job.log: progress lines
        self.progress_interval_s = progress_interval_s
        self.run_dir = Path(run_dir) if run_dir else None  # its logs/progress.json: the dashboard's header
        self.resumed = 0

    def _previous(self) -> dict[str, JudgeOutcome]:
        done: dict[str, JudgeOutcome] = {}
        if self.out_path is None or not self.out_path.is_file():
            return done
        for line in self.out_path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            try:
                outcome = JudgeOutcome.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut by the interruption
            if not outcome.call_failed:
                done[outcome.key] = outcome
        return done

    def run(self, tasks: Sequence[JudgeTask]) -> dict[str, JudgeOutcome]:
        """Outcomes for every task (keys must be unique), from this run or a previous one."""
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            raise ValueError("judge task keys must be unique")
        previous = self._previous()
        results: dict[str, JudgeOutcome] = {k: previous[k] for k in keys if k in previous}
        self.resumed = len(results)
        todo = [t for t in tasks if t.key not in results]
        lock = threading.Lock()
        sink = None
        if self.out_path is not None:
            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            sink = self.out_path.open("a", encoding="utf-8")
        reporter = None
        if self.progress or self.log_path is not None or self.run_dir is not None:
            from rcstudio.evals.progress import Progress

            # interactive: a rich bar; in a job: lines in run-job.log and on stdout (`rcstudio logs -f`)
            reporter = Progress(self.description, len(tasks), log_path=self.log_path, already=len(results),
                                interval_s=self.progress_interval_s, bar=None if self.progress else False,
                                stream=sys.stdout if self.progress else io.StringIO(), run_dir=self.run_dir)
            if todo:
                reporter.start()

        def on_done(task: JudgeTask, text: str | None, error: str | None, cached: bool, latency: float) -> None:
            outcome = (outcome_from_text(task.key, text, cached, latency) if text is not None
                       else JudgeOutcome(task.key, None, None, [], error, False, 0.0))
            with lock:
                results[task.key] = outcome
                if sink is not None:
                    sink.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
                    sink.flush()
                if reporter is not None:
                    reporter.advance()

        try:
            if todo:
                from rcstudio.clients.llm import run_sync

                run_sync(lambda: self.backend.run(todo, on_done))
        finally:
            if reporter is not None:
                reporter.close()
            if sink is not None:
                sink.close()
        return {k: results[k] for k in keys}


def summarize(outcomes: dict[str, JudgeOutcome]) -> dict[str, Any]:
    """Counts recorded with results: calls that failed, replies without a verdict, cache hits."""
    values = list(outcomes.values())
    return {
        "n": len(values),
        "call_failures": sum(o.call_failed for o in values),
        "parse_failures": sum((not o.call_failed) and o.verdict is None for o in values),
        "cached": sum(o.cached for o in values),
    }
