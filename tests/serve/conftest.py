"""Reward-server fixtures: a tiny real tokenizer, a run's data dir, sequences the actor would send."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rcstudio.serve.ground_truth import prompt_sha
from rcstudio.testing.tokenizer import bpe_tokenizer

SPECIALS = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]

PROMPTS = {
    "item-1": "<|im_start|>user\nCompare the two answers about photosynthesis.\nA: plants eat light.\nB: plants use light to make sugar from water and carbon dioxide.<|im_end|>\n<|im_start|>assistant\n",
    "item-2": "<|im_start|>user\nCompare the two answers about sorting.\nA: quicksort is always linear.\nB: quicksort averages n log n comparisons.<|im_end|>\n<|im_start|>assistant\n",
    "item-3": "<|im_start|>user\nCompare the two answers about the capital of France.\nA: Paris.\nB: Lyon is the capital.<|im_end|>\n<|im_start|>assistant\n",
}
ROWS = {
    # preference > 0: B (response2) better, after any swap
    "item-1": {"preference": 2, "swapped": False, "domain": "stem",
               "human_checklist": ["Response 2 explains that light is used to make sugar",
                                   "Response 1 wrongly says plants eat light"]},
    "item-2": {"preference": 1, "swapped": True, "domain": "code",
               "human_checklist": ["Response 1 states the correct average complexity n log n"]},
    "item-3": {"preference": -2, "swapped": False, "domain": "general",
               "human_checklist": ["Response 1 names Paris correctly", "Response 2 wrongly names Lyon"]},
}

GOOD_1 = ("<think>B is accurate.</think>\n<RESULT_START>\n1. Response B explains that light is used to make sugar\n"
          "2. Response A wrongly says plants eat light\n\\boxed{B>>A}\n<RESULT_END>")
WRONG_1 = "<RESULT_START>\n1. Response A is shorter\n\\boxed{A>B}\n<RESULT_END>"
MALFORMED = "I think both are fine and I will not give a verdict."
GOOD_3 = "<RESULT_START>\n1. Response A names Paris correctly\n2. Response B wrongly names Lyon\n\\boxed{A>>B}\n<RESULT_END>"


def _corpus() -> list[str]:
    return list(PROMPTS.values()) + [GOOD_1, WRONG_1, MALFORMED, GOOD_3,
                                     "An unknown prompt about something else entirely."] * 3


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A byte-level BPE trained on the test strings, saved as a transformers tokenizer."""
    fast = bpe_tokenizer(_corpus(), 400, SPECIALS, additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    out = tmp_path_factory.mktemp("tok")
    fast.save_pretrained(out)
    return out


def write_data(data_dir: Path, prompts: dict[str, str] = PROMPTS, rows: dict[str, dict] = ROWS) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ground_truth.jsonl").open("w") as fh:
        for item_id, text in prompts.items():
            fh.write(json.dumps({"prompt_sha": prompt_sha(text), "id": item_id, **rows[item_id]}) + "\n")
    with (data_dir / "train_prompts.jsonl").open("w") as fh:
        for text in prompts.values():
            fh.write(json.dumps({"text": text}) + "\n")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "run" / "data"
    write_data(d)
    return d


@dataclass
class Batch:
    tokens: np.ndarray
    lengths: np.ndarray


def make_batch(tokenizer_dir: Path, pairs: list[tuple[str, str]], pad_to: int | None = None, bos: bool = False) -> Batch:
    """What the actor sends: prompt ids + response ids + EOS, right-padded, lengths [batch, 1]."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    seqs = []
    for prompt, response in pairs:
        ids = ([tok.bos_token_id] if bos else []) + tok(prompt, add_special_tokens=False)["input_ids"]
        ids += tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append(ids)
    width = max(pad_to or 0, max(len(s) for s in seqs))
    tokens = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    return Batch(tokens, np.asarray([[len(s)] for s in seqs], dtype=np.int64))


class ExactMatcher:
    """A deterministic matcher for protocol tests: 1.0 when a model reason, with A/B mapped back to
    1/2 (respecting the swap), equals a human point; counts calls and batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    @staticmethod
    def _norm(text: str, swapped: bool) -> str:
        a, b = ("Response 2", "Response 1") if swapped else ("Response 1", "Response 2")
        return text.replace("Response A", a).replace("Response B", b).strip().lower()

    async def amatch(self, requests):
        self.batches.append(len(requests))
        out = []
        for r in requests:
            s = np.zeros((len(r.human), len(r.model)))
            for i, h in enumerate(r.human):
                for j, m in enumerate(r.model):
                    s[i, j] = 1.0 if self._norm(m, r.swapped) == h.strip().lower() else 0.0
            out.append(s)
        return out

    def stats(self):
        return {"latency_ms": 0.0, "cache_hit_rate": 0.0}
