"""Matchers: score each (human rationale, model reason) pair of an item, n x k per item.

`make_matcher(cfg)` builds one from the spec's `[reward.matcher]` section (or a dict with the same
keys): `llm` (OpenAI-compatible endpoint, cached), `embedding` (sentence-transformers, offline) or
`matrix` (precomputed JSONL). Submodules import their heavy dependencies lazily.
"""

from __future__ import annotations

from typing import Any

from rcstudio.rationale.matchers.base import (
    LEVELS,
    BaseMatcher,
    Matcher,
    MatchError,
    MatchRequest,
    empty_scores,
    section_get,
)

KINDS = ("llm", "embedding", "matrix")


def make_matcher(cfg: Any, cache: Any = "default", progress: bool = False) -> BaseMatcher:
    """A matcher from `reward.matcher`-shaped settings.

    `cache` (llm only): "default" = the persistent cache under RCSTUDIO_HOME, None = no cache, or a
    `ResponseCache`. An `llm` matcher needs `endpoint`; `matrix` needs `matches_file`.
    """
    from rcstudio.errors import UserError

    kind = section_get(cfg, "kind", "llm")
    if kind == "llm":
        from rcstudio.clients.llm import LLMConfig, ResponseCache
        from rcstudio.rationale.matchers.llm import LLMMatcher

        if not section_get(cfg, "endpoint", ""):
            raise UserError(
                "the llm matcher needs an endpoint",
                key="reward.matcher.endpoint",
                hint="set an OpenAI-compatible base URL (e.g. http://host:8000/v1), or use kind = \"embedding\"",
            )
        llm_cfg = LLMConfig.from_section(cfg, max_tokens=section_get(cfg, "max_tokens", None) or 2048)
        store = ResponseCache(commit_every_s=1.0) if cache == "default" else cache
        return LLMMatcher(llm_cfg, cache=store, progress=progress)
    if kind == "embedding":
        from rcstudio.rationale.matchers.embedding import DEFAULT_MODEL, DEFAULT_THRESHOLDS, EmbeddingMatcher

        thresholds = section_get(cfg, "thresholds", None) or DEFAULT_THRESHOLDS
        try:
            return EmbeddingMatcher(section_get(cfg, "embedding_model", None) or DEFAULT_MODEL, thresholds)
        except ValueError as exc:
            raise UserError(str(exc), key="reward.matcher.thresholds") from None
    if kind == "matrix":
        from rcstudio.rationale.matchers.matrix import MatrixMatcher

        path = section_get(cfg, "matches_file", "")
        if not path:
            raise UserError(
                "the matrix matcher needs a matches file",
                key="reward.matcher.matches_file",
                hint='JSONL lines {"id": ..., "scores": [[...], ...]}',
            )
        return MatrixMatcher(path)
    raise UserError(f"unknown matcher kind {kind!r}", key="reward.matcher.kind", hint=f"one of {', '.join(KINDS)}")


__all__ = [
    "KINDS",
    "LEVELS",
    "BaseMatcher",
    "MatchError",
    "MatchRequest",
    "Matcher",
    "empty_scores",
    "make_matcher",
]
