"""The ground-truth table of a run and the lookup from a scored sequence back to its prompt's row.

`data/ground_truth.jsonl` (written by `engines/prepare.py`) keys rows by the sha256 of the exact
prompt text; `data/{train,val}_prompts.jsonl` hold those texts. The actor sends token ids of
prompt + response, so the lookup must find which known prompt is a prefix of the sequence:

1. Token prefix (primary, what NeMo-Aligner does): every known prompt is tokenized once with the
   judge's tokenizer; a 64-bit polynomial hash of its ids, keyed with its length, goes into a
   sorted array. For a sequence, all prefix hashes come from one numpy cumsum, and the hashes at
   the known prompt lengths are looked up with one `searchsorted` - no Python loop per prompt.
   A leading special token (BOS added by the actor) is tried too.
2. Text prefix (fallback, for tokenizers that merge across the prompt/response boundary or a
   client that sends `sentences`): the decoded text is checked against the known prompt texts,
   longest prompt length first.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from rcstudio.errors import UserError

# The files the prepare step writes into `run_dir/data/` and this server reads (engines/prepare.py
# writes them; the format is the reader's, so serve/ does not import engines/).
TRAIN_FILE = "train_prompts.jsonl"
VAL_FILE = "val_prompts.jsonl"
GROUND_TRUTH_FILE = "ground_truth.jsonl"


def prompt_sha(text: str) -> str:
    """The key of a prompt's ground truth: sha256 of the exact prompt text the actor sees."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)
_LEN_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


class TokenizerLike(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...


@dataclass(frozen=True)
class GroundTruth:
    """One prompt's row. `preference` is already flipped when `swapped` (A = response2 then)."""

    prompt_sha: str
    id: str
    domain: str = ""
    preference: int | None = None
    swapped: bool = False
    human_checklist: tuple[str, ...] = ()
    # policy-rlhf rows: the conversation and the reference answer the policy is compared with
    context: tuple[dict, ...] = ()
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "GroundTruth":
        known = {"prompt_sha", "id", "domain", "preference", "swapped", "human_checklist", "context", "reference"}
        pref = rec.get("preference")
        return cls(
            prompt_sha=str(rec["prompt_sha"]),
            id=str(rec.get("id", rec["prompt_sha"][:12])),
            domain=str(rec.get("domain") or ""),
            preference=None if pref is None else int(pref),
            swapped=bool(rec.get("swapped", False)),
            human_checklist=tuple(str(h) for h in rec.get("human_checklist") or ()),
            context=tuple(rec.get("context") or ()),
            reference=str(rec.get("reference") or rec.get("reference_answer") or ""),
            extra={k: v for k, v in rec.items() if k not in known},
        )


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"not JSON: {exc.msg}", file=path, line=lineno) from exc
            if not isinstance(rec, dict):
                raise UserError("each line must be a JSON object", file=path, line=lineno)
            yield lineno, rec


def load_table(data_dir: Path) -> tuple[dict[str, GroundTruth], list[str]]:
    """Rows by prompt_sha, and the prompt texts that have a row (train and val prompt files)."""
    gt_path = data_dir / GROUND_TRUTH_FILE
    if not gt_path.is_file():
        raise UserError(
            f"no ground-truth table at {gt_path}",
            hint="run `rcstudio run-job --run-dir DIR --step prepare` first (the compiled job does)",
        )
    rows: dict[str, GroundTruth] = {}
    for lineno, rec in _read_jsonl(gt_path):
        if "prompt_sha" not in rec:
            raise UserError("row has no prompt_sha", file=gt_path, line=lineno, key="prompt_sha")
        row = GroundTruth.from_record(rec)
        rows[row.prompt_sha] = row
    texts: list[str] = []
    for name in (TRAIN_FILE, VAL_FILE):
        path = data_dir / name
        if path.is_file():
            for _, rec in _read_jsonl(path):
                text = rec.get("text")
                if isinstance(text, str) and prompt_sha(text) in rows:
                    texts.append(text)
    return rows, texts


def _powers(n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    if n:
        out[0] = 1
        with np.errstate(over="ignore"):
            for i in range(1, n):  # once per server start, up to the longest prompt
                out[i] = out[i - 1] * _BASE
    return out


class PromptIndex:
    """Maps a token sequence (or its text) to (row, prompt length in tokens or chars)."""

    def __init__(self, rows: dict[str, GroundTruth], texts: Sequence[str], tokenizer: TokenizerLike,
                 special_ids: Iterable[int] = ()) -> None:
        self.rows = rows
        self.special_ids = set(special_ids)
        encoded = [(np.asarray(tokenizer.encode(t), dtype=np.int64), prompt_sha(t)) for t in texts]
        longest = max((len(ids) for ids, _ in encoded), default=1)
        self._pow = _powers(longest + 1)
        keys, shas = [], []
        for ids, sha in encoded:
            keys.append(self._key(self._prefix_hashes(ids)[len(ids)], len(ids)))
            shas.append(sha)
        order = np.argsort(np.asarray(keys, dtype=np.uint64), kind="stable")
        self._keys = np.asarray(keys, dtype=np.uint64)[order]
        self._key_sha = [shas[i] for i in order]
        self._lengths = np.unique(np.asarray([len(ids) for ids, _ in encoded], dtype=np.int64))
        self._by_chars: dict[int, dict[str, str]] = defaultdict(dict)
        for text in texts:
            self._by_chars[len(text)][text] = prompt_sha(text)
        self._char_lengths = sorted(self._by_chars, reverse=True)

    def __len__(self) -> int:
        return len(self._key_sha)

    @staticmethod
    def _key(h: np.uint64, length: int) -> np.uint64:
        with np.errstate(over="ignore"):
            return np.uint64(h ^ (np.uint64(length) * _LEN_MIX))

    def _prefix_hashes(self, ids: np.ndarray) -> np.ndarray:
        """H[L] = sum_{j<L} (ids[j] + 1) * BASE**j  (mod 2**64), for L = 0..len(ids)."""
        n = min(len(ids), len(self._pow))
        with np.errstate(over="ignore"):
            terms = (ids[:n].astype(np.uint64) + np.uint64(1)) * self._pow[:n]
            out = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(terms, dtype=np.uint64, out=out[1:])
        return out

    def lookup_tokens(self, ids: np.ndarray) -> tuple[GroundTruth, int] | None:
        """(row, number of prompt tokens incl. a leading special token) or None."""
        offsets = [0]
        if len(ids) and int(ids[0]) in self.special_ids:
            offsets.append(1)
        for off in offsets:
            body = ids[off:]
            hashes = self._prefix_hashes(body)
            lengths = self._lengths[self._lengths < len(hashes)]
            if not len(lengths) or not len(self._keys):
                continue
            with np.errstate(over="ignore"):
                cand = hashes[lengths] ^ (lengths.astype(np.uint64) * _LEN_MIX)
            pos = np.searchsorted(self._keys, cand)
            pos_ok = pos < len(self._keys)
            hit = np.zeros(len(cand), dtype=bool)
            hit[pos_ok] = self._keys[pos[pos_ok]] == cand[pos_ok]
            if hit.any():
                i = int(np.flatnonzero(hit)[-1])  # the longest known prompt that is a prefix
                sha = self._key_sha[int(pos[i])]
                return self.rows[sha], int(lengths[i]) + off
        return None

    def lookup_text(self, text: str) -> tuple[GroundTruth, int] | None:
        """(row, number of prompt characters) for a decoded sequence, or None."""
        for length in self._char_lengths:
            if length <= len(text):
                sha = self._by_chars[length].get(text[:length])
                if sha is not None:
                    return self.rows[sha], length
        return None
