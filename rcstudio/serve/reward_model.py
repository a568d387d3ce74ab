"""The `reward_model` KServe backend: NeMo-Aligner's remote-RM contract around a scorer.

Inputs (as `RemoteGPTRMClient` sends them through pytriton): `tokens` INT64 [batch, len] (prompt
+ response, right-padded), `sequence_lengths` INT64 [batch, 1] (or [batch]), optional
`sentences` BYTES [batch, 1]. Output: `rewards` FP32 [batch, 1].
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rcstudio.serve.protocol import ProtocolError
from rcstudio.serve.scorer import SequenceSplitter, score_all

MODEL_NAME = "reward_model"


def triton_config(name: str = MODEL_NAME, max_batch_size: int = 4096) -> dict[str, Any]:
    """The Triton model config JSON pytriton's client reads before sending."""
    return {
        "name": name,
        "platform": "",
        "backend": "python",
        "max_batch_size": max_batch_size,
        "input": [
            {"name": "tokens", "data_type": "TYPE_INT64", "dims": [-1]},
            {"name": "sequence_lengths", "data_type": "TYPE_INT64", "dims": [-1]},
            {"name": "sentences", "data_type": "TYPE_STRING", "dims": [-1], "optional": True},
        ],
        "output": [{"name": "rewards", "data_type": "TYPE_FP32", "dims": [1]}],
        "dynamic_batching": {},
    }


def validation_flags(splits: list[Any]) -> list[bool]:
    """Which sequences answer validation prompts (their ground-truth row says split = val)."""
    return [s.row is not None and s.row.extra.get("split") == "val" for s in splits]


@dataclass
class RewardBackend:
    """Splits with `splitter`, scores with `scorer` (HybridScorer or PolicyScorer), feeds `step_logger`."""

    splitter: SequenceSplitter
    scorer: Any
    step_logger: Any = None
    batcher: Any = None
    name: str = MODEL_NAME
    max_batch_size: int = 4096
    extra_closers: list = field(default_factory=list)

    def model_config(self) -> dict[str, Any]:
        return triton_config(self.name, self.max_batch_size)

    def validate(self, inputs: dict[str, np.ndarray]) -> None:
        for key in ("tokens", "sequence_lengths"):
            if key not in inputs:
                raise ProtocolError(f"missing input {key!r}")
            if inputs[key].dtype.kind not in "iu":
                raise ProtocolError(f"input {key!r} must be integer, got {inputs[key].dtype}")
        tokens, lengths = inputs["tokens"], inputs["sequence_lengths"]
        if tokens.ndim not in (1, 2):
            raise ProtocolError(f"tokens must be [batch, len], got shape {list(tokens.shape)}")
        batch = 1 if tokens.ndim == 1 else tokens.shape[0]
        width = tokens.shape[-1]
        if lengths.size != batch:
            raise ProtocolError(f"sequence_lengths has {lengths.size} values for {batch} sequences")
        if batch > self.max_batch_size:
            raise ProtocolError(f"{batch} sequences in one request; at most {self.max_batch_size}")
        if lengths.size and (int(lengths.min()) < 0 or int(lengths.max()) > width):
            raise ProtocolError(f"sequence_lengths must lie in [0, {width}] (the tokens width)")
        vocab = getattr(self.splitter.tokenizer, "vocab_size", None)
        if tokens.size and vocab:
            # Only the counted part of each row is decoded; padding beyond the length may be anything.
            ids = tokens.reshape(batch, width)
            mask = np.arange(width)[None, :] < lengths.reshape(batch, 1)
            used = ids[mask]
            if used.size and (int(used.min()) < 0 or int(used.max()) >= vocab):
                bad = int(used[(used < 0) | (used >= vocab)][0])
                raise ProtocolError(f"token id {bad} is outside the vocabulary [0, {vocab})")

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sentences = None
        if "sentences" in inputs:
            sentences = [s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s)
                         for s in inputs["sentences"].reshape(-1)]
        splits = await asyncio.to_thread(self.splitter.split_batch, inputs["tokens"], inputs["sequence_lengths"], sentences)
        scored = await score_all(self.scorer, splits)
        if self.step_logger is not None:
            self.step_logger.add(scored, validation=validation_flags(splits))
        return {"rewards": np.asarray([[s.reward] for s in scored], dtype=np.float32).reshape(-1, 1)}

    async def aclose(self) -> None:
        for closer in [self.batcher, self.step_logger, *self.extra_closers]:
            fn = getattr(closer, "aclose", None)
            if fn is not None:
                await fn()
