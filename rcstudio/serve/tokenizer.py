"""The judge's tokenizer, loaded from a local path or HF id (transformers is imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rcstudio.errors import UserError


@dataclass
class HFTokenizer:
    """encode/decode with the judge's tokenizer; `encode` adds no special tokens (as NeMo's
    `text_to_ids` does), `special_ids` lets the lookup skip a BOS the actor may prepend."""

    tok: Any

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def batch_decode(self, seqs: Sequence[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        return self.tok.batch_decode([list(s) for s in seqs], skip_special_tokens=skip_special_tokens)

    @property
    def vocab_size(self) -> int:
        """Ids at or above this are not tokens (added tokens included)."""
        return len(self.tok)

    @property
    def special_ids(self) -> set[int]:
        return set(int(i) for i in (self.tok.all_special_ids or []))


def load_tokenizer(path_or_id: str) -> HFTokenizer:
    """AutoTokenizer from a local directory (or an HF id already in the cache when offline)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path_or_id)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot load the judge tokenizer {path_or_id!r}: {exc}".splitlines()[0],
            key="judge.tokenizer",
            hint="pass --tokenizer PATH (a local directory with tokenizer.json) or set judge.tokenizer",
        ) from exc
    return HFTokenizer(tok)


def strip_special(tokenizer: HFTokenizer, text: str) -> str:
    """Remove special-token strings (end of turn, padding) from decoded text."""
    for token in getattr(tokenizer.tok, "all_special_tokens", None) or []:
        if token:
            text = text.replace(token, "")
    return text
