"""The matcher interface: score every (human rationale, model reason) pair of an item.

A matcher turns `MatchRequest`s into n x k matrices (rows = human items in order, columns = model
reasons in the model's order) with values in [0, 1] - the LLM and embedding matchers use the five
levels {0, .25, .5, .75, 1} of method.md 4; a matrix file may hold any value in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class MatchRequest:
    """One item to match. Human items name the responses "Response 1/2", the judge "A/B";
    `swapped=True` means the judge saw response2 as A (so "Response 1" = B)."""

    item_id: str
    human: list[str]
    model: list[str]
    swapped: bool = False


class MatchError(RuntimeError):
    """Matching one item failed for good (endpoint down, replies never valid, missing matrix row)."""


@runtime_checkable
class Matcher(Protocol):
    async def amatch(self, requests: Sequence[MatchRequest]) -> list[np.ndarray]: ...

    def match(self, requests: Sequence[MatchRequest]) -> list[np.ndarray]: ...

    def stats(self) -> dict[str, float]: ...


class BaseMatcher:
    """Shared plumbing: the sync wrapper, all-or-error `amatch` over per-item `amatch_partial`."""

    kind = "base"

    async def amatch_partial(self, requests: Sequence[MatchRequest]) -> list[np.ndarray | Exception]:
        raise NotImplementedError

    async def amatch_each(
        self, requests: Sequence[MatchRequest], on_result: Callable[[int, np.ndarray | Exception], None]
    ) -> None:
        """`amatch_partial`, handing each request's result to `on_result(index, result)` as soon as
        it is ready (so a caller can score early items while later ones are still in flight).
        This default hands them all over at the end; the LLM matcher streams them."""
        for i, res in enumerate(await self.amatch_partial(requests)):
            on_result(i, res)

    async def amatch(self, requests: Sequence[MatchRequest]) -> list[np.ndarray]:
        """Matrices for every request, or MatchError naming the first item that failed."""
        out = await self.amatch_partial(requests)
        for req, res in zip(requests, out):
            if isinstance(res, Exception):
                raise MatchError(f"item {req.item_id}: {res}") from res
        return out  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Release loop-bound resources (HTTP connections); the matcher reopens them when used again."""

    async def _then_release(self, coro: Any) -> Any:
        try:
            return await coro
        finally:
            await self.aclose()  # the event loop of a sync call ends here: close its connections

    def match(self, requests: Sequence[MatchRequest]) -> list[np.ndarray]:
        from rcstudio.clients.llm import run_sync

        return run_sync(lambda: self._then_release(self.amatch(requests)))

    def match_partial(self, requests: Sequence[MatchRequest]) -> list[np.ndarray | Exception]:
        from rcstudio.clients.llm import run_sync

        return run_sync(lambda: self._then_release(self.amatch_partial(requests)))

    def stats(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        """Release resources (HTTP clients, caches); the matcher may not be used afterwards."""


def empty_scores(req: MatchRequest) -> np.ndarray:
    return np.zeros((len(req.human), len(req.model)))


def section_get(cfg: Any, key: str, default: Any = None) -> Any:
    """Read a setting from a pydantic section, a dataclass or a dict."""
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    return getattr(cfg, key, default)
