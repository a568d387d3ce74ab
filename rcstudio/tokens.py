"""One way to turn a prompt into the token ids a judge model sees, for every engine and eval.

Why: transformers 5.x returns a `BatchEncoding` from `apply_chat_template(..., tokenize=True)`, whose
`len()` is its number of fields (2), not its number of tokens; counting prompts in several places
drifted (TRL counted fields and kept every prompt). Everything that counts or cuts prompt tokens
calls `prompt_ids` / `count_prompt_tokens` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _as_ids(encoded: Any) -> list[int]:
    """ids from whatever a tokenizer call returned: a list, a dict/BatchEncoding, or a tensor."""
    if isinstance(encoded, dict) or hasattr(encoded, "input_ids"):
        encoded = encoded["input_ids"]
    if hasattr(encoded, "tolist"):
        encoded = encoded.tolist()
    if encoded and isinstance(encoded[0], list):  # a batch of one
        encoded = encoded[0]
    return [int(i) for i in encoded]


def plain_chat_text(messages: Sequence[dict[str, Any]]) -> str:
    """The fallback rendering for tokenizers without a chat template."""
    return "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"


def prompt_ids(tokenizer: Any, prompt: str | Sequence[dict[str, Any]], *, chat: bool | None = None) -> list[int]:
    """Token ids of a prompt as the model will see it.

    `prompt` is a plain string or chat messages. `chat=None` uses the tokenizer's chat template when
    it has one; `chat=False` tokenizes the text as is (a string prompt, or messages rendered plainly).
    """
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    use_chat = has_template if chat is None else (chat and has_template)
    if use_chat:
        return _as_ids(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
    text = prompt if isinstance(prompt, str) else plain_chat_text(messages)
    return _as_ids(tokenizer(text))


def count_prompt_tokens(tokenizer: Any, prompt: str | Sequence[dict[str, Any]], *, chat: bool | None = None) -> int:
    """How many tokens `prompt_ids` gives (what `rl.max_prompt_tokens` limits)."""
    return len(prompt_ids(tokenizer, prompt, chat=chat))
