"""The judge runner: many judge prompts -> parsed verdicts, from an endpoint or a local HF model.

* `EndpointBackend`: any OpenAI-compatible server through `rationale.llm.LLMClient` (concurrency
  cap `judge.concurrency` that halves while the server times out, `judge.timeout_s`,
  `judge.max_retries` with backoff, persistent SQLite reply cache).
* `LocalHFBackend`: a causal LM loaded with transformers and `generate` (small models, CPU or one
  GPU), greedy when temperature is 0.
`JudgeRunner` writes every finished call to a JSONL file as it arrives, so an interrupted run
resumes where it stopped (calls that failed at the endpoint are retried on resume; replies that
failed to parse are kept - that failure is the judge's). A rich progress bar shows the run on stderr.
"""

from __future__ import annotations

import asyncio
import json
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
        from rcstudio.rationale.llm import LLMClient

        self.cfg = cfg
        self.model = cfg.model
        self.client = LLMClient(cfg, cache=cache)

    async def run(self, tasks: Sequence[JudgeTask], on_done: OnDone) -> None:
        from rcstudio.rationale.llm import LLMError

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
    """A local causal LM (HF id or directory) run with `transformers` `generate`, one prompt at a time.

    Prompts longer than the model's context keep their end (the instructions and verdict format
    come last in the built-in prompts).
    """

    name = "local"

    def __init__(self, model: str, tokenizer: str = "", max_new_tokens: int = 512, temperature: float = 0.0,
                 seed: int = 0, device: str | None = None, workdir: str | Path | None = None) -> None:
        self.model = model
        self.workdir = Path(workdir) if workdir else None
        self.tokenizer_name = tokenizer or model
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.device = device
        self._lm: Any = None
        self._tok: Any = None

    def _load(self, corpus: Sequence[str] = ()) -> None:
        if self._lm is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rcstudio.engines.tiny_model import build_tiny_model, is_tiny

        path, tok_path = self.model, self.tokenizer_name
        if is_tiny(self.model):
            # a random test model, built (tokenizer trained on these prompts) under workdir
            workdir = self.workdir or Path(tempfile.mkdtemp(prefix="rcstudio-tiny-judge-"))
            path = tok_path = str(build_tiny_model(self.model, corpus or ["judge"], workdir / "tiny-judge"))
        self._tok = AutoTokenizer.from_pretrained(tok_path)
        self._lm = AutoModelForCausalLM.from_pretrained(path)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._lm.to(device).eval()
        self.device = device

    def _prompt_ids(self, messages: list[dict]) -> list[int]:
        from rcstudio.engines.tokens import prompt_ids

        ids = prompt_ids(self._tok, messages)  # the one counter: chat template, else plain rendering
        limit = int(getattr(self._lm.config, "max_position_embeddings", 0) or 0)
        if limit:
            ids = ids[-max(1, limit - self.max_new_tokens):]
        return list(ids)

    def generate_one(self, messages: list[dict]) -> str:
        import torch

        self._load()
        ids = torch.tensor([self._prompt_ids(messages)], device=self.device)
        pad = self._tok.pad_token_id if self._tok.pad_token_id is not None else self._tok.eos_token_id
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": pad}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False)
        torch.manual_seed(self.seed)
        with torch.no_grad():
            out = self._lm.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
        return self._tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    async def run(self, tasks: Sequence[JudgeTask], on_done: OnDone) -> None:
        def work() -> None:
            self._load([m["content"] for t in tasks for m in t.messages])
            for task in tasks:
                start = time.perf_counter()
                try:
                    text = self.generate_one(task.messages)
                except (RuntimeError, ValueError, IndexError) as exc:  # a broken prompt, not a bug here
                    on_done(task, None, f"local: {type(exc).__name__}: {exc}", False, 0.0)
                else:
                    on_done(task, text, None, False, (time.perf_counter() - start) * 1000)

        await asyncio.to_thread(work)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "tokenizer": self.tokenizer_name,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "seed": self.seed}


def judge_model(judge: Any) -> str:
    """What to load or serve: a HF-format checkpoint when given (a `.nemo` file is for NeMo only)."""
    ckpt = getattr(judge, "checkpoint", "") or ""
    return ckpt if ckpt and not ckpt.endswith(".nemo") else judge.model


def make_backend(judge: Any, cache_path: Path | None = None, concurrency: int | None = None,
                 workdir: Path | None = None) -> Backend:
    """From a spec's `[judge]`: its `endpoint` when set, otherwise its model run locally
    (`tiny://random?...` builds a random test model under `workdir`)."""
    if getattr(judge, "endpoint", ""):
        from rcstudio.rationale.llm import LLMConfig, ResponseCache

        overrides = {"concurrency": concurrency} if concurrency else {}
        cfg = LLMConfig.from_section(judge, **overrides)
        return EndpointBackend(cfg, ResponseCache(cache_path) if cache_path else ResponseCache())
    return LocalHFBackend(judge_model(judge), judge.tokenizer, max_new_tokens=judge.max_tokens,
                          temperature=judge.temperature, workdir=workdir)


class JudgeRunner:
    """Runs tasks through a backend with resume (a JSONL of outcomes) and a progress bar."""

    def __init__(self, backend: Backend, out_path: str | Path | None = None, progress: bool = True,
                 description: str = "judging") -> None:
        self.backend = backend
        self.out_path = Path(out_path) if out_path else None
        self.progress = progress
        self.description = description
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
        bar = task_id = None
        if self.progress:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=Console(stderr=True))
            task_id = bar.add_task(self.description, total=len(tasks), completed=len(results))
            bar.start()

        def on_done(task: JudgeTask, text: str | None, error: str | None, cached: bool, latency: float) -> None:
            outcome = (outcome_from_text(task.key, text, cached, latency) if text is not None
                       else JudgeOutcome(task.key, None, None, [], error, False, 0.0))
            with lock:
                results[task.key] = outcome
                if sink is not None:
                    sink.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
                    sink.flush()
                if bar is not None:
                    bar.advance(task_id)

        try:
            if todo:
                from rcstudio.rationale.llm import run_sync

                run_sync(lambda: self.backend.run(todo, on_done))
        finally:
            if bar is not None:
                bar.stop()
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
