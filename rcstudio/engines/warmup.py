"""Format warm-up: a few supervised steps on example judgments before GRPO, for any HF causal LM.

Why: a real small judge (SmolLM2-135M) writes almost nothing the judgment parser accepts, so every
GRPO reward is the format penalty and the policy gradient is zero. Before GRPO, `warm_up` runs
`steps` AdamW steps of next-token loss on (prompt, judgment) examples - the loss on the judgment
tokens only - from a file (`[rl.trl] sft_warmup_file`: JSONL `{"prompt": str | messages,
"completion": str}`) or from the training data's stored judgments whose verdict agrees with the
humans (`engines.trl.train.priming_examples`). The parse rate of greedy outputs on a few training
prompts is measured before and after (batched, `evals/local_generate.py`), logged as its own phase
(`warmup/*` in W&B, lines in `run-job.log`) and returned. The warmed model is saved to its own
directory and reused when the same warm-up is asked again (a resumed job).

`tiny_model._prime` runs the same loop (`sft_steps`) on its random models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError
from rcstudio.sft import sft_steps

MARKER = "rcstudio_warmup.json"


@dataclass(frozen=True)
class WarmupResult:
    model_dir: str
    steps: int
    examples: int
    parse_rate_before: float | None
    parse_rate_after: float | None
    final_loss: float | None
    seconds: float
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_examples(path: str | Path, key: str = "rl.trl.sft_warmup_file") -> list[tuple[Any, str]]:
    """(prompt, completion) rows of a warm-up JSONL; a bad row is a UserError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"warm-up file {path} does not exist", key=key)
    out: list[tuple[Any, str]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"not JSON: {exc.msg}", file=str(path), line=n, key=key) from None
        prompt, completion = (row.get("prompt"), row.get("completion")) if isinstance(row, dict) else (None, None)
        if not isinstance(completion, str) or not completion or not isinstance(prompt, (str, list)) or not prompt:
            raise UserError("each row needs a non-empty \"prompt\" (text or chat messages) and \"completion\" (text)",
                            file=str(path), line=n, key=key,
                            hint='e.g. {"prompt": "Which response is better? ...", "completion": "... \\\\boxed{A>B}"}')
        out.append((prompt, completion))
    if not out:
        raise UserError(f"warm-up file {path} has no examples", file=str(path), key=key)
    return out


def encode_example(tokenizer: Any, prompt: Any, completion: str, max_tokens: int = 0) -> tuple[list[int], list[int]] | None:
    """Prompt ids as the engine will show the prompt (chat template when the tokenizer has one, like
    TRL's conversational prompts), judgment ids + EOS. None when it is longer than `max_tokens`."""
    from rcstudio.tokens import prompt_ids

    p = prompt_ids(tokenizer, prompt)
    y = [int(i) for i in tokenizer(completion, add_special_tokens=False)["input_ids"]]
    if tokenizer.eos_token_id is not None:
        y.append(int(tokenizer.eos_token_id))
    if max_tokens and len(p) + len(y) > max_tokens:
        return None
    return p, y


def parse_rate(texts: Sequence[str | None]) -> float:
    """Fraction of outputs the judgment parser accepts (a verdict was found)."""
    from rcstudio.rationale.parse import parse_judgment

    if not texts:
        return 0.0
    return sum(1 for t in texts if t is not None and parse_judgment(t).ok) / len(texts)


def measure_parse_rate(lm: Any, tokenizer: Any, prompts: Sequence[Any], max_new_tokens: int) -> float | None:
    """Greedy outputs of `prompts`, generated in batches, scored by `parse_rate` (None: no prompts)."""
    if not prompts:
        return None
    from rcstudio.evals.local_generate import BatchGenerator, GenerationSettings

    device = str(next(lm.parameters()).device)
    gen = BatchGenerator(lm, tokenizer, GenerationSettings(max_new_tokens=max_new_tokens), device)
    return parse_rate(gen.generate(list(prompts)))


def _fingerprint(model: str, examples: Sequence[tuple[Any, str]], steps: int, lr: float, seed: int) -> str:
    h = hashlib.sha256(json.dumps([model, steps, lr, seed], sort_keys=True).encode())
    for prompt, completion in examples:
        h.update(json.dumps([prompt, completion], sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def warm_up(model: str, out_dir: str | Path, examples: Sequence[tuple[Any, str]], steps: int, lr: float, *,
            seed: int = 0, eval_prompts: Sequence[Any] = (), max_new_tokens: int = 128, max_tokens: int = 0,
            tokenizer: str = "", log: Callable[[str], None] | None = None,
            on_step: Callable[[int, float], None] | None = None) -> WarmupResult:
    """Warm `model` (HF id or directory) up on `examples` into `out_dir`; see the module docstring."""
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say = log or (lambda _m: None)
    out_dir = Path(out_dir)
    stamp = _fingerprint(model, examples, steps, lr, seed)
    marker = out_dir / MARKER
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("fingerprint") == stamp:
            say(f"phase warmup: reusing {out_dir} (same model, examples and steps)")
            return WarmupResult(**{**saved["result"], "reused": True})
    started = time.time()
    tok = AutoTokenizer.from_pretrained(tokenizer or model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    lm = AutoModelForCausalLM.from_pretrained(model)
    lm.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    encoded = [e for e in (encode_example(tok, p, c, max_tokens) for p, c in examples) if e is not None]
    if not encoded:
        raise UserError("no warm-up example fits the model's prompt + generation length", key="rl.trl.sft_warmup_steps",
                        hint="raise rl.max_prompt_tokens / max_generation_tokens, or give shorter examples")
    say(f"phase warmup: {steps} steps on {len(encoded)} examples (lr {lr:g}); parse rate on "
        f"{len(eval_prompts)} prompts before")
    before = measure_parse_rate(lm, tok, eval_prompts, max_new_tokens)
    say(f"phase warmup: parse rate before {_pct(before)}")
    losses = sft_steps(lm, encoded, steps, lr, seed, on_step)
    after = measure_parse_rate(lm, tok, eval_prompts, max_new_tokens)
    say(f"phase warmup: parse rate after {_pct(after)} (final loss {losses[-1]:.3f})" if losses
        else f"phase warmup: parse rate after {_pct(after)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    lm.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    result = WarmupResult(str(out_dir), steps, len(encoded), before, after, losses[-1] if losses else None,
                          round(time.time() - started, 2))
    marker.write_text(json.dumps({"fingerprint": stamp, "result": result.to_json()}, sort_keys=True))
    return result


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.0f}%"


def trl_stage(spec: Any, run_dir: Path, model: str, rows: Sequence[dict[str, Any]], items: Sequence[Any],
              rank: int = 0, log: Callable[[str], None] | None = None, wait_s: float = 7200.0) -> WarmupResult | None:
    """The warm-up phase of a TRL run (`[rl.trl] sft_warmup_steps > 0`), into `run_dir/warmup/`.

    Examples: `sft_warmup_file`, else the stored judgments of `items` that agree with the humans,
    on the (already length-fitted) training `rows`. Rank 0 trains; other ranks of a multi-GPU
    launch wait for its marker and load the same directory. Parse rate: greedy outputs of the first
    `sft_warmup_eval_prompts` training prompts, at most min(rl.max_generation_tokens, 256) tokens.
    """
    import time

    from rcstudio.errors import JobFailed

    ts = spec.rl.trl
    if not ts.sft_warmup_steps:
        return None
    out_dir = Path(run_dir) / "warmup"
    if rank != 0:
        deadline = time.monotonic() + wait_s
        while not (out_dir / MARKER).is_file():
            if time.monotonic() > deadline:
                raise JobFailed(f"rank {rank}: the warm-up on rank 0 did not finish within {wait_s:.0f} s")
            time.sleep(2.0)
        return WarmupResult(**{**json.loads((out_dir / MARKER).read_text())["result"], "reused": True})
    if ts.sft_warmup_file:
        examples = load_examples(ts.sft_warmup_file)
    else:
        from rcstudio.engines.trl.train import priming_examples

        examples = priming_examples(list(items), list(rows))
        if not examples:
            raise UserError("no stored judgment in data.train agrees with the human preference, so the warm-up "
                            "has nothing to learn from", key="rl.trl.sft_warmup_steps",
                            hint="give rl.trl.sft_warmup_file (JSONL of {prompt, completion}), or set it to 0")
    prompts = [r["prompt"] for r in list(rows)[: ts.sft_warmup_eval_prompts]]
    tokenizer = "" if model != spec.judge.model else spec.judge.tokenizer
    return warm_up(model, out_dir, examples, ts.sft_warmup_steps, ts.sft_warmup_lr, seed=spec.rl.seed,
                   eval_prompts=prompts, max_new_tokens=min(spec.rl.max_generation_tokens, 256),
                   max_tokens=spec.rl.max_prompt_tokens + spec.rl.max_generation_tokens, tokenizer=tokenizer,
                   log=log)
