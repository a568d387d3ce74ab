"""Live evals tell the truth: judge throttling (judge.concurrency / judge.timeout_s) against a slow
loopback server, failed calls counted and failing the job past the threshold, unparsed replies in
the report / results table / W&B, and per-benchmark seeded stratified caps (eval.max_items)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter

import pytest
from rich.console import Console

from rcstudio.errors import JobFailed
from rcstudio.evals.job import run_eval_job
from rcstudio.evals.runner import JudgeRunner, JudgeTask, make_backend
from rcstudio.evals.sampling import allocate, stratified_sample
from rcstudio.clients.llm import AdaptiveLimit
from rcstudio.spec.models import JudgeSection
from rcstudio.testing.openai_stub import OpenAIStub

_CACHES = itertools.count()
VERDICT = "Both fine, A is better.\n\\boxed{A>B}"


def _tasks(n: int) -> list[JudgeTask]:
    return [JudgeTask(f"k{i}", [{"role": "user", "content": f"question {i}"}]) for i in range(n)]


def _judge(stub: OpenAIStub, tmp_path, **keys):
    judge = JudgeSection(endpoint=stub.base_url, model="stub-model", **keys)
    return make_backend(judge, cache_path=tmp_path / f"cache-{next(_CACHES)}.sqlite")


def test_judge_throttle_keys_reach_the_client_and_a_slow_server_gets_one_request_per_answer(tmp_path):
    # a server that works on 2 requests at a time, 0.1 s each: 20 queued requests wait up to 1 s
    with OpenAIStub(VERDICT, latency_s=0.1, parallel=2) as stub:
        backend = _judge(stub, tmp_path, concurrency=2, timeout_s=5.0)
        assert backend.client.cfg.concurrency == 2 and backend.client.cfg.timeout_s == 5.0
        assert backend.describe()["timeout_s"] == 5.0
        out = JudgeRunner(backend, progress=False).run(_tasks(20))
        assert all(o.verdict == "A>B" for o in out.values())
        assert stub.calls == 20 and stub.max_in_flight <= 2

        stub.reset_counters()  # the spec's defaults (concurrency 8, timeout 600 s) are safe too
        defaults = _judge(stub, tmp_path)
        assert defaults.client.cfg.concurrency == JudgeSection().concurrency == 8
        JudgeRunner(defaults, progress=False).run(_tasks(20))
        assert stub.calls == 20 and stub.max_in_flight <= 8

    # what the keys prevent: everything in flight with a timeout shorter than the server's queue
    with OpenAIStub(VERDICT, latency_s=0.25, parallel=2) as stub:
        storm = _judge(stub, tmp_path, concurrency=64, timeout_s=0.5)
        storm.client.cfg.backoff_base_s = 0.05
        JudgeRunner(storm, progress=False).run(_tasks(20))
        assert stub.calls > 20 and storm.client.timeouts > 0
        assert storm.client._sem.limit < 64  # it backed off after the timeouts


def test_adaptive_limit_halves_on_timeouts_and_regrows():
    async def go():
        lim = AdaptiveLimit(8)
        lim.shrink()
        lim.shrink()
        assert lim.limit == 2
        for _ in range(2):
            lim.grow()
        assert lim.limit == 3
        held = []

        async def hold():
            async with lim:
                held.append(lim.active)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(hold() for _ in range(10)))
        assert max(held) <= 3
        for _ in range(1000):
            lim.grow()
        assert lim.limit == 8

    asyncio.run(go())


def test_stratified_sample_is_seeded_proportional_and_in_file_order():
    items = [("chat", i) for i in range(10)] + [("code", i) for i in range(10)] + [("safety", i) for i in range(20)]
    picked = stratified_sample(items, 8, lambda x: x[0], seed=3)
    assert Counter(d for d, _ in picked) == {"chat": 2, "code": 2, "safety": 4}
    assert picked == sorted(picked, key=items.index)
    assert picked == stratified_sample(items, 8, lambda x: x[0], seed=3)
    assert picked != stratified_sample(items, 8, lambda x: x[0], seed=4)
    assert stratified_sample(items, 0, lambda x: x[0], 0) == items
    assert allocate({"a": 1, "b": 1, "c": 50}, 3) == {"a": 1, "b": 1, "c": 1}


def test_endpoint_eval_with_timed_out_calls_fails_and_reports_them(tmp_path, shared_dir, eval_spec, offline_summary):
    data = shared_dir / "data"
    with OpenAIStub(VERDICT) as stub:
        spec = eval_spec(
            judge={"endpoint": stub.base_url, "model": "stub-model", "prompt_template": "rcstudio-pairwise-v1",
                   "timeout_s": 0.5, "max_retries": 0, "concurrency": 20},
            data={"eval": [str(data / "judgebench_gpt-4o-2024-05-13.jsonl")], "max_items": 3},
            eval={"benchmarks": ["judgebench"], "max_items": {"judgebench": 10}, "seed": 7},
        )
        stub.fail_next("hang", times=2)  # the first 2 of the 20 calls never answer: timeouts
        run_dir = tmp_path / "evaltest-timeouts"
        with pytest.raises(JobFailed, match=r"judgebench: 2 of 20 judge calls failed.*timed out"):
            run_eval_job(run_dir, spec, progress=False)
        assert stub.calls == 20
        jb = json.loads((run_dir / "results" / "judgebench.json").read_text())
        assert jb["n"] == 10  # eval.max_items wins over data.max_items
        assert jb["calls"]["call_failures"] == 2 and jb["calls"]["call_failure_rate"] == 0.1
        assert jb["failed"].startswith("judgebench: 2 of 20")
        summary = json.loads((run_dir / "results" / "summary.json").read_text())
        assert summary["failed"] and offline_summary(run_dir)["eval/judgebench/call_failures"] == 2

        from rcstudio.evals.report import load_rows, render

        [row] = load_rows(str(run_dir))
        assert row.name == "evaltest-timeouts" and row.cells["calls/failed"] == 10.0
        assert "Failed %" in render([row])

        # a rerun retries only the 2 failed calls and completes
        run_eval_job(run_dir, spec, progress=False)
        assert stub.calls == 22
        jb = json.loads((run_dir / "results" / "judgebench.json").read_text())
        assert jb["calls"]["call_failures"] == 0 and jb["failed"] is None


def test_unparsed_rmbench_is_shown_not_a_silent_zero(tmp_path, shared_dir, eval_spec, offline_summary):
    data = shared_dir / "data"
    with OpenAIStub("I cannot decide between them.") as stub:
        spec = eval_spec(
            judge={"endpoint": stub.base_url, "model": "stub-model", "prompt_template": "rcstudio-pairwise-v1"},
            data={"eval": [f"rmbench={data / 'rmbench_subset_40_nomath.json'}"]},
            eval={"benchmarks": ["rmbench"], "order_policy": "random", "max_items": {"rmbench": 4}},
        )
        run_dir = tmp_path / "evaltest-unparsed"
        run_eval_job(run_dir, spec, progress=False)  # the judge's format failures are its score, not a failed job
        assert stub.calls == 4 * 9
    rm = json.loads((run_dir / "results" / "rmbench.json").read_text())
    # the file is sorted by domain; the stratified cap takes one prompt of each of the 4 domains
    assert {d: s["n"] for d, s in rm["domains"].items()} == {"chat": 1, "code": 1, "safety": 2}
    assert rm["overall"] == 0.0 and rm["calls"]["parse_failures"] == 36 and rm["failed"] is None
    logged = offline_summary(run_dir)
    assert logged["eval/rmbench/parse_failures"] == 36 and logged["eval/rmbench/parse_failure_rate"] == 1.0

    from rcstudio.engines.results import bench_rows_for, benchmark_table
    from rcstudio.evals.report import load_rows, render

    [row] = load_rows(str(run_dir))
    assert row.cells["rmbench/overall"] == 0.0 and row.cells["calls/unparsed"] == 100.0
    assert "100.0" in render([row])
    [bench] = bench_rows_for(run_dir)
    assert bench.benchmark == "rmbench" and bench.unparsed == 36 and bench.items == 4
    console = Console(record=True, width=200)
    console.print(benchmark_table([run_dir]))
    text = console.export_text()
    assert "evaltest-unparsed" in text and "36/36 100%" in text and "0/36 0%" in text


def test_report_rows_are_labelled_by_run_id(tmp_path):
    from rcstudio.evals.report import load_rows
    from rcstudio.launch.registry import Registry, RunRecord

    reg = Registry()
    recs = []
    for rid in ("same-spec-aaaa1111", "same-spec-bbbb2222"):
        run_dir = tmp_path / rid
        (run_dir / "results").mkdir(parents=True)
        (run_dir / "results" / "summary.json").write_text(json.dumps(
            {"benchmarks": {"judgebench": {"judge": {"micro": 50.0, "categories": {}, "n": 4}}}}))
        recs.append(RunRecord(run_id=rid, name="same-spec", experiment="same-spec", kind="eval", engine="",
                              executor="local", state="COMPLETED", created_at=0.0, updated_at=0.0,
                              started_at=None, ended_at=None, run_dir=str(run_dir), spec_hash=rid))
    reg.add_runs(recs)
    from rcstudio.cli.eval_cmds import registry_lookup  # what `rcstudio report RUN` passes

    labels = [r.name for rid in ("same-spec-aaaa1111", "same-spec-bbbb2222") for r in load_rows(rid, registry_lookup)]
    assert labels == ["same-spec-aaaa1111", "same-spec-bbbb2222"]
