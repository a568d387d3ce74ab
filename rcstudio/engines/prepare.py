"""Training-data preparation, the one for every engine: pairs -> judge prompts + ground truth.

`training_prompts(spec)` is THE preparation of GenRM training prompts: which items are kept
(`keep_for_training`), the validation split, which are shown swapped (`rationale.prompt.orders`:
per item id and `data.seed`, so adding items reshuffles no other), the rendered judge prompt and
the ground truth the reward needs. Every engine trains on its result (each engine only formats
it: chat wrapping, file format), and a test checks that all registered engines get the same.

`prepare_data` (the `prepare` step) writes it for the reward server and the NeMo-Aligner actor.
Runs inside the job (`rcstudio run-job --run-dir DIR --step prepare`), first thing in het group 0.
Writes, in `data/`:
- `train_prompts.jsonl`, `val_prompts.jsonl`: `{"text": prompt}` per line (NeMo-Aligner's prompt
  dataset reads `text`), the judge prompt wrapped in the chat format the actor expects;
- `ground_truth.jsonl`: per prompt `{"prompt_sha", "id", "domain", "preference", "swapped",
  "human_checklist", "split"}` - preference already flipped for swapped items (A = response2 then).
Validation prompts come from `data.val_items` training items held out by a seeded hash of their
id (never from `data.eval`, the evaluation split: checkpoint selection by `val_rewards` must not
see it). Prompts longer than `rl.max_prompt_tokens` (counted with the actor model's tokenizer via
`rcstudio/tokens.py`) are dropped and counted per split, so NeMo-Aligner never swaps or cuts one.
`actor_overrides.txt` (NeMo-Aligner runs) carries the Hydra overrides only the data decides: the
scheduler's `max_steps` in optimizer steps, and `num_val_samples` after the length filter.
Prompts ask for `judge.top_k` reasons: training specs set 0 (a free number, as in the paper's
training; the recipes do), evaluation asks for the top 5.
Policy-RLHF runs get the conversation itself as the prompt, and rows carry `context` and a
`reference` answer for the GenRM to compare against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcstudio.errors import JobFailed
from rcstudio.rationale.prompt import orders, swap_decision
from rcstudio.rationale.schema import PairItem
from rcstudio.serve.ground_truth import GROUND_TRUTH_FILE, TRAIN_FILE, VAL_FILE, prompt_sha  # the reader's format
from rcstudio.spec.models import Spec

__all__ = ["TrainingData", "TrainingPrompt", "orders", "prepare_data", "swap_decision", "training_prompts"]

SUMMARY_FILE = "prepare_summary.json"
VAL_FRACTION = 0.05  # data.val_items = 0: hold out 5% of the training items (at least one)
ACTOR_OVERRIDES_FILE = "actor_overrides.txt"


@dataclass(frozen=True)
class Prompt:
    text: str
    row: dict[str, Any]


# -- pure helpers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingPrompt:
    """One GenRM training prompt: the judge prompt (before any engine's chat wrapping) and the
    ground truth of the pair as shown (`preference` already flipped when `swapped`: A = response2)."""

    prompt: str
    id: str
    domain: str
    preference: int | None
    swapped: bool
    human_checklist: tuple[str, ...]

    def ground_truth(self, text: str) -> dict[str, Any]:
        """The reward side's row for this prompt as the engine sends it (`text`, wrapped)."""
        return {"prompt_sha": prompt_sha(text), "id": self.id, "domain": self.domain,
                "preference": self.preference, "swapped": self.swapped,
                "human_checklist": list(self.human_checklist)}


@dataclass
class TrainingData:
    """What `training_prompts` made: train and validation prompts, the kept training items (a
    tiny model's warm-up reads their stored judgments), why items were dropped, and the sources."""

    train: list[TrainingPrompt]
    val: list[TrainingPrompt]
    train_items: list[PairItem]
    dropped: dict[str, int]
    sources: list[str]


def chatml(prompt: str) -> str:
    """One user turn in ChatML (Qwen's chat format), ending where the assistant starts."""
    return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def chatml_conversation(context: Sequence[dict[str, Any]]) -> str:
    turns = "".join(f"<|im_start|>{m.get('role', 'user')}\n{m.get('content', '')}<|im_end|>\n" for m in context)
    return turns + "<|im_start|>assistant\n"


def keep_for_training(item: Any, tie_policy: str) -> str | None:
    """Why an item cannot be a training prompt (None = keep)."""
    if item.preference is None:
        return "no preference label"
    if item.preference == 0 and tie_policy == "skip":
        return "tie (reward.tie_policy = skip)"
    if not item.human_checklist:
        return "no human checklist"
    return None


def judge_prompts(items: Iterable[PairItem], *, swap: str, seed: int, template: str,
                  top_k: int = 0) -> list[TrainingPrompt]:
    """GenRM training prompts, one per shown order, repeated prompt texts dropped (the ground
    truth is keyed by the prompt's hash)."""
    from rcstudio.rationale.prompt import render_judge_prompt

    out: list[TrainingPrompt] = []
    seen: set[str] = set()
    for item in items:
        for swapped in orders(item.id, swap, seed):
            text = render_judge_prompt(item, top_k=top_k, swapped=swapped, template=template)
            if text in seen:
                continue
            seen.add(text)
            pref = item.preference
            out.append(TrainingPrompt(text, str(item.id), item.domain,
                                      -pref if (swapped and pref is not None) else pref, swapped,
                                      tuple(item.human_checklist)))
    return out


def policy_prompts(items: Iterable[Any], *, wrap_conversation: Callable[[list], str]) -> list[Prompt]:
    """Policy RLHF prompts: the conversation; the row keeps it and a reference answer."""
    out = []
    for item in items:
        text = wrap_conversation(list(item.context))
        reference = item.extra.get("reference") or item.extra.get("reference_answer") or item.response1
        out.append(Prompt(text, {
            "prompt_sha": prompt_sha(text), "id": item.id, "domain": item.domain, "preference": None,
            "swapped": False, "human_checklist": list(item.human_checklist),
            "context": [dict(m) for m in item.context], "reference": reference,
        }))
    return out


def dedupe(prompts: Iterable[Prompt]) -> list[Prompt]:
    """Drop repeated prompt texts (the ground truth is keyed by the text's hash)."""
    seen: set[str] = set()
    out = []
    for p in prompts:
        sha = p.row["prompt_sha"]
        if sha not in seen:
            seen.add(sha)
            out.append(p)
    return out


def val_rank(item_id: str, seed: int) -> str:
    """The order items are held out in: a seeded hash of the id, so the slice depends on neither
    the file order nor the other items."""
    return hashlib.sha256(f"val:{seed}:{item_id}".encode()).hexdigest()


def split_val(items: list[Any], seed: int, n_val: int) -> tuple[list[Any], list[Any]]:
    """(train, val): the `n_val` items with the lowest `val_rank` are held out (at least one item
    stays for training); every copy of a held-out id goes to validation."""
    if not items or n_val <= 0:
        return list(items), []
    ranked = sorted({it.id for it in items}, key=lambda i: val_rank(i, seed))
    held = set(ranked[:min(n_val, len(ranked) - 1)])
    return [it for it in items if it.id not in held], [it for it in items if it.id in held]


def drop_long(prompts: list[Prompt], count: Callable[[str], int], limit: int) -> tuple[list[Prompt], int]:
    """Prompts within `limit` tokens, and how many were over."""
    kept = [p for p in prompts if count(p.text) <= limit]
    return kept, len(prompts) - len(kept)


def actor_tokenizer_name(spec: Any) -> str:
    """The tokenizer of the model the actor generates with (its prompts are cut by it)."""
    if spec.experiment.kind == "policy-rlhf":
        return spec.policy.model or spec.judge.tokenizer or spec.judge.model
    return spec.judge.tokenizer or spec.judge.model


def token_counter(spec: Any) -> Callable[[str], int]:
    """Prompt text -> its token count with the actor model's tokenizer (rcstudio/tokens.py).

    The prepared text is already wrapped in the chat format, so it is tokenized as is (chat=False);
    a tokenizer that adds BOS counts one more token than NeMo's `text_to_ids`, never fewer."""
    from rcstudio.tokens import count_prompt_tokens
    from rcstudio.serve.tokenizer import load_tokenizer

    tok = load_tokenizer(actor_tokenizer_name(spec)).tok
    return lambda text: count_prompt_tokens(tok, text, chat=False)


# -- I/O -------------------------------------------------------------------------------------------
def _load(sources: Sequence[str], limit: int) -> tuple[list[PairItem], list[str]]:
    from rcstudio.rationale.data import load_pairs

    items: list[PairItem] = []
    notes = []
    for src in sources:
        result = load_pairs(src, limit=limit)  # no source needs more than `limit`: stop reading there
        items.extend(result.items)
        notes.append(result.summary())
    return (items[:limit] if limit else items), notes


def load_items(spec: Spec, with_val: bool = True) -> tuple[list[PairItem], list[PairItem], list[str]]:
    """(train items, validation items, source notes): data.train capped by data.max_items, minus
    the `data.val_items` items held out by id for validation (held out whether or not the engine
    validates, `with_val`, so the training items never depend on it). data.eval is an evaluation
    split and is never validated on."""
    train_items, notes = _load(spec.data.train, spec.data.max_items)
    n_val = spec.data.val_items or (max(1, int(len(train_items) * VAL_FRACTION)) if len(train_items) > 1 else 0)
    train_items, val_items = split_val(train_items, spec.data.seed, n_val)
    return train_items, (val_items if with_val else []), notes


def training_prompts(spec: Spec, with_val: bool = True) -> TrainingData:
    """THE training prompts of a GenRM run, for every engine (see the module docstring);
    `with_val=False` skips reading data.eval for engines that do not validate."""
    train_items, val_items, notes = load_items(spec, with_val)
    dropped: dict[str, int] = {}

    def usable(items: list[PairItem]) -> list[PairItem]:
        kept = []
        for it in items:
            why = keep_for_training(it, spec.reward.tie_policy)
            if why:
                dropped[why] = dropped.get(why, 0) + 1
            else:
                kept.append(it)
        return kept

    def build(items: list[PairItem]) -> list[TrainingPrompt]:
        return judge_prompts(items, swap=spec.data.swap, seed=spec.data.seed,
                             template=spec.judge.prompt_template, top_k=spec.judge.top_k)

    kept_train = usable(train_items)
    return TrainingData(build(kept_train), build(usable(val_items)), kept_train, dropped, notes)


def _wrapper(spec: Spec) -> tuple[Callable[[str], str], Callable[[list], str]]:
    fmt = spec.judge.chat_format
    if fmt == "chatml":
        return chatml, chatml_conversation
    if fmt == "none":
        return (lambda p: p), (lambda ctx: "\n\n".join(str(m.get("content", "")) for m in ctx))
    from transformers import AutoTokenizer  # heavy: only for chat_format = "tokenizer"

    tok = AutoTokenizer.from_pretrained(spec.judge.tokenizer or spec.judge.model)

    def conv(ctx: list) -> str:
        return tok.apply_chat_template(ctx, tokenize=False, add_generation_prompt=True)

    return (lambda p: conv([{"role": "user", "content": p}])), conv


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def prepare_data(run_dir: Path, spec: Spec, *,
                 actor_overrides: Callable[[Spec, int, int], list[str]] | None = None) -> dict[str, Any]:
    """Write the actor's prompt files and the ground-truth table into `run_dir/data`; returns a summary."""
    run_dir = Path(run_dir)
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    wrap, wrap_conv = _wrapper(spec)
    if spec.experiment.kind == "policy-rlhf":
        train_items, val_items, notes = load_items(spec)
        dropped: dict[str, int] = {}

        def build(items: list[PairItem]) -> list[Prompt]:
            return dedupe(policy_prompts([it for it in items if it.context], wrap_conversation=wrap_conv))

        train, val = build(train_items), build(val_items)
    else:  # the shared GenRM training prompts, wrapped for the actor
        data = training_prompts(spec)
        notes, dropped = data.sources, data.dropped
        train, val = ([Prompt(wrap(p.prompt), p.ground_truth(wrap(p.prompt))) for p in ps]
                      for ps in (data.train, data.val))
    count = token_counter(spec)
    limit = spec.rl.max_prompt_tokens
    train, long_train = drop_long(train, count, limit)
    val, long_val = drop_long(val, count, limit)
    too_long = {"train": long_train, "val": long_val}
    if not train:
        raise JobFailed(f"no usable training prompts ({'; '.join(notes)}; dropped: {dropped or 'none'}; "
                        f"over rl.max_prompt_tokens = {limit}: {too_long})")
    if len(train) < spec.rl.global_batch_size:
        raise JobFailed(f"{len(train)} training prompts are fewer than one step's rl.global_batch_size "
                        f"({spec.rl.global_batch_size}): NeMo-Aligner would train 0 steps")
    # an engine whose actor reads run-time overrides (NeMo-Aligner: engines/nemo_aligner/prep.py) passes
    # the function that derives them from the prompt counts; it raises JobFailed for unusable counts
    overrides = actor_overrides(spec, len(train), len(val)) if actor_overrides else []
    warnings: list[str] = []
    # `split` lets the reward server log validation rollouts apart from the training steps
    rows = {p.row["prompt_sha"]: {**p.row, "split": split} for split, ps in (("train", train), ("val", val))
            for p in ps}
    summary = {
        "train_prompts": _write_jsonl(data_dir / TRAIN_FILE, ({"text": p.text} for p in train)),
        "val_prompts": _write_jsonl(data_dir / VAL_FILE, ({"text": p.text} for p in val)),
        "ground_truth_rows": _write_jsonl(data_dir / GROUND_TRUTH_FILE, rows.values()),
        "swapped": sum(1 for p in train + val if p.row["swapped"]),
        "dropped": dropped,
        "over_max_prompt_tokens": too_long,
        "actor_overrides": overrides,
        "sources": notes,
        "chat_format": spec.judge.chat_format,
        "warnings": warnings,
    }
    if actor_overrides:
        (data_dir / ACTOR_OVERRIDES_FILE).write_text("".join(o + "\n" for o in overrides), encoding="utf-8")
    (run_dir / "results").mkdir(exist_ok=True)
    (run_dir / "results" / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"prepared {summary['train_prompts']} train / {summary['val_prompts']} val prompts, "
          f"{summary['ground_truth_rows']} ground-truth rows in {data_dir}; dropped over "
          f"rl.max_prompt_tokens = {limit}: {long_train} train, {long_val} val", flush=True)
    for w in warnings:
        print(f"warning: {w}", flush=True)
    return summary
