"""A small byte-level BPE tokenizer trained in seconds on given texts (tests, benchmarks, tiny:// models).

Real `tokenizers` training wrapped as a transformers `PreTrainedTokenizerFast`, so code under test
loads it with `AutoTokenizer.from_pretrained` exactly as it would a released judge's tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def bpe_tokenizer(
    corpus: Iterable[str],
    vocab_size: int,
    special_tokens: Sequence[str],
    *,
    unk_token: str | None = None,
    additional_special_tokens: Sequence[str] = (),
) -> Any:
    """A byte-level BPE trained on `corpus`, with `<pad>`, `<s>`, `</s>` as pad/bos/eos.

    `special_tokens` (which must include those three, and `unk_token` when given) take the first
    ids in the given order; `additional_special_tokens` (e.g. chat markers) are registered as such.
    Same arguments, same tokenizer: training is deterministic.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=unk_token))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    names: dict[str, Any] = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>"}
    if unk_token is not None:
        names["unk_token"] = unk_token
    if additional_special_tokens:
        names["additional_special_tokens"] = list(additional_special_tokens)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names)
