"""The batcher answers each sequence as its own matrix arrives (matchers with `amatch_each`), so
an actor request is not held by the slowest item of a batch; failures stay per item."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rcstudio.rationale.matchers.base import BaseMatcher, MatchRequest
from rcstudio.serve.batcher import MatchBatcher


class Staggered(BaseMatcher):
    """Item i answers after delays[i]; an item named "bad" fails."""

    kind = "staggered"

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays

    async def amatch_partial(self, requests):
        out = []
        await self.amatch_each(requests, lambda i, r: out.append(r))
        return out

    async def amatch_each(self, requests, on_result):
        async def one(i, req):
            await asyncio.sleep(self.delays[req.item_id])
            on_result(i, ValueError("bad item") if req.item_id == "bad" else np.ones((1, 1)))

        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))


def req(name: str) -> MatchRequest:
    return MatchRequest(name, ["h"], ["m"])


async def test_each_sequence_resolves_when_its_matrix_arrives():
    batcher = MatchBatcher(Staggered({"fast": 0.0, "slow": 0.6, "bad": 0.05}), max_wait_s=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    done_at: dict[str, float] = {}

    async def ask(name: str):
        try:
            return await batcher.submit(req(name))
        finally:
            done_at[name] = loop.time() - start

    fast, slow, bad = (asyncio.ensure_future(ask(n)) for n in ("fast", "slow", "bad"))
    assert (await fast).shape == (1, 1)
    with pytest.raises(ValueError, match="bad item"):
        await bad
    assert (await slow).shape == (1, 1)
    assert batcher.stats.batches == 1  # one batch ...
    assert done_at["fast"] < 0.4 and done_at["bad"] < 0.4 <= done_at["slow"]  # ... answered item by item
    assert batcher.stats.failures == 1
    await batcher.aclose()
