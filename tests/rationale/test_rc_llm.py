"""The async LLM client against the loopback OpenAI-compatible stub (real HTTP)."""

from __future__ import annotations

import asyncio
import time

import pytest

from rcstudio.clients.llm import LLMClient, LLMConfig, LLMError, ResponseCache, cache_key, run_sync
from rcstudio.testing.openai_stub import OpenAIStub


def msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def config(stub: OpenAIStub, **kw) -> LLMConfig:
    base = dict(base_url=stub.base_url, model="m", timeout_s=5.0, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05)
    base.update(kw)
    return LLMConfig(**base)


@pytest.fixture
def echo():
    with OpenAIStub(lambda m, model: f"reply to {m[-1]['content']}") as server:
        yield server


async def test_completion_and_wire_format(echo, monkeypatch):
    monkeypatch.setenv("MY_MATCHER_KEY", "sk-test-secret")
    client = LLMClient(config(echo, api_key_env="MY_MATCHER_KEY", temperature=0.3, max_tokens=77))
    out = await client.complete(msgs("hi"))
    assert out.text == "reply to hi" and not out.cached and out.attempts == 1
    body = echo.requests[0]
    assert body["model"] == "m" and body["temperature"] == 0.3 and body["max_tokens"] == 77
    assert body["messages"] == msgs("hi")
    assert echo.authorizations[0] == "Bearer sk-test-secret"
    monkeypatch.delenv("MY_MATCHER_KEY")
    await LLMClient(config(echo, api_key_env="MY_MATCHER_KEY")).complete(msgs("x"))
    assert echo.authorizations[1] == "Bearer EMPTY"


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.parametrize("kind", ["429", "500", "503", "malformed", "empty"])
async def test_transient_failures_are_retried(echo, kind, transport):
    echo.fail_next(kind, times=2)
    client = LLMClient(config(echo, transport=transport))
    out = await client.complete(msgs("q"))
    assert out.text == "reply to q" and out.attempts == 3
    assert echo.calls == 3 and client.stats()["retries"] == 2


async def test_retry_after_is_honoured(echo):
    echo.fail_next("429", retry_after=0.3)
    start = time.perf_counter()
    out = await LLMClient(config(echo)).complete(msgs("q"))
    assert out.attempts == 2
    assert time.perf_counter() - start >= 0.3  # waited at least what the server asked for


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_timeout_then_success(echo, transport):
    echo.fail_next("hang")
    client = LLMClient(config(echo, timeout_s=0.3, transport=transport))
    out = await client.complete(msgs("q"))
    assert out.text == "reply to q" and out.attempts == 2 and echo.calls == 2


async def test_gives_up_after_max_retries(echo, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-printed")
    echo.fail_next("500", times=10)
    client = LLMClient(config(echo, max_retries=2))
    with pytest.raises(LLMError) as err:
        await client.complete(msgs("q"))
    assert "3 attempts" in str(err.value) and "HTTP 500" in str(err.value)
    assert "sk-never-printed" not in str(err.value)
    assert echo.calls == 3 and client.stats()["errors"] == 1


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_client_errors_are_not_retried(echo, transport):
    echo.fail_next("401")
    client = LLMClient(config(echo, transport=transport))
    with pytest.raises(LLMError, match="HTTP 401"):
        await client.complete(msgs("q"))
    assert echo.calls == 1
    await client.aclose()


async def test_unreachable_endpoint_is_retried_then_fails():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff_base_s=0.01))
    with pytest.raises(LLMError, match="connection error"):
        await client.complete(msgs("q"))
    assert client.stats()["retries"] == 1


async def test_reask_on_invalid_reply():
    replies = iter(["not a number", "42"])
    with OpenAIStub(lambda m, model: next(replies)) as stub:
        client = LLMClient(config(stub))
        out = await client.complete(msgs("give a number"), validate=int, reask=1)
        assert out.value == 42 and client.stats()["reasks"] == 1
        second = stub.requests[1]["messages"]
        assert second[0] == msgs("give a number")[0]
        assert second[1] == {"role": "assistant", "content": "not a number"}
        assert "could not be used" in second[2]["content"] and "invalid literal" in second[2]["content"]


async def test_reask_exhausted_raises():
    with OpenAIStub("never a number") as stub:
        client = LLMClient(config(stub))
        with pytest.raises(LLMError, match="still unusable after 2 asks"):
            await client.complete(msgs("n"), validate=int, reask=1)
        assert stub.calls == 2


async def test_cache_survives_restart_and_resumes(echo, tmp_path):
    path = tmp_path / "cache.sqlite"
    prompts = [msgs(f"q{i}") for i in range(10)]
    first = LLMClient(config(echo), cache=ResponseCache(path))
    await first.complete_many(prompts[:6])  # an "interrupted" run: only 6 of 10 done
    assert echo.calls == 6
    second = LLMClient(config(echo), cache=ResponseCache(path))  # a new process, same cache file
    out = await second.complete_many(prompts)
    assert [o.text for o in out] == [f"reply to q{i}" for i in range(10)]
    assert echo.calls == 10 and second.stats()["cache_hits"] == 6
    third = LLMClient(config(echo), cache=ResponseCache(path))
    again = await third.complete_many(prompts, progress=True)
    assert echo.calls == 10 and all(o.cached for o in again)
    assert third.stats()["calls"] == 0 and third.stats()["cache_hit_rate"] == 1.0
    other = LLMClient(config(echo, temperature=0.7), cache=ResponseCache(path))
    await other.complete(prompts[0])  # other sampling parameters: another key
    assert echo.calls == 11


async def test_only_validated_replies_are_cached(tmp_path):
    replies = iter(["bad", "bad", "7"])
    with OpenAIStub(lambda m, model: next(replies)) as stub:
        cache = ResponseCache(tmp_path / "c.sqlite")
        client = LLMClient(config(stub), cache=cache)
        with pytest.raises(LLMError):
            await client.complete(msgs("n"), validate=int, reask=1)
        assert len(cache) == 0
        assert (await client.complete(msgs("n"), validate=int)).value == 7
        assert cache.get(cache_key("m", msgs("n"), client.cfg.params())) == "7"


async def test_concurrency_is_capped():
    with OpenAIStub("ok", latency_s=0.1) as stub:
        client = LLMClient(config(stub, concurrency=4))
        await client.complete_many([msgs(str(i)) for i in range(16)])
        assert stub.max_in_flight == 4
        wide = LLMClient(config(stub, concurrency=32))
        stub.reset_counters()
        await wide.complete_many([msgs(f"w{i}") for i in range(32)])
        assert stub.max_in_flight == 32  # the stub serves requests concurrently (non-blocking latency)


async def test_complete_many_return_exceptions(echo):
    echo.fail_next("401")
    client = LLMClient(config(echo, concurrency=1))
    out = await client.complete_many([msgs("a"), msgs("b")], return_exceptions=True)
    assert isinstance(out[0], LLMError) and out[1].text == "reply to b"
    with pytest.raises(ValueError):
        await client.complete_many([msgs("a")], validators=[int, int])


def test_run_sync_inside_and_outside_a_loop(echo):
    client = LLMClient(config(echo))
    assert run_sync(lambda: client.complete(msgs("sync"))).text == "reply to sync"

    async def inside():
        return run_sync(lambda: client.complete(msgs("nested")))

    assert asyncio.run(inside()).text == "reply to nested"


def test_models_endpoint_and_config_from_section(echo):
    import httpx

    data = httpx.get(echo.base_url + "/models").json()
    assert data["data"][0]["id"] == "stub-model"
    cfg = LLMConfig.from_section({"endpoint": echo.base_url, "model": "x", "concurrency": 8, "timeout_s": None})
    assert (cfg.base_url, cfg.model, cfg.concurrency, cfg.timeout_s) == (echo.base_url, "x", 8, 120.0)
    with pytest.raises(ValueError):
        LLMClient(LLMConfig(base_url="", model="x"))


def test_stub_runs_as_its_own_process():
    import subprocess
    import sys

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "rcstudio.testing.openai_stub", "--responder", "matrix"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        reply = httpx.post(url + "/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "(n = 2) (k = 1)"}]})
        assert reply.json()["choices"][0]["message"]["content"] == '{"scores": [[1], [0]]}'
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "served 1 requests" in err


def test_adaptive_limit_hands_each_release_to_one_waiter_in_order_and_survives_cancellation():
    """A release wakes exactly one waiter (first come, first served); a cancelled waiter, or one
    cancelled after it was handed a slot, never leaks or loses a slot."""
    import asyncio

    from rcstudio.clients.llm import AdaptiveLimit

    async def go() -> None:
        lim = AdaptiveLimit(2)
        order: list[int] = []
        gate = asyncio.Event()

        async def hold(i: int) -> None:
            async with lim:
                order.append(i)
                assert lim.active <= lim.limit
                await gate.wait()

        tasks = [asyncio.create_task(hold(i)) for i in range(6)]
        await asyncio.sleep(0.01)
        assert order == [0, 1] and lim.active == 2 and len(lim._waiters) == 4
        tasks[3].cancel()  # a queued waiter leaves the queue
        await asyncio.sleep(0.01)
        assert len(lim._waiters) == 3
        gate.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert order == [0, 1, 2, 4, 5] and lim.active == 0 and not lim._waiters

        # handed a slot and cancelled before it resumed: the slot goes to the next waiter
        lim2 = AdaptiveLimit(1)
        release = asyncio.Event()

        async def first() -> None:
            async with lim2:
                await release.wait()

        got: list[str] = []

        async def waiter(name: str) -> None:
            async with lim2:
                got.append(name)

        t1 = asyncio.create_task(first())
        await asyncio.sleep(0)
        t2 = asyncio.create_task(waiter("cancelled"))
        t3 = asyncio.create_task(waiter("next"))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.sleep(0)  # t1 exits and hands its slot to t2 ...
        t2.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(t1, t2, t3, return_exceptions=True)
        assert got == ["next"] and lim2.active == 0

        # growth wakes a waiter without a release
        lim3 = AdaptiveLimit(2)
        lim3.shrink()
        assert lim3.limit == 1
        hold_gate = asyncio.Event()
        entered: list[int] = []

        async def h(i: int) -> None:
            async with lim3:
                entered.append(i)
                await hold_gate.wait()

        hs = [asyncio.create_task(h(i)) for i in range(2)]
        await asyncio.sleep(0.01)
        assert entered == [0]
        lim3.grow()  # one answer at limit 1 -> limit 2: the queued waiter gets in
        await asyncio.sleep(0.01)
        assert entered == [0, 1] and lim3.limit == 2
        hold_gate.set()
        await asyncio.gather(*hs)

    asyncio.run(go())


def test_complete_many_sends_the_next_requests_before_the_callers_per_item_work(tmp_path):
    """`on_done` of an answer runs after the request that took its freed slot has gone out, every
    item is reported once, and an `on_done` failure is raised once the batch is done."""
    with OpenAIStub(lambda m, model: "ok", latency_s=0.05) as stub:
        client = LLMClient(LLMConfig(base_url=stub.base_url, model="m", concurrency=2))
        calls_when_done: dict[int, int] = {}

        def on_done(i: int, res: object) -> None:
            calls_when_done[i] = client.calls

        batch = [[{"role": "user", "content": f"q{i}"}] for i in range(4)]
        out = run_sync(lambda: client.complete_many(batch, on_done=on_done))
        assert [c.text for c in out] == ["ok"] * 4 and sorted(calls_when_done) == [0, 1, 2, 3]
        assert calls_when_done[0] >= 3  # item 2's request was sent before item 0 was reported

        def broken(i: int, res: object) -> None:
            raise RuntimeError(f"caller failed on {i}")

        client2 = LLMClient(LLMConfig(base_url=stub.base_url, model="m", concurrency=2))
        with pytest.raises(RuntimeError, match="caller failed"):
            run_sync(lambda: client2.complete_many(batch, on_done=broken))
        assert client2.calls == 4  # the batch still finished
