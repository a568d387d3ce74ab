"""The engine end to end over real HTTP (loopback OpenAI-compatible stub): outcomes, files, resume."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from rcstudio.errors import UserError
from rcstudio.rationale.data import load_pairs
from rcstudio.rationale.decompose import PROMPT_VERSION, Bounds, decompose_file, decompose_items
from rcstudio.rationale.decompose.engine import _make_client, load_items
from rcstudio.rationale.decompose.prompt import render_decompose_messages
from rcstudio.rationale.decompose.sources import annotations_for
from rcstudio.rationale.decompose.store import rejected_path
from rcstudio.clients.llm import LLMConfig


def cfg(stub, **kw) -> LLMConfig:
    base = dict(base_url=stub.base_url, model="decomposer", api_key_env="OPENAI_API_KEY", concurrency=4,
                timeout_s=10.0, max_retries=1, temperature=0.0, max_tokens=512, backoff_base_s=0.01)
    base.update(kw)
    return LLMConfig(**base)


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_status(path):
    return {r["id"]: r for r in read(rejected_path(path))}


def test_raw_helpsteer3_to_checklists(stub, hs3_file, tmp_path):
    out = tmp_path / "checklists.jsonl"
    summary = decompose_file(hs3_file, out, cfg(stub), bounds=Bounds(3, 7), progress=False).to_dict()
    assert (summary["kept"], summary["filtered"], summary["failed"]) == (5, 4, 1)
    assert summary["filter_reasons"] == {"empty": 1, "no annotator reasoning": 1, "too few items": 1, "too many items": 1}
    assert summary["kept_histogram"] == {"3": 3, "4": 2}
    assert summary["histogram"] == {"0": 1, "1": 1, "3": 3, "4": 2, "12": 1}
    assert summary["mean_items_kept"] == pytest.approx(3.4)

    kept = read(out)
    ids = [it.id for it in load_items(hs3_file)]
    assert [r["id"] for r in kept] == [i for i in ids if i in {r["id"] for r in kept}]  # input order
    first = kept[0]
    # "@Response N" resolved, the generic "Response 1 is more helpful" dropped with a reason
    assert first["human-checklist"] == ["Response 1 names Canberra correctly", "Response 2 wrongly says Sydney",
                                        "Response 2 states a false fact about the capital", "Response 1 answers in one word as asked"]
    prov = first["decompose"]
    assert prov["model"] == "decomposer" and prov["prompt_version"] == PROMPT_VERSION
    assert prov["annotators"] == [0, 1] and prov["source_id"] == first["id"] and prov["source"] == str(hs3_file)
    assert {"text": "Response 1 is more helpful", "reason": "generic preference, nothing checkable"} in prov["dropped"]
    # the pair's own fields survive: tie and multi-turn context
    tie = next(r for r in kept if r["overall_preference"] == 0)
    assert len(tie["human-checklist"]) == 4
    multi = next(r for r in kept if r["domain"] == "multilingual")
    assert [m["role"] for m in multi["context"]] == ["user", "assistant", "user"]

    rejected = list(by_status(out).values())
    assert sorted(r["status"] for r in rejected) == ["failed", "filtered", "filtered", "filtered", "filtered"]
    overlong = next(r for r in rejected if r["reason"] and r["reason"].startswith("too many"))
    assert len(overlong["items"]) == 12 and "not truncated" in overlong["reason"]
    empty = next(r for r in rejected if r["reason"] and r["reason"].startswith("empty"))
    assert "only stated a preference" in empty["reason"]
    failed = next(r for r in rejected if r["status"] == "failed")
    assert "COUNT" in failed["sources"][0]["reasoning"]

    # the output is a checklist file the rest of rcstudio reads
    loaded = load_pairs(str(out))
    assert len(loaded.items) == 5 and not loaded.skipped
    assert all(3 <= len(it.human_checklist) <= 7 for it in loaded.items)


def test_rerun_makes_no_repeated_calls(stub, hs3_file, tmp_path):
    out = tmp_path / "c.jsonl"
    decompose_file(hs3_file, out, cfg(stub), progress=False)
    first_calls = stub.calls
    before = out.read_bytes()
    s = decompose_file(hs3_file, out, cfg(stub), progress=False).to_dict()
    # only the failed pair is retried (malformed reply + one re-ask); kept/filtered pairs are resumed
    assert stub.calls - first_calls == 2
    assert s["resumed"] == 9 and s["kept"] == 5 and s["failed"] == 1
    assert out.read_bytes() == before
    # a fresh output file still costs nothing but the failed pair: replies come from the cache
    out2 = tmp_path / "c2.jsonl"
    calls = stub.calls
    s2 = decompose_file(hs3_file, out2, cfg(stub), progress=False).to_dict()
    assert stub.calls - calls == 2 and s2["cache_hits"] == 8 and s2["llm_calls"] == 2
    assert out2.read_bytes() == before


def test_resume_after_endpoint_failures(stub, hs3_file, tmp_path):
    """Interrupted by a failing endpoint: the rerun redoes only the failed pairs, each pair answered once."""
    out = tmp_path / "c.jsonl"
    items = {it.id: it for it in load_items(hs3_file)}
    stub.fail_next("500", times=6)  # no retries: six pairs fail outright
    s = decompose_file(hs3_file, out, cfg(stub, max_retries=0, concurrency=1), progress=False).to_dict()
    http_failed = {i for i, e in s["failures"].items() if "HTTP 500" in e}
    malformed = next(i for i, it in items.items() if "[case:malformed]" in it.response1)
    assert len(http_failed) == 6 and malformed in s["failures"]
    assert s["failed"] == 6 + (malformed not in http_failed)
    two_asks = {i for i, it in items.items() if "[case:malformed]" in it.response1 or "[case:fix_on_reask]" in it.response1}
    expected = sum(2 if i in two_asks else 1 for i in s["failures"])
    failed_first = s["failed"]
    calls = stub.calls
    s = decompose_file(hs3_file, out, cfg(stub, max_retries=0, concurrency=1), progress=False).to_dict()
    assert stub.calls - calls == expected  # only the failed pairs are asked again
    assert (s["kept"], s["filtered"], s["failed"]) == (5, 4, 1) and s["resumed"] == 10 - failed_first
    # the answered first asks (after the six scripted failures) cover the 9 pairs with reasoning
    # once each; only the malformed pair, failing in both runs, may be asked twice
    first_asks = [r["messages"][1]["content"] for r in stub.requests[6:] if len(r["messages"]) == 2]
    assert len(set(first_asks)) == 9
    assert len(first_asks) == 9 + (malformed not in http_failed)
    assert len(read(out)) == 5


def test_resume_after_cancel_mid_run(slow_stub, hs3_file, tmp_path):
    """Cancelled mid-run (Ctrl-C): finished lines survive, a torn line is ignored, no finished pair is asked again."""
    stub = slow_stub
    items = load_items(hs3_file)
    out = tmp_path / "c.jsonl"
    config = cfg(stub, concurrency=1)

    async def interrupted():
        client = _make_client(config)
        task = asyncio.ensure_future(decompose_items(items, out, client, model="decomposer", progress=False))
        while not out.exists() or len(out.read_text().splitlines()) < 2:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()

    asyncio.run(interrupted())
    finished = [json.loads(line)["id"] for p in (out, rejected_path(out)) for line in p.read_text().splitlines()]
    assert 2 <= len(finished) < len(items)
    with out.open("a") as fh:
        fh.write('{"id": "torn", "human-chec')  # killed mid-write
    calls_first = stub.calls
    s = decompose_file(hs3_file, out, config, progress=False).to_dict()
    assert (s["kept"], s["filtered"], s["failed"]) == (5, 4, 1)
    assert s["resumed"] == len([i for i in finished if i not in s["failures"]])
    assert stub.calls > calls_first
    asked = Counter(r["messages"][1]["content"] for r in stub.requests if len(r["messages"]) == 2)
    by_id = {it.id: it for it in items}
    for pid in finished:
        ann = annotations_for(by_id[pid])
        if ann and pid not in s["failures"]:
            assert asked[render_decompose_messages(by_id[pid], ann)[1]["content"]] == 1, pid
    assert "torn" not in out.read_text() and len(read(out)) == 5


def test_changed_settings_do_not_reuse_lines(stub, hs3_file, tmp_path):
    out = tmp_path / "c.jsonl"
    decompose_file(hs3_file, out, cfg(stub), bounds=Bounds(3, 7), progress=False)
    s = decompose_file(hs3_file, out, cfg(stub), bounds=Bounds(4, 7), progress=False).to_dict()
    assert s["resumed"] == 0 and s["kept"] == 2
    assert all(r["decompose"]["min_items"] == 4 for r in read(out))


@pytest.mark.parametrize("bounds, message", [(Bounds(5, 3), "bad item bounds"), (Bounds(-1, 3), "bad item bounds")])
def test_bad_bounds_are_user_errors_and_write_nothing(stub, hs3_file, tmp_path, bounds, message):
    out = tmp_path / "c.jsonl"
    with pytest.raises(UserError, match=message):
        decompose_file(hs3_file, out, cfg(stub), bounds=bounds, progress=False)
    assert not out.exists() and stub.calls == 0


def test_input_without_reasoning_is_a_user_error(stub, tmp_path):
    data = tmp_path / "x.jsonl"
    data.write_text(json.dumps({"id": "a", "context": [], "response1": "a", "response2": "b", "overall_preference": 1}) + "\n")
    with pytest.raises(UserError, match="annotator reasoning"):
        decompose_file(data, tmp_path / "o.jsonl", cfg(stub), progress=False)
    assert not (tmp_path / "o.jsonl").exists()
