"""The judge on vLLM's offline engine (`vllm.LLM`), in-process on a GPU node.

Why offline rather than `vllm serve`: no HTTP hop, no port, and vLLM schedules the whole task list
at once (continuous batching, prefix caching), which is what a benchmark sweep wants. Prompts are
token ids from the one shared counter (`engines/tokens.prompt_ids`, cut to the context like the
transformers backend), so both backends see identical prompts. `vllm` is imported only in `run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from rcstudio.evals.local_generate import GenerationSettings, cut_at_stop, fit_ids


def sampling_kwargs(settings: GenerationSettings) -> dict[str, Any]:
    """`vllm.SamplingParams(**kwargs)` for the judge settings (pure).

    Derivation (vllm/sampling_params.py, SamplingParams fields): `max_tokens` = new tokens,
    `temperature` 0 = greedy, `seed` per request for reproducible sampling, `stop` strings are cut
    from the returned text (the default `include_stop_str_in_output=False`), `n` = 1 completion.
    """
    kwargs: dict[str, Any] = {"n": 1, "max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
                              "seed": settings.seed}
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    return kwargs


def token_prompts(tokenizer: Any, prompts: Sequence[Sequence[dict]], context: int, max_new_tokens: int) -> list[dict]:
    """`[{"prompt_token_ids": [...]}, ...]` for `LLM.generate` (vllm/inputs/data.py TokensPrompt), pure
    given a tokenizer."""
    from rcstudio.tokens import prompt_ids

    return [{"prompt_token_ids": fit_ids(prompt_ids(tokenizer, p), context, max_new_tokens)} for p in prompts]


def engine_kwargs(model: str, tokenizer: str, tensor_parallel: int, seed: int, max_model_len: int = 0) -> dict[str, Any]:
    """`vllm.LLM(**kwargs)` (vllm/entrypoints/llm.py LLM.__init__ arguments)."""
    kwargs: dict[str, Any] = {"model": model, "tokenizer": tokenizer or model,
                              "tensor_parallel_size": max(1, tensor_parallel), "seed": seed}
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    return kwargs


class VLLMBackend:
    """`vllm.LLM(...).generate` over all tasks at once; outcomes reported as they map back."""

    name = "vllm"

    def __init__(self, model: str, tokenizer: str = "", settings: GenerationSettings | None = None,
                 tensor_parallel: int = 1) -> None:
        self.model = model
        self.tokenizer_name = tokenizer or model
        self.settings = settings or GenerationSettings()
        self.tensor_parallel = tensor_parallel
        self._llm: Any = None

    def _load(self) -> Any:
        if self._llm is None:
            from vllm import LLM

            self._llm = LLM(**engine_kwargs(self.model, self.tokenizer_name, self.tensor_parallel, self.settings.seed))
        return self._llm

    async def run(self, tasks: Sequence[Any], on_done: Any) -> None:
        def work() -> None:
            from vllm import SamplingParams

            llm = self._load()
            tok = llm.get_tokenizer()
            try:  # vllm/engine/llm_engine.py: LLMEngine.model_config (ModelConfig.max_model_len)
                context = int(llm.llm_engine.model_config.max_model_len)
            except AttributeError:
                context = 0  # unknown: prompts go as they are and vLLM rejects one that cannot fit
            prompts = token_prompts(tok, [t.messages for t in tasks], context, self.settings.max_new_tokens)
            start = time.perf_counter()
            outputs = llm.generate(prompts, SamplingParams(**sampling_kwargs(self.settings)), use_tqdm=False)
            per_item = (time.perf_counter() - start) * 1000 / max(1, len(tasks))
            for task, out in zip(tasks, outputs):  # LLM.generate returns outputs in input order
                on_done(task, cut_at_stop(out.outputs[0].text, self.settings.stop), None, False, per_item)

        await asyncio.to_thread(work)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"backend": self.name, "model": self.model, "tokenizer": self.tokenizer_name,
                "max_new_tokens": s.max_new_tokens, "temperature": s.temperature, "seed": s.seed,
                "stop": list(s.stop), "tensor_parallel": self.tensor_parallel}
