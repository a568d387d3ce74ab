"""Tiny random causal LMs for demos and tests: `judge.model = "tiny://random?layers=2"`.

There is no model hub on a fresh laptop or an air-gapped node, yet the quickstart's TRL variant and
the engine tests must train *something* end to end. A `tiny://` model is a Llama with random weights
and a byte-level BPE tokenizer trained (with `tokenizers`) on the run's own prompts, built
deterministically from a seed and saved as an ordinary Hugging Face model directory, so everything
downstream (TRL, checkpoints, resume) takes the real loading path.

Query parameters (all optional): `layers` (2), `hidden` (64), `heads` (4), `vocab` (300),
`seed` (0), `max_positions` (4096), `prime` (0): that many steps of supervised warm-up on example
judgments (the stored judge outputs of the training data, when the engine has any), so that a
random model starts out writing the judgment format and GRPO has rewards to work with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rcstudio.errors import UserError

SCHEME = "tiny://"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


@dataclass(frozen=True)
class TinyModelSpec:
    """The shape of a tiny random model, parsed from a `tiny://random?...` string."""

    layers: int = 2
    hidden: int = 64
    heads: int = 4
    vocab: int = 300
    seed: int = 0
    max_positions: int = 4096
    prime: int = 0


def is_tiny(model: str) -> bool:
    return model.startswith(SCHEME)


def parse_tiny(model: str) -> TinyModelSpec:
    """`tiny://random?layers=2&hidden=64` -> TinyModelSpec; unknown keys and bad values are user errors."""
    parts = urlsplit(model)
    if parts.scheme != "tiny" or parts.netloc != "random":
        raise UserError(f"unknown tiny model {model!r}", key="judge.model",
                        hint='write it as "tiny://random?layers=2&hidden=64"')
    fields = TinyModelSpec.__dataclass_fields__
    values: dict[str, int] = {}
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        if key not in fields:
            raise UserError(f"unknown tiny model parameter {key!r}", key="judge.model",
                            hint="known: " + ", ".join(fields))
        try:
            values[key] = int(raw)
        except ValueError:
            raise UserError(f"tiny model parameter {key}={raw!r} is not an integer", key="judge.model") from None
        if values[key] < (0 if key == "seed" else 1):
            raise UserError(f"tiny model parameter {key} must be positive", key="judge.model")
    spec = TinyModelSpec(**values)
    if spec.hidden % spec.heads:
        raise UserError(f"tiny model hidden={spec.hidden} is not divisible by heads={spec.heads}",
                        key="judge.model")
    return spec


def build_tiny_model(
    model: str, corpus: Iterable[str], out_dir: Path, examples: Sequence[tuple[str, str]] = (),
    on_step: Any = None,
) -> Path:
    """Train the tokenizer on `corpus`, build the random Llama, save both to `out_dir`; return it.

    With `prime=N` and `examples` ((prompt, judgment) pairs), N AdamW steps of supervised warm-up on
    the judgments (loss on the judgment tokens only, one example per step, in a seeded order).
    Reuses `out_dir` when it already holds a model built from the same spec (a resumed job must load
    the same tokenizer and weights it trained with). `on_step(done, total)` follows the priming.
    """
    spec = parse_tiny(model)
    out_dir = Path(out_dir)
    marker = out_dir / "rcstudio_tiny.json"
    if marker.exists() and json.loads(marker.read_text()) == asdict(spec):
        return out_dir

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rcstudio.testing.tokenizer import bpe_tokenizer

    hf_tok = bpe_tokenizer(list(corpus) + [t for _, t in examples], spec.vocab, SPECIAL_TOKENS, unk_token="<unk>")
    config = LlamaConfig(
        vocab_size=len(hf_tok),
        hidden_size=spec.hidden,
        intermediate_size=spec.hidden * 2,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions,
        pad_token_id=hf_tok.pad_token_id,
        bos_token_id=hf_tok.bos_token_id,
        eos_token_id=hf_tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    lm = LlamaForCausalLM(config)
    if spec.prime and examples:
        _prime(lm, hf_tok, examples, spec, on_step)
    out_dir.mkdir(parents=True, exist_ok=True)
    lm.save_pretrained(out_dir)
    hf_tok.save_pretrained(out_dir)
    marker.write_text(json.dumps(asdict(spec), sort_keys=True))
    return out_dir


def _prime(lm: Any, tok: Any, examples: Sequence[tuple[str, str]], spec: TinyModelSpec, on_step: Any = None) -> None:
    """Supervised warm-up: teach the random model the judgment format (the shared loop of
    `engines/warmup.py`, with a rich progress bar). Prompts are raw text, as TRL shows them to a
    model without a chat template."""
    from rich.progress import Progress

    from rcstudio.sft import sft_steps

    encoded = []
    for prompt, target in examples:
        p = tok(prompt)["input_ids"]
        y = tok(target)["input_ids"] + [tok.eos_token_id]
        if len(p) + len(y) <= spec.max_positions:
            encoded.append((p, y))
    if not encoded:
        return
    with Progress(transient=True) as progress:
        task = progress.add_task("priming tiny judge", total=spec.prime)

        def step(done: int, _loss: float) -> None:
            progress.advance(task)
            if on_step is not None:
                on_step(done, spec.prime)

        sft_steps(lm, encoded, spec.prime, lr=5e-3, seed=spec.seed, on_step=step)
